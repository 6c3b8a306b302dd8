package alerts_test

import (
	"testing"
	"time"

	"github.com/onebook/onebook/backend/alerts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/snapshots/snapshotstest"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
)

// TestSnapshotRoundTrip snapshots the early-warning engine at every point
// of a week in one district (the seeded rules; a plague case raised,
// notified, acknowledged and investigated; a respiratory cluster with a
// revoked card; an alert in a district without a CDC account; a signal still
// pending at the end) and checks each restore
// against the fold (snapshotstest.RoundTrip).
func TestSnapshotRoundTrip(t *testing.T) {
	f := newFixture(t)
	ctx := f.w.Ctx
	f.w.File(f.reporter, 1, f.w.Card("plague", district+"001", "fever"))
	f.w.Step()
	first := f.alerts("first-case")[0]
	f.w.Advance(30 * time.Minute)
	if _, err := f.w.Alerts.Acknowledge(ctx, f.cdc, first.ID, alerts.StepInput{Note: "on it"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.w.Alerts.Investigate(ctx, f.cdc, first.ID, alerts.StepInput{Findings: "two cases in one household"}); err != nil {
		t.Fatal(err)
	}
	var flu []cases.Card
	for i := range 6 {
		flu = append(flu, f.w.File(f.reporter, 10+i, f.w.Card("influenza", district+"001", "fever", "cough")))
		f.w.Advance(10 * time.Hour)
		if i == 2 {
			rev := f.w.Staff(auth.HospitalReviewer, "", flu[0].Hospital)
			if _, err := f.w.Cases.Review(ctx, rev, flu[0].ID, cases.ReviewInput{Decision: caseevents.Revoke, Reason: "duplicate card"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.w.File(f.reporter, 20, f.w.Card("plague", otherDistrict+"001", "fever")) // no CDC there to notify
	f.w.Step()
	f.w.File(f.reporter, 21, f.w.Card("plague", "420111001", "fever")) // pending: no step after it

	day := events.Day(f.w.Now())
	respiratory := alerts.Key{Target: alertevents.TargetGroup, Code: caseevents.GroupRespiratory, Region: district}
	reads := snapshotstest.Reads[*alerts.Engine]{
		"Pending":             func(en *alerts.Engine) any { return en.Pending() },
		"Alerts":              func(en *alerts.Engine) any { return en.Alerts(events.National, "", "") },
		"Alerts investigated": func(en *alerts.Engine) any { return en.Alerts(events.National, district, alerts.StatusInvestigated) },
		"Unnotified":          func(en *alerts.Engine) any { return en.Unnotified() },
		"Rules":               func(en *alerts.Engine) any { return en.Rules() },
		"Rule first-case":     func(en *alerts.Engine) any { r, ok := en.Rule("first-case"); return []any{r, ok} },
		"Alert " + first.ID:   func(en *alerts.Engine) any { a, ok := en.Alert(first.ID); return []any{a, ok} },
		"Series respiratory":  func(en *alerts.Engine) any { xs, ok := en.Series(respiratory, day, 7); return []any{xs, ok} },
		"Children of the city": func(en *alerts.Engine) any {
			return en.Children("4201", alertevents.TargetGroup, caseevents.GroupRespiratory)
		},
	}
	snapshotstest.RoundTrip(t, snapshotstest.Events(ctx, t, f.w.Store, f.w.Reg), alerts.NewEngine, reads)
}
