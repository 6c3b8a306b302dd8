package projections_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/memstore"
	"github.com/onebook/onebook/projections/passviews"
)

type fixture struct {
	t     *testing.T
	srv   *natstest.Server
	store *ledger.Store
	reg   *events.Registry
	ctx   context.Context
}

func newFixture(t *testing.T) *fixture {
	l := natstest.OpenLedger(t, 2*time.Minute)
	srv, ctx, st := l.Server, l.Ctx, l.Store
	reg := events.NewRegistry().WithKeyring(events.NewMemoryKeyring())
	passevents.Register(reg)
	return &fixture{t: t, srv: srv, store: st, reg: reg, ctx: ctx}
}

const community = events.Region("110105001001")

// fill appends a realistic day: passes issued, scanned in and out at three
// gates, some denied, a few revoked.
func (f *fixture) fill(passesN, scansN int) {
	f.t.Helper()
	t0 := time.Date(2026, 2, 1, 6, 0, 0, 0, time.UTC)
	app := func(typ string, agg events.Aggregate, at time.Time, p events.Payload) {
		e, err := f.reg.New(context.Background(), typ, events.Meta{SealTo: "t-subject", Aggregate: agg, Region: community, Actor: events.Actor{Role: "gate_operator", ID: "op1"}, Time: at}, p)
		if err != nil {
			f.t.Fatal(err)
		}
		if _, err := f.store.Append(f.ctx, e, events.ExpectAny()); err != nil {
			f.t.Fatal(err)
		}
	}
	for i := 0; i < passesN; i++ {
		app(passevents.TypeIssued, events.Aggregate{Kind: passevents.KindPass, ID: fmt.Sprintf("p%03d", i)}, t0,
			passevents.Issued{Holder: fmt.Sprintf("h%03d", i), HolderOf: passevents.HolderResident, Community: community, NotBefore: t0, NotAfter: t0.Add(72 * time.Hour)})
	}
	for i := 0; i < scansN; i++ {
		sc := passevents.Scanned{ScanID: fmt.Sprintf("s%d", i), Pass: fmt.Sprintf("p%03d", i%passesN), Holder: "h", Community: community, Direction: []string{passevents.In, passevents.Out}[i%2], Decision: passevents.Allow}
		if i%17 == 0 {
			sc.Decision, sc.Reason = passevents.Deny, "expired"
		}
		app(passevents.TypeScanned, events.Aggregate{Kind: passevents.KindGate, ID: fmt.Sprintf("gate%d", i%3)}, t0.Add(time.Duration(i)*97*time.Second), sc)
		if i%50 == 49 {
			app(passevents.TypeRevoked, events.Aggregate{Kind: passevents.KindPass, ID: fmt.Sprintf("p%03d", i%passesN)}, t0.Add(time.Duration(i)*97*time.Second), passevents.Revoked{Reason: passevents.ReasonLostPhone})
		}
	}
}

func (f *fixture) projector(p projections.Projection, ds projections.DocStore) *projections.Projector {
	_, js := f.srv.Connect()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return &projections.Projector{P: p, Store: ds, JS: js, Stream: f.store.Stream(), Reg: f.reg, Batch: 64, Log: log}
}

