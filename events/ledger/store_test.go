package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/passevents"
)

func newStore(t *testing.T) (*natstest.Server, njs.JetStream, *ledger.Store) {
	t.Helper()
	srv := natstest.Start(t)
	_, js := srv.Connect()
	st, err := ledger.Open(context.Background(), js, ledger.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return srv, js, st
}

func scan(t *testing.T, reg *events.Registry, gate string, n int) events.Event {
	t.Helper()
	e, err := reg.New(context.Background(), passevents.TypeScanned, events.Meta{SealTo: "t-subject",
		Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: gate},
		Region:    "110105001001",
		Actor:     events.Actor{Role: "gate_operator", ID: "op1"},
	}, passevents.Scanned{ScanID: fmt.Sprintf("s%d", n), Pass: "p1", Holder: "h1", Community: "110105001001", Direction: passevents.In, Decision: passevents.Allow})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func registry() *events.Registry {
	r := events.NewRegistry().WithKeyring(events.NewMemoryKeyring())
	passevents.Register(r)
	return r
}

func TestAppendLoadAndConcurrency(t *testing.T) {
	ctx := context.Background()
	_, _, st := newStore(t)
	reg := registry()

	e1 := scan(t, reg, "g1", 1)
	r1, err := st.Append(ctx, e1, events.ExpectNew())
	if err != nil || r1.Seq != 1 {
		t.Fatalf("first append: %+v %v", r1, err)
	}
	// A second "new" append on the same aggregate is a conflict.
	if _, err := st.Append(ctx, scan(t, reg, "g1", 2), events.ExpectNew()); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("want conflict, got %v", err)
	}
	// Appending with the right expectation works; with a stale one it does not.
	r2, err := st.Append(ctx, scan(t, reg, "g1", 3), events.ExpectLast(r1.Seq))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, scan(t, reg, "g1", 4), events.ExpectLast(r1.Seq)); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("want conflict on stale expectation, got %v", err)
	}
	// Another aggregate is independent.
	if _, err := st.Append(ctx, scan(t, reg, "g2", 5), events.ExpectNew()); err != nil {
		t.Fatal(err)
	}
	recs, err := st.Load(ctx, "110105001001", events.Aggregate{Kind: passevents.KindGate, ID: "g1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Seq != r1.Seq || recs[1].Seq != r2.Seq || recs[0].Event.ID != e1.ID {
		t.Fatalf("load: %+v", recs)
	}
	none, err := st.Load(ctx, "110105001001", events.Aggregate{Kind: passevents.KindGate, ID: "nope"})
	if err != nil || len(none) != 0 {
		t.Fatalf("load of empty aggregate: %v %v", none, err)
	}
	p, err := events.DecodeAs[passevents.Scanned](context.Background(), reg, recs[1].Event)
	if err != nil || p.ScanID != "s3" {
		t.Fatalf("decode loaded: %+v %v", p, err)
	}
}

func TestDuplicateStoredOnce(t *testing.T) {
	ctx := context.Background()
	_, _, st := newStore(t)
	reg := registry()
	e := scan(t, reg, "g1", 1)
	first, err := st.Append(ctx, e, events.ExpectAny())
	if err != nil {
		t.Fatal(err)
	}
	// Within the dedup window: JetStream recognises the id.
	again, err := st.Append(ctx, e, events.ExpectAny())
	if !errors.Is(err, events.ErrDuplicate) || again.Seq != first.Seq {
		t.Fatalf("want duplicate at %d, got %+v %v", first.Seq, again, err)
	}
	// With a concurrency expectation that has since moved on (as when an
	// offline client retries after the window), the id is still found.
	again, err = st.Append(ctx, e, events.ExpectNew())
	if !errors.Is(err, events.ErrDuplicate) || again.Seq != first.Seq {
		t.Fatalf("want duplicate via aggregate, got %+v %v", again, err)
	}
	size, err := st.Size(ctx)
	if err != nil || size != 1 {
		t.Fatalf("size %d %v, want 1", size, err)
	}
}

