package trace_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/memstore"
	"github.com/onebook/onebook/projections/trace"
)

// TestProjector runs both views through the real projector over an
// embedded JetStream ledger (with pass events they must ignore) and checks
// that what it stores verifies against the ledger and reads back.
func TestProjector(t *testing.T) {
	l := natstest.OpenLedger(t, 2*time.Minute)
	srv, ctx, st := l.Server, l.Ctx, l.Store
	reg := events.NewRegistry().WithKeyring(events.NewMemoryKeyring())
	passevents.Register(reg)
	app := func(typ string, agg events.Aggregate, when time.Time, p events.Payload) {
		e, err := reg.New(context.Background(), typ, events.Meta{SealTo: "t-subject", Aggregate: agg, Region: c1, Actor: events.Actor{Role: "gate_operator", ID: "op"}, Time: when}, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Append(ctx, e, events.ExpectAny()); err != nil {
			t.Fatal(err)
		}
	}
	app(passevents.TypeGate, events.Aggregate{Kind: passevents.KindGate, ID: "g0"}, t0, passevents.GateRegistered{Community: c1, Name: "东门"})
	for i := range 300 {
		holder := fmt.Sprintf("p-%02d", i%20)
		app(passevents.TypeIssued, events.Aggregate{Kind: passevents.KindPass, ID: fmt.Sprintf("pass%d", i)}, t0,
			passevents.Issued{Holder: holder, HolderOf: passevents.HolderResident, Community: c1, NotBefore: t0, NotAfter: t0.Add(time.Hour)})
		app(passevents.TypeScanned, events.Aggregate{Kind: passevents.KindGate, ID: fmt.Sprintf("g%d", i%3)}, t0.Add(time.Duration(i)*7*time.Minute),
			passevents.Scanned{ScanID: fmt.Sprint(i), Pass: fmt.Sprintf("pass%d", i), Holder: holder, Community: c1, Direction: passevents.In, Decision: passevents.Allow})
	}
	size, _ := st.Size(ctx)
	ds := memstore.New()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, p := range trace.All() {
		_, js := srv.Connect()
		pr := &projections.Projector{P: p, Store: ds, JS: js, Stream: st.Stream(), Reg: reg, Batch: 64, Log: log}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- pr.Run(rctx) }()
		for {
			s := pr.Status()
			if s.Started && s.Pending == 0 && uint64(s.Seq) >= size {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%s did not catch up: %+v", p.Name(), s)
			}
			time.Sleep(5 * time.Millisecond)
		}
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	rc := projections.NewRecomputer(reg, trace.All()...)
	if err := st.Scan(ctx, 1, size, func(rec events.Recorded) error { return rc.Add(context.Background(), rec) }); err != nil {
		t.Fatal(err)
	}
	diffs, err := rc.Compare(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		if !d.OK() || d.Stored == 0 || d.Stored != d.Expected {
			t.Errorf("does not verify: %+v", d)
		}
	}
	r, err := trace.ReadGateScans(ctx, ds, []string{"g0", "g1", "g2"}, t0, t0.Add(35*time.Hour))
	if err != nil || len(r.Rows) != 300 {
		t.Errorf("gate read: %d rows, %v", len(r.Rows), err)
	}
	pr, err := trace.ReadPersonScans(ctx, ds, "p-07", t0, t0.Add(35*time.Hour))
	if err != nil || len(pr.Rows) != 15 {
		t.Errorf("person read: %d rows, %v", len(pr.Rows), err)
	}
}
