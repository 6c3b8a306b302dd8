package alerts_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/alerts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/casestest"
	"github.com/onebook/onebook/backend/webhook"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
)

const (
	hospitalRegion = events.Region("420106001")
	district       = events.Region("420106")
	otherDistrict  = events.Region("420102")
)

// start is 10:00 CST.
var start = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)

type fixture struct {
	w        *casestest.World
	reporter auth.Principal
	cdc      auth.Principal // district CDC of the hospital
}

func newFixture(t *testing.T) *fixture {
	w := casestest.New(t, start)
	h := w.Hospital("武汉市第一医院", hospitalRegion)
	return &fixture{w: w, reporter: w.Staff(auth.HospitalReporter, "", h.ID), cdc: w.Staff(auth.CDCReviewer, district, "")}
}

func (f *fixture) alerts(rule string) []alerts.Alert {
	var out []alerts.Alert
	for _, a := range f.w.Engine.Alerts(events.National, "", "") {
		if a.Raised.Rule == rule {
			out = append(out, a)
		}
	}
	return out
}

// TestFirstCaseAlertLifecycle: one plague case is a signal at once, before
// any review; it is notified, acknowledged, investigated and closed, and
// the same signal is never raised twice.
func TestFirstCaseAlertLifecycle(t *testing.T) {
	f := newFixture(t)
	c := f.w.File(f.reporter, 1, f.w.Card("plague", district+"001", "fever"))
	f.w.Step()
	as := f.alerts("first-case")
	if len(as) != 1 {
		t.Fatalf("first-case alerts = %d, want 1", len(as))
	}
	a := as[0]
	if a.Raised.Trigger != c.ID || !slices.Equal(a.Raised.Cases, []string{c.ID}) || a.Raised.Region != district || a.Raised.Day != "2026-11-20" {
		t.Errorf("alert = %+v", a.Raised)
	}
	if a.Status != alerts.StatusNotified || len(a.Deliveries) != 1 || a.Deliveries[0].Recipient != f.cdc.Subject || !a.Deliveries[0].OK {
		t.Errorf("after a step the alert is %s with deliveries %+v, want notified to %s", a.Status, a.Deliveries, f.cdc.Subject)
	}
	if got := f.w.Notified(); !slices.Equal(got, []string{f.cdc.Subject}) {
		t.Errorf("notified %v", got)
	}
	// A second case the same day: the open alert covers it.
	f.w.File(f.reporter, 2, f.w.Card("plague", district+"002", "fever"))
	f.w.Step()
	if n := len(f.alerts("first-case")); n != 1 {
		t.Fatalf("after a second case while open: %d alerts, want 1", n)
	}

	ctx := f.w.Ctx
	other := f.w.Staff(auth.CDCReviewer, otherDistrict, "")
	if _, err := f.w.Alerts.Acknowledge(ctx, other, a.ID, alerts.StepInput{}); events.ErrorCode(err) != events.CodeNotFound {
		t.Errorf("acknowledge out of scope: %v", err)
	}
	if _, err := f.w.Alerts.Close(ctx, f.cdc, a.ID, alerts.StepInput{Outcome: alertevents.OutcomeFalseAlarm}); events.ErrorCode(err) != events.CodeConflict {
		t.Errorf("close before acknowledging: %v", err)
	}
	f.w.Advance(30 * time.Minute)
	if _, err := f.w.Alerts.Acknowledge(ctx, f.cdc, a.ID, alerts.StepInput{Note: "on it"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.w.Alerts.Investigate(ctx, f.cdc, a.ID, alerts.StepInput{Findings: "x"}); events.ErrorCode(err) != events.CodeInvalid {
		t.Errorf("findings too short: %v", err)
	}
	if _, err := f.w.Alerts.Investigate(ctx, f.cdc, a.ID, alerts.StepInput{Findings: "two cases in one household"}); err != nil {
		t.Fatal(err)
	}
	got, err := f.w.Alerts.Close(ctx, f.cdc, a.ID, alerts.StepInput{Outcome: alertevents.OutcomeCases, Note: "isolated"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != alerts.StatusClosed || got.Outcome != alertevents.OutcomeCases || got.ClosedBy != f.cdc.Subject {
		t.Errorf("closed alert = %+v", got)
	}
	// After closing, the same day's signal is the same alert id: not raised again.
	f.w.File(f.reporter, 3, f.w.Card("plague", district+"003", "fever"))
	f.w.Step()
	if n := len(f.alerts("first-case")); n != 1 {
		t.Fatalf("same rule, series and day after closing: %d alerts, want 1", n)
	}
	// The next day it is a new signal.
	f.w.Advance(24 * time.Hour)
	f.w.File(f.reporter, 4, f.w.Card("plague", district+"003", "fever"))
	f.w.Step()
	if n := len(f.alerts("first-case")); n != 2 {
		t.Fatalf("next day: %d alerts, want 2", n)
	}

	sum, err := f.w.Alerts.List(ctx, f.cdc, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if sum.MedianAlertToAck == nil || *sum.MedianAlertToAck != 1800 {
		t.Errorf("median alert→ack = %v, want 1800 s", sum.MedianAlertToAck)
	}
	if sum.MedianFileToAlert == nil || *sum.MedianFileToAlert != 0 {
		t.Errorf("median file→alert = %v, want 0 s on a stopped clock", sum.MedianFileToAlert)
	}
	if _, err := f.w.Alerts.List(ctx, other, district, ""); events.ErrorCode(err) != events.CodeForbidden {
		t.Errorf("list another district: %v", err)
	}
}

// TestClusterAndRevocation: five respiratory cases in one district within
// three days raise the cluster rule; a revoked card stops counting.
func TestClusterAndRevocation(t *testing.T) {
	f := newFixture(t)
	var filed []cases.Card
	for i := range 4 {
		filed = append(filed, f.w.File(f.reporter, i, f.w.Card("influenza", district+"001", "fever", "cough")))
		f.w.Advance(12 * time.Hour)
	}
	f.w.Step()
	if n := len(f.alerts("cluster-5in3")); n != 0 {
		t.Fatalf("4 cases: %d cluster alerts", n)
	}
	// Revoke one: the fifth case then makes only four.
	rev := f.w.Staff(auth.HospitalReviewer, "", filed[0].Hospital)
	if _, err := f.w.Cases.Review(f.w.Ctx, rev, filed[0].ID, cases.ReviewInput{Decision: caseevents.Revoke, Reason: "duplicate card"}); err != nil {
		t.Fatal(err)
	}
	f.w.File(f.reporter, 10, f.w.Card("influenza", district+"001", "cough"))
	f.w.Step()
	if n := len(f.alerts("cluster-5in3")); n != 0 {
		t.Fatalf("4 counted cases after a revocation: %d cluster alerts", n)
	}
	last := f.w.File(f.reporter, 11, f.w.Card("influenza", district+"001", "sore_throat"))
	f.w.Step()
	as := f.alerts("cluster-5in3")
	if len(as) != 1 {
		t.Fatalf("5 cases: %d cluster alerts, want 1", len(as))
	}
	if as[0].Raised.Observed != 5 || as[0].Raised.Trigger != last.ID || len(as[0].Raised.Cases) != 5 || slices.Contains(as[0].Raised.Cases, filed[0].ID) {
		t.Errorf("cluster alert = %+v", as[0].Raised)
	}
	// A case in another district does not count toward this one.
	xs, _ := f.w.Engine.Series(alerts.Key{Target: alertevents.TargetGroup, Code: caseevents.GroupRespiratory, Region: district}, events.Day(f.w.Now()), 3)
	if xs[0]+xs[1]+xs[2] != 5 {
		t.Errorf("respiratory series %v", xs)
	}
}

// TestReplayRaisesNothingTwice: an engine rebuilt from the ledger has no
// pending signal left, and its alerts are the same.
func TestReplayRaisesNothingTwice(t *testing.T) {
	f := newFixture(t)
	f.w.File(f.reporter, 1, f.w.Card("cholera", district+"001", "diarrhoea"))
	f.w.File(f.reporter, 2, f.w.Card("pneumonia_unknown", otherDistrict+"001", "fever", "pneumonia_imaging"))
	f.w.Step()
	before := f.w.Engine.Alerts(events.National, "", "")
	if len(before) != 2 {
		t.Fatalf("%d alerts, want 2", len(before))
	}
	replayed := alerts.NewEngine()
	size, _ := f.w.Store.Size(f.w.Ctx)
	if err := f.w.Store.Scan(f.w.Ctx, 1, size, func(rec events.Recorded) error {
		e, err := events.Parse(rec.Raw)
		if err != nil {
			return err
		}
		rec.Event = e
		p, err := f.w.Reg.Decode(context.Background(), e)
		if err != nil {
			return err
		}
		replayed.Apply(rec, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if replayed.Seq() != size {
		t.Fatalf("replayed to %d of %d", replayed.Seq(), size)
	}
	if p := replayed.Pending(); len(p) != 0 {
		t.Errorf("pending after replay: %+v", p)
	}
	after := replayed.Alerts(events.National, "", "")
	if len(after) != len(before) || after[0].ID != before[0].ID || after[1].ID != before[1].ID {
		t.Errorf("replayed alerts differ")
	}
}

// TestWebhookDeliveries: a raised alert is posted to the webhook, and a
// failing webhook is recorded as a failed delivery, not lost silently.
func TestWebhookDeliveries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		ok     bool
	}{{"accepted", 204, true}, {"refused", 500, false}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var got []map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var body map[string]any
				json.NewDecoder(r.Body).Decode(&body)
				got = append(got, body)
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			f.w.Alerts.Webhook = webhook.Poster{URL: srv.URL}.Post
			c := f.w.File(f.reporter, 1, f.w.Card("cholera", district+"001", "diarrhoea"))
			f.w.Step()
			as := f.alerts("first-case")
			if len(as) != 1 || len(got) != 1 {
				t.Fatalf("%d alerts, %d posts", len(as), len(got))
			}
			if got[0]["alert"] != as[0].ID || got[0]["signal"].(map[string]any)["trigger"] != c.ID {
				t.Errorf("posted %v", got[0])
			}
			var hook *alertevents.Delivery
			for i, d := range as[0].Deliveries {
				if d.Channel == "webhook" {
					hook = &as[0].Deliveries[i]
				}
			}
			if hook == nil || hook.OK != tc.ok || (!tc.ok && hook.Error == "") {
				t.Errorf("webhook delivery = %+v", hook)
			}
		})
	}
}
