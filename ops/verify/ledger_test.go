package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/ledger/natstest"
)

type hashes []tlog.Hash

func (h hashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = h[x]
	}
	return out, nil
}

func TestLedgerPass(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, js := srv.Connect()
	st, err := ledger.Open(ctx, js, ledger.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var stored hashes
	const n = 3000 // spans several verify batches
	for i := 0; i < n; i++ {
		e := events.Event{ID: events.NewID(), Type: "pass.scanned", Version: 2, Aggregate: events.Aggregate{Kind: "gate", ID: fmt.Sprintf("g%d", i%7)},
			Region: "110105001001", Actor: events.Actor{Role: "gate_operator", ID: "op1"}, Time: time.Date(2026, 2, 1, 0, 0, 0, i, time.UTC),
			Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
		rec, err := st.Append(ctx, e, events.ExpectAny())
		if err != nil {
			t.Fatal(err)
		}
		hs, err := tlog.StoredHashes(int64(i), rec.Raw, stored)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	root := func(size int64) tlog.Hash {
		h, err := tlog.TreeHash(size, stored)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	good := []Checkpoint{{0, root(0)}, {1, root(1)}, {1024, root(1024)}, {1500, root(1500)}, {n, root(n)}}
	var lastProgress uint64
	rep, err := Ledger(ctx, js, st.Stream(), n, good, func(d uint64) { lastProgress = d })
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Checkpoints != len(good) || rep.Root != b64(root(n)) || lastProgress != n {
		t.Fatalf("clean ledger: %+v (progress %d)", rep, lastProgress)
	}

	// A forked checkpoint (root of other data) and one beyond the ledger,
	// as when events were removed after it was signed.
	forked := root(700)
	forked[0] ^= 1
	bad := append(good, Checkpoint{700, forked}, Checkpoint{n + 5, root(n)})
	rep, err = Ledger(ctx, js, st.Stream(), n, bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Mismatches) != 1 || rep.Mismatches[0].Size != 700 || len(rep.Beyond) != 1 || rep.Beyond[0] != n+5 {
		t.Fatalf("bad checkpoints not caught: %+v", rep)
	}
}