func TestStreamRefusesDeleteAndPurge(t *testing.T) {
	ctx := context.Background()
	_, js, st := newStore(t)
	reg := registry()
	if _, err := st.Append(ctx, scan(t, reg, "g1", 1), events.ExpectAny()); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, st.Stream())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMsg(ctx, 1); err == nil {
		t.Fatal("delete of a ledger event succeeded")
	}
	if err := s.Purge(ctx); err == nil {
		t.Fatal("purge of the ledger succeeded")
	}
	if n, _ := st.Size(ctx); n != 1 {
		t.Fatalf("size %d after refused delete", n)
	}
}

func TestReadAndScan(t *testing.T) {
	ctx := context.Background()
	_, _, st := newStore(t)
	reg := registry()
	var ids []string
	for i := 0; i < 50; i++ {
		e := scan(t, reg, fmt.Sprintf("g%d", i%3), i)
		if _, err := st.Append(ctx, e, events.ExpectAny()); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	r, err := st.Read(ctx, 7)
	if err != nil || r.Event.ID != ids[6] {
		t.Fatalf("read 7: %v %v", r.Event.ID, err)
	}
	if _, err := st.Read(ctx, 51); events.ErrorCode(err) != events.CodeNotFound {
		t.Fatalf("read past end: %v", err)
	}
	var seen []uint64
	err = st.Scan(ctx, 10, 20, func(r events.Recorded) error { seen = append(seen, r.Seq); return nil })
	if err != nil || len(seen) != 11 || seen[0] != 10 || seen[10] != 20 {
		t.Fatalf("scan: %v %v", seen, err)
	}
	seen = nil
	if err := st.Scan(ctx, 45, 1000, func(r events.Recorded) error { seen = append(seen, r.Seq); return nil }); err != nil || len(seen) != 6 {
		t.Fatalf("scan to end: %v %v", seen, err)
	}
}

// TestNoAcknowledgedEventLost appends from many goroutines while the server
// is killed and restarted, then checks every acknowledged event is there.
func TestNoAcknowledgedEventLost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, _, st := newStore(t)
	reg := registry()

	var (
		mu    sync.Mutex
		acked = map[string]uint64{}
		fails atomic.Int64
		wg    sync.WaitGroup
	)
	const workers, per = 8, 150
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				e := scan(t, reg, fmt.Sprintf("g%d", w), i)
				// Retry like a client: same event id until acknowledged.
				for attempt := 0; attempt < 200; attempt++ {
					actx, acancel := context.WithTimeout(ctx, 2*time.Second)
					rec, err := st.Append(actx, e, events.ExpectAny())
					acancel()
					if err == nil || errors.Is(err, events.ErrDuplicate) {
						mu.Lock()
						acked[e.ID] = rec.Seq
						mu.Unlock()
						break
					}
					fails.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
		}(w)
	}
	// Kill the server twice while the appenders are mid-load.
	for _, at := range []int{workers * per / 4, workers * per / 2} {
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= at {
				break
			}
			time.Sleep(time.Millisecond)
		}
		srv.Shutdown()
		time.Sleep(300 * time.Millisecond) // down long enough for appends to time out
		srv.Restart()
	}
	wg.Wait()

	if len(acked) != workers*per {
		t.Fatalf("%d of %d events acknowledged", len(acked), workers*per)
	}
	size, err := st.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	err = st.Scan(ctx, 1, size, func(r events.Recorded) error {
		e, err := events.Parse(r.Raw)
		if err != nil {
			return err
		}
		if found[e.ID] {
			return fmt.Errorf("event %s stored twice", e.ID)
		}
		found[e.ID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		if !found[id] {
			t.Errorf("acknowledged event %s lost", id)
		}
	}
	t.Logf("%d events, %d failed attempts during restarts, ledger size %d", len(acked), fails.Load(), size)
}

// TestScanStreamNoMatch: a scan whose subjects match nothing returns at
// once rather than waiting for a message that will not come.
func TestScanStreamNoMatch(t *testing.T) {
	l := natstest.OpenLedger(t, 20*time.Second)
	js, ctx, st := l.JS, l.Ctx, l.Store
	calls := 0
	err := ledger.ScanStream(ctx, js, st.Stream(), []string{"ledger.*.nothing.*"}, 1, 100, func(events.Recorded) error { calls++; return nil })
	if err != nil || calls != 0 {
		t.Fatalf("empty stream: %v, %d calls", err, calls)
	}
}
