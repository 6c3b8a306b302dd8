package national

import (
	"reflect"
	"testing"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
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

// TestState: the latest revision of each province's figure counts, an
// older one or one a province published for another is refused, and the
// views add the provinces up.
func TestState(t *testing.T) {
	const day = "2026-11-25"
	c31 := aggregates.Cases{Province: "31", Day: day, Revision: 1, SmallCell: 5, Total: 9, Other: 2,
		Cities: []aggregates.CityCases{{City: "4401", Diseases: map[string]int64{"measles": 7}, Groups: map[string]int64{"rash": 7}}}}
	c31b := c31
	c31b.Revision, c31b.Total, c31b.Cities = 2, 12, []aggregates.CityCases{{City: "4401", Diseases: map[string]int64{"measles": 10}, Groups: map[string]int64{}}}
	c44 := aggregates.Cases{Province: "44", Day: day, Revision: 1, SmallCell: 5, Total: 6,
		Cities: []aggregates.CityCases{{City: "4401", Diseases: map[string]int64{"measles": 6}, Groups: map[string]int64{}}}}
	m31 := aggregates.Moves{Province: "31", Day: day, Revision: 1, SmallCell: 5, From: map[string]int64{"42": 8}, Other: 3}
	d44 := aggregates.Donations{Province: "44", Day: day, Revision: 1, SmallCell: 5,
		DonationTotals: aggregates.DonationTotals{Items: map[string]aggregates.ItemTotals{"gloves": {Pledged: 50}}, Pledges: 1, Short: 1}}
	st := NewState()
	apply(st,
		ev{"31", c31}, ev{"31", c31b}, ev{"31", c31}, // revision 1 after 2: refused
		ev{"44", c44}, ev{"44", c31}, // 44 speaking for 31: refused
		ev{"31", m31}, ev{"44", d44})
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
