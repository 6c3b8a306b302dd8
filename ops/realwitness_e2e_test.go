package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/witness/persistence/inmemory"
	"github.com/transparency-dev/witness/witness"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/events/seal/sealtest"
)

// answer is one add-checkpoint exchange with the real witness, as the wire
// carried it.
type answer struct {
	old    string // the request's first line
	size   string // the submitted checkpoint's size line
	status int
	ctype  string
	body   string
}

// realWitness is github.com/transparency-dev/witness — the witness the
// transparency-dev project runs, no line of it written here — in this
// test process: witness.New with in-memory persistence, its own
// add-checkpoint handler on a loopback listener, trusting onebook's origin
// and checkpoint key. Every exchange is recorded.
type realWitness struct {
	servedWitness // url and cosignature/v1 key; no state directory
	w             *witness.Witness

	mu      sync.Mutex
	answers []answer
}

func startRealWitness(t *testing.T, name, logKey string) *realWitness {
	t.Helper()
	wit := sealtest.NewWitness(t, name)
	key := wit.Key
	logV, err := note.NewVerifier(logKey)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(context.Background(), witness.Opts{
		Persistence: inmemory.New(),
		Signers:     []note.Signer{wit.Signer},
		VerifierForLog: func(_ context.Context, origin string) (note.Verifier, bool, error) {
			if origin != logV.Name() { // onebook's key is named for its origin
				return nil, false, nil
			}
			return logV, true, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rw := &realWitness{w: w}
	h := witness.NewHTTPHandler(w)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", func(out http.ResponseWriter, r *http.Request) {
		req, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(req))
		rec := httptest.NewRecorder()
		h.AddCheckpoint(rec, r)
		first, _, _ := strings.Cut(string(req), "\n")
		a := answer{old: first, status: rec.Code, ctype: rec.Header().Get("Content-Type"), body: rec.Body.String()}
		if _, cp, ok := strings.Cut(string(req), "\n\n"); ok {
			if l := strings.Split(cp, "\n"); len(l) > 1 {
				a.size = l[1]
			}
		}
		rw.mu.Lock()
		rw.answers = append(rw.answers, a)
		rw.mu.Unlock()
		for k, v := range rec.Header() {
			out.Header()[k] = v
		}
		out.WriteHeader(rec.Code)
		out.Write(rec.Body.Bytes())
	})
	srv := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(srv.Close)
	rw.url, rw.key = srv.URL, key
	return rw
}

// postAdd posts an add-checkpoint request to the witness at url and
// returns the status and the answer as "<Content-Type> <body>".
func postAdd(t *testing.T, url, req string) (int, string) {
	t.Helper()
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(resp.Header.Get("Content-Type") + " " + string(bytes.TrimSpace(body)))
}

// since returns the exchanges from the n-th on.
func (rw *realWitness) since(n int) []answer {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return append([]answer(nil), rw.answers[n:]...)
}

func (rw *realWitness) count() int {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return len(rw.answers)
}

// held is the checkpoint the real witness holds for onebook: its own
// record, the log's note with its cosignature.
func (rw *realWitness) held(t *testing.T, logKey string) seal.Checkpoint {
	t.Helper()
	msg, err := rw.w.GetCheckpoint(context.Background(), "onebook.local/ledger")
	if err != nil || msg == nil {
		t.Fatalf("the real witness holds no checkpoint (%v)", err)
	}
	if got := cosigners(t, msg, logKey, []servedWitness{rw.servedWitness}); len(got) != 1 {
		t.Fatalf("the real witness's record is not cosigned by it:\n%s", msg)
	}
	cp, _, err := seal.OpenCheckpoint(msg, verifierList(t, logKey), "onebook.local/ledger")
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// statuses lists the status codes of the exchanges, for messages.
func statuses(as []answer) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "[%s size %s → %d %q %q] ", a.old, a.size, a.status, a.ctype, strings.TrimSpace(a.body))
	}
	return b.String()
}

