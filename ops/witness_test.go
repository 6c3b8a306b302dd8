package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/events/seal"
)

// appendScans appends n gate scans to b's ledger over NATS and waits for
// the seal and the projections to catch up.
func appendScans(t *testing.T, b *backend, n int) {
	t.Helper()
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", b.natsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	st, err := ledger.Open(ctx, js, ledger.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reg := schemas.Registry()
	for i := range n {
		e, err := reg.New(context.Background(), passevents.TypeGate, events.Meta{Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: "witness-gate"}, Region: "110105001001", Actor: events.Actor{Role: "property_manager", ID: "pm1"}},
			passevents.GateRegistered{Community: "110105001001", Name: fmt.Sprintf("w%d-%d", time.Now().UnixNano(), i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Append(ctx, e, events.ExpectAny()); err != nil {
			t.Fatal(err)
		}
	}
	b.settled()
}

// servedCheckpoint fetches GET /ledger/checkpoint (with query q).
func servedCheckpoint(t *testing.T, b *backend, q string) []byte {
	t.Helper()
	return getOK(t, "http://"+b.httpAddr+"/ledger/checkpoint"+q)
}

func verifierList(t *testing.T, keys ...string) note.Verifiers {
	t.Helper()
	var vs []note.Verifier
	for _, k := range keys {
		v, err := note.NewVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...)
}

func readKey(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// signers returns the names of the verified signatures of msg.
func signers(t *testing.T, msg []byte, keys ...string) []string {
	t.Helper()
	n, err := note.Open(msg, verifierList(t, keys...))
	if err != nil {
		t.Fatalf("note.Open: %v\n%s", err, msg)
	}
	var out []string
	for _, s := range n.Sigs {
		out = append(out, s.Name)
	}
	return out
}

func TestWitness(t *testing.T) {
	keys := t.TempDir()
	witnessKey := func(name, file string) string {
		code, out := ops(t, "witness", "keygen", "--name", name, "--out", filepath.Join(keys, file))
		if code != 0 {
			t.Fatalf("witness keygen (%d):\n%s", code, out)
		}
		return readKey(t, filepath.Join(keys, file+".pub"))
	}
	cdc := witnessKey("cdc.test/witness", "cdc.key")
	auditor := witnessKey("auditor.test/witness", "auditor.key")
	witnessKey("stranger.test/witness", "stranger.key") // not configured

	b := newBackend(t)
	b.startWith("--witnesses", cdc+","+auditor)
	b.settled()
	origin := readKey(t, filepath.Join(b.dir, "seal.key.pub"))
	url := "http://" + b.httpAddr
	run := func(key, state string, extra ...string) (int, string) {
		t.Helper()
		return ops(t, append([]string{"witness", "run", "--url", url, "--key", filepath.Join(keys, key), "--state", state, "--origin-key", filepath.Join(b.dir, "seal.key.pub"), "--once"}, extra...)...)
	}
	stateSize := func(state string) uint64 {
		t.Helper()
		msg, err := os.ReadFile(filepath.Join(state, "checkpoint"))
		if err != nil {
			t.Fatal(err)
		}
		cp, _, err := seal.OpenCheckpoint(msg, verifierList(t, origin, cdc), "onebook.local/ledger")
		if err != nil {
			t.Fatal(err)
		}
		return cp.Size
	}

	// Before any cosignature, the checkpoint is onebook's alone.
	if got := signers(t, servedCheckpoint(t, b, ""), origin, cdc, auditor); len(got) != 1 {
		t.Fatalf("signers before witnessing: %v", got)
	}

	cdcState := t.TempDir()
	code, out := run("cdc.key", cdcState)
	if code != 0 || !strings.Contains(out, "cosigned onebook.local/ledger size") {
		t.Fatalf("first witness run (%d):\n%s", code, out)
	}
	first := servedCheckpoint(t, b, "")
	if got := signers(t, first, origin, cdc); len(got) != 2 || got[0] != "onebook.local/ledger" || got[1] != "cdc.test/witness" {
		t.Fatalf("signers after the first cosignature: %v\n%s", got, first)
	}
	// A client that knows only onebook's key still verifies it.
	cp1, _, err := seal.OpenCheckpoint(first, verifierList(t, origin), "onebook.local/ledger")
	if err != nil {
		t.Fatal(err)
	}
	if s := stateSize(cdcState); s != cp1.Size {
		t.Fatalf("witness state has size %d, cosigned %d", s, cp1.Size)
	}

	// More events, a newer checkpoint: the witness checks consistency
	// from the one it cosigned and cosigns the new one.
	appendScans(t, b, 25)
	code, out = run("cdc.key", cdcState)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("(consistent with size %d)", cp1.Size)) {
		t.Fatalf("second witness run (%d):\n%s", code, out)
	}
	second := servedCheckpoint(t, b, "")
	cp2, _, err := seal.OpenCheckpoint(second, verifierList(t, origin, cdc), "onebook.local/ledger")
	if err != nil || cp2.Size < cp1.Size+25 {
		t.Fatalf("second checkpoint: size %d after %d: %v", cp2.Size, cp1.Size, err)
	}
	if got := signers(t, second, origin, cdc, auditor); len(got) != 2 || got[1] != "cdc.test/witness" {
		t.Fatalf("signers after the second cosignature: %v\n%s", got, second)
	}
	if got := signers(t, servedCheckpoint(t, b, fmt.Sprintf("?size=%d", cp1.Size)), origin, cdc); len(got) != 2 {
		t.Fatalf("checkpoint of size %d: signers %v", cp1.Size, got)
	}
	if s := stateSize(cdcState); s != cp2.Size {
		t.Fatalf("witness state has size %d, cosigned %d", s, cp2.Size)
	}
	// Nothing new: nothing to do.
	if code, out := run("cdc.key", cdcState); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("third witness run (%d):\n%s", code, out)
	}

	// A witness onebook was not told about is refused, and keeps no state.
	strangerState := t.TempDir()
	if code, out := run("stranger.key", strangerState); code == 0 || !strings.Contains(out, "403") {
		t.Fatalf("unconfigured witness (%d):\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(strangerState, "checkpoint")); !os.IsNotExist(err) {
		t.Fatalf("refused witness saved state: %v", err)
	}

	// Forks: the auditor's state holds a checkpoint signed with onebook's
	// key that is not in onebook's history (onebook showed it a different
	// tree). The auditor refuses to cosign, exits 3 and keeps evidence.
	sealSigner, _, err := seal.LoadSigner(readKey(t, filepath.Join(b.dir, "seal.key")))
	if err != nil {
		t.Fatal(err)
	}
	auditorSigner, _, err := seal.LoadSigner(readKey(t, filepath.Join(keys, "auditor.key")))
	if err != nil {
		t.Fatal(err)
	}
	forge := func(state string, cp seal.Checkpoint) {
		t.Helper()
		msg, err := seal.Sign(cp, sealSigner)
		if err != nil {
			t.Fatal(err)
		}
		n, err := note.Open(msg, verifierList(t, origin))
		if err != nil {
			t.Fatal(err)
		}
		cosigned, err := note.Sign(n, auditorSigner)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(state, "checkpoint"), cosigned, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		cp   seal.Checkpoint
		want string
	}{
		{"different root at an older size", seal.Checkpoint{Origin: "onebook.local/ledger", Size: cp1.Size, Hash: [32]byte{7}}, "fork:"},
		{"different root at the latest size", seal.Checkpoint{Origin: "onebook.local/ledger", Size: cp2.Size, Hash: cp1.Hash}, "fork:"},
		{"rollback", seal.Checkpoint{Origin: "onebook.local/ledger", Size: cp2.Size + 1000, Hash: cp2.Hash}, "rollback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			forge(state, tc.cp)
			before, _ := os.ReadFile(filepath.Join(state, "checkpoint"))
			code, out := run("auditor.key", state)
			if code != 3 || !strings.Contains(out, tc.want) || !strings.Contains(out, "NOT COSIGNED") {
				t.Fatalf("witness with a forked state (%d):\n%s", code, out)
			}
			t.Logf("exit %d:\n%s", code, out)
			after, _ := os.ReadFile(filepath.Join(state, "checkpoint"))
			if string(after) != string(before) {
				t.Fatal("the witness state changed")
			}
			if ev, _ := filepath.Glob(filepath.Join(state, "evidence-*.txt")); len(ev) != 1 {
				t.Fatalf("evidence files: %v", ev)
			}
			if got := signers(t, servedCheckpoint(t, b, ""), origin, cdc, auditor); len(got) != 2 || got[1] != "cdc.test/witness" {
				t.Fatalf("the auditor cosigned after all: %v", got)
			}
		})
	}

	// An honest auditor with fresh state cosigns too; both lines are served.
	code, out = run("auditor.key", t.TempDir())
	if code != 0 {
		t.Fatalf("auditor (%d):\n%s", code, out)
	}
	both := servedCheckpoint(t, b, "")
	if got := signers(t, both, origin, cdc, auditor); len(got) != 3 {
		t.Fatalf("signers with both witnesses: %v", got)
	}
	t.Logf("served:\n%s", both)

	// ops verify reports who cosigned the latest checkpoint.
	code, out = ops(t, append([]string{"verify", "--ledger-only", "--witnesses", cdc + "," + auditor}, b.args()...)...)
	if code != 0 || !strings.Contains(out, "ok   witness cosignatures") || !strings.Contains(out, "cdc.test/witness cosigned the latest checkpoint (2 cosignatures, up to size") ||
		!strings.Contains(out, "auditor.test/witness cosigned the latest checkpoint (1 cosignatures") {
		t.Fatalf("verify with witnesses (%d):\n%s", code, out)
	}

	// Submissions: a cosigned note is accepted again (idempotent); one
	// signed by onebook alone, or not a note, gets a JSON error.
	onebookOnly := first[:strings.Index(string(first), "\n— cdc.test/witness ")+1]
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{string(first), http.StatusOK, `"witnesses":["cdc.test/witness"]`},
		{string(onebookOnly), http.StatusForbidden, `"code":"forbidden"`},
		{"not a note", http.StatusBadRequest, `"code":"invalid"`},
	} {
		resp, err := http.Post(url+"/ledger/cosignatures", "text/plain", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
			t.Fatalf("POST %q: %s %s", tc.body, resp.Status, body)
		}
	}

	// A cosignature slipped into the bucket that does not verify (a
	// witness's signature of another checkpoint, where only cdc cosigned
	// cp1): not
	// served, and ops verify names it.
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", b.natsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(context.Background(), "ledger_cosignatures")
	if err != nil {
		t.Fatal(err)
	}
	keys2, err := kv.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var tampered string
	for _, k := range keys2 {
		if strings.HasPrefix(k, fmt.Sprintf("%d.", cp1.Size)) {
			tampered = k
		}
	}
	// cdc's cosignature of the later checkpoint, replayed as one of cp1.
	var line []byte
	for _, l := range strings.SplitAfter(string(second), "\n") {
		if strings.HasPrefix(l, "— cdc.test/witness ") {
			line = []byte(l)
		}
	}
	if _, err := kv.Put(context.Background(), tampered, line); err != nil {
		t.Fatal(err)
	}
	if got := signers(t, servedCheckpoint(t, b, fmt.Sprintf("?size=%d", cp1.Size)), origin, cdc, auditor); len(got) != 1 {
		t.Fatalf("tampered cosignature served: %v", got)
	}
	code, out = ops(t, append([]string{"verify", "--ledger-only", "--witnesses", cdc + "," + auditor}, b.args()...)...)
	if code != 1 || !strings.Contains(out, "FAIL witness cosignatures") || !strings.Contains(out, fmt.Sprintf("of size %d does not verify", cp1.Size)) {
		t.Fatalf("verify with a tampered cosignature (%d):\n%s", code, out)
	}
}
