package witness

// This file reaches this witness through the log-side client of the
// reference witness, github.com/transparency-dev/witness/client/http
// (package http, so net/http is not imported here), which turns each
// answer into one of the reference's errors (package witness, the
// reference's, not this one).

import (
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/transparency-dev/witness/client/http"
	"github.com/transparency-dev/witness/witness"
)

// TestReferenceClient: the reference client reads every answer of this
// witness as it reads the reference witness's. A fork at the size held is
// ErrRootMismatch to it, not ErrCheckpointStale (a 409 carrying a size):
// with a size it would resend from that size, which cannot help.
func TestReferenceClient(t *testing.T) {
	srv := httptest.NewServer(newWitness(t, t.TempDir()))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := http.NewWitness(u, srv.Client())
	proof := func(hexes ...string) [][]byte {
		var p [][]byte
		for _, h := range hexes {
			b, err := hex.DecodeString(h)
			if err != nil {
				t.Fatal(err)
			}
			p = append(p, b)
		}
		return p
	}
	// One witness, one step after another: each step starts from the
	// state the steps before it left.
	for _, step := range []struct {
		desc  string
		old   uint64
		cp    string
		proof [][]byte
		err   error  // the reference's error; nil: cosigned
		size  uint64 // with ErrCheckpointStale
	}{
		{desc: "first checkpoint", old: 0, cp: mInit},
		{desc: "stale old size", old: 0, cp: mNext, err: witness.ErrCheckpointStale, size: 5},
		{desc: "consistent", old: 5, cp: mNext, proof: proof(consProof...)},
		{desc: "fork at the size held", old: 8, cp: signed(t, mSK, "monkeys", 8, root5), err: witness.ErrRootMismatch},
		{desc: "old size over the checkpoint's", old: 8, cp: mInit, err: witness.ErrOldSizeInvalid},
		{desc: "rollback", old: 5, cp: mInit, err: witness.ErrCheckpointStale, size: 8},
		{desc: "proof that does not verify", old: 8, cp: signed(t, mSK, "monkeys", 9, root5), proof: proof(root5), err: witness.ErrInvalidProof},
		{desc: "unknown log", old: 0, cp: signed(t, mSK, "apples", 5, root5), err: witness.ErrUnknownLog},
		{desc: "signed by another key", old: 8, cp: signed(t, bSK, "monkeys", 9, root5), err: witness.ErrNoValidSignature},
		{desc: "the checkpoint held, again", old: 8, cp: mNext},
	} {
		sigs, size, err := c.Update(t.Context(), step.old, []byte(step.cp), step.proof)
		if !errors.Is(err, step.err) || size != step.size { // errors.Is(err, nil): err == nil
			t.Fatalf("%s: %v, size %d; want %v, size %d", step.desc, err, size, step.err, step.size)
		}
		if step.err == nil {
			checkCosigned(t, step.cp, string(sigs))
		}
	}
}
