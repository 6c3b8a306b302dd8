package witnesspush

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/events/seal/sealtest"
)

const origin = "onebook.test/ledger"

// memLog is an in-memory log signing checkpoints with one key; two memLogs
// with the same key and different leaves are a fork.
type memLog struct {
	mu     sync.Mutex
	skey   string
	hashes []tlog.Hash
	n      int64
	cur    seal.SignedCheckpoint
	salt   string
}

func (l *memLog) grow(t *testing.T, to int64) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for ; l.n < to; l.n++ {
		hs, err := tlog.StoredHashes(l.n, []byte(fmt.Sprintf("%s event %d", l.salt, l.n)), tlog.HashReaderFunc(l.read))
		if err != nil {
			t.Fatal(err)
		}
		l.hashes = append(l.hashes, hs...)
	}
	root, err := tlog.TreeHash(l.n, tlog.HashReaderFunc(l.read))
	if err != nil {
		t.Fatal(err)
	}
	signer, _, err := seal.LoadSigner(l.skey)
	if err != nil {
		t.Fatal(err)
	}
	cp := seal.Checkpoint{Origin: origin, Size: uint64(l.n), Hash: root}
	msg, err := seal.Sign(cp, signer)
	if err != nil {
		t.Fatal(err)
	}
	l.cur = seal.SignedCheckpoint{Checkpoint: cp, Note: msg}
}

func (l *memLog) read(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

func (l *memLog) Checkpoint(ctx context.Context) (seal.SignedCheckpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur, nil
}

func (l *memLog) ProveConsistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return tlog.ProveTree(int64(new), int64(old), tlog.HashReaderFunc(l.read))
}

// memStore keeps the cosignature lines that verify with the configured
// witness key (seal's cosignature/v1 verifier), by tree size.
type memStore struct {
	mu    sync.Mutex
	v     interface{ Verify(msg, sig []byte) bool }
	name  string
	lines map[uint64]string
}

func (s *memStore) Add(ctx context.Context, msg []byte) (uint64, []string, error) {
	text, sigs, _ := bytes.Cut(msg, []byte("\n\n"))
	cp, err := seal.ParseCheckpoint(string(text) + "\n")
	if err != nil {
		return 0, nil, err
	}
	for _, line := range strings.SplitAfter(string(sigs), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[1] != s.name {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(f[2])
		if err != nil || len(sig) < 4 || !s.v.Verify(append(text, '\n'), sig[4:]) {
			return 0, nil, fmt.Errorf("cosignature by %s does not verify", f[1])
		}
		s.mu.Lock()
		s.lines[cp.Size] = line
		s.mu.Unlock()
		return cp.Size, []string{f[1]}, nil
	}
	return 0, nil, fmt.Errorf("no cosignature by %s", s.name)
}

func (s *memStore) get(size uint64) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.lines[size]
	return l, ok
}

// c2spWitness is a minimal C2SP tlog-witness add-checkpoint server for one
// log, signing with transparency-dev/formats' cosignature/v1 signer.
type c2spWitness struct {
	mu       sync.Mutex
	logV     interface{ Verify(msg, sig []byte) bool }
	logHash  uint32
	signer   note.Signer
	size     uint64
	hash     tlog.Hash
	refused  []int // statuses of refused requests
	accepted int
}

func (w *c2spWitness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	status, body, ctype := w.add(r)
	w.mu.Lock()
	if status == http.StatusOK {
		w.accepted++
	} else {
		w.refused = append(w.refused, status)
	}
	w.mu.Unlock()
	rw.Header().Set("Content-Type", ctype)
	rw.WriteHeader(status)
	io.WriteString(rw, body)
}

