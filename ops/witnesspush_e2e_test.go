package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/events/seal/sealtest"
	"github.com/onebook/onebook/events/seal/witnesspush"
)

// loopWitness is a minimal C2SP tlog-witness add-checkpoint server for one
// log whose verifier key it reads from a file on first use; it cosigns
// with transparency-dev/formats' cosignature/v1 signer.
type loopWitness struct {
	keyFile string
	signer  note.Signer

	mu     sync.Mutex
	logV   interface{ Verify(msg, sig []byte) bool }
	size   uint64
	hash   tlog.Hash
	status map[int]int
}

func (w *loopWitness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	status, body, ctype := w.add(r)
	w.status[status]++
	rw.Header().Set("Content-Type", ctype)
	rw.WriteHeader(status)
	io.WriteString(rw, body)
}

func (w *loopWitness) add(r *http.Request) (int, string, string) {
	if w.logV == nil {
		raw, err := os.ReadFile(w.keyFile)
		if err != nil {
			return http.StatusInternalServerError, err.Error(), "text/plain"
		}
		if w.logV, err = seal.NewWitnessVerifier(strings.TrimSpace(string(raw))); err != nil {
			return http.StatusInternalServerError, err.Error(), "text/plain"
		}
	}
	req, err := witnesspush.ParseRequest(r.Body)
	if err != nil {
		return http.StatusBadRequest, err.Error(), "text/plain"
	}
	old, proof, text, sigs := req.Old, req.Proof, req.Text, req.Sigs
	signed := false
	for _, line := range strings.Split(string(sigs), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[1] == "onebook.local/ledger" {
			sig, err := base64.StdEncoding.DecodeString(f[2])
			signed = signed || err == nil && len(sig) > 4 && w.logV.Verify(text, sig[4:])
		}
	}
	if !signed {
		return http.StatusForbidden, "not signed by the log", "text/plain"
	}
	cp, err := seal.ParseCheckpoint(string(text))
	if err != nil {
		return http.StatusBadRequest, err.Error(), "text/plain"
	}
	if old != w.size {
		return http.StatusConflict, strconv.FormatUint(w.size, 10) + "\n", "text/x.tlog.size"
	}
	if cp.Size < w.size || w.size > 0 && (cp.Size == w.size && cp.Hash != w.hash || cp.Size > w.size && tlog.CheckTree(proof, int64(cp.Size), cp.Hash, int64(w.size), w.hash) != nil) {
		return http.StatusUnprocessableEntity, "inconsistent", "text/plain"
	}
	sig, err := w.signer.Sign(text)
	if err != nil {
		return http.StatusInternalServerError, err.Error(), "text/plain"
	}
	w.size, w.hash = cp.Size, cp.Hash
	kh := binary.BigEndian.AppendUint32(nil, w.signer.KeyHash())
	return http.StatusOK, "— " + w.signer.Name() + " " + base64.StdEncoding.EncodeToString(append(kh, sig...)) + "\n", "text/plain"
}

// A live backend pushes its checkpoints to a C2SP witness on loopback and
// serves the cosignature/v1 lines it gets back; they verify with
// transparency-dev/formats' cosignature/v1 verifier.
func TestWitnessPush(t *testing.T) {
	b := newBackend(t)
	wit := sealtest.NewWitness(t, "cdc.test/c2sp")
	key := wit.Key
	v, err := sealtest.CosigV1Verifier(key)
	if err != nil {
		t.Fatal(err)
	}
	w := &loopWitness{keyFile: filepath.Join(b.dir, "seal.key.pub"), signer: wit.Signer, status: map[int]int{}}
	srv := httptest.NewServer(w)
	defer srv.Close()
	b.startWith("--witness-push", key+"="+srv.URL)

	cosigned := func(msg []byte) bool {
		text, sigs, _ := bytes.Cut(msg, []byte("\n\n"))
		for _, line := range strings.Split(string(sigs), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[1] == "cdc.test/c2sp" {
				sig, err := base64.StdEncoding.DecodeString(f[2])
				if err == nil && len(sig) > 4 && binary.BigEndian.Uint32(sig) == v.KeyHash() && v.Verify(append(text, '\n'), sig[4:]) {
					return true
				}
			}
		}
		return false
	}
	for round := range 2 {
		appendScans(t, b, 3)
		deadline := time.Now().Add(30 * time.Second)
		for !cosigned(servedCheckpoint(t, b, "")) {
			if time.Now().After(deadline) {
				w.mu.Lock()
				t.Fatalf("round %d: the latest checkpoint was not served with a valid cosignature/v1 line (witness answers %v):\n%s", round, w.status, servedCheckpoint(t, b, ""))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status[http.StatusOK] < 2 || w.size == 0 {
		t.Fatalf("witness answers %v, size %d", w.status, w.size)
	}
}