// runUntilCaughtUp runs pr until it has applied everything, then stops it.
func (f *fixture) runUntilCaughtUp(pr *projections.Projector) error {
	f.t.Helper()
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- pr.Run(ctx) }()
	size, _ := f.store.Size(f.ctx)
	target := lastRelevant(f, pr.P)
	deadline := time.After(60 * time.Second)
	for {
		st := pr.Status()
		if st.Err != "" && !st.Running {
			cancel()
			return <-done
		}
		if st.Pending == 0 && st.Seq > 0 && target <= uint64(st.Seq) {
			break
		}
		select {
		case err := <-done:
			cancel()
			return err
		case <-deadline:
			cancel()
			f.t.Fatalf("projector %s did not catch up to %d: %+v", pr.P.Name(), size, st)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	return <-done
}

func lastRelevant(f *fixture, p projections.Projection) uint64 {
	r := f.recompute(p)
	return r.Last(p.Name())
}

func (f *fixture) recompute(ps ...projections.Projection) *projections.Recomputer {
	f.t.Helper()
	r := projections.NewRecomputer(f.reg, ps...)
	size, err := f.store.Size(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.Scan(f.ctx, 1, size, func(rec events.Recorded) error { return r.Add(context.Background(), rec) }); err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) verify(ds projections.DocStore, ps ...projections.Projection) []projections.Diff {
	f.t.Helper()
	diffs, err := f.recompute(ps...).Compare(f.ctx, ds)
	if err != nil {
		f.t.Fatal(err)
	}
	return diffs
}

func TestProjectAndVerify(t *testing.T) {
	f := newFixture(t)
	f.fill(40, 400)
	ds := memstore.New()
	for _, p := range passviews.All() {
		if err := f.runUntilCaughtUp(f.projector(p, ds)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range f.verify(ds, passviews.All()...) {
		if !d.OK() || d.Stored != d.Expected || d.Stored == 0 {
			t.Fatalf("clean projection does not verify: %+v", d)
		}
	}
	// Spot-check meaning, not only self-consistency.
	got, err := ds.Get(f.ctx, passviews.Passes(), []string{"p009"})
	if err != nil {
		t.Fatal(err)
	}
	p := got["p009"].State.(*passviews.Pass)
	if p.Status != "revoked" || p.RevokedReason != passevents.ReasonLostPhone || p.Scans != 10 {
		t.Fatalf("p009 = %+v", p)
	}
}

func TestVerifyNamesTamperedDocuments(t *testing.T) {
	f := newFixture(t)
	f.fill(20, 120)
	ds := memstore.New()
	gh := passviews.GateHourly()
	if err := f.runUntilCaughtUp(f.projector(gh, ds)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	ds.Scan(f.ctx, gh, func(id string, _ *projections.Doc, _ error) error { ids = append(ids, id); return nil })
	if len(ids) < 4 {
		t.Fatalf("too few documents: %v", ids)
	}
	changed, deleted, forged := ids[0], ids[1], ids[2]
	// A field edited in place, proof left alone.
	raw := string(ds.Raw("gate_hourly", changed))
	ds.SetRaw("gate_hourly", changed, []byte(replaceOnce(t, raw, `"denied":`, `"denied":9`)))
	ds.SetRaw("gate_hourly", deleted, nil)
	// An invented document, a copy of a real one under a new id.
	ds.SetRaw("gate_hourly", "gate9@2026020100", []byte(replaceOnce(t, string(ds.Raw("gate_hourly", forged)), forged, "gate9@2026020100")))
	// A document with a field the schema does not know.
	extra := ids[3]
	ds.SetRaw("gate_hourly", extra, []byte(replaceOnce(t, string(ds.Raw("gate_hourly", extra)), `"state":{`, `"state":{"vip":true,`)))

	d := f.verify(ds, gh)[0]
	if d.OK() {
		t.Fatal("tampered projection verifies")
	}
	want := projections.Diff{Changed: sorted(changed, extra), Missing: []string{deleted}, Invented: []string{"gate9@2026020100"}}
	if fmt.Sprint(d.Changed) != fmt.Sprint(want.Changed) || fmt.Sprint(d.Missing) != fmt.Sprint(want.Missing) || fmt.Sprint(d.Invented) != fmt.Sprint(want.Invented) {
		t.Fatalf("diff %+v, want changed %v missing %v invented %v", d, want.Changed, want.Missing, want.Invented)
	}
}

func TestCrashMidBatchEqualsCleanRebuild(t *testing.T) {
	f := newFixture(t)
	f.fill(30, 300)
	p := passviews.Passes()

	clean := memstore.New()
	if err := f.runUntilCaughtUp(f.projector(p, clean)); err != nil {
		t.Fatal(err)
	}

	crashy := memstore.New()
	var puts atomic.Int64
	crashy.FailPut = func(n int) error {
		// Cut the 3rd and 5th bulk writes off in the middle.
		if k := puts.Add(1); k == 3 || k == 5 {
			return errors.New("connection reset mid bulk write")
		}
		return nil
	}
	pr := f.projector(p, crashy)
	if err := f.runUntilCaughtUp(pr); err != nil {
		t.Fatal(err)
	}
	if puts.Load() < 5 {
		t.Fatalf("only %d bulk writes: the crash was never injected", puts.Load())
	}
	// And a projector that dies after writing, before its checkpoint: roll
	// the checkpoint back and run a new one; re-applying must be harmless.
	cp, _ := crashy.Checkpoint(f.ctx, p.Name())
	cp.Seq /= 2
	crashy.SetCheckpoint(f.ctx, cp)
	if err := f.runUntilCaughtUp(f.projector(p, crashy)); err != nil {
		t.Fatal(err)
	}
	var a, b []string
	clean.Scan(f.ctx, p, func(id string, _ *projections.Doc, _ error) error {
		a = append(a, id+string(clean.Raw("passes", id)))
		return nil
	})
	crashy.Scan(f.ctx, p, func(id string, _ *projections.Doc, _ error) error {
		b = append(b, id+string(crashy.Raw("passes", id)))
		return nil
	})
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("state after crashes differs from a clean rebuild")
	}
	if d := f.verify(crashy, p)[0]; !d.OK() {
		t.Fatalf("after crashes: %+v", d)
	}
}

// versioned wraps a projection to change its version.
type versioned struct {
	projections.Projection
	v int
}

func (v versioned) Version() int { return v.v }

func TestVersionBumpRebuilds(t *testing.T) {
	f := newFixture(t)
	f.fill(10, 50)
	ds := memstore.New()
	p := passviews.Passes()
	if err := f.runUntilCaughtUp(f.projector(p, ds)); err != nil {
		t.Fatal(err)
	}
	ds.SetRaw("passes", "stale-leftover", []byte(`{"_id":"stale-leftover"}`))
	p2 := versioned{p, 2}
	if err := f.runUntilCaughtUp(f.projector(p2, ds)); err != nil {
		t.Fatal(err)
	}
	cp, _ := ds.Checkpoint(f.ctx, "passes")
	if cp.Version != 2 {
		t.Fatalf("checkpoint %+v", cp)
	}
	if d := f.verify(ds, p2)[0]; !d.OK() {
		t.Fatalf("after rebuild: %+v", d)
	}
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	t.Fatalf("%q not in %s", old, s)
	return ""
}

func sorted(a, b string) []string {
	if a > b {
		return []string{b, a}
	}
	return []string{a, b}
}

// resetDuringBatch is a document store on which a reset (what an erasure
// does: the checkpoint set back, then Projector.Reset) lands while the
// projector's last batch is in flight, just after that batch advanced the
// checkpoint. It records the projector's status when the projector next
// reads its checkpoint, on its way to the rebuild.
type resetDuringBatch struct {
	*memstore.Store
	pr     *projections.Projector
	last   int64 // the sequence of the batch to reset during
	fired  atomic.Bool
	seen   atomic.Bool
	status projections.Status
}

func (s *resetDuringBatch) AdvanceCheckpoint(ctx context.Context, prev, next projections.Checkpoint) error {
	if err := s.Store.AdvanceCheckpoint(ctx, prev, next); err != nil {
		return err
	}
	if next.Seq >= s.last && s.fired.CompareAndSwap(false, true) {
		if err := s.Store.SetCheckpoint(ctx, projections.Checkpoint{Name: next.Name}); err != nil {
			return err
		}
		s.pr.Reset()
	}
	return nil
}

func (s *resetDuringBatch) Checkpoint(ctx context.Context, name string) (projections.Checkpoint, error) {
	if s.fired.Load() && s.seen.CompareAndSwap(false, true) {
		s.status = s.pr.Status()
	}
	return s.Store.Checkpoint(ctx, name)
}

// TestResetDuringBatchIsNotCaughtUp: a reset that lands while a batch is in
// flight leaves the projector behind until it has rebuilt. The batch's end
// must not report it caught up (no pending events, a sequence): a health
// check would call the view settled while it still holds what the reset
// was to remove (TestResidentJourney's rare failure of ops verify after an
// erasure).
func TestResetDuringBatchIsNotCaughtUp(t *testing.T) {
	f := newFixture(t)
	f.fill(10, 50)
	p := passviews.Passes()
	ds := &resetDuringBatch{Store: memstore.New(), last: int64(lastRelevant(f, p))}
	pr := f.projector(p, ds)
	ds.pr = pr
	if err := f.runUntilCaughtUp(pr); err != nil {
		t.Fatal(err)
	}
	if !ds.fired.Load() {
		t.Fatal("the reset never landed")
	}
	if !ds.seen.Load() {
		t.Fatal("after a reset during its last batch, the projector reported itself caught up before its rebuild")
	}
	if st := ds.status; st.Pending == 0 || st.CaughtUp() {
		t.Fatalf("after a reset during its last batch, the projector reported %+v: caught up before its rebuild", st)
	}
	if d := f.verify(ds, p)[0]; !d.OK() {
		t.Fatalf("after the rebuild: %+v", d)
	}
}

// countingStore counts checkpoint writes and bulk writes.
type countingStore struct {
	*memstore.Store
	advances, puts atomic.Int64
}

func (s *countingStore) AdvanceCheckpoint(ctx context.Context, prev, next projections.Checkpoint) error {
	s.advances.Add(1)
	return s.Store.AdvanceCheckpoint(ctx, prev, next)
}

func (s *countingStore) Put(ctx context.Context, p projections.Projection, docs []*projections.Doc) error {
	s.puts.Add(1)
	return s.Store.Put(ctx, p, docs)
}

// TestCheckpointTrailsWhileBusy: while the consumer holds more events, a
// projector does not write its checkpoint after every batch, yet stores it
// once nothing is pending; and a projector that fails while its checkpoint
// trails its documents ends, after starting again from that checkpoint,
// exactly as a clean rebuild.
func TestCheckpointTrailsWhileBusy(t *testing.T) {
	f := newFixture(t)
	f.fill(30, 900)
	p := passviews.Passes()
	ds := &countingStore{Store: memstore.New()}
	var puts atomic.Int64
	ds.FailPut = func(int) error {
		if puts.Add(1) == 8 { // well after the first, trailing checkpoint
			return errors.New("connection reset mid bulk write")
		}
		return nil
	}
	pr := f.projector(p, ds)
	pr.CheckpointEvery = time.Hour
	if err := f.runUntilCaughtUp(pr); err != nil {
		t.Fatal(err)
	}
	if puts.Load() < 8 {
		t.Fatalf("only %d bulk writes: the failure was never injected", puts.Load())
	}
	if a, p := ds.advances.Load(), ds.puts.Load(); a*3 > p {
		t.Errorf("%d checkpoint writes for %d bulk writes: the checkpoint was written after (nearly) every batch", a, p)
	}
	cp, err := ds.Checkpoint(f.ctx, p.Name())
	if err != nil {
		t.Fatal(err)
	}
	if want := lastRelevant(f, p); uint64(cp.Seq) < want {
		t.Errorf("caught up, but the stored checkpoint is %d, before the last event %d", cp.Seq, want)
	}
	if d := f.verify(ds, p)[0]; !d.OK() || d.Behind {
		t.Fatalf("after a failure with a trailing checkpoint: %+v", d)
	}
}
