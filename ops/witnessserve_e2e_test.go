package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/events/seal/sealtest"
)

// servedWitness is an `ops witness serve` running in this test process.
type servedWitness struct {
	url, key, state string // base URL, cosignature/v1 verifier key, state directory
}

// serveWitness makes a witness key and runs `ops witness serve` for the
// log key logKey on a loopback port until the test ends.
func serveWitness(t *testing.T, name, logKey string) servedWitness {
	t.Helper()
	keys := t.TempDir()
	code, out := ops(t, "witness", "keygen", "--name", name, "--out", filepath.Join(keys, "w.key"))
	if code != 0 {
		t.Fatalf("witness keygen (%d):\n%s", code, out)
	}
	key := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	if _, err := sealtest.CosigV1Verifier(key); err != nil {
		t.Fatalf("keygen printed %q, not a cosignature/v1 key: %v", key, err)
	}
	state := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var buf bytes.Buffer
	env := &environ{stdout: &buf, stderr: io.Discard, getenv: func(string) string { return "" },
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() {
		done <- run(ctx, env, []string{"witness", "serve", "--addr", addr, "--state", state, "--key", filepath.Join(keys, "w.key"), "--log", logKey})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("witness serve %s exited %d", name, code)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("witness serve %s did not listen on %s", name, addr)
		}
	}
	return servedWitness{url: "http://" + addr, key: key, state: state}
}

// newKeyedBackend is a backend whose seal key is made before it starts, so
// that witnesses can be told the log's key first; key "" makes one.
func newKeyedBackend(t *testing.T, skey string) (*backend, string) {
	t.Helper()
	b := newBackend(t)
	if skey == "" {
		var err error
		if skey, _, err = seal.GenerateKey("onebook.local/ledger"); err != nil {
			t.Fatal(err)
		}
	}
	_, vkey, err := seal.LoadSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "seal.key"), []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "seal.key.pub"), []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return b, skey
}

