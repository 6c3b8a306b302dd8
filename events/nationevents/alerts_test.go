package nationevents

import (
	"strings"
	"testing"

	"github.com/onebook/onebook/events"
)

func TestAlertValidate(t *testing.T) {
	a := Alert{Rule: "first-case", Method: "threshold", Target: "disease", Code: "cholera", Region: "3101", Day: "2026-11-25"}
	raised := AlertRaised{Alert: a, Observed: 1, Statistic: 1, Threshold: 1, Reporting: []string{"31", "44"}}
	with := func(f func(*AlertRaised)) AlertRaised { r := raised; f(&r); return r }
	for _, tc := range []struct {
		name  string
		p     interface{ Validate() error }
		field string // "" valid
	}{
		{"raised", raised, ""},
		{"national region", with(func(r *AlertRaised) { r.Region = events.National }), ""},
		{"district", with(func(r *AlertRaised) { r.Region = "310104" }), "region"},
		{"bad day", with(func(r *AlertRaised) { r.Day = "20261125" }), "day"},
		{"code with a dot", with(func(r *AlertRaised) { r.Code = "a.b" }), "code"},
		{"unsorted provinces", with(func(r *AlertRaised) { r.Reporting = []string{"44", "31"} }), "reporting"},
		{"not a province", with(func(r *AlertRaised) { r.Reporting = []string{"3101"} }), "reporting"},
		{"cleared", AlertCleared{Alert: a, Raised: AlertEventID(TypeAlertRaised, a, ""), Reason: "corrected"}, ""},
		{"cleared names no raise", AlertCleared{Alert: a, Raised: "x", Reason: "corrected"}, "raised"},
		{"cleared without a reason", AlertCleared{Alert: a, Raised: AlertEventID(TypeAlertRaised, a, "")}, "reason"},
		{"exported", Exported{View: "national_cases", Format: "csv", TreeSize: 7, By: "国家疾控中心", Reason: "weekly report"}, ""},
		{"exported by nobody", Exported{View: "national_cases", Format: "csv", TreeSize: 7, By: " ", Reason: "weekly report"}, "by"},
		{"exported for no reason", Exported{View: "national_cases", Format: "csv", TreeSize: 7, By: "CDC"}, "reason"},
		{"exported of no tree", Exported{View: "national_cases", Format: "csv", By: "CDC", Reason: "weekly report"}, "tree_size"},
		{"exported as pdf", Exported{View: "national_cases", Format: "pdf", TreeSize: 7, By: "CDC", Reason: "weekly report"}, "format"},
	} {
		err := tc.p.Validate()
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field)):
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.field)
		}
	}
}

// TestAlertIDs: an alert's aggregate and event ids follow from what it is
// about and the event before, and nothing else.
func TestAlertIDs(t *testing.T) {
	a := Alert{Rule: "ears-c2", Method: "ears_c2", Target: "group", Code: "respiratory", Region: "44", Day: "2026-11-12"}
	if got := AlertAggregate(a); got.Kind != KindAlert || got.ID != "ears-c2-respiratory-44-20261112" {
		t.Errorf("aggregate %v", got)
	}
	long := a
	long.Code = strings.Repeat("x", 64)
	if got := AlertAggregate(long).ID; !events.IsToken(got) || got == AlertAggregate(a).ID {
		t.Errorf("aggregate of a long alert: %q", got)
	}
	first := AlertEventID(TypeAlertRaised, a, "")
	if first != AlertEventID(TypeAlertRaised, a, "") {
		t.Error("the first raise's id is not deterministic")
	}
	cleared := AlertEventID(TypeAlertCleared, a, first)
	again := AlertEventID(TypeAlertRaised, a, cleared)
	b := a
	b.Day = "2026-11-13"
	for _, other := range []string{cleared, again, AlertEventID(TypeAlertRaised, b, "")} {
		if other == first {
			t.Errorf("id %s repeats the first raise's", other)
		}
	}
}
