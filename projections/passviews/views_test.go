package passviews_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/memstore"
	"github.com/onebook/onebook/projections/passviews"
	"github.com/onebook/onebook/projections/projectiontest"
)

// Communities: A and C in district 110105, B in 110106 (all city 1101), X
// in city 1201.
const (
	cA = events.Region("110105001001")
	cB = events.Region("110106002001")
	cC = events.Region("110105003001")
	cX = events.Region("120101001001")
)

var (
	// day1 is 2026-02-01 00:00 CST = 2026-01-31 16:00 UTC.
	day1 = time.Date(2026, 2, 1, 0, 0, 0, 0, events.China())
	day2 = day1.AddDate(0, 0, 1)
)

// utc is 2026-02-01 hh:mm:ss UTC (08:00 CST onwards is day 1; from 16:00
// UTC it is day 2 in CST).
func utc(hh, mm, ss int) time.Time { return time.Date(2026, 2, 1, hh, mm, ss, 0, time.UTC) }

func registry() *events.Registry {
	reg := events.NewRegistry().WithKeyring(events.NewMemoryKeyring())
	passevents.Register(reg)
	residents.Register(reg)
	return reg
}

// ledger builds events in ledger order.
type ledger struct {
	t   *testing.T
	reg *events.Registry
	evs []events.Event
}

func (l *ledger) add(typ string, agg events.Aggregate, region events.Region, at time.Time, p events.Payload) {
	l.t.Helper()
	e, err := l.reg.New(context.Background(), typ, events.Meta{SealTo: "t-subject", Aggregate: agg, Region: region, Actor: events.Actor{Role: "gate_operator", ID: "op-1"}, Time: at}, p)
	if err != nil {
		l.t.Fatal(err)
	}
	l.evs = append(l.evs, e)
}

// scan records a scan of pass (held by person) at gate of community;
// reason "" is allowed.
func (l *ledger) scan(at time.Time, gate string, c events.Region, pass, person, dir, reason string) {
	l.t.Helper()
	p := passevents.Scanned{ScanID: fmt.Sprintf("s%d", len(l.evs)), Pass: pass, Holder: person, Community: c, Direction: dir, Decision: passevents.Allow}
	if reason != "" {
		p.Decision, p.Reason = passevents.Deny, reason
	}
	l.add(passevents.TypeScanned, events.Aggregate{Kind: passevents.KindGate, ID: gate}, c, at, p)
}

// project folds the events through every projection of the package and
// checks them (projectiontest.Fold).
func project(t *testing.T, reg *events.Registry, evs []events.Event) *memstore.Store {
	t.Helper()
	return projectiontest.Fold(t, reg, passviews.All(), evs)
}

// onlyGet lets reads use Get only, and records the ids asked for.
type onlyGet struct {
	projections.DocStore
	calls [][]string
}

func (s *onlyGet) Get(ctx context.Context, p projections.Projection, ids []string) (map[string]*projections.Doc, error) {
	s.calls = append(s.calls, slices.Clone(ids))
	return s.DocStore.Get(ctx, p, ids)
}

func (s *onlyGet) Scan(context.Context, projections.Projection, func(string, *projections.Doc, error) error) error {
	return errors.New("views must not scan a collection")
}

func (s *onlyGet) Count(context.Context, projections.Projection) (int64, error) {
	return 0, errors.New("views must not count a collection")
}

