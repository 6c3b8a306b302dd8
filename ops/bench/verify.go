package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/ops/verify"
)

// VerifyResult is the verify benchmark: the ledger-only pass of ops verify
// against a raw ordered-consumer read of the same stream, and the peak RSS
// of that pass run on its own over a larger ledger.
type VerifyResult struct {
	Events      uint64
	Checkpoints int     // checkpoints compared per pass
	Rate        float64 // events/s verified
	RawRate     float64 // events/s read by ScanStream with a no-op callback

	RSSEvents  uint64  // events verified by the separate process
	PeakRSSMiB float64 // its peak resident set size (VmHWM of its own address space)
	// RusageMaxRSSMiB is ru_maxrss of the process as wait4 reports it.
	// On Linux that is not the process's own peak: at exec the kernel
	// records the high-water mark of the address space being replaced,
	// which for a child started by Go (vfork, shared address space) is the
	// parent's, here the benchmark with its embedded servers.
	RusageMaxRSSMiB float64
	ChildRate       float64 // its events/s, start-up included
	ChildSeconds    float64
}

// Ratio is the verify rate over the raw read rate.
func (r VerifyResult) Ratio() float64 { return r.Rate / r.RawRate }

// readCheckpoints reads every checkpoint of the checkpoint stream and opens
// each with the verifier key vkey; one that does not open is an error here,
// since the benchmark made them all.
func readCheckpoints(ctx context.Context, js jetstream.JetStream, vkey string) ([]verify.Checkpoint, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("verifier key: %w", err)
	}
	var out []verify.Checkpoint
	st, err := js.Stream(ctx, CheckpointStream)
	if err != nil {
		return nil, fmt.Errorf("checkpoint stream: %w", err)
	}
	last := st.CachedInfo().State.LastSeq
	err = ledger.ScanStream(ctx, js, CheckpointStream, nil, 1, last, func(r events.Recorded) error {
		cp, _, err := seal.OpenCheckpoint(r.Raw, note.VerifierList(v), v.Name())
		if err != nil {
			return fmt.Errorf("checkpoint message %d: %w", r.Seq, err)
		}
		out = append(out, verify.Checkpoint{Size: cp.Size, Hash: cp.Hash})
		return nil
	})
	return out, err
}

// verifyLedger is ops verify's ledger-only pass: it reads the stored
// checkpoints and replays events 1..size against them. A ledger that does
// not verify, or that no checkpoint covers, is an error.
func verifyLedger(ctx context.Context, js jetstream.JetStream, vkey string, size uint64, progress func(uint64)) (verify.LedgerReport, error) {
	cps, err := readCheckpoints(ctx, js, vkey)
	if err != nil {
		return verify.LedgerReport{}, err
	}
	rep, err := verify.Ledger(ctx, js, "LEDGER", size, cps, progress)
	if err != nil {
		return rep, fmt.Errorf("verify ledger: %w", err)
	}
	if !rep.OK() {
		return rep, fmt.Errorf("verify ledger: checkpoints do not match: %+v", rep)
	}
	if rep.Checkpoints == 0 {
		return rep, errors.New("verify ledger: no checkpoint was compared")
	}
	return rep, nil
}

// rawScan reads events 1..size with ScanStream and a no-op callback.
func rawScan(ctx context.Context, js jetstream.JetStream, size uint64, progress func(uint64)) error {
	var n uint64
	err := ledger.ScanStream(ctx, js, "LEDGER", nil, 1, size, func(r events.Recorded) error {
		n++
		if progress != nil && n%4096 == 0 {
			progress(n)
		}
		return nil
	})
	if err == nil && n != size {
		err = fmt.Errorf("raw scan read %d events, want %d", n, size)
	}
	return err
}