// TestRealWitnessCosignsOnebook: transparency-dev's witness, which no one
// here wrote, cosigns a live backend's checkpoints pushed by onebook's log
// side (C2SP tlog-witness), beside an `ops witness serve`; both
// cosignatures verify with transparency-dev/formats' cosignature/v1
// verifier, and ops verify's witness policy holds with the real one alone
// and with both (2 of 2). After a restart, onebook learns the real
// witness's size from its 409. A fork (the same key, another history) is
// refused by it, first as a smaller tree (409), then with a consistency
// proof that does not verify (422), and it keeps the honest checkpoint.
func TestRealWitnessCosignsOnebook(t *testing.T) {
	b, skey := newKeyedBackend(t, "")
	_, logKey, err := seal.LoadSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	theirs := startRealWitness(t, "real.test/witness", logKey)
	ours := serveWitness(t, "ours.test/witness", logKey)
	both := []servedWitness{theirs.servedWitness, ours}
	push := theirs.key + "=" + theirs.url + "," + ours.key + "=" + ours.url
	b.startWith("--witness-push", push)

	cosignedBy := func(b *backend, ws []servedWitness) func() bool {
		return func() bool { return len(cosigners(t, servedCheckpoint(t, b, ""), logKey, ws)) == len(ws) }
	}
	for range 2 {
		appendScans(t, b, 3)
		waitFor(t, "the real witness's and ours' cosignatures on the latest checkpoint", 20*time.Second, cosignedBy(b, both))
	}
	cp, _, err := seal.OpenCheckpoint(servedCheckpoint(t, b, ""), verifierList(t, logKey), "onebook.local/ledger")
	if err != nil {
		t.Fatal(err)
	}
	if held := theirs.held(t, logKey); held != cp {
		t.Fatalf("the real witness holds %+v, onebook serves %+v", held, cp)
	}
	for _, a := range theirs.since(0) {
		if a.status != http.StatusOK {
			t.Fatalf("a straight history was refused by the real witness: %s", statuses(theirs.since(0)))
		}
	}

	forgedRefused(t, both, ours, cp)

	// A restart: the log side starts at old 0, and the real witness's 409
	// (text/x.tlog.size) tells it the size to prove consistency from.
	b.stop()
	mark := theirs.count()
	b.startWith("--witness-push", push)
	appendScans(t, b, 2)
	waitFor(t, "both cosignatures after a restart", 20*time.Second, cosignedBy(b, both))
	as := theirs.since(mark)
	if len(as) < 2 || as[0].old != "old 0" || as[0].status != http.StatusConflict || as[0].ctype != "text/x.tlog.size" ||
		as[0].body != fmt.Sprintf("%d\n", cp.Size) || as[1].old != fmt.Sprintf("old %d", cp.Size) || as[1].status != http.StatusOK {
		t.Fatalf("after a restart, want old 0 → 409 %d, then old %d → 200: %s", cp.Size, cp.Size, statuses(as))
	}

	// ops verify's witness policy: the real witness alone, then mixed with
	// ours, 2 of 2.
	if code, out := ops(t, append([]string{"verify", "--ledger-only", "--witnesses", theirs.key, "--witness-quorum", "1"}, b.args()...)...); code != 0 {
		t.Fatalf("verify with the real witness, quorum 1 (%d):\n%s", code, out)
	}
	if code, out := ops(t, append([]string{"verify", "--ledger-only", "--witnesses", theirs.key + "," + ours.key, "--witness-quorum", "2"}, b.args()...)...); code != 0 {
		t.Fatalf("verify with the real witness and ours, quorum 2 (%d):\n%s", code, out)
	}
	cp, _, err = seal.OpenCheckpoint(servedCheckpoint(t, b, ""), verifierList(t, logKey), "onebook.local/ledger")
	if err != nil {
		t.Fatal(err)
	}

	b.stop()
	forkRefused(t, skey, logKey, theirs, ours, cp)

	// The honest log goes on, cosigned by both.
	b.startWith("--witness-push", push)
	appendScans(t, b, 2)
	waitFor(t, "both cosignatures on the honest log after the fork", 20*time.Second, cosignedBy(b, both))
}

// forgedRefused sends each witness a checkpoint of onebook's origin,
// one leaf past cp, signed by another key. C2SP says 403, and ours says
// so; this version of the real witness says 500 (its signature check's
// error is not ErrNoValidSignature). Neither cosigns it.
func forgedRefused(t *testing.T, both []servedWitness, ours servedWitness, cp seal.Checkpoint) {
	t.Helper()
	other, _, err := seal.GenerateKey("onebook.local/ledger")
	if err != nil {
		t.Fatal(err)
	}
	osigner, _, err := seal.LoadSigner(other)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := seal.Sign(seal.Checkpoint{Origin: "onebook.local/ledger", Size: cp.Size + 1, Hash: cp.Hash}, osigner)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range both {
		status, body := postAdd(t, w.url, fmt.Sprintf("old %d\n\n%s", cp.Size, forged))
		switch {
		case w.key == ours.key && status != http.StatusForbidden:
			t.Fatalf("ours to a checkpoint signed by another key: %d %q, want 403", status, body)
		case status == http.StatusOK:
			t.Fatalf("%s cosigned a checkpoint signed by another key", w.url)
		}
		t.Logf("a checkpoint signed by another key, to %s: %d %q", w.url, status, body)
	}
}

