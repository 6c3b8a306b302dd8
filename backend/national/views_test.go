package national

import (
	"reflect"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/projections/projectiontest"
)

// ev is a payload recorded in an event of region.
type ev struct {
	region events.Region
	p      events.Payload
}

// apply folds evs in order, at sequences 1, 2, ...
func apply(st *State, evs ...ev) {
	for i, e := range evs {
		st.Apply(events.Recorded{Seq: uint64(i + 1), Event: events.Event{Region: e.region}}, e.p)
	}
}

// figures are the provinces' figures of day as TestState applies them,
// two of them refused.
func figures(day string) []ev {
	c31 := aggregates.Cases{Province: "31", Day: day, Revision: 1, SmallCell: 5, Total: 9, Other: 2,
		Cities: []aggregates.CityCases{{City: "4401", Diseases: map[string]int64{"measles": 7}, Groups: map[string]int64{"rash": 7}}}}
	c31b := c31
	c31b.Revision, c31b.Total, c31b.Cities = 2, 12, []aggregates.CityCases{{City: "4401", Diseases: map[string]int64{"measles": 10}, Groups: map[string]int64{}}}
	c44 := aggregates.Cases{Province: "44", Day: day, Revision: 1, SmallCell: 5, Total: 6,
		Cities: []aggregates.CityCases{{City: "4401", Diseases: map[string]int64{"measles": 6}, Groups: map[string]int64{}}}}
	m31 := aggregates.Moves{Province: "31", Day: day, Revision: 1, SmallCell: 5, From: map[string]int64{"42": 8}, Other: 3}
	d44 := aggregates.Donations{Province: "44", Day: day, Revision: 1, SmallCell: 5,
		DonationTotals: aggregates.DonationTotals{Items: map[string]aggregates.ItemTotals{"gloves": {Pledged: 50}}, Pledges: 1, Short: 1}}
	return []ev{{"31", c31}, {"31", c31b}, {"31", c31}, // revision 1 after 2: refused
		{"44", c44}, {"44", c31}, // 44 speaking for 31: refused
		{"31", m31}, {"44", d44}}
}

// TestState: the latest revision of each province's figure counts, an
// older one or one a province published for another is refused, and the
// views add the provinces up.
func TestState(t *testing.T) {
	const day = "2026-11-25"
	st := NewState()
	apply(st, figures(day)...)
	if st.Anomalies() != 2 {
		t.Errorf("anomalies %d, want 2", st.Anomalies())
	}
	cs, err := st.Cases(day, day)
	if err != nil {
		t.Fatal(err)
	}
	got := cs[0]
	if got.Total != 18 || got.Unplaced != 2 || got.Diseases["measles"] != 16 || got.Residence["44"].Total != 16 ||
		got.Cities["4401"].Diseases["measles"] != 16 || !reflect.DeepEqual(got.ReportedBy["4401"], []string{"31", "44"}) ||
		!reflect.DeepEqual(got.Reporting, map[string]int64{"31": 12, "44": 6}) {
		t.Errorf("cases: %+v", got)
	}
	flows, err := st.Flows(day, day)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Flow{{Day: day, From: "42", To: "31", Arrivals: 8}, {Day: day, From: "other", To: "31", Arrivals: 3}}; !reflect.DeepEqual(flows, want) {
		t.Errorf("flows %+v, want %+v", flows, want)
	}
	dons, err := st.Donations(day, day)
	if err != nil {
		t.Fatal(err)
	}
	if dons[0].Items["gloves"].Pledged != 50 || dons[0].Short != 1 || len(dons[0].Provinces) != 1 {
		t.Errorf("donations %+v", dons[0])
	}
	if got := st.Provinces(); !reflect.DeepEqual(got, []events.Region{"31", "44"}) {
		t.Errorf("provinces %v", got)
	}
	if _, err := st.Cases("2026-11-25", "2026-11-24"); err == nil {
		t.Error("a backwards range was accepted")
	}
}

// TestProjectionsAreTheViews: the exported views (Projections), folded
// from the events TestState applies, hold per day what the state's views
// answer, refusing what the state refuses.
func TestProjectionsAreTheViews(t *testing.T) {
	const day = "2026-11-25"
	evs := figures(day)

	st := NewState()
	apply(st, evs...)
	reg := schemas.Registry()
	l := projectiontest.Ledger{T: t, Reg: reg}
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, e := range evs {
		var typ, fig string
		switch e.p.(type) {
		case aggregates.Cases:
			typ, fig = aggregates.TypeCases, aggregates.FigureCases
		case aggregates.Moves:
			typ, fig = aggregates.TypeMoves, aggregates.FigureMoves
		case aggregates.Donations:
			typ, fig = aggregates.TypeDonations, aggregates.FigureDonations
		}
		l.Add(typ, aggregates.Aggregate(fig, e.region, day), e.region, events.Actor{Role: "system", ID: "province-publisher"}, at, e.p)
	}
	ps := Projections()
	store := projectiontest.Fold(t, reg, ps, l.Events)

	cs, _ := st.Cases(day, day)
	if got := projectiontest.Get[CasesDoc](t, store, ps[0], day); got == nil || !reflect.DeepEqual(got.CaseDay, cs[0]) ||
		got.Figures["31"].Revision != 2 || len(got.Figures) != 2 {
		t.Errorf("%s: %+v, want %+v with revision 2 of 31's figure", ViewCases, got, cs[0])
	}
	flows, _ := st.Flows(day, day)
	if got := projectiontest.Get[FlowsDoc](t, store, ps[1], day); got == nil || !reflect.DeepEqual(got.Flows, flows) || got.Day != day {
		t.Errorf("%s: %+v, want %+v", ViewFlows, got, flows)
	}
	dons, _ := st.Donations(day, day)
	if got := projectiontest.Get[DonationsDoc](t, store, ps[2], day); got == nil || !reflect.DeepEqual(got.DonationDay, dons[0]) {
		t.Errorf("%s: %+v, want %+v", ViewDonations, got, dons[0])
	}
}
