package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// miniprogramTestDir is the mini-program's project, from this package's directory.
const miniprogramTestDir = "../miniprogram"

// TestMiniProgram runs the mini-program's own checks (miniprogram/, its
// packages installed by `go run ./ops test` with npm ci): the TypeScript
// type check, ESLint, the unit and page tests (miniprogram-simulate), the
// offline miniprogram-ci build, and the end-to-end test against a backend
// started here with `go run ./backend --demo` on loopback; then it lints the
// OpenAPI document that backend serves with Redocly CLI's recommended rules.
// Without node or the installed packages it skips, and fails with CI=true.
func TestMiniProgram(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		missing(t, "node is not installed")
	}
	if _, err := os.Stat(filepath.Join(miniprogramTestDir, "node_modules", ".package-lock.json")); err != nil {
		missing(t, "miniprogram/node_modules is missing: run go run ./ops test (it runs npm ci there)")
	}
	// The backend builds and fills its demo while the offline checks run.
	be := startDemoBackend(t)

	for _, step := range []struct{ name, script string }{
		{"typecheck", "typecheck"},
		{"eslint", "lint"},
		{"compile", "build:test"},
		{"unit", "test:unit"},
	} {
		if !t.Run(step.name, func(t *testing.T) { npmRun(t, nil, step.script) }) {
			t.FailNow()
		}
	}
	if !testing.Short() {
		t.Run("build", func(t *testing.T) { npmRun(t, nil, "test:build") })
	}

	url := be.wait(t)
	t.Run("e2e", func(t *testing.T) { npmRun(t, []string{"ONEBOOK_E2E_URL=" + url}, "test:e2e") })
	t.Run("redocly", func(t *testing.T) {
		resp, err := http.Get(url + "/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		doc, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /openapi.json: %d %v", resp.StatusCode, err)
		}
		file := filepath.Join(t.TempDir(), "openapi.json")
		if err := os.WriteFile(file, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		out := runIn(t, nil, filepath.Join("node_modules", ".bin", "redocly"), "lint", "--format=summary", file)
		if !strings.Contains(out, "Your API description is valid") {
			t.Fatalf("redocly lint did not pass:\n%s", out)
		}
	})
}

func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

func npmRun(t *testing.T, env []string, script string) {
	t.Helper()
	runIn(t, env, "npm", "run", "--silent", script)
}

// runIn runs a command in the mini-program's directory and fails the test,
// with its output, if it fails.
func runIn(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = miniprogramTestDir
	cmd.Env = append(append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_UPDATE_NOTIFIER=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// demoBackend is `go run ./backend --demo` on loopback ports of its own.
type demoBackend struct {
	url  string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan error
}

func startDemoBackend(t *testing.T) *demoBackend {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := []string{"run", "./backend", "--demo", "--data", t.TempDir(), "--addr", addr,
		"--nats-port", fmt.Sprint(freePort(t)), "--mongo-port", fmt.Sprint(freePort(t)),
		"--wxmock-port", fmt.Sprint(freePort(t)), "--metrics-addr", "off", "--seal-interval", "50ms"}
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "WECHAT_APPID=", "WECHAT_SECRET=")
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that stopping it stops the binary that go
	// run started as well.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &demoBackend{url: "http://" + addr, cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { b.done <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-b.done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-b.done
		}
	})
	return b
}

// wait returns the backend's URL once its demo is sealed and projected.
func (b *demoBackend) wait(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		select {
		case err := <-b.done:
			t.Fatalf("go run ./backend --demo exited: %v\n%s", err, b.out)
		default:
		}
		var st struct {
			Ready  bool `json:"ready"`
			Ledger struct {
				Size    int `json:"size"`
				SealLag int `json:"seal_lag"`
			} `json:"ledger"`
			Projections []struct {
				Lag int `json:"lag"`
			} `json:"projections"`
		}
		if resp, err := http.Get(b.url + "/healthz"); err == nil {
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			ok := st.Ready && st.Ledger.Size > 0 && st.Ledger.SealLag == 0 && len(st.Projections) > 0
			for _, p := range st.Projections {
				ok = ok && p.Lag == 0
			}
			if ok {
				return b.url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo backend did not settle:\n%s", b.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