// forkRefused runs a backend with the same key skey and another history,
// pushing to the real witness only, and checks that neither witness
// cosigns its checkpoints: smaller than cp, at cp's size with another
// root, and larger. (One backend at a time: they share the process's fake
// WeChat; the caller stops the honest one first.)
func forkRefused(t *testing.T, skey, logKey string, theirs *realWitness, ours servedWitness, cp seal.Checkpoint) {
	t.Helper()
	both := []servedWitness{theirs.servedWitness, ours}
	forked, _ := newKeyedBackend(t, skey)
	mark := theirs.count()
	forked.startWith("--witness-push", theirs.key+"="+theirs.url)
	appendScans(t, forked, 1)
	// answered: the real witness answered status to the log side's push of
	// a forked checkpoint of a size that satisfies size.
	answered := func(status int, size func(uint64) bool) func() bool {
		return func() bool {
			for _, a := range theirs.since(mark) {
				if n, err := strconv.ParseUint(a.size, 10, 64); err == nil && size(n) && a.status == status {
					return true
				}
			}
			return false
		}
	}
	waitFor(t, "the real witness's 409 to the smaller forked tree", 20*time.Second, answered(http.StatusConflict, func(n uint64) bool { return n < cp.Size }))
	fst := forked.settled()
	if fst.Ledger.Size >= cp.Size {
		t.Fatalf("the forked backend is not behind: %d >= %d", fst.Ledger.Size, cp.Size)
	}
	// The fork at the very size both witnesses hold, another root, sent
	// to each with that old size: C2SP tlog-witness says 409. Ours says
	// so, with no size in the body (there is nothing to resend from) and
	// the evidence kept; this version of the real witness says 422
	// (ErrRootMismatch). Both refuse, which is what the log side needs.
	appendScans(t, forked, int(cp.Size-fst.Ledger.Size))
	fmsg := servedCheckpoint(t, forked, "")
	fcp, _, err := seal.OpenCheckpoint(fmsg, verifierList(t, logKey), "onebook.local/ledger")
	if err != nil || fcp.Size != cp.Size || fcp.Hash == cp.Hash {
		t.Fatalf("the fork at size %d: %+v %v", cp.Size, fcp, err)
	}
	for _, w := range both {
		status, body := postAdd(t, w.url, fmt.Sprintf("old %d\n\n%s", cp.Size, fmsg))
		switch {
		case w.key == ours.key && (status != http.StatusConflict || strings.HasPrefix(body, "text/x.tlog.size")):
			t.Fatalf("ours to a fork at the size it holds: %d %q, want 409 without a size", status, body)
		case status != http.StatusConflict && status != http.StatusUnprocessableEntity:
			t.Fatalf("%s to a fork at the size it holds: %d %q", w.url, status, body)
		}
		t.Logf("a fork at the size held, to %s: %d %q", w.url, status, body)
	}
	if ev, _ := filepath.Glob(filepath.Join(ours.state, "onebook.local%2Fledger", "evidence-fork-*.txt")); len(ev) != 1 {
		t.Fatalf("ours kept %v as evidence of the fork", ev)
	}
	appendScans(t, forked, 3)
	waitFor(t, "the real witness's 422 to the forked tree's proof", 20*time.Second, answered(http.StatusUnprocessableEntity, func(n uint64) bool { return n > cp.Size }))
	for _, a := range theirs.since(mark) {
		if a.status == http.StatusOK {
			t.Fatalf("the real witness cosigned the fork: %s", statuses(theirs.since(mark)))
		}
	}
	t.Logf("the real witness to the fork: %s", statuses(theirs.since(mark)))
	if held := theirs.held(t, logKey); held != cp {
		t.Fatalf("after the fork the real witness holds %+v, not the honest %+v", held, cp)
	}
	if got := cosigners(t, servedCheckpoint(t, forked, ""), logKey, both); len(got) != 0 {
		t.Fatalf("the fork carries cosignatures by %v", got)
	}

	forked.stop()
}
