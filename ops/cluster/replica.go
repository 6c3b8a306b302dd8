package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Role is what a replica runs.
type Role string

const (
	// API replicas serve requests with the projectors off
	// (ONEBOOK_PROJECTORS=false); like every replica they also compete for
	// the sealer's and the early-warning engine's leases.
	API Role = "api"
	// Worker replicas run the projectors too (sealer, projectors, early
	// warning, snapshots).
	Worker Role = "worker"
)

// Replica is one onebook backend (backend/app) in a process of its own, so
// that killing it is a real SIGKILL: its connections drop, its leases are
// not released and expire.
type Replica struct {
	Name string
	Role Role
	Addr string // HTTP listen address, loopback

	argv   []string // command and backend flags
	env    []string
	logDir string

	mu    sync.Mutex
	cmd   *exec.Cmd
	stdin io.WriteCloser // the replica exits when it is closed (and when this process dies)
	done  chan struct{}  // closed when the process has exited
}

// URL is the replica's HTTP base URL.
func (r *Replica) URL() string { return "http://" + r.Addr }

// Pid is the replica's process id, 0 while it is down.
func (r *Replica) Pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// Holder is how the replica names itself in leases and in its NATS
// connection's name (HOST:PID); "" while it is down.
func (r *Replica) Holder() string {
	pid := r.Pid()
	if pid == 0 {
		return ""
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, pid)
}

// Start starts the replica's process and returns once /readyz answers 200:
// its in-memory states have read the ledger.
func (r *Replica) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.cmd != nil {
		r.mu.Unlock()
		return fmt.Errorf("replica %s is running", r.Name)
	}
	logf, err := os.OpenFile(r.logDir+"/"+r.Name+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("replica %s: %w", r.Name, err)
	}
	cmd := exec.Command(r.argv[0], r.argv[1:]...)
	cmd.Env = append(os.Environ(), r.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		r.mu.Unlock()
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		logf.Close()
		return fmt.Errorf("replica %s: %w", r.Name, err)
	}
	done := make(chan struct{})
	r.cmd, r.stdin, r.done = cmd, stdin, done
	r.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		r.mu.Lock()
		if r.cmd == cmd {
			r.cmd, r.stdin = nil, nil
		}
		r.mu.Unlock()
		close(done)
	}()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get(r.URL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("replica %s exited while starting; the end of its log:\n%s", r.Name, r.logTail(4096))
		case <-ctx.Done():
			r.Kill()
			return fmt.Errorf("replica %s not ready: %w (see %s/%s.log)", r.Name, ctx.Err(), r.logDir, r.Name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Kill ends the replica with SIGKILL and waits until it is gone.
func (r *Replica) Kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Stop asks the replica to shut down cleanly (SIGTERM: it drains requests,
// releases its leases, snapshots) and waits, killing it after 30 s.
func (r *Replica) Stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = cmd.Process.Kill()
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Running reports whether the replica's process is up.
func (r *Replica) Running() bool { return r.Pid() != 0 }

// logTail is the last n bytes of the replica's log.
func (r *Replica) logTail(n int64) string {
	f, err := os.Open(r.logDir + "/" + r.Name + ".log")
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// LogLines returns the last n lines of the replica's log (of its last
// MiB) that contain substr: what a fault test shows of a replica that
// did not do what it should have.
func (r *Replica) LogLines(substr string, n int) []string {
	var out []string
	for _, l := range strings.Split(r.logTail(1<<20), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out[max(len(out)-n, 0):]
}
