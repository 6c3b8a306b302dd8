package cases_test

import (
	"testing"

	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/casestest"
	"github.com/onebook/onebook/events/caseevents"
	"github.com/onebook/onebook/projections/caseviews"
	"github.com/onebook/onebook/projections/projectiontest"
)

// agree folds the world's whole ledger through the case views and checks
// that each card stands in the view where the service has it: status,
// level (the service clears it once approved; the view keeps the national
// level), round, and where it counts (the day it counts in above all).
// Both follow events/caseevents (NextLevel, CountedAs, events.Day); this test
// fails if either stops doing so.
func agree(t *testing.T, w *casestest.World) {
	t.Helper()
	store := projectiontest.Fold(t, w.Reg, caseviews.All(), w.Events())
	all := w.Cases.State.List(cases.Filter{}, func(*cases.Card) bool { return true }, 1<<30)
	if len(all) == 0 {
		t.Fatal("no cards to compare")
	}
	for _, c := range all {
		v, ok, err := caseviews.ReadCard(w.Ctx, store, c.ID)
		if err != nil || !ok {
			t.Fatalf("card %s in the view: %v %v", c.ID, ok, err)
		}
		level := c.Level
		if c.Status == caseevents.StatusApproved {
			level = caseevents.LevelNational
		}
		counted := v.Counted != nil && v.Counted.Day == c.Counted.Day && v.Counted.District == string(c.Counted.District) && v.Counted.Disease == c.Counted.Disease
		if v.Status != c.Status || v.Level != level || v.Round != c.Round || counted == (c.Status == caseevents.StatusRevoked) {
			t.Errorf("card %s: service %s at %q round %d counted %+v; view %s at %q round %d counted %+v",
				c.ID, c.Status, c.Level, c.Round, c.Counted, v.Status, v.Level, v.Round, v.Counted)
		}
	}
}