// cosigners returns the names of the witnesses whose cosignature/v1 lines
// on msg verify with transparency-dev/formats' verifier, given the log's
// key (the note must verify with it too).
func cosigners(t *testing.T, msg []byte, logKey string, ws []servedWitness) []string {
	t.Helper()
	lv, err := note.NewVerifier(logKey)
	if err != nil {
		t.Fatal(err)
	}
	vs := []note.Verifier{lv}
	for _, w := range ws {
		v, err := sealtest.CosigV1Verifier(w.key)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	n, err := note.Open(msg, note.VerifierList(vs...))
	if err != nil {
		t.Fatalf("served checkpoint does not open: %v\n%s", err, msg)
	}
	var out []string
	for _, s := range n.Sigs {
		if s.Name != lv.Name() {
			out = append(out, s.Name)
		}
	}
	return out
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal(getOK(t, url), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// getOK returns the body of GET url, failing the test unless it is 200.
func getOK(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, body)
	}
	return body
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A live backend pushes to three `ops witness serve` witnesses (C2SP
// tlog-witness); their cosignatures verify with transparency-dev/formats.
// After a restart the log side starts at "old 0" and learns each witness's
// size from its 409. A second backend with the same key and a different
// history is refused: first as a rollback (smaller tree), then as a fork
// (a consistency proof that does not verify), with the evidence kept.
func TestWitnessServeInterop(t *testing.T) {
	b, skey := newKeyedBackend(t, "")
	_, logKey, err := seal.LoadSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	var ws []servedWitness
	var push []string
	for i := range 3 {
		w := serveWitness(t, fmt.Sprintf("w%d.test/witness", i), logKey)
		ws = append(ws, w)
		push = append(push, w.key+"="+w.url)
	}
	b.startWith("--demo", "--witness-push", strings.Join(push, ","))

	allCosigned := func(b *backend) func() bool {
		return func() bool { return len(cosigners(t, servedCheckpoint(t, b, ""), logKey, ws)) == 3 }
	}
	for range 3 {
		appendScans(t, b, 3)
		waitFor(t, "three cosignatures on the latest checkpoint", 30*time.Second, allCosigned(b))
	}

	// A restart: the pusher knows nothing and starts at old 0.
	b.stop()
	b.startWith("--witness-push", strings.Join(push, ","))
	appendScans(t, b, 2)
	waitFor(t, "three cosignatures after a restart (409, then resent)", 30*time.Second, allCosigned(b))
	latest := servedCheckpoint(t, b, "")
	cp, _, err := seal.OpenCheckpoint(latest, verifierList(t, logKey), "onebook.local/ledger")
	if err != nil {
		t.Fatal(err)
	}
	// The 409 itself, as a log that lost track would see it.
	text, _, _ := bytes.Cut(latest, []byte("\n\n"))
	onebookOnly := string(text) + "\n\n" + strings.SplitAfter(string(latest), "\n")[4]
	resp, err := http.Post(ws[0].url+"/add-checkpoint", "text/plain", strings.NewReader("old 0\n\n"+onebookOnly))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("Content-Type") != "text/x.tlog.size" || string(body) != fmt.Sprintf("%d\n", cp.Size) {
		t.Fatalf("old 0 to a witness at size %d: %s %q %q", cp.Size, resp.Status, resp.Header.Get("Content-Type"), body)
	}

	// ops verify's witness policy is met by the stored cosignatures.
	keys := ws[0].key + "," + ws[1].key + "," + ws[2].key
	if code, out := ops(t, append([]string{"verify", "--ledger-only", "--witnesses", keys, "--witness-quorum", "3"}, b.args()...)...); code != 0 {
		t.Fatalf("verify with a quorum of 3 (%d):\n%s", code, out)
	}

	// A public donation trace is proven against a checkpoint the three
	// cosigned, their lines in it.
	var list struct{ Donations []struct{ ID string } }
	getJSON(t, "http://"+b.httpAddr+"/public/donations", &list)
	if len(list.Donations) == 0 {
		t.Fatal("the demo has no public donations")
	}
	var tr publicTrace
	getJSON(t, "http://"+b.httpAddr+"/public/donations/"+list.Donations[0].ID, &tr)
	if got := cosigners(t, []byte(tr.Checkpoint), logKey, ws); len(got) != 3 {
		t.Fatalf("the trace's checkpoint is cosigned by %v, want all three:\n%s", got, tr.Checkpoint)
	}

	// An export bundle carries the cosignatures; ops verify-export checks
	// a witness policy offline and names the missing witnesses.
	bundle := filepath.Join(t.TempDir(), "bundle")
	if code, out := ops(t, append([]string{"export", "scans", "--out", bundle, "--witnesses", keys}, b.args()...)...); code != 0 {
		t.Fatalf("export (%d):\n%s", code, out)
	}
	vkeyFile := filepath.Join(b.dir, "seal.key.pub")
	if code, out := ops(t, "verify-export", bundle, "--key", vkeyFile, "--witnesses", keys); code != 0 || !strings.Contains(out, "ok   witness policy 3 of w0.test/witness, w1.test/witness, w2.test/witness") {
		t.Fatalf("verify-export with 3 of 3 (%d):\n%s", code, out)
	}
	stranger := serveWitness(t, "stranger.test/witness", logKey)
	code, out := ops(t, "verify-export", bundle, "--key", vkeyFile, "--witnesses", keys+","+stranger.key, "--witness-quorum", "4")
	if code == 0 || !strings.Contains(out, "3 of the 4 required cosignatures") || !strings.Contains(out, "missing: stranger.test/witness)") {
		t.Fatalf("verify-export with 4 of 4, one never asked (%d):\n%s", code, out)
	}
	if code, out := ops(t, "verify-export", bundle, "--key", vkeyFile, "--witnesses", keys+","+stranger.key, "--witness-quorum", "3"); code != 0 {
		t.Fatalf("verify-export with 3 of 4 (%d):\n%s", code, out)
	}

	// The same key, another history: a restored old backup, say. (One
	// backend at a time: they share the process's fake WeChat.)
	b.stop()
	forked, _ := newKeyedBackend(t, skey)
	forked.startWith("--witness-push", push[0])
	appendScans(t, forked, 1)
	evidence := func(kind string) func() bool {
		return func() bool {
			ev, _ := filepath.Glob(filepath.Join(ws[0].state, "onebook.local%2Fledger", "evidence-"+kind+"-*.txt"))
			return len(ev) > 0
		}
	}
	waitFor(t, "rollback evidence", 30*time.Second, evidence("rollback"))
	fst := forked.settled()
	if fst.Ledger.Size >= cp.Size {
		t.Fatalf("the forked backend is not behind: %d >= %d", fst.Ledger.Size, cp.Size)
	}
	appendScans(t, forked, int(cp.Size-fst.Ledger.Size)+3)
	waitFor(t, "fork evidence", 60*time.Second, evidence("fork"))
	ev, _ := filepath.Glob(filepath.Join(ws[0].state, "onebook.local%2Fledger", "evidence-fork-*.txt"))
	eb, err := os.ReadFile(ev[0])
	if err != nil {
		t.Fatal(err)
	}
	ftext, _, _ := bytes.Cut(servedCheckpoint(t, forked, ""), []byte("\n\n"))
	if !bytes.Contains(eb, text) || !bytes.Contains(eb, []byte(fmt.Sprintf("# the whole add-checkpoint request:\nold %d\n", cp.Size))) {
		t.Fatalf("evidence:\n%s", eb)
	}
	if got := cosigners(t, servedCheckpoint(t, forked, ""), logKey, ws); len(got) != 0 {
		t.Fatalf("the fork was cosigned by %v:\n%s", got, ftext)
	}
	// The witness still holds the honest history and cosigns it.
	forked.stop()
	b.startWith("--witness-push", strings.Join(push, ","))
	appendScans(t, b, 2)
	waitFor(t, "cosignatures of the honest log after the fork", 30*time.Second, allCosigned(b))
}