// scenario is two days in city 1101 (and a little of city 1201).
func scenario(t *testing.T) (*events.Registry, []events.Event) {
	reg := registry()
	l := &ledger{t: t, reg: reg}
	setup := utc(0, 0, 0).Add(-2 * time.Hour) // 06:00 CST day 1
	for _, g := range []struct {
		id string
		c  events.Region
	}{{"gA", cA}, {"gB", cB}, {"gC", cC}, {"gX", cX}} {
		l.add(passevents.TypeGate, events.Aggregate{Kind: passevents.KindGate, ID: g.id}, g.c, setup, passevents.GateRegistered{Community: g.c, Name: "东门"})
	}
	for i := 1; i <= 5; i++ {
		person := fmt.Sprintf("x%d", i)
		l.add(residents.TypeRegistered, events.Aggregate{Kind: residents.Kind, ID: person}, cA, setup, residents.Registered{
			OpenIDIndex: "oi" + person, Community: cA, Building: "3", Unit: "2",
			Members: []residents.Member{{PersonID: person, Relation: "self", Personal: residents.Sealed{KeyID: "k" + person, Ciphertext: "c2VhbGVk", IDIndex: "ii" + person}}}})
		l.add(residents.TypeDeclared, events.Aggregate{Kind: residents.Kind, ID: person}, cA, setup, residents.Declared{
			PersonID: person, Temperature: 36.5, Symptoms: []string{}, Visited: []events.Region{}, Status: residents.Green, StatusReason: "ok", RulesVersion: 1})
		l.add(passevents.TypeIssued, events.Aggregate{Kind: passevents.KindPass, ID: fmt.Sprintf("P%d", i)}, cA, setup, passevents.Issued{
			Holder: person, HolderOf: passevents.HolderResident, Community: cA, NotBefore: setup, NotAfter: setup.Add(7 * 24 * time.Hour)})
	}
	in, out := passevents.In, passevents.Out
	l.scan(utc(0, 30, 0), "gA", cA, "P1", "x1", in, "")           // 08:30 CST day 1
	l.scan(utc(0, 40, 0), "gA", cA, "P2", "x2", in, "")           //
	l.scan(utc(0, 45, 0), "gA", cA, "P3", "x3", in, "red_status") // denied: red
	l.scan(utc(1, 0, 0), "gA", cA, "P1", "x1", out, "")           // x1 leaves A
	l.scan(utc(1, 30, 0), "gB", cB, "P1", "x1", in, "")           // x1: 110105 → 110106
	l.scan(utc(2, 0, 0), "gA", cA, "P2", "x2", out, "expired")    // denied exit: P2 stays inside
	l.scan(utc(2, 10, 0), "gA", cA, "unknown", "", in, "forged")  // no holder
	l.scan(utc(3, 0, 0), "gC", cC, "P1", "x1", in, "")            // x1: 110106 → 110105
	l.scan(utc(4, 0, 0), "gA", cA, "P4", "x4", in, "")            //
	l.scan(utc(5, 0, 0), "gC", cC, "P4", "x4", in, "")            // x4: A → C, one district: no flow
	l.scan(utc(1, 50, 0), "gA", cA, "P5", "x5", in, "revoked")    // offline, uploaded late
	l.scan(utc(3, 30, 0), "gA", cA, "P4", "x4", out, "")          // offline, older than P4's entry: stale
	l.scan(utc(6, 0, 0), "gX", cX, "P5", "x5", in, "")            // city 1201
	l.scan(utc(7, 0, 0), "gX", cX, "P1", "x1", in, "")            // city 1201: x1 first seen there
	l.scan(utc(15, 59, 59), "gA", cA, "P2", "x2", out, "")        // 23:59:59 CST day 1
	l.scan(utc(16, 0, 0), "gB", cB, "P2", "x2", in, "")           // 00:00 CST day 2: a new day, no flow
	l.add(passevents.TypeRevoked, events.Aggregate{Kind: passevents.KindPass, ID: "P2"}, cA, utc(16, 30, 0), passevents.Revoked{Reason: passevents.ReasonLostPhone})
	l.scan(utc(17, 0, 0), "gA", cA, "P2", "x2", in, "")              // day 2: x2 110106 → 110105
	l.scan(utc(18, 0, 0), "gA", cA, "P3", "x3", in, "red_status")    // day 2
	l.scan(utc(18, 30, 0), "gA", cA, "P3", "x3", out, "id_mismatch") // day 2
	return reg, l.evs
}

