package witness

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/events/seal/sealtest"
)

// Known-answer vectors of the reference witness,
// github.com/transparency-dev/witness, witness/witness_test.go (Apache
// 2.0): the log "monkeys" and its key, a checkpoint of size 5 (mInit), one
// of size 8 (mNext) and the consistency proof between them, and the
// witness key the reference witness cosigns with. The same requests must
// get the same answers here, and the cosignatures must verify with
// transparency-dev/formats' cosignature/v1 verifier.
var (
	mPK       = "monkeys+db4d9f7e+AULaJMvTtDLHPUcUrjdDad9vDlh/PTfC2VV60JUtCfWT"
	mSK       = "PRIVATE+KEY+monkeys+db4d9f7e+ATWIAF3yVBG+Hv1rZFQoNt/BaURkLPtOFMAM2HrEeIr6"
	bPK       = "bananas+cf639f13+AaPjhFnPCQnid/Ql32KWhmh+uk72FVRfK+2DLmO3BI3M"
	bSK       = "PRIVATE+KEY+bananas+cf639f13+AdjzytHoXdvn+1vG2UXXqFR3LZ+kvnmQZFretRaKfTIu"
	wPK       = "witness+f13a86db+AdYV1Ztajd9BvyjP2HgpwrqYL6TjOwIjGMOq8Bu42xbN"
	wSK       = "PRIVATE+KEY+witness+f13a86db+AaLa/dfyBhyo/m0Z7WCi98ENVZWtrP8pxgRNrx7tIWiA"
	mInit     = "monkeys\n5\n41smjBUiAU70EtKlT6lIOIYtRTYxYXsDB+XHfcvu/BE=\n\n— monkeys 202fftzGl3LVoqjXfwCFZZXs8I+5G22+Ek2K0AOyBuSJ/8/CZawNF+6fNlTKOCd622pbzJNkkJFWuw9DbicZCkEx9AY=\n"
	mNext     = "monkeys\n8\nV8K9aklZ4EPB+RMOk1/8VsJUdFZR77GDtZUQq84vSbo=\n\n— monkeys 202ffoUEboiQYpHzICeaFmoy3RNviHTpAxYrq/eO4QQVQMvu9UebKBMX2MJC76NLthZaKsnKbCA8GxrjePZhvDCH7Ag=\n"
	consProof = []string{
		"b9e1d62618f7fee8034e4c5010f727ab24d8e4705cb296c374bf2025a87a10d2",
		"aac66cd7a79ce4012d80762fe8eec3a77f22d1ca4145c3f4cee022e7efcd599d",
		"89d0f753f66a290c483b39cd5e9eafb12021293395fad3d4a2ad053cfbcfdc9e",
		"29e40bb79c966f4c6fe96aff6f30acfce5f3e8d84c02215175d6e018a5dee833",
	}
	root5 = "e35b268c1522014ef412d2a54fa94838862d453631617b0307e5c77dcbeefc11"
)

// fixedNow is the clock of the known-answer cosignature.
func fixedNow() time.Time { return time.Unix(1_700_000_000, 0) }