// benchVerify times the verify pass and the raw read over the whole
// ledger, alternating raw-verify-verify-raw (cycles times).
func (r *runner) benchVerify(ctx context.Context) (VerifyResult, error) {
	size, err := r.nats.ledgerSize(ctx)
	if err != nil {
		return VerifyResult{}, err
	}
	res := VerifyResult{Events: size}
	var rawTime, verifyTime time.Duration
	for _, kind := range abba(cycles, "raw", "verify") {
		var done atomic.Uint64
		stop := track(r.progress, "verify: "+kind, 0, size, done.Load)
		start := time.Now()
		if kind == "raw" {
			err = rawScan(ctx, r.nats.js, size, done.Store)
			rawTime += time.Since(start)
		} else {
			var rep verify.LedgerReport
			rep, err = verifyLedger(ctx, r.nats.js, r.seal.vkey, size, done.Store)
			verifyTime += time.Since(start)
			res.Checkpoints = rep.Checkpoints
		}
		stop()
		if err != nil {
			return res, err
		}
	}
	res.Rate = 2 * cycles * float64(size) / verifyTime.Seconds()
	res.RawRate = 2 * cycles * float64(size) / rawTime.Seconds()
	return res, nil
}

// ChildReport is what the verify child prints on stdout.
type ChildReport struct {
	Size        uint64  `json:"size"`
	Root        string  `json:"root"`
	Checkpoints int     `json:"checkpoints"`
	Seconds     float64 `json:"seconds"`
	PeakRSSKiB  int64   `json:"peak_rss_kib"` // VmHWM from /proc/self/status; 0 where there is none
}

// VerifyChild is the hidden subcommand the RSS measurement runs in a
// process of its own (ops bench verify-child): it connects to the ledger,
// runs the ledger-only verify pass and prints a ChildReport as JSON. Flags:
// --nats-url, --key (verifier key), --size (events to verify; default the
// whole ledger).
func VerifyChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify-child", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("nats-url", "", "NATS server URL")
	key := fs.String("key", "", "checkpoint verifier key")
	size := fs.Uint64("size", 0, "events to verify; 0: the whole ledger")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	nc, err := nats.Connect(*url, nats.Name("onebook-bench-verify"), nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("connect %s: %w", *url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if *size == 0 {
		st, err := js.Stream(ctx, "LEDGER")
		if err != nil {
			return fmt.Errorf("ledger stream: %w", err)
		}
		*size = st.CachedInfo().State.LastSeq
	}
	var done atomic.Uint64
	stop := track(stderr, "verify: separate process", 0, *size, done.Load)
	rep, err := verifyLedger(ctx, js, *key, *size, done.Store)
	stop()
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(ChildReport{Size: rep.Size, Root: rep.Root, Checkpoints: rep.Checkpoints,
		Seconds: time.Since(start).Seconds(), PeakRSSKiB: ownPeakRSS()})
}

// ownPeakRSS returns the peak resident set size of this process's address
// space in KiB (VmHWM in /proc/self/status), 0 if unknown.
func ownPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return 0
}

// childRSS runs the ledger-only verify of size events in a separate
// process (Config.ChildCommand) and returns its report (with its own peak
// RSS) and ru_maxrss as wait4 reports it, in KiB.
func (r *runner) childRSS(ctx context.Context, size uint64) (ChildReport, int64, error) {
	var rep ChildReport
	if len(r.cfg.ChildCommand) == 0 {
		return rep, 0, errors.New("no command to run the verify child with (Config.ChildCommand)")
	}
	args := append(append([]string(nil), r.cfg.ChildCommand[1:]...),
		"--nats-url", r.nats.url(), "--key", r.seal.vkey, "--size", strconv.FormatUint(size, 10))
	cmd := exec.CommandContext(ctx, r.cfg.ChildCommand[0], args...)
	cmd.Env = append(os.Environ(), r.cfg.ChildEnv...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if r.progress != nil {
		cmd.Stderr = io.MultiWriter(r.progress, &errOut) // the child's progress lines
	}
	err := cmd.Run()
	if err != nil {
		return rep, 0, fmt.Errorf("verify child: %w: %s", err, bytes.TrimSpace(errOut.Bytes()))
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return rep, 0, fmt.Errorf("verify child printed %q: %w", out.String(), err)
	}
	if rep.Size != size {
		return rep, 0, fmt.Errorf("verify child verified %d events, want %d", rep.Size, size)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok || ru.Maxrss <= 0 {
		return rep, 0, errors.New("verify child: no resource usage from the OS")
	}
	return rep, ru.Maxrss, nil // KiB on Linux
}