func TestInside(t *testing.T) {
	reg, evs := scenario(t)
	store := &onlyGet{DocStore: project(t, reg, evs)}
	ctx := context.Background()
	at := func(hh, mm int) string { return utc(hh, mm, 0).Format("2006-01-02T15:04:05.000000000Z") }
	tests := []struct {
		community events.Region
		found     bool
		inside    map[string]passviews.Present
		stale     int64
		last      string
	}{
		// P1 left, P2 left and came back on day 2 (its revocation does not
		// move it out), P4's late exit is older than its entry.
		{cA, true, map[string]passviews.Present{
			"P2": {Person: "x2", Gate: "gA", Since: at(17, 0)},
			"P4": {Person: "x4", Gate: "gA", Since: at(4, 0)},
		}, 1, at(17, 0)},
		// Nobody scanned out of B.
		{cB, true, map[string]passviews.Present{
			"P1": {Person: "x1", Gate: "gB", Since: at(1, 30)},
			"P2": {Person: "x2", Gate: "gB", Since: at(16, 0)},
		}, 0, at(16, 0)},
		{cC, true, map[string]passviews.Present{
			"P1": {Person: "x1", Gate: "gC", Since: at(3, 0)},
			"P4": {Person: "x4", Gate: "gC", Since: at(5, 0)},
		}, 0, at(5, 0)},
		{"110105009009", false, map[string]passviews.Present{}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.community), func(t *testing.T) {
			got, found, err := passviews.ReadInside(ctx, store, string(tt.community))
			if err != nil || found != tt.found {
				t.Fatalf("found %v, err %v", found, err)
			}
			if got.Community != string(tt.community) || !reflect.DeepEqual(got.Inside, tt.inside) || got.Count != int64(len(tt.inside)) ||
				got.Stale != tt.stale || got.Unlisted != 0 || got.LastScan != tt.last {
				t.Errorf("got %+v\nwant inside %v, stale %d, last %s", got, tt.inside, tt.stale, tt.last)
			}
		})
	}
	if _, _, err := passviews.ReadInside(ctx, store, "1101"); events.ErrorCode(err) != events.CodeInvalid {
		t.Errorf("a city is not a community: %v", err)
	}
}