func mustLog(t testing.TB, s string) Log {
	t.Helper()
	l, err := ParseLog(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newWitness(t testing.TB, dir string) *Witness {
	t.Helper()
	w, err := New(Config{Key: wSK, Logs: []Log{mustLog(t, mPK), mustLog(t, bPK)}, Dir: dir, Now: fixedNow,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// signed is a checkpoint note of origin, size and root (hex) signed by skey.
func signed(t testing.TB, skey, origin string, size uint64, rootHex string) string {
	t.Helper()
	h, err := hex.DecodeString(rootHex)
	if err != nil || len(h) != 32 {
		t.Fatalf("root %q", rootHex)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := seal.Sign(seal.Checkpoint{Origin: origin, Size: size, Hash: tlog.Hash(h)}, s)
	if err != nil {
		t.Fatal(err)
	}
	return string(msg)
}

// signedText is text signed by the log monkeys.
func signedText(t *testing.T, text string) string {
	t.Helper()
	s, err := note.NewSigner(mSK)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return string(msg)
}

func body(old uint64, proof []string, cp string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "old %d\n", old)
	for _, p := range proof {
		h, err := hex.DecodeString(p)
		if err != nil {
			panic(err)
		}
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	return b.String() + "\n" + cp
}

func post(t *testing.T, url, b string) (int, string, string) {
	t.Helper()
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", strings.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), resp.Header.Get("Content-Type")
}

// formatsVerifier is transparency-dev/formats' cosignature/v1 verifier of
// the witness key wPK.
func formatsVerifier(t *testing.T) note.Verifier {
	t.Helper()
	k, err := sealtest.CosigV1Key(wPK)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sealtest.CosigV1Verifier(k)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkCosigned opens the checkpoint with the cosignature lines appended,
// with formats' verifier only.
func checkCosigned(t *testing.T, cp, lines string) {
	t.Helper()
	text, _, _ := strings.Cut(cp, "\n\n")
	n, err := note.Open([]byte(text+"\n\n"+lines), note.VerifierList(formatsVerifier(t)))
	if err != nil || len(n.Sigs) != 1 {
		t.Fatalf("cosignature %q does not verify with formats' cosignature/v1 verifier: %v", lines, err)
	}
}

func TestVerifierKeyIsFormats(t *testing.T) {
	w := newWitness(t, t.TempDir())
	want, err := sealtest.CosigV1Key(wPK)
	if err != nil {
		t.Fatal(err)
	}
	if w.VerifierKey() != want {
		t.Fatalf("VerifierKey() = %q, formats says %q", w.VerifierKey(), want)
	}
}

// The cosignature of mInit at 1700000000 by wSK: Ed25519 is deterministic,
// so the line is fixed. It verifies with formats' verifier (checked below).
const kat = "— witness JLN4UQAAAABlU/EAzdQIaFuhdtosLyxaH8FAF4cMuW7yGKC9ONQDGyW0fG6Ljye7I5+Y5UpY6+JexNUH/MxRUz64S0SlJuPQUp2TCA==\n"

func TestKnownAnswer(t *testing.T) {
	srv := httptest.NewServer(newWitness(t, t.TempDir()))
	defer srv.Close()
	status, got, _ := post(t, srv.URL, body(0, nil, mInit))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, got)
	}
	checkCosigned(t, mInit, got)
	if ts, ok := seal.CosigV1Time(got); !ok || ts != 1_700_000_000 {
		t.Fatalf("timestamp %d %v", ts, ok)
	}
	if got != kat {
		t.Fatalf("cosignature\n%q\nwant\n%q", got, kat)
	}
	checkCosigned(t, mInit, kat)
	// The clients' policy check (the mini-program checks the same line).
	p, err := seal.ParseWitnessPolicy([]string{newWitness(t, t.TempDir()).VerifierKey()}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Check([]byte(mInit + kat)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Check([]byte(mInit)); err == nil {
		t.Fatal("the policy is met without the cosignature")
	}
}

// TestUpdate replays the reference witness's TestUpdate cases over HTTP.
// Where the reference answers ErrRootMismatch (422) for another root at
// the size it holds, C2SP tlog-witness says 409, and so does this witness,
// without a size (the reference's client reads a 409 with one as "resend
// from it"). A size-0 checkpoint with another root is 422 in both (the
// editor's draft of the specification).
func TestUpdate(t *testing.T) {
	empty := hex.EncodeToString(func() []byte { h := emptyTree(); return h[:] }())
	for _, tt := range []struct {
		desc    string
		init    string // submitted first with old 0 (skipped if "")
		old     uint64
		next    string
		proof   []string
		status  int
		size    string // body of a 409 for a stale old size; "" for a fork's 409
		forkLog bool   // evidence kept
	}{
		{desc: "vanilla consistency happy path", init: signed(t, mSK, "monkeys", 5, root5), old: 5, next: mNext, proof: consProof, status: 200},
		{desc: "valid zero size hash", init: signed(t, mSK, "monkeys", 0, empty), old: 0, next: signed(t, mSK, "monkeys", 0, empty), status: 200},
		{desc: "invalid zero size hash", init: signed(t, mSK, "monkeys", 0, empty), old: 0, next: signed(t, mSK, "monkeys", 0, root5), status: 422, forkLog: true},
		{desc: "oldSize doesn't match current state", init: signed(t, mSK, "monkeys", 5, root5), old: 2, next: mNext, status: 409, size: "5\n"},
		{desc: "from size 0 with a proof", init: signed(t, mSK, "monkeys", 0, empty), old: 0, next: mInit, proof: consProof, status: 422},
		{desc: "from size 0 without proof", old: 0, next: mInit, status: 200},
		{desc: "vanilla resubmit known CP", init: mInit, old: 5, next: signed(t, mSK, "monkeys", 5, root5), status: 200},
		{desc: "resubmit known CP with changed root", init: mInit, old: 5, next: signed(t, mSK, "monkeys", 5, "ff"+root5[2:]), status: 409, forkLog: true},
		{desc: "changed root with a stale old size", init: mInit, old: 0, next: signed(t, mSK, "monkeys", 5, "ff"+root5[2:]), status: 409, size: "5\n", forkLog: true},
		{desc: "size 0 with another root after a size 5", init: mInit, old: 0, next: signed(t, mSK, "monkeys", 0, root5), status: 409, size: "5\n", forkLog: true},
		{desc: "missing proof", init: signed(t, mSK, "monkeys", 4, root5), old: 4, next: mInit, status: 422, forkLog: true},
		{desc: "submit smaller checkpoint", init: mNext, old: 8, next: mInit, proof: consProof, status: 400},
		{desc: "rollback with the old size of the checkpoint", init: mNext, old: 5, next: mInit, status: 409, size: "8\n", forkLog: true},
		{desc: "vanilla consistency garbage proof", init: mInit, old: 5, next: mNext, proof: []string{root5, root5, root5, root5}, status: 422, forkLog: true},
		{desc: "proof in reverse order", init: mInit, old: 5, next: mNext, proof: []string{consProof[3], consProof[2], consProof[1], consProof[0]}, status: 422, forkLog: true},
		{desc: "unknown log", old: 0, next: signed(t, mSK, "apples", 5, root5), status: 404},
		{desc: "signed by another log's key", old: 0, next: signed(t, bSK, "monkeys", 5, root5), status: 403},
		{desc: "another configured log", old: 0, next: signed(t, bSK, "bananas", 5, root5), status: 200},
		{desc: "signature does not verify", old: 0, next: strings.Replace(mInit, "202fftz", "202fftY", 1), status: 403},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			dir := t.TempDir()
			srv := httptest.NewServer(newWitness(t, dir))
			defer srv.Close()
			if tt.init != "" {
				if status, b, _ := post(t, srv.URL, body(0, nil, tt.init)); status != 200 {
					t.Fatalf("initial checkpoint: %d %s", status, b)
				}
			}
			status, b, ctype := post(t, srv.URL, body(tt.old, tt.proof, tt.next))
			if status != tt.status {
				t.Fatalf("status %d (%s), want %d", status, b, tt.status)
			}
			switch status {
			case 200:
				checkCosigned(t, tt.next, b)
			case 409:
				if tt.size != "" && (ctype != "text/x.tlog.size" || b != tt.size) {
					t.Fatalf("409 %q %q, want text/x.tlog.size %q", ctype, b, tt.size)
				}
				if tt.size == "" && ctype == "text/x.tlog.size" {
					t.Fatalf("409 %q %q for a fork, want no size", ctype, b)
				}
			}
			ev, _ := filepath.Glob(filepath.Join(dir, "*", "evidence-*"))
			if tt.forkLog != (len(ev) == 1) {
				t.Fatalf("evidence files %v, want %v", ev, tt.forkLog)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	srv := httptest.NewServer(newWitness(t, t.TempDir()))
	defer srv.Close()
	for _, b := range []string{
		"",
		"old 0\n",
		"old 0\n" + mInit, // no blank line
		"old -1\n\n" + mInit,
		"old 05\n\n" + mInit,
		"0\n\n" + mInit,
		"old 0\nnot base64\n\n" + mInit,
		"old 0\nAAAA\n\n" + mInit,
		"old 0\n\nmonkeys\n5\n",
		"old 0\n\nmonkeys\n5\n41smjBUiAU70EtKlT6lIOIYtRTYxYXsDB+XHfcvu/BE=\n\n",
		"old 0\n\n" + signedText(t, "monkeys\nfive\n41smjBUiAU70EtKlT6lIOIYtRTYxYXsDB+XHfcvu/BE=\n"), // signed, not a checkpoint
		"old 0\n" + strings.Repeat(base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n", 64) + "\n" + mInit,
		"old 9\n\n" + mInit,
	} {
		if status, out, _ := post(t, srv.URL, b); status != http.StatusBadRequest {
			t.Errorf("%q: status %d %s, want 400", b, status, out)
		}
	}
	resp, err := http.Get(srv.URL + "/add-checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	if status, _, _ := post(t, srv.URL, "old 0\n\n"+strings.Repeat("x", 70<<10)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("a large body: %d", status)
	}
}

// The state survives a restart, and evidence names both checkpoints and
// the proof.
func TestDurableAndEvidence(t *testing.T) {
	dir := t.TempDir()
	w := newWitness(t, dir)
	for _, b := range []string{body(0, nil, mInit), body(5, consProof, mNext)} {
		if _, err := w.AddCheckpoint(t.Context(), strings.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	w = newWitness(t, dir) // a restart
	if cp, _, ok := w.Latest("monkeys"); !ok || cp.Size != 8 {
		t.Fatalf("after a restart: %+v %v", cp, ok)
	}
	_, err := w.AddCheckpoint(t.Context(), strings.NewReader(body(0, nil, mInit)))
	if e, ok := err.(*Error); !ok || e.Status != 409 || e.Size != 8 {
		t.Fatalf("a rollback after a restart: %v", err)
	}
	fork := signed(t, mSK, "monkeys", 8, root5)
	_, err = w.AddCheckpoint(t.Context(), strings.NewReader(body(8, nil, fork)))
	if e, ok := err.(*Error); !ok || e.Status != 409 {
		t.Fatalf("a fork: %v", err)
	}
	ev, _ := filepath.Glob(filepath.Join(dir, "monkeys", "evidence-fork-8-*"))
	if len(ev) != 1 {
		t.Fatalf("evidence files %v", ev)
	}
	b, _ := os.ReadFile(ev[0])
	text, _, _ := strings.Cut(fork, "\n\n")
	if !strings.Contains(string(b), mNext) || !strings.Contains(string(b), text) || !strings.Contains(string(b), "old 8\n") {
		t.Fatalf("evidence lacks a checkpoint or the request:\n%s", b)
	}
	if cp, _, _ := w.Latest("monkeys"); cp.Size != 8 || hex.EncodeToString(cp.Hash[:]) == root5 {
		t.Fatalf("the fork changed the state: %+v", cp)
	}
}

// Concurrent requests from one old size: exactly one is cosigned, the
// others learn the new size (C2SP's compare-and-swap).
func TestCompareAndSwap(t *testing.T) {
	w := newWitness(t, t.TempDir())
	if _, err := w.AddCheckpoint(t.Context(), strings.NewReader(body(0, nil, mInit))); err != nil {
		t.Fatal(err)
	}
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.AddCheckpoint(t.Context(), strings.NewReader(body(5, consProof, mNext)))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if e, is := err.(*Error); !is || e.Status != 409 || e.Size != 8 {
			t.Fatalf("a losing request: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d requests cosigned, want 1", ok)
	}
}

// A witness that ran in pull mode (ops witness run) starts from the
// checkpoint it cosigned there.
func TestImportsPullModeState(t *testing.T) {
	dir := t.TempDir()
	ws, err := note.NewSigner(wSK)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(mInit), note.VerifierList(mustLog(t, mPK).Key))
	if err != nil {
		t.Fatal(err)
	}
	old, err := note.Sign(n, ws)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "checkpoint"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	w := newWitness(t, dir)
	if cp, _, ok := w.Latest("monkeys"); !ok || cp.Size != 5 {
		t.Fatalf("imported %+v %v", cp, ok)
	}
	if _, _, ok := w.Latest("bananas"); ok {
		t.Fatal("the pull-mode state of monkeys became bananas' state")
	}
	if _, err := w.AddCheckpoint(t.Context(), strings.NewReader(body(0, nil, mInit))); err == nil {
		t.Fatal("cosigned from size 0 over an imported size 5")
	}
	if _, err := w.AddCheckpoint(t.Context(), strings.NewReader(body(5, consProof, mNext))); err != nil {
		t.Fatal(err)
	}
	// A state file someone else wrote stops the witness.
	if err := os.WriteFile(filepath.Join(dir, "monkeys", "checkpoint"), bytes.Replace([]byte(mNext), []byte("8"), []byte("9"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Key: wSK, Logs: []Log{mustLog(t, mPK)}, Dir: dir}); err == nil {
		t.Fatal("started on a state that does not verify")
	}
}

func TestParseLog(t *testing.T) {
	for _, tt := range []struct {
		in, origin string
		ok         bool
	}{
		{mPK, "monkeys", true},
		{"example.org/log=" + mPK, "example.org/log", true},
		{" " + mPK + "\n", "monkeys", true},
		{"example.org/log=", "", false},
		{"=" + mPK, "", false},
		{"..=" + mPK, "", false},
		{"monkeys+db4d9f7e+AAAA", "", false},
	} {
		l, err := ParseLog(tt.in)
		if (err == nil) != tt.ok || err == nil && l.Origin != tt.origin {
			t.Errorf("ParseLog(%q) = %q, %v", tt.in, l.Origin, err)
		}
	}
	if _, err := New(Config{Key: mSK, Logs: []Log{mustLog(t, mPK)}, Dir: t.TempDir()}); err == nil {
		t.Error("a witness with the log's own key")
	}
}
