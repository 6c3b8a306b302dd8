package cases_test

import (
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/casestest"
	"github.com/onebook/onebook/backend/snapshots/snapshotstest"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/caseevents"
)

// TestSnapshotRoundTrip snapshots the case state at every point of a
// district's week of cards (filed, approved up the chain, returned and
// corrected, revoked) and checks each restore against the fold
// (snapshotstest.RoundTrip).
func TestSnapshotRoundTrip(t *testing.T) {
	w := casestest.New(t, start)
	h := w.Hospital("协和医院", "420102003")
	reporter := w.Staff(auth.HospitalReporter, "", h.ID)
	reviewers := []auth.Principal{w.Staff(auth.HospitalReviewer, "", h.ID), w.Staff(auth.CDCReviewer, "420102", ""), w.Staff(auth.CDCReviewer, "4201", "")}
	review := func(c cases.Card, p auth.Principal, decision, reason string) {
		t.Helper()
		if _, err := w.Cases.Review(w.Ctx, p, c.ID, cases.ReviewInput{Decision: decision, Reason: reason}); err != nil {
			t.Fatal(err)
		}
	}
	var cards []cases.Card
	for day, residence := range []events.Region{"420106001", "420102003", "420111002", "420106001"} {
		c := w.File(reporter, day, w.Card("covid19", residence, "fever", "cough"))
		cards = append(cards, c)
		for _, p := range reviewers[:day%len(reviewers)+1] {
			review(c, p, caseevents.Approve, "")
		}
		w.Advance(24 * time.Hour)
	}
	review(cards[0], reviewers[1], caseevents.Return, "onset date looks wrong")
	fixed := cards[0].Card
	fixed.Residence, fixed.Symptoms = "420111002", []string{"fever"}
	if _, err := w.Cases.Correct(w.Ctx, reporter, cards[0].ID, cases.CorrectInput{Card: fixed, Note: "residence corrected"}); err != nil {
		t.Fatal(err)
	}
	review(cards[1], reviewers[2], caseevents.Revoke, "filed twice")

	all := func(*cases.Card) bool { return true }
	reads := snapshotstest.Reads[*cases.State]{
		"List": func(s *cases.State) any { return s.List(cases.Filter{}, all, 100) },
		"List pending at the province": func(s *cases.State) any {
			return s.List(cases.Filter{Status: caseevents.StatusPending, Level: caseevents.LevelProvince}, all, 100)
		},
		"List of a residence": func(s *cases.State) any { return s.List(cases.Filter{Region: "420111"}, all, 100) },
	}
	for _, c := range cards {
		reads["Card "+c.ID] = func(s *cases.State) any { card, ok := s.Card(c.ID); return []any{card, ok} }
	}
	snapshotstest.RoundTrip(t, snapshotstest.Events(w.Ctx, t, w.Store, w.Reg), cases.NewState, reads)
}