func TestDaily(t *testing.T) {
	reg, evs := scenario(t)
	store := &onlyGet{DocStore: project(t, reg, evs)}
	ctx := context.Background()
	tests := []struct {
		name      string
		community events.Region
		day       time.Time
		found     bool
		want      passviews.CommunityDay
	}{
		{"A day 1", cA, day1.Add(12 * time.Hour), true, passviews.CommunityDay{Community: string(cA), Day: "2026-02-01",
			Entries: 3, Exits: 3, Denied: 4, // exits: P1, P4 (late, still an exit that day), P2 at 23:59:59
			ByReason:  map[string]int64{"red_status": 1, "expired": 1, "forged": 1, "revoked": 1},
			RedStatus: 1, Passes: []string{"P1", "P2", "P4"}, Distinct: 3}},
		{"A day 1 at 23:59:59 CST", cA, utc(15, 59, 59), true, passviews.CommunityDay{Community: string(cA), Day: "2026-02-01",
			Entries: 3, Exits: 3, Denied: 4,
			ByReason:  map[string]int64{"red_status": 1, "expired": 1, "forged": 1, "revoked": 1},
			RedStatus: 1, Passes: []string{"P1", "P2", "P4"}, Distinct: 3}},
		{"A day 2 from 16:00 UTC", cA, utc(16, 0, 0), true, passviews.CommunityDay{Community: string(cA), Day: "2026-02-02",
			Entries: 1, Denied: 2, ByReason: map[string]int64{"red_status": 1, "id_mismatch": 1},
			RedStatus: 1, Passes: []string{"P2"}, Distinct: 1}},
		{"B day 1", cB, day1, true, passviews.CommunityDay{Community: string(cB), Day: "2026-02-01",
			Entries: 1, ByReason: map[string]int64{}, Passes: []string{"P1"}, Distinct: 1}},
		{"B day 2", cB, day2, true, passviews.CommunityDay{Community: string(cB), Day: "2026-02-02",
			Entries: 1, ByReason: map[string]int64{}, Passes: []string{"P2"}, Distinct: 1}},
		{"C day 3: nothing", cC, day2.AddDate(0, 0, 1), false, passviews.CommunityDay{Community: string(cC), Day: "2026-02-03",
			ByReason: map[string]int64{}, Passes: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := passviews.ReadDaily(ctx, store, string(tt.community), tt.day)
			if err != nil || found != tt.found {
				t.Fatalf("found %v, err %v", found, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if want := passviews.DayKey(string(cA), day2); !slices.Equal(store.calls[2], []string{want}) || want != "110105001001@20260202" {
		t.Errorf("day 2 read asked for %v, want [%s]", store.calls[2], want)
	}
}

func TestDenied(t *testing.T) {
	reg, evs := scenario(t)
	store := &onlyGet{DocStore: project(t, reg, evs)}
	ctx := context.Background()
	ds := func(hh, mm int, gate, pass, person, reason, dir string) passviews.DeniedScan {
		return passviews.DeniedScan{Time: utc(hh, mm, 0).Format("2006-01-02T15:04:05.000000000Z"), Gate: gate, Pass: pass, Person: person, Reason: reason, Direction: dir}
	}
	tests := []struct {
		name      string
		community events.Region
		day       time.Time
		found     bool
		want      passviews.DeniedDay
	}{
		// Ordered by scan time: the late offline denial (01:50) sits
		// between the ones recorded before it.
		{"A day 1", cA, day1, true, passviews.DeniedDay{Community: string(cA), Day: "2026-02-01", Total: 4, Scans: []passviews.DeniedScan{
			ds(0, 45, "gA", "P3", "x3", "red_status", "in"),
			ds(1, 50, "gA", "P5", "x5", "revoked", "in"),
			ds(2, 0, "gA", "P2", "x2", "expired", "out"),
			ds(2, 10, "gA", "unknown", "", "forged", "in"),
		}}},
		{"A day 2", cA, day2, true, passviews.DeniedDay{Community: string(cA), Day: "2026-02-02", Total: 2, Scans: []passviews.DeniedScan{
			ds(18, 0, "gA", "P3", "x3", "red_status", "in"),
			ds(18, 30, "gA", "P3", "x3", "id_mismatch", "out"),
		}}},
		{"B day 1: none", cB, day1, false, passviews.DeniedDay{Community: string(cB), Day: "2026-02-01", Scans: []passviews.DeniedScan{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := passviews.ReadDenied(ctx, store, string(tt.community), tt.day)
			if err != nil || found != tt.found {
				t.Fatalf("found %v, err %v", found, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestFlows(t *testing.T) {
	reg, evs := scenario(t)
	store := &onlyGet{DocStore: project(t, reg, evs)}
	ctx := context.Background()
	tests := []struct {
		name     string
		city     string
		from, to time.Time
		want     []passviews.FlowRow
		ids      []string
	}{
		{"both days", "1101", day1, day2, []passviews.FlowRow{
			{Day: "2026-02-01", From: "110105", To: "110106", Moves: 1},
			{Day: "2026-02-01", From: "110106", To: "110105", Moves: 1},
			{Day: "2026-02-02", From: "110106", To: "110105", Moves: 1},
		}, []string{"1101@20260201", "1101@20260202"}},
		// Days are CST days of from and to, both included, whatever their
		// times of day.
		{"23:00 to 01:00 CST", "1101", day1.Add(23 * time.Hour), day2.Add(time.Hour), []passviews.FlowRow{
			{Day: "2026-02-01", From: "110105", To: "110106", Moves: 1},
			{Day: "2026-02-01", From: "110106", To: "110105", Moves: 1},
			{Day: "2026-02-02", From: "110106", To: "110105", Moves: 1},
		}, []string{"1101@20260201", "1101@20260202"}},
		{"day 2 only, given in UTC", "1101", utc(16, 0, 0), utc(16, 0, 0), []passviews.FlowRow{
			{Day: "2026-02-02", From: "110106", To: "110105", Moves: 1},
		}, []string{"1101@20260202"}},
		// x1 was seen in 1201 after 1101, but flows stay within a city.
		{"other city", "1201", day1, day2, []passviews.FlowRow{}, []string{"1201@20260201", "1201@20260202"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store.calls = nil
			got, err := passviews.ReadFlows(ctx, store, tt.city, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
			if len(store.calls) != 1 || !slices.Equal(store.calls[0], tt.ids) {
				t.Errorf("Get calls %v, want one with %v", store.calls, tt.ids)
			}
		})
	}
	// The 1201 document followed both persons without a move.
	docs, _ := store.DocStore.Get(ctx, passviews.Flows(), []string{"1201@20260201"})
	if s := docs["1201@20260201"].State.(*passviews.FlowDay); s.Persons != 2 || s.Scans != 2 || len(s.Moves) != 0 || s.Last["x1"] != "120101" {
		t.Errorf("city 1201: %+v", s)
	}
	// Day 1 of 1101 follows x1, x2, x4; x3 was only denied.
	docs, _ = store.DocStore.Get(ctx, passviews.Flows(), []string{"1101@20260201"})
	if s := docs["1101@20260201"].State.(*passviews.FlowDay); !reflect.DeepEqual(s.Last, map[string]string{"x1": "110105", "x2": "110105", "x4": "110105"}) || s.Scans != 9 {
		t.Errorf("city 1101 day 1: %+v", s)
	}
}

func TestGateHours(t *testing.T) {
	reg, evs := scenario(t)
	store := &onlyGet{DocStore: project(t, reg, evs)}
	ctx := context.Background()
	got, err := passviews.ReadGateHours(ctx, store, []string{"gA", "gC", "gA", "gZ"}, day1.Add(9*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3*24 || len(store.calls) != 1 || len(store.calls[0]) != 3*24 {
		t.Fatalf("%d rows, calls %d", len(got), len(store.calls))
	}
	want := map[int]passviews.GateHour{
		8:       {Gate: "gA", Community: string(cA), Hour: "2026-02-01T08:00:00+08:00", In: 2, Denied: 1},
		9:       {Gate: "gA", Community: string(cA), Hour: "2026-02-01T09:00:00+08:00", Out: 1, Denied: 1},
		10:      {Gate: "gA", Community: string(cA), Hour: "2026-02-01T10:00:00+08:00", Denied: 2},
		11:      {Gate: "gA", Community: string(cA), Hour: "2026-02-01T11:00:00+08:00", Out: 1},
		12:      {Gate: "gA", Community: string(cA), Hour: "2026-02-01T12:00:00+08:00", In: 1},
		13:      {Gate: "gA", Community: string(cA), Hour: "2026-02-01T13:00:00+08:00"}, // no scans: zero row
		23:      {Gate: "gA", Community: string(cA), Hour: "2026-02-01T23:00:00+08:00", Out: 1},
		24 + 11: {Gate: "gC", Community: string(cC), Hour: "2026-02-01T11:00:00+08:00", In: 1},
		48 + 0:  {Gate: "gZ", Hour: "2026-02-01T00:00:00+08:00"}, // unknown gate: zeros, no community
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("row %d: got %+v, want %+v", i, got[i], w)
		}
	}
	var total int64
	for _, h := range got[:24] {
		total += h.In + h.Out + h.Denied
	}
	if total != 10 {
		t.Errorf("gA day 1: %d scans, want 10", total)
	}
}

func TestReadBadInput(t *testing.T) {
	store := &onlyGet{DocStore: memstore.New()}
	ctx := context.Background()
	many := make([]string, passviews.MaxGateHourGates+1)
	for i := range many {
		many[i] = fmt.Sprint("g", i)
	}
	tests := []struct {
		name  string
		field string
		read  func() error
	}{
		{"inside: district", "community", func() error { _, _, err := passviews.ReadInside(ctx, store, "110105"); return err }},
		{"daily: letters", "community", func() error { _, _, err := passviews.ReadDaily(ctx, store, "11010500100a", day1); return err }},
		{"daily: no day", "day", func() error { _, _, err := passviews.ReadDaily(ctx, store, string(cA), time.Time{}); return err }},
		{"denied: empty", "community", func() error { _, _, err := passviews.ReadDenied(ctx, store, "", day1); return err }},
		{"flows: district", "city", func() error { _, err := passviews.ReadFlows(ctx, store, "110105", day1, day2); return err }},
		{"flows: backwards", "to", func() error { _, err := passviews.ReadFlows(ctx, store, "1101", day2, day1); return err }},
		{"flows: 93 days", "to", func() error {
			_, err := passviews.ReadFlows(ctx, store, "1101", day1, day1.AddDate(0, 0, passviews.MaxFlowDays))
			return err
		}},
		{"flows: no from", "from", func() error { _, err := passviews.ReadFlows(ctx, store, "1101", time.Time{}, day1); return err }},
		{"gate hours: none", "gates", func() error { _, err := passviews.ReadGateHours(ctx, store, nil, day1); return err }},
		{"gate hours: too many", "gates", func() error { _, err := passviews.ReadGateHours(ctx, store, many, day1); return err }},
		{"gate hours: empty id", "gates", func() error { _, err := passviews.ReadGateHours(ctx, store, []string{"gA", ""}, day1); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.read()
			var e *events.Error
			if !errors.As(err, &e) || e.Code != events.CodeInvalid || e.Field != tt.field {
				t.Errorf("got %v, want invalid %s", err, tt.field)
			}
		})
	}
	if len(store.calls) != 0 {
		t.Errorf("bad input reached the store: %v", store.calls)
	}
	// 92 days is the limit: one Get per 16 days, 6 in all.
	rows, err := passviews.ReadFlows(ctx, store, "1101", day1, day1.AddDate(0, 0, passviews.MaxFlowDays-1))
	if err != nil || len(rows) != 0 || len(store.calls) != 6 || len(store.calls[0]) != 16 || len(store.calls[5]) != 12 {
		t.Errorf("92 days: %v %v, %d calls", rows, err, len(store.calls))
	}
}

// failing is a store whose reads fail.
type failing struct{ projections.DocStore }

func (failing) Get(context.Context, projections.Projection, []string) (map[string]*projections.Doc, error) {
	return nil, errors.New("connection refused")
}

func TestReadUnavailable(t *testing.T) {
	ctx := context.Background()
	_, _, err := passviews.ReadInside(ctx, failing{}, string(cA))
	if events.ErrorCode(err) != events.CodeUnavailable {
		t.Errorf("inside: %v", err)
	}
	_, err = passviews.ReadFlows(ctx, failing{}, "1101", day1, day2)
	if events.ErrorCode(err) != events.CodeUnavailable {
		t.Errorf("flows: %v", err)
	}
}

// fold applies scans straight to a fresh state, for the caps: far faster
// than building thousands of canonical events.
func fold[S any](t *testing.T, p projections.Projection, scans []passevents.Scanned, at func(i int) time.Time, gate string) *S {
	t.Helper()
	st := p.NewState()
	for i, sc := range scans {
		e := events.Event{Type: passevents.TypeScanned, Version: 2, Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: gate},
			Region: sc.Community, Time: at(i)}
		if err := p.Fold("doc", st, e, sc); err != nil {
			t.Fatal(err)
		}
	}
	return st.(*S)
}

func allow(pass, person string, c events.Region, dir string) passevents.Scanned {
	return passevents.Scanned{Pass: pass, Holder: person, Community: c, Direction: dir, Decision: passevents.Allow}
}

func TestInsideCap(t *testing.T) {
	var scans []passevents.Scanned
	for i := range passviews.MaxInside + 2 {
		scans = append(scans, allow(fmt.Sprint("P", i), fmt.Sprint("x", i), cA, passevents.In))
	}
	scans = append(scans,
		allow("P0", "x0", cA, passevents.In),                                // listed: still listed, not unlisted
		allow(fmt.Sprint("P", passviews.MaxInside), "", cA, passevents.Out), // an unlisted one leaves
		allow("P1", "x1", cA, passevents.Out),                               // a listed one leaves: room for one
		allow("Pnew", "xnew", cA, passevents.In),                            // listed again
		allow("Pnew2", "xnew2", cA, passevents.In),                          // full again
	)
	s := fold[passviews.Occupancy](t, passviews.Inside(), scans, func(i int) time.Time { return utc(1, 0, 0).Add(time.Duration(i) * time.Millisecond) }, "gA")
	if len(s.Inside) != passviews.MaxInside || s.Count != passviews.MaxInside || s.Unlisted != 2 {
		t.Errorf("listed %d, count %d, unlisted %d", len(s.Inside), s.Count, s.Unlisted)
	}
	if _, ok := s.Inside["Pnew"]; !ok {
		t.Error("Pnew should be listed")
	}
	if _, ok := s.Inside["P1"]; ok {
		t.Error("P1 left")
	}
	// Exits of passes never seen do not take Unlisted below zero.
	s2 := fold[passviews.Occupancy](t, passviews.Inside(), []passevents.Scanned{allow("P9", "x9", cA, passevents.Out)}, func(int) time.Time { return utc(1, 0, 0) }, "gA")
	if s2.Unlisted != 0 || s2.Count != 0 {
		t.Errorf("exit of an unknown pass: %+v", s2)
	}
}

func TestDistinctCap(t *testing.T) {
	var scans []passevents.Scanned
	for i := range passviews.MaxDistinct + 3 {
		scans = append(scans, allow(fmt.Sprintf("P%06d", i), "x", cA, passevents.In))
	}
	scans = append(scans, allow("P000000", "x", cA, passevents.Out)) // listed: not counted again
	s := fold[passviews.CommunityDay](t, passviews.CommunityDaily(), scans, func(i int) time.Time { return utc(1, 0, 0) }, "gA")
	if s.Distinct != passviews.MaxDistinct || len(s.Passes) != passviews.MaxDistinct || s.DistinctUnlisted != 3 ||
		s.Entries != passviews.MaxDistinct+3 || s.Exits != 1 || !slices.IsSorted(s.Passes) {
		t.Errorf("distinct %d (%d listed, sorted %v), unlisted %d, entries %d, exits %d", s.Distinct, len(s.Passes), slices.IsSorted(s.Passes), s.DistinctUnlisted, s.Entries, s.Exits)
	}
}

func TestDeniedCap(t *testing.T) {
	reg := registry()
	l := &ledger{t: t, reg: reg}
	for i := range passviews.MaxDenied + 5 {
		l.scan(utc(1, 0, 0).Add(time.Duration(i)*time.Second), "gA", cA, fmt.Sprint("P", i), "x", passevents.In, "expired")
	}
	l.scan(utc(0, 59, 0), "gA", cA, "Pold", "x", passevents.In, "revoked")                                       // older than every listed one
	l.scan(utc(1, 0, 0).Add(500*time.Second+time.Millisecond), "gA", cA, "Plate", "x", passevents.Out, "forged") // late, in the middle
	store := project(t, reg, l.evs)
	got, found, err := passviews.ReadDenied(context.Background(), store, string(cA), day1)
	if err != nil || !found {
		t.Fatal(found, err)
	}
	if got.Total != passviews.MaxDenied+7 || len(got.Scans) != passviews.MaxDenied {
		t.Fatalf("total %d, listed %d", got.Total, len(got.Scans))
	}
	// The 6 oldest went: P0..P5 (P0..P4 as the list filled, P5 for Plate).
	if got.Scans[0].Pass != "P6" || got.Scans[len(got.Scans)-1].Pass != fmt.Sprint("P", passviews.MaxDenied+4) {
		t.Errorf("first %s, last %s", got.Scans[0].Pass, got.Scans[len(got.Scans)-1].Pass)
	}
	i := slices.IndexFunc(got.Scans, func(d passviews.DeniedScan) bool { return d.Pass == "Plate" })
	if i < 0 || got.Scans[i-1].Pass != "P500" || got.Scans[i+1].Pass != "P501" {
		t.Errorf("Plate at %d", i)
	}
	if !slices.IsSortedFunc(got.Scans, func(a, b passviews.DeniedScan) int { return cmp.Compare(a.Time, b.Time) }) {
		t.Error("not in time order")
	}
	d, _, _ := passviews.ReadDaily(context.Background(), store, string(cA), day1)
	if d.Denied != passviews.MaxDenied+7 || d.ByReason["expired"] != passviews.MaxDenied+5 || d.ByReason["revoked"] != 1 || d.ByReason["forged"] != 1 {
		t.Errorf("daily %+v", d)
	}
}

func TestFlowsCap(t *testing.T) {
	var scans []passevents.Scanned
	for i := range passviews.MaxFlowPersons {
		scans = append(scans, allow("P", fmt.Sprint("x", i), cA, passevents.In))
	}
	scans = append(scans,
		allow("P", "late", cB, passevents.In), // not followed: full
		allow("P", "late", cA, passevents.In), // still not followed
		allow("P", "x0", cB, passevents.In),   // followed: 110105 → 110106
		allow("P", "x0", cC, passevents.In),   // 110106 → 110105
		allow("P", "x1", cC, passevents.In),   // same district
	)
	s := fold[passviews.FlowDay](t, passviews.Flows(), scans, func(int) time.Time { return utc(1, 0, 0) }, "g")
	want := map[string]int64{"110105>110106": 1, "110106>110105": 1}
	if s.Persons != passviews.MaxFlowPersons || s.Untracked != 2 || s.Scans != passviews.MaxFlowPersons+5 || !reflect.DeepEqual(s.Moves, want) {
		t.Errorf("persons %d, untracked %d, scans %d, moves %v", s.Persons, s.Untracked, s.Scans, s.Moves)
	}
	// Read back through a store: the day is marked partial.
	store := memstore.New()
	ctx := context.Background()
	if err := store.Put(ctx, passviews.Flows(), []*projections.Doc{{ID: passviews.FlowKey("1101", day1), State: s}}); err != nil {
		t.Fatal(err)
	}
	rows, err := passviews.ReadFlows(ctx, store, "1101", day1, day1)
	if err != nil || len(rows) != 2 || !rows[0].Partial || rows[0] != (passviews.FlowRow{Day: "2026-02-01", From: "110105", To: "110106", Moves: 1, Partial: true}) {
		t.Errorf("rows %+v %v", rows, err)
	}
}

func TestKeys(t *testing.T) {
	// 2026-02-01 15:59:59 UTC is 23:59:59 CST; one second later is day 2.
	if k := passviews.DayKey(string(cA), utc(15, 59, 59)); k != "110105001001@20260201" {
		t.Errorf("DayKey = %s", k)
	}
	if k := passviews.DayKey(string(cA), utc(16, 0, 0)); k != "110105001001@20260202" {
		t.Errorf("DayKey = %s", k)
	}
	if k := passviews.FlowKey("1101", utc(16, 0, 0)); k != "1101@20260202" {
		t.Errorf("FlowKey = %s", k)
	}
	if k := passviews.HourKey("gA", utc(15, 59, 59)); k != "gA@2026020123" {
		t.Errorf("HourKey = %s", k)
	}
	// Events other than scans make no documents in the views.
	reg := registry()
	l := &ledger{t: t, reg: reg}
	l.add(passevents.TypeGate, events.Aggregate{Kind: passevents.KindGate, ID: "gA"}, cA, utc(1, 0, 0), passevents.GateRegistered{Community: cA, Name: "南门"})
	l.add(passevents.TypeRevoked, events.Aggregate{Kind: passevents.KindPass, ID: "P1"}, cA, utc(1, 0, 0), passevents.Revoked{Reason: passevents.ReasonMovedOut})
	store := project(t, reg, l.evs)
	for _, p := range []projections.Projection{passviews.Inside(), passviews.CommunityDaily(), passviews.DeniedScans(), passviews.Flows()} {
		if n, _ := store.Count(context.Background(), p); n != 0 {
			t.Errorf("%s: %d documents", p.Name(), n)
		}
	}
}
