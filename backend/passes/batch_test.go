package passes

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
)

// faultStore is the ledger with faults injected into AppendBatch: before
// runs first (nil: nothing) and may answer in the ledger's place; max, if
// set, is the most events one batch takes.
type faultStore struct {
	events.Store
	max     int
	batches atomic.Int64
	before  func(ctx context.Context, n int64, b []events.Pending) (done bool, recs []events.Recorded, err error)
}

func (f *faultStore) MaxBatch() int {
	if f.max > 0 {
		return f.max
	}
	return f.Store.MaxBatch()
}

func (f *faultStore) AppendBatch(ctx context.Context, b []events.Pending) ([]events.Recorded, error) {
	n := f.batches.Add(1)
	if len(b) > f.MaxBatch() {
		return nil, &events.Error{Code: events.CodeTooLarge, Message: "too large"}
	}
	if f.before != nil {
		if done, recs, err := f.before(ctx, n, b); done {
			return recs, err
		}
	}
	return f.Store.AppendBatch(ctx, b)
}

// batchWorld is a world with a gate, its manager and a resident's pass,
// its store's batches open to faults.
type batchWorld struct {
	*world
	store *faultStore
	pm    auth.Principal
	gate  Gate
	token string
}

func newBatchWorld(t *testing.T) *batchWorld {
	w := &batchWorld{world: newWorld(t)}
	w.pm = w.staff(auth.PropertyManager, community)
	var err error
	if w.gate, err = w.svc.RegisterGate(w.ctx, w.pm, GateInput{Community: community, Name: "东门"}); err != nil {
		t.Fatal(err)
	}
	res := w.resident("wx-batch")
	h := w.register(res, "11010519491231002X")
	pass, err := w.svc.Pass(w.ctx, w.resident("wx-batch"), h.Members[0].PersonID)
	if err != nil {
		t.Fatal(err)
	}
	w.token = pass.Token
	w.store = &faultStore{Store: w.svc.Store}
	w.svc.Store = w.store
	return w
}

// scans returns n scans of ids prefix0.. at the gate.
func (w *batchWorld) scans(prefix string, n int) []ScanInput {
	var in []ScanInput
	for i := range n {
		in = append(in, ScanInput{ScanID: fmt.Sprintf("%s%d", prefix, i), Token: w.token, Gate: w.gate.ID, Direction: passevents.In, ScannedAt: w.now.Add(-time.Duration(n-i) * time.Second)})
	}
	return in
}

// recorded returns the scan ids recorded at the gate, in ledger order,
// with their sequences.
func (w *batchWorld) recorded() ([]string, []uint64) {
	w.t.Helper()
	recs, err := w.svc.Store.Load(w.ctx, community, events.Aggregate{Kind: passevents.KindGate, ID: w.gate.ID})
	if err != nil {
		w.t.Fatal(err)
	}
	var ids []string
	var seqs []uint64
	for _, r := range recs {
		if r.Event.Type != passevents.TypeScanned {
			continue
		}
		p, err := events.DecodeAs[passevents.Scanned](w.ctx, w.svc.Reg, r.Event)
		if err != nil {
			w.t.Fatal(err)
		}
		ids, seqs = append(ids, p.ScanID), append(seqs, r.Seq)
	}
	return ids, seqs
}

func decisions(out []BatchResult) []string {
	var d []string
	for _, r := range out {
		d = append(d, r.Decision)
	}
	return d
}

func repeat(s string, n int) []string { return slices.Repeat([]string{s}, n) }

// TestScanBatchIsOneAtomicBatch: the valid scans of an upload go to the
// ledger as one batch, in upload order, at consecutive sequences; the
// invalid one is rejected before it; the retried upload records nothing
// and answers every scan "duplicate".
func TestScanBatchIsOneAtomicBatch(t *testing.T) {
	w := newBatchWorld(t)
	in := w.scans("s", 6)
	in = slices.Insert(in, 3, ScanInput{ScanID: "x", Token: w.token, Gate: w.gate.ID, Direction: "sideways", ScannedAt: w.now})
	out, err := w.svc.ScanBatch(w.ctx, w.pm, in)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(repeat(passevents.Allow, 3), "rejected"), repeat(passevents.Allow, 3)...)
	if got := decisions(out); !slices.Equal(got, want) || out[3].Error == nil || out[3].Error.Field != "direction" {
		t.Fatalf("decisions %q, want %q (item 3: %+v)", got, want, out[3].Error)
	}
	if n := w.store.batches.Load(); n != 1 {
		t.Fatalf("%d batches for one upload, want 1", n)
	}
	ids, seqs := w.recorded()
	if !slices.Equal(ids, []string{"s0", "s1", "s2", "s3", "s4", "s5"}) {
		t.Fatalf("recorded %q", ids)
	}
	for i, r := range slices.Concat(out[:3], out[4:]) {
		if r.Seq != seqs[i] || (i > 0 && seqs[i] != seqs[i-1]+1) {
			t.Fatalf("scan %s answered at %d, recorded at %d (sequences %v, want consecutive)", r.ScanID, r.Seq, seqs[i], seqs)
		}
	}
	again, err := w.svc.ScanBatch(w.ctx, w.pm, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := decisions(again); !slices.Equal(got, append(append(repeat("duplicate", 3), "rejected"), repeat("duplicate", 3)...)) {
		t.Fatalf("retried upload: %q", got)
	}
	if ids, _ := w.recorded(); len(ids) != 6 {
		t.Fatalf("%d scans recorded after the retry, want 6", len(ids))
	}
}