func (w *c2spWitness) add(r *http.Request) (int, string, string) {
	if r.URL.Path != "/add-checkpoint" || r.Method != http.MethodPost {
		return http.StatusNotFound, "", "text/plain"
	}
	req, err := ParseRequest(r.Body)
	if err != nil {
		return http.StatusBadRequest, err.Error(), "text/plain"
	}
	old, proof, text, sigs := req.Old, req.Proof, req.Text, req.Sigs
	if !w.signedByLog(text, sigs) {
		return http.StatusForbidden, "not signed by the log", "text/plain"
	}
	cp, err := seal.ParseCheckpoint(string(text))
	if err != nil || cp.Origin != origin {
		return http.StatusNotFound, "unknown log", "text/plain"
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if old != w.size {
		return http.StatusConflict, strconv.FormatUint(w.size, 10) + "\n", "text/x.tlog.size"
	}
	if cp.Size < w.size {
		return http.StatusBadRequest, "rollback", "text/plain"
	}
	if w.size > 0 {
		if cp.Size == w.size && cp.Hash != w.hash || cp.Size > w.size && tlog.CheckTree(proof, int64(cp.Size), cp.Hash, int64(w.size), w.hash) != nil {
			return http.StatusUnprocessableEntity, "inconsistent", "text/plain"
		}
	}
	sig, err := w.signer.Sign(text)
	if err != nil {
		return http.StatusInternalServerError, err.Error(), "text/plain"
	}
	w.size, w.hash = cp.Size, cp.Hash
	kh := binary.BigEndian.AppendUint32(nil, w.signer.KeyHash())
	return http.StatusOK, "— " + w.signer.Name() + " " + base64.StdEncoding.EncodeToString(append(kh, sig...)) + "\n", "text/plain"
}

func (w *c2spWitness) signedByLog(text, sigs []byte) bool {
	for _, line := range strings.Split(string(sigs), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[1] != origin {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(f[2])
		if err == nil && len(sig) > 4 && binary.BigEndian.Uint32(sig) == w.logHash && w.logV.Verify(text, sig[4:]) {
			return true
		}
	}
	return false
}

type rig struct {
	log     *memLog
	store   *memStore
	witness *c2spWitness
	key     string // the witness's cosignature/v1 verifier key
	url     string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	logSkey, logVkey, err := seal.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	logV, err := seal.NewWitnessVerifier(logVkey) // a plain Ed25519 key
	if err != nil {
		t.Fatal(err)
	}
	wit := sealtest.NewWitness(t, "witness.test")
	v, err := seal.NewWitnessVerifier(wit.Key)
	if err != nil {
		t.Fatal(err)
	}
	w := &c2spWitness{logV: logV, logHash: logV.KeyHash(), signer: wit.Signer}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return &rig{log: &memLog{skey: logSkey}, store: &memStore{v: v, name: "witness.test", lines: map[uint64]string{}}, witness: w, key: wit.Key, url: srv.URL}
}

func (r *rig) run(t *testing.T, log *memLog) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Config{Witnesses: []Target{{Key: r.key, URL: r.url}}, Log: log, Store: r.store, Poll: 10 * time.Millisecond,
			MaxWait: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	}()
	return func() { cancel(); <-done }
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPushCosignsEachCheckpoint(t *testing.T) {
	r := newRig(t)
	r.log.grow(t, 3)
	stop := r.run(t, r.log)
	defer stop()
	v, err := sealtest.CosigV1Verifier(r.key)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{3, 10, 11, 300} {
		r.log.grow(t, size)
		waitFor(t, fmt.Sprintf("cosignature of size %d", size), func() bool { _, ok := r.store.get(uint64(size)); return ok })
		line, _ := r.store.get(uint64(size))
		cp, _ := r.log.Checkpoint(context.Background())
		text, _, _ := bytes.Cut(cp.Note, []byte("\n\n"))
		sig, err := base64.StdEncoding.DecodeString(strings.Fields(line)[2])
		if err != nil || binary.BigEndian.Uint32(sig) != v.KeyHash() || !v.Verify(append(text, '\n'), sig[4:]) {
			t.Fatalf("size %d: transparency-dev/formats' cosignature/v1 verifier rejects the stored line %q", size, line)
		}
	}
}

func TestPushResendsFromWitnessSize(t *testing.T) {
	r := newRig(t)
	r.log.grow(t, 5)
	// The witness already cosigned size 5 (another pusher, earlier); ours
	// starts at "old 0", gets 409 with 5 and proves 5 → 9.
	r.witness.size = 5
	r.witness.hash = r.log.cur.Hash
	r.log.grow(t, 9)
	stop := r.run(t, r.log)
	defer stop()
	waitFor(t, "cosignature of size 9", func() bool { _, ok := r.store.get(9); return ok })
	r.witness.mu.Lock()
	defer r.witness.mu.Unlock()
	if len(r.witness.refused) != 1 || r.witness.refused[0] != http.StatusConflict {
		t.Fatalf("refused statuses %v, want one 409", r.witness.refused)
	}
}

func TestForkIsRefusedAndNotStored(t *testing.T) {
	r := newRig(t)
	r.log.grow(t, 5)
	stop := r.run(t, r.log)
	waitFor(t, "cosignature of size 5", func() bool { _, ok := r.store.get(5); return ok })
	stop()

	// A second history signed with the same key.
	fork := &memLog{skey: r.log.skey, salt: "fork"}
	fork.grow(t, 8)
	stop = r.run(t, fork)
	waitFor(t, "the witness to refuse the fork twice", func() bool {
		r.witness.mu.Lock()
		defer r.witness.mu.Unlock()
		n := 0
		for _, s := range r.witness.refused {
			if s == http.StatusUnprocessableEntity {
				n++
			}
		}
		return n >= 2 // refused, and refused again after the backoff
	})
	stop()
	if l, ok := r.store.get(8); ok {
		t.Fatalf("a cosignature of the fork was stored: %q", l)
	}
	if r.witness.size != 5 {
		t.Fatalf("witness moved to size %d", r.witness.size)
	}
}
