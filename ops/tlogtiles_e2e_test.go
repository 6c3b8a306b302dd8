package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fsckTool is the off-the-shelf tlog-tiles auditor: tessera's fsck at a
// pinned version, built by the Go toolchain from the module proxy (not a
// dependency of onebook's own module).
const fsckTool = "github.com/transparency-dev/tessera/cmd/fsck@v1.0.4"

// runFsck runs fsck against the log at base with only the verifier key
// file and the origin, and returns its output and whether it says the log
// verified. fsck exits 0 even when the check fails, so its own words
// decide.
func runFsck(t *testing.T, base, keyFile, origin string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // the first build of fsck included
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", fsckTool, "--storage_url", base+"/", "--public_key", keyFile,
		"--origin", origin, "--ui=false", "-v=1", "--N", "4")
	cmd.Dir = t.TempDir() // outside onebook's module: go run pkg@version builds the tool's own
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fsck did not run: %v\n%s", err, out)
	}
	ok := strings.Contains(string(out), "Successfully fsck'd log") && !strings.Contains(string(out), "fsck failed")
	return string(out), ok
}

// TestOffTheShelfFsckAuditsTheLog: tessera's fsck fetches the demo's
// checkpoint, every hash tile and every entry bundle over HTTP and
// verifies them with only the verifier key; the same run through a proxy
// that changes one byte of one entry bundle fails.
func TestOffTheShelfFsckAuditsTheLog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tessera's fsck")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build fsck with")
	}
	b := newBackend(t)
	b.start(true)
	b.settled()
	base := "http://" + b.httpAddr
	keyFile := filepath.Join(b.dir, "seal.key.pub")
	const origin = "onebook.local/ledger"
	out, ok := runFsck(t, base, keyFile, origin)
	if !ok {
		t.Fatalf("fsck of the live log failed:\n%s", out)
	}
	t.Logf("fsck: %s", lastLines(out, 8))

	// A proxy that changes one byte of entry bundle 1.
	target, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if r.Request.URL.Path != "/tile/entries/001" {
			return nil
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		r.Body.Close()
		if i := bytes.Index(body, []byte(`"region":"`)); i >= 0 {
			body[i+len(`"region":"`)] ^= 1 // a digit of a region: still parses, no longer the leaf
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", fmt.Sprint(len(body)))
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: proxy}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	out, ok = runFsck(t, "http://"+ln.Addr().String(), keyFile, origin)
	if ok {
		t.Fatalf("fsck passed a log with a changed entry bundle:\n%s", out)
	}
	if !strings.Contains(out, "fsck failed") {
		t.Fatalf("fsck did not say it failed:\n%s", out)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