// TestScanBatchFaults injects what the ledger and other replicas can do
// to an upload, and checks the answers stay true and nothing is recorded
// twice or lost.
func TestScanBatchFaults(t *testing.T) {
	t.Run("ledger unavailable: error, nothing recorded, the retry records all", func(t *testing.T) {
		w := newBatchWorld(t)
		w.store.before = func(context.Context, int64, []events.Pending) (bool, []events.Recorded, error) {
			return true, nil, &events.Error{Code: events.CodeUnavailable, Message: "down"}
		}
		in := w.scans("u", 5)
		if _, err := w.svc.ScanBatch(w.ctx, w.pm, in); events.ErrorCode(err) != events.CodeUnavailable {
			t.Fatalf("upload while the ledger is down: %v", err)
		}
		if ids, _ := w.recorded(); len(ids) != 0 {
			t.Fatalf("recorded %q of a failed upload", ids)
		}
		w.store.before = nil
		out, err := w.svc.ScanBatch(w.ctx, w.pm, in)
		if err != nil || !slices.Equal(decisions(out), repeat(passevents.Allow, 5)) {
			t.Fatalf("retry: %q %v", decisions(out), err)
		}
	})
	t.Run("acknowledgement lost, retried before the state saw the batch", func(t *testing.T) {
		w := newBatchWorld(t)
		// The first attempt reaches the ledger; its answer is lost and
		// the retry arrives at once: the ledger answers duplicate.
		w.store.before = func(ctx context.Context, _ int64, b []events.Pending) (bool, []events.Recorded, error) {
			if _, err := w.store.Store.AppendBatch(ctx, b); err != nil {
				return true, nil, err
			}
			recs, err := w.store.Store.AppendBatch(ctx, b)
			return true, recs, err
		}
		out, err := w.svc.ScanBatch(w.ctx, w.pm, w.scans("a", 4))
		if err != nil {
			t.Fatal(err)
		}
		ids, seqs := w.recorded()
		if len(ids) != 4 || !slices.Equal(decisions(out), repeat("duplicate", 4)) {
			t.Fatalf("recorded %q, answered %q", ids, decisions(out))
		}
		for i, r := range out {
			if r.Seq != seqs[i] {
				t.Fatalf("duplicate %s answered at %d, recorded at %d", r.ScanID, r.Seq, seqs[i])
			}
		}
	})
	t.Run("another replica recorded one of the scans meanwhile", func(t *testing.T) {
		w := newBatchWorld(t)
		w.store.before = func(ctx context.Context, n int64, b []events.Pending) (bool, []events.Recorded, error) {
			if n == 1 {
				if _, err := w.store.Store.Append(ctx, b[2].Event, b[2].Expect); err != nil {
					return true, nil, err
				}
			}
			return false, nil, nil
		}
		out, err := w.svc.ScanBatch(w.ctx, w.pm, w.scans("c", 5))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{passevents.Allow, passevents.Allow, "duplicate", passevents.Allow, passevents.Allow}
		if got := decisions(out); !slices.Equal(got, want) {
			t.Fatalf("answers %q, want %q", got, want)
		}
		if ids, _ := w.recorded(); !slices.Equal(ids, []string{"c2", "c0", "c1", "c3", "c4"}) {
			t.Fatalf("recorded %q", ids)
		}
		if n := w.store.batches.Load(); n != 2 {
			t.Fatalf("%d batches, want 2 (the refused one and the one decided again)", n)
		}
	})
	t.Run("a ledger that takes 3 at once: in order, batches of 3; a failed one is completed by the retry", func(t *testing.T) {
		w := newBatchWorld(t)
		w.store.max = 3
		w.store.before = func(_ context.Context, n int64, _ []events.Pending) (bool, []events.Recorded, error) {
			if n == 2 {
				return true, nil, &events.Error{Code: events.CodeUnavailable, Message: "down"}
			}
			return false, nil, nil
		}
		in := w.scans("m", 8)
		if _, err := w.svc.ScanBatch(w.ctx, w.pm, in); events.ErrorCode(err) != events.CodeUnavailable {
			t.Fatalf("second batch failing: %v", err)
		}
		if ids, _ := w.recorded(); !slices.Equal(ids, []string{"m0", "m1", "m2"}) {
			t.Fatalf("recorded %q after the second batch failed, want the first batch only", ids)
		}
		out, err := w.svc.ScanBatch(w.ctx, w.pm, in)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := decisions(out), append(repeat("duplicate", 3), repeat(passevents.Allow, 5)...); !slices.Equal(got, want) {
			t.Fatalf("retry: %q, want %q", got, want)
		}
		if ids, _ := w.recorded(); !slices.Equal(ids, []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"}) {
			t.Fatalf("recorded %q", ids)
		}
		if n := w.store.batches.Load(); n != 4 {
			t.Fatalf("%d batches, want 4 (the first, the second failed, then two for the 5 left)", n)
		}
	})
}
