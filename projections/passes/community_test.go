package passes

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	evpasses "github.com/onebook/onebook/events/passes"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/memstore"
)

// fold runs events through the views and stores the result, as a projector
// would.
func fold(t *testing.T, evs []events.Event) *memstore.Store {
	t.Helper()
	reg := events.NewRegistry()
	evpasses.Register(reg)
	views := All()
	rc := projections.NewRecomputer(reg, views...)
	for i, e := range evs {
		raw, err := e.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Add(events.Recorded{Seq: uint64(i + 1), Raw: raw, Event: e}); err != nil {
			t.Fatal(err)
		}
	}
	st := memstore.New()
	for _, v := range views {
		var docs []*projections.Doc
		for _, d := range rc.Docs(v.Name()) {
			docs = append(docs, d)
		}
		if err := st.Put(context.Background(), v, docs); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func scanEvent(t *testing.T, gate string, community events.Region, at time.Time, pass, person, dir, decision, reason string) events.Event {
	t.Helper()
	reg := events.NewRegistry()
	evpasses.Register(reg)
	e, err := reg.New(evpasses.TypeScanned, events.Meta{Aggregate: events.Aggregate{Kind: evpasses.KindGate, ID: gate}, Region: community,
		Actor: events.Actor{Role: "gate_operator", ID: "op"}, Time: at},
		evpasses.Scanned{ScanID: fmt.Sprint(at.UnixNano()), Pass: pass, Holder: person, Community: community, Direction: dir, Decision: decision, Reason: reason})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCommunityViews(t *testing.T) {
	const a, b = events.Region("110105001001"), events.Region("110106001001") // different districts, one city
	// 15:30 UTC on Feb 1 is 23:30 CST Feb 1; 16:30 UTC is 00:30 CST Feb 2.
	t0 := time.Date(2026, 2, 1, 15, 30, 0, 0, time.UTC)
	evs := []events.Event{
		scanEvent(t, "ga", a, t0, "p1", "x1", "in", "allow", ""),
		scanEvent(t, "ga", a, t0.Add(time.Minute), "p2", "x2", "in", "allow", ""),
		scanEvent(t, "ga", a, t0.Add(2*time.Minute), "p3", "x3", "in", "deny", "red_status"),
		scanEvent(t, "ga", a, t0.Add(3*time.Minute), "p1", "x1", "out", "allow", ""),
		scanEvent(t, "gb", b, t0.Add(10*time.Minute), "p9", "x1", "in", "allow", ""),        // x1 moved a → b the same day
		scanEvent(t, "ga", a, t0.Add(70*time.Minute), "p2", "x2", "out", "deny", "expired"), // next CST day
	}
	st := fold(t, evs)
	ctx := context.Background()
	in, err := ReadInside(ctx, st, string(a))
	if err != nil || len(in.Passes) != 1 || in.Passes["p2"].Person != "x2" {
		t.Fatalf("inside %+v %v", in, err)
	}
	d1, _ := ReadDay(ctx, st, string(a), t0)
	if d1.Day != "2026-02-01" || d1.Entries != 2 || d1.Exits != 1 || d1.Denied != 1 || d1.ByReason["red_status"] != 1 {
		t.Fatalf("day 1 %+v", d1)
	}
	d2, _ := ReadDay(ctx, st, string(a), t0.Add(time.Hour))
	if d2.Day != "2026-02-02" || d2.Denied != 1 || d2.ByReason["expired"] != 1 || d2.Entries != 0 {
		t.Fatalf("day 2 %+v", d2)
	}
	den, _ := ReadDenied(ctx, st, string(a), t0)
	if den.Total != 1 || den.Scans[0].Reason != "red_status" || den.Scans[0].Person != "x3" {
		t.Fatalf("denied %+v", den)
	}
	flows, err := ReadFlows(ctx, st, "1101", t0, t0.Add(24*time.Hour))
	if err != nil || len(flows) != 1 || flows[0] != (FlowRow{Day: "2026-02-01", From: "110105", To: "110106", Moves: 1}) {
		t.Fatalf("flows %+v %v", flows, err)
	}
	if _, err := ReadFlows(ctx, st, "1101", t0, t0.Add(100*24*time.Hour)); events.ErrorCode(err) != events.CodeInvalid {
		t.Fatalf("long range: %v", err)
	}
	hours, _ := ReadGateHours(ctx, st, []string{"ga"}, t0)
	// 23:00–24:00 CST on Feb 1: p1 in, p2 in, p3 denied, p1 out.
	if len(hours) != 1 || hours[0].In != 2 || hours[0].Out != 1 || hours[0].Denied != 1 || hours[0].Hour != "2026-02-01T23:00:00+08:00" {
		t.Fatalf("hours %+v", hours)
	}
}

func TestInsideCap(t *testing.T) {
	const a = events.Region("110105001001")
	t0 := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	var evs []events.Event
	for i := 0; i < 3; i++ {
		evs = append(evs, scanEvent(t, "g", a, t0.Add(time.Duration(i)*time.Second), fmt.Sprint("p", i), "x", "in", "allow", ""))
	}
	st := fold(t, evs)
	in, _ := ReadInside(context.Background(), st, string(a))
	if len(in.Passes) != 3 || in.Overflow != 0 {
		t.Fatalf("%+v", in)
	}
}
