package trace_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/memstore"
	"github.com/onebook/onebook/projections/trace"
)

// scan is one pass.scanned event to fold.
type scan struct {
	at        time.Time
	gate      string
	community events.Region
	holder    string
	direction string
	deny      string // reason; "" = allowed
}

// project folds scans (in the order given, which is ledger order) through
// a Recomputer, exactly as a projector would, and stores the documents.
func project(t *testing.T, store projections.DocStore, scans []scan) {
	t.Helper()
	reg := events.NewRegistry().WithKeyring(events.NewMemoryKeyring())
	passevents.Register(reg)
	ps := trace.All()
	rc := projections.NewRecomputer(reg, ps...)
	for i, s := range scans {
		p := passevents.Scanned{ScanID: fmt.Sprintf("s%d", i), Pass: "pass-" + s.holder, Holder: s.holder, Community: s.community,
			Direction: s.direction, Decision: passevents.Allow}
		if s.holder == "" {
			p.Pass = "unknown"
		}
		if s.deny != "" {
			p.Decision, p.Reason = passevents.Deny, s.deny
		}
		e, err := reg.New(context.Background(), passevents.TypeScanned, events.Meta{SealTo: "t-subject", Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: s.gate},
			Region: s.community, Actor: events.Actor{Role: "gate_operator", ID: "op"}, Time: s.at}, p)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := e.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Add(context.Background(), events.Recorded{Seq: uint64(i + 1), Raw: raw, Event: e}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range ps {
		var docs []*projections.Doc
		for _, d := range rc.Docs(p.Name()) {
			docs = append(docs, d)
		}
		if err := store.Put(context.Background(), p, docs); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	c1 = events.Region("110105001001")
	c2 = events.Region("110106002001")
)

var t0 = time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func TestKeys(t *testing.T) {
	local := time.Date(2026, 2, 2, 7, 30, 0, 0, events.China()) // 2026-02-01 23:30 UTC
	if got := trace.GateKey("g1", local); got != "g1@2026020123" {
		t.Errorf("GateKey = %s", got)
	}
	if got := trace.PersonKey("p-1", local); got != "p-1@20260201" {
		t.Errorf("PersonKey = %s", got)
	}
}

func TestFold(t *testing.T) {
	store := memstore.New()
	project(t, store, []scan{
		{at(5), "g1", c1, "p-a", passevents.In, ""},
		{at(-30), "g1", c1, "p-b", passevents.Out, "expired"}, // offline upload, an hour earlier
		{at(7), "g1", c1, "", passevents.In, "malformed"},     // no holder: gate view only
		{at(8), "g2", c2, "p-a", passevents.Out, ""},
		{at(24 * 60), "g1", c1, "p-a", passevents.In, ""}, // next day
	})
	ctx := context.Background()
	docs, err := store.Get(ctx, trace.GateScans(), []string{"g1@2026020109", "g1@2026020108"})
	if err != nil || len(docs) != 2 {
		t.Fatal(docs, err)
	}
	h := docs["g1@2026020109"].State.(*trace.GateHour)
	want := trace.GateHour{Gate: "g1", Community: string(c1), Hour: "2026-02-01T09:00:00Z", Scans: []trace.GateScan{
		{Time: "2026-02-01T09:05:00Z", Pass: "pass-p-a", Person: "p-a", Direction: "in", Decision: "allow"},
		{Time: "2026-02-01T09:07:00Z", Pass: "unknown", Person: "", Direction: "in", Decision: "deny", Reason: "malformed"},
	}}
	if fmt.Sprint(*h) != fmt.Sprint(want) {
		t.Errorf("gate hour\n got %+v\nwant %+v", *h, want)
	}
	pd, err := store.Get(ctx, trace.PersonScans(), []string{"p-a@20260201", "p-a@20260202", "@20260201"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pd) != 2 {
		t.Fatalf("person docs: %v (a scan without holder must not make a document)", slices.Collect(func(yield func(string) bool) {
			for k := range pd {
				yield(k)
			}
		}))
	}
	d := pd["p-a@20260201"].State.(*trace.PersonDay)
	wantP := trace.PersonDay{Person: "p-a", Day: "2026-02-01", Scans: []trace.PersonScan{
		{Time: "2026-02-01T09:05:00Z", Gate: "g1", Community: string(c1), Direction: "in", Decision: "allow"},
		{Time: "2026-02-01T09:08:00Z", Gate: "g2", Community: string(c2), Direction: "out", Decision: "allow"},
	}}
	if fmt.Sprint(*d) != fmt.Sprint(wantP) {
		t.Errorf("person day\n got %+v\nwant %+v", *d, wantP)
	}
}

func TestOverflow(t *testing.T) {
	store := memstore.New()
	var scans []scan
	for i := range trace.MaxScansPerDoc + 3 {
		scans = append(scans, scan{t0.Add(time.Duration(i) * 100 * time.Millisecond), "g1", c1, "p-a", passevents.In, ""})
	}
	project(t, store, scans)
	ctx := context.Background()
	docs, _ := store.Get(ctx, trace.GateScans(), []string{"g1@2026020109"})
	h := docs["g1@2026020109"].State.(*trace.GateHour)
	if len(h.Scans) != trace.MaxScansPerDoc || h.Overflow != 3 {
		t.Errorf("gate hour: %d listed, overflow %d", len(h.Scans), h.Overflow)
	}
	pd, _ := store.Get(ctx, trace.PersonScans(), []string{"p-a@20260201"})
	if d := pd["p-a@20260201"].State.(*trace.PersonDay); len(d.Scans) != trace.MaxScansPerDoc || d.Overflow != 3 {
		t.Errorf("person day: %d listed, overflow %d", len(d.Scans), d.Overflow)
	}
	r, err := trace.ReadGateScans(ctx, store, []string{"g1"}, t0, t0.Add(time.Hour))
	if err != nil || len(r.Rows) != trace.MaxScansPerDoc || r.Unlisted != 3 {
		t.Errorf("read: %d rows, unlisted %d, %v", len(r.Rows), r.Unlisted, err)
	}
	pr, err := trace.ReadPersonScans(ctx, store, "p-a", t0, t0.Add(time.Hour))
	if err != nil || len(pr.Rows) != trace.MaxScansPerDoc || pr.Unlisted != 3 {
		t.Errorf("person read: %d rows, unlisted %d, %v", len(pr.Rows), pr.Unlisted, err)
	}
}

// onlyGet is a DocStore that allows Get only and records the ids asked for.
type onlyGet struct {
	projections.DocStore
	calls [][]string
}

func (s *onlyGet) Get(ctx context.Context, p projections.Projection, ids []string) (map[string]*projections.Doc, error) {
	s.calls = append(s.calls, slices.Clone(ids))
	return s.DocStore.Get(ctx, p, ids)
}

func (s *onlyGet) Scan(context.Context, projections.Projection, func(string, *projections.Doc, error) error) error {
	return errors.New("tracing reads must not scan a collection")
}

func (s *onlyGet) Count(context.Context, projections.Projection) (int64, error) {
	return 0, errors.New("tracing reads must not count a collection")
}

func TestReadGateScans(t *testing.T) {
	mem := memstore.New()
	project(t, mem, []scan{
		{at(0), "g1", c1, "p-a", passevents.In, ""},           // 09:00 exactly: from is inclusive
		{at(59), "g2", c1, "p-b", passevents.In, ""},          // 09:59
		{at(-1), "g1", c1, "p-c", passevents.In, ""},          // 08:59: before from
		{at(30), "g1", c1, "p-d", passevents.Out, "revoked"},  // 09:30
		{at(10), "g1", c1, "p-e", passevents.Out, ""},         // 09:10, arrives after 09:30
		{at(90), "g1", c1, "p-f", passevents.In, ""},          // 10:30: to is exclusive
		{at(59), "g1", c1, "p-g", passevents.In, ""},          // 09:59, same time as g2's: gate order
		{at(45), "g3", c1, "p-h", passevents.In, ""},          // another gate, not asked for
		{at(60 * 24 * 3), "g1", c1, "p-i", passevents.In, ""}, // three days later
	})
	store := &onlyGet{DocStore: mem}
	ctx := context.Background()
	r, err := trace.ReadGateScans(ctx, store, []string{"g2", "g1", "g2"}, t0, at(90))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range r.Rows {
		got = append(got, row.Time.Format("15:04")+" "+row.Gate+" "+row.Person+" "+row.Direction+" "+row.Decision+" "+row.Reason)
		if row.Community != c1 || row.Time.Location() != time.UTC {
			t.Errorf("row %+v", row)
		}
	}
	want := []string{"09:00 g1 p-a in allow ", "09:10 g1 p-e out allow ", "09:30 g1 p-d out deny revoked", "09:59 g1 p-g in allow ", "09:59 g2 p-b in allow "}
	if !slices.Equal(got, want) {
		t.Errorf("rows\n got %q\nwant %q", got, want)
	}
	// g2 is asked for twice but read once; 09:00 to 10:30 is two hours.
	wantCalls := [][]string{{"g2@2026020109", "g2@2026020110"}, {"g1@2026020109", "g1@2026020110"}}
	if fmt.Sprint(store.calls) != fmt.Sprint(wantCalls) {
		t.Errorf("Get calls %v, want %v", store.calls, wantCalls)
	}

	// A full 31 days of one gate: 744 hour documents, read in batches.
	store.calls = nil
	r, err = trace.ReadGateScans(ctx, store, []string{"g1"}, t0, t0.Add(trace.MaxRange))
	if err != nil || len(r.Rows) != 6 { // every g1 scan but the one at 08:59
		t.Fatalf("31 days: %d rows, %v", len(r.Rows), err)
	}
	n := 0
	for _, c := range store.calls {
		if len(c) > 24 {
			t.Errorf("one Get of %d ids", len(c))
		}
		n += len(c)
	}
	if n != 744 {
		t.Errorf("read %d documents, want 744", n)
	}
}

func TestReadPersonScans(t *testing.T) {
	mem := memstore.New()
	project(t, mem, []scan{
		{at(-60 * 10), "g1", c1, "p-a", passevents.In, ""},  // 2026-01-31 23:00
		{at(60 * 15), "g2", c2, "p-a", passevents.In, ""},   // 2026-02-02 00:00
		{at(0), "g1", c1, "p-a", passevents.Out, "expired"}, // 2026-02-01 09:00
		{at(60 * 15), "g1", c1, "p-b", passevents.In, ""},   // someone else
		{at(60 * 40), "g1", c1, "p-a", passevents.Out, ""},  // 2026-02-03 01:00: after to
		{at(-60 * 11), "g1", c1, "p-a", passevents.Out, ""}, // 22:00 on the 31st: before from
	})
	store := &onlyGet{DocStore: mem}
	from := t0.Add(-10 * time.Hour) // 2026-01-31 23:00
	to := t0.Add(40 * time.Hour)    // 2026-02-03 01:00
	r, err := trace.ReadPersonScans(context.Background(), store, "p-a", from, to)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range r.Rows {
		got = append(got, row.Time.Format("01-02T15")+" "+row.Gate+" "+string(row.Community)+" "+row.Direction+" "+row.Decision)
	}
	want := []string{"01-31T23 g1 110105001001 in allow", "02-01T09 g1 110105001001 out deny", "02-02T00 g2 110106002001 in allow"}
	if !slices.Equal(got, want) {
		t.Errorf("rows\n got %q\nwant %q", got, want)
	}
	wantCalls := [][]string{{"p-a@20260131", "p-a@20260201", "p-a@20260202", "p-a@20260203"}}
	if fmt.Sprint(store.calls) != fmt.Sprint(wantCalls) {
		t.Errorf("Get calls %v, want %v", store.calls, wantCalls)
	}
}

func TestReadBadInput(t *testing.T) {
	store := memstore.New()
	ctx := context.Background()
	tests := []struct {
		name     string
		gates    []string
		from, to time.Time
		field    string
	}{
		{"no from", []string{"g1"}, time.Time{}, t0, "from"},
		{"no to", []string{"g1"}, t0, time.Time{}, "to"},
		{"to before from", []string{"g1"}, t0, t0.Add(-time.Second), "to"},
		{"empty range", []string{"g1"}, t0, t0, "to"},
		{"too long", []string{"g1"}, t0, t0.Add(trace.MaxRange + time.Second), "to"},
		{"no gates", nil, t0, t0.Add(time.Hour), "gates"},
		{"empty gate", []string{""}, t0, t0.Add(time.Hour), "gates"},
		{"too many gates", make([]string, trace.MaxGates+1), t0, t0.Add(time.Hour), "gates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := trace.ReadGateScans(ctx, store, tt.gates, tt.from, tt.to)
			var e *events.Error
			if !errors.As(err, &e) || e.Code != events.CodeInvalid || e.Field != tt.field {
				t.Errorf("gate read: %v, want invalid %s", err, tt.field)
			}
			if tt.field == "gates" {
				return
			}
			_, err = trace.ReadPersonScans(ctx, store, "p-a", tt.from, tt.to)
			if !errors.As(err, &e) || e.Code != events.CodeInvalid || e.Field != tt.field {
				t.Errorf("person read: %v, want invalid %s", err, tt.field)
			}
		})
	}
	if _, err := trace.ReadGateScans(ctx, store, []string{"g1"}, t0, t0.Add(trace.MaxRange)); err != nil {
		t.Errorf("exactly 31 days: %v", err)
	}
	if _, err := trace.ReadPersonScans(ctx, store, "", t0, t0.Add(time.Hour)); events.ErrorCode(err) != events.CodeInvalid {
		t.Errorf("no person: %v", err)
	}
}
