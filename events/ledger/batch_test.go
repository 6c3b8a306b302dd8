package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/passevents"
)

// pending builds n scans at gate, each without a concurrency check.
func pending(t *testing.T, reg *events.Registry, gate string, from, n int) []events.Pending {
	t.Helper()
	b := make([]events.Pending, n)
	for i := range b {
		b[i] = events.Pending{Event: scan(t, reg, gate, from+i), Expect: events.ExpectAny()}
	}
	return b
}

func size(t *testing.T, st *ledger.Store) uint64 {
	t.Helper()
	n, err := st.Size(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkRecorded checks that recs are b's events at consecutive sequences
// from first, and that the ledger holds exactly that there.
func checkRecorded(t *testing.T, st *ledger.Store, b []events.Pending, recs []events.Recorded, first uint64) {
	t.Helper()
	if len(recs) != len(b) {
		t.Fatalf("%d records for %d events", len(recs), len(b))
	}
	for i, r := range recs {
		if r.Seq != first+uint64(i) || r.Event.ID != b[i].Event.ID {
			t.Fatalf("record %d: seq %d id %s, want seq %d id %s", i, r.Seq, r.Event.ID, first+uint64(i), b[i].Event.ID)
		}
		got, err := st.Read(context.Background(), r.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if got.Event.ID != b[i].Event.ID || string(got.Raw) != string(r.Raw) {
			t.Fatalf("ledger at %d holds %s, want %s with the same bytes", r.Seq, got.Event.ID, b[i].Event.ID)
		}
	}
}

func TestAppendBatchOrderAndRetry(t *testing.T) {
	ctx := context.Background()
	_, _, st := newStore(t)
	reg := registry()
	if _, err := st.Append(ctx, scan(t, reg, "g0", 0), events.ExpectAny()); err != nil {
		t.Fatal(err)
	}
	// Two aggregates interleaved, in the order given.
	b := pending(t, reg, "g1", 1, 6)
	for i := 1; i < len(b); i += 2 {
		b[i] = events.Pending{Event: scan(t, reg, "g2", 100+i), Expect: events.ExpectAny()}
	}
	b[0].Expect, b[1].Expect = events.ExpectNew(), events.ExpectNew()
	recs, err := st.AppendBatch(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	checkRecorded(t, st, b, recs, 2)

	// The same batch again (a client that lost the answer): nothing new,
	// the same records, ErrDuplicate.
	again, err := st.AppendBatch(ctx, b)
	if !errors.Is(err, events.ErrDuplicate) {
		t.Fatalf("retried batch: %v, want duplicate", err)
	}
	checkRecorded(t, st, b, again, 2)
	if n := size(t, st); n != 7 {
		t.Fatalf("size %d after a retried batch, want 7", n)
	}
	// One event alone of the batch: recognised as Append does.
	if r, err := st.Append(ctx, b[3].Event, events.ExpectAny()); !errors.Is(err, events.ErrDuplicate) || r.Seq != 5 {
		t.Fatalf("an event of the batch appended alone: %+v %v", r, err)
	}
	// A batch that repeats some recorded events with new ones is refused
	// whole: the caller reloads and decides again.
	mixed := append(pending(t, reg, "g1", 50, 2), b[2])
	if _, err := st.AppendBatch(ctx, mixed); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("batch overlapping a recorded one: %v, want conflict", err)
	}
	if n := size(t, st); n != 7 {
		t.Fatalf("size %d after a refused batch, want 7", n)
	}
	// The same event twice in one batch is the caller's bug.
	if _, err := st.AppendBatch(ctx, []events.Pending{mixed[0], mixed[0]}); err == nil || events.ErrorCode(err) != events.CodeInternal {
		t.Fatalf("an event twice in a batch: %v", err)
	}
	if recs, err := st.AppendBatch(ctx, nil); err != nil || recs != nil {
		t.Fatalf("empty batch: %v %v", recs, err)
	}
}

// TestAppendBatchAllOrNothing checks that a batch one of whose events
// cannot be recorded records none of them.
func TestAppendBatchAllOrNothing(t *testing.T) {
	ctx := context.Background()
	_, _, st := newStore(t)
	reg := registry()
	r1, err := st.Append(ctx, scan(t, reg, "g1", 1), events.ExpectNew())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, scan(t, reg, "g1", 2), events.ExpectAny()); err != nil {
		t.Fatal(err)
	}
	recorded := scan(t, reg, "g3", 3)
	if _, err := st.Append(ctx, recorded, events.ExpectAny()); err != nil {
		t.Fatal(err)
	}
	stale := pending(t, reg, "g2", 10, 5)
	stale[3] = events.Pending{Event: scan(t, reg, "g1", 13), Expect: events.ExpectLast(r1.Seq)} // g1 moved on
	dup := pending(t, reg, "g2", 20, 5)
	dup[4] = events.Pending{Event: recorded, Expect: events.ExpectAny()}
	tooNew := pending(t, reg, "g2", 30, 3)
	tooNew[2] = events.Pending{Event: scan(t, reg, "g1", 32), Expect: events.ExpectNew()} // g1 is not new
	later := pending(t, reg, "g2", 40, 3)
	later[1].Expect = events.ExpectNew() // g2 already has an event earlier in this batch

	for _, c := range []struct {
		name string
		b    []events.Pending
		code events.Code
	}{
		{"a stale expectation on the fourth event", stale, events.CodeConflict},
		{"the last event recorded already", dup, events.CodeConflict},
		{"an aggregate expected new that is not", tooNew, events.CodeConflict},
		{"an expectation after the aggregate's first event in the batch", later, events.CodeInternal},
	} {
		if _, err := st.AppendBatch(ctx, c.b); events.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
		if n := size(t, st); n != 3 {
			t.Fatalf("%s: size %d, want 3: part of a refused batch was recorded", c.name, n)
		}
		for _, p := range c.b {
			if p.Event.ID == recorded.ID {
				continue
			}
			recs, err := st.Load(ctx, p.Event.Region, p.Event.Aggregate)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if r.Event.ID == p.Event.ID {
					t.Fatalf("%s: event %s of the refused batch is in the ledger", c.name, p.Event.ID)
				}
			}
		}
	}
}

// TestAppendBatchRetryAfterWindow retries a batch with a concurrency
// check after the duplicate window has passed: the server no longer knows
// the ids and refuses the stale expectation; the store finds the events
// and answers duplicate, as Append does for one event.
func TestAppendBatchRetryAfterWindow(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, js := srv.Connect()
	const window = 200 * time.Millisecond
	st, err := ledger.Open(ctx, js, ledger.Config{DuplicateWindow: window})
	if err != nil {
		t.Fatal(err)
	}
	reg := registry()
	b := pending(t, reg, "g1", 1, 3)
	b[0].Expect = events.ExpectNew()
	first, err := st.AppendBatch(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	// Past the window (the server forgets ids on a timer of its own; if it
	// has not yet, the answer is the same through the id).
	time.Sleep(3 * window)
	again, err := st.AppendBatch(ctx, b)
	if !errors.Is(err, events.ErrDuplicate) {
		t.Fatalf("retry after the window: %v, want duplicate", err)
	}
	checkRecorded(t, st, b, again, first[0].Seq)
	if n := size(t, st); n != 3 {
		t.Fatalf("size %d, want 3", n)
	}
}

// TestAppendBatchConcurrent appends batches and single events from many
// goroutines at once: every batch lands at consecutive sequences, nothing
// in between, and the ledger stays gap-free.
func TestAppendBatchConcurrent(t *testing.T) {
	ctx := context.Background()
	_, _, st := newStore(t)
	reg := registry()
	const batches, per, singles = 8, 40, 40
	var wg sync.WaitGroup
	errs := make(chan error, batches+singles)
	got := make([][]events.Recorded, batches)
	bs := make([][]events.Pending, batches)
	for i := range batches {
		bs[i] = pending(t, reg, fmt.Sprintf("b%d", i), 1000*i, per)
		wg.Go(func() {
			recs, err := st.AppendBatch(ctx, bs[i])
			got[i] = recs
			errs <- err
		})
	}
	for i := range singles {
		e := scan(t, reg, "single", 100000+i)
		wg.Go(func() {
			_, err := st.Append(ctx, e, events.ExpectAny())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range batches {
		checkRecorded(t, st, bs[i], got[i], got[i][0].Seq)
	}
	if n := size(t, st); n != batches*per+singles {
		t.Fatalf("size %d, want %d", n, batches*per+singles)
	}
}

// TestAppendBatchSizeLimit runs against a server whose max_batch_size is
// 5: a larger batch is refused whole and the store learns the limit; one
// above the store's limit is refused before anything is sent.
func TestAppendBatchSizeLimit(t *testing.T) {
	ctx := context.Background()
	srv := natstest.StartWith(t, func(o *server.Options) { o.JetStreamLimits.MaxBatchSize = 5 })
	_, js := srv.Connect()
	st, err := ledger.Open(ctx, js, ledger.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reg := registry()
	if st.MaxBatch() != ledger.MaxBatch {
		t.Fatalf("max batch %d before the server said otherwise, want %d", st.MaxBatch(), ledger.MaxBatch)
	}
	if _, err := st.AppendBatch(ctx, pending(t, reg, "g1", 0, 6)); events.ErrorCode(err) != events.CodeTooLarge {
		t.Fatalf("6 events to a server that takes 5: %v, want too large", err)
	}
	if st.MaxBatch() != 5 {
		t.Fatalf("max batch %d after the server's refusal, want 5", st.MaxBatch())
	}
	if n := size(t, st); n != 0 {
		t.Fatalf("size %d after a refused batch, want 0", n)
	}
	b := pending(t, reg, "g1", 10, 5)
	recs, err := st.AppendBatch(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	checkRecorded(t, st, b, recs, 1)
	if _, err := st.AppendBatch(ctx, pending(t, reg, "g1", 20, 6)); events.ErrorCode(err) != events.CodeTooLarge {
		t.Fatalf("6 events to a store that knows the limit: %v, want too large", err)
	}
}

// TestOpenEnablesAtomicPublish opens a ledger stream made before group
// commit: the update turns atomic publish on and keeps deletes and
// purges refused.
func TestOpenEnablesAtomicPublish(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, js := srv.Connect()
	old := ledger.Config{}.StreamConfig()
	old.AllowAtomicPublish = false
	if _, err := js.CreateStream(ctx, old); err != nil {
		t.Fatal(err)
	}
	reg := registry()
	st, err := ledger.Open(ctx, js, ledger.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, st.Stream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := info.Config; !c.AllowAtomicPublish || !c.DenyDelete || !c.DenyPurge || c.Discard != jetstream.DiscardNew {
		t.Fatalf("stream after update: atomic %v, deny delete %v, deny purge %v, discard %v", c.AllowAtomicPublish, c.DenyDelete, c.DenyPurge, c.Discard)
	}
	if _, err := st.AppendBatch(ctx, pending(t, reg, "g1", 0, 2)); err != nil {
		t.Fatal(err)
	}
}

// TestAppendBatchAndWait checks the helper commands use: the events are
// built, appended in one batch and waited for.
func TestAppendBatchAndWait(t *testing.T) {
	ctx := context.Background()
	_, _, st := newStore(t)
	reg := registry()
	w := &lastWaited{}
	var ds []events.Draft
	for i := range 3 {
		ds = append(ds, events.Draft{Type: passevents.TypeScanned, Meta: events.Meta{ID: events.NewID(), SealTo: "t-subject",
			Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: "g1"}, Region: "110105001001", Actor: events.Actor{Role: "gate_operator", ID: "op1"}},
			Payload: passevents.Scanned{ScanID: fmt.Sprintf("s%d", i), Pass: "p1", Holder: "h1", Community: "110105001001", Direction: passevents.In, Decision: passevents.Allow}})
	}
	recs, err := events.AppendBatchAndWait(ctx, st, reg, w, ds)
	if err != nil || len(recs) != 3 || w.seq != 3 {
		t.Fatalf("append and wait: %d records, waited for %d, %v", len(recs), w.seq, err)
	}
	// Built again (a retry seals afresh, so the bytes differ), the same
	// ids are the same events.
	recs, err = events.AppendBatchAndWait(ctx, st, reg, w, ds)
	if !errors.Is(err, events.ErrDuplicate) || len(recs) != 3 || recs[2].Seq != 3 {
		t.Fatalf("retried: %+v %v", recs, err)
	}
	if n := size(t, st); n != 3 {
		t.Fatalf("size %d, want 3", n)
	}
}

type lastWaited struct{ seq uint64 }

func (w *lastWaited) WaitFor(_ context.Context, seq uint64) error { w.seq = seq; return nil }
