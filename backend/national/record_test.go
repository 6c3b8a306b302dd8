package national

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/nationevents"
)

// TestNationalAlertsRecorded: the alarms the national rules raise on the
// provinces' figures (TestNationalAlertFromAggregates' outbreak, which
// reaches the national ledger through the OUTBOX streams) are recorded in
// the national ledger, each once — across a second round, a restarted
// recorder with a state folded afresh from the ledger, and two recorders
// racing — and the views answer from what is recorded; 31's correction
// clears the two alarms of the last day, once.
//
// The outbreak raises five alarms in the recorder's 31 days: the two of
// the last day, and EARS C2 on its first three days, when 44's 6 cards a
// day follow days with none (provinces publish no empty day).
func TestNationalAlertsRecorded(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	nat := newNation(t, ctx)
	last, _, _ := nat.outbreak()
	day, _ := time.Parse(time.DateOnly, last)
	clock := events.Clock(func() time.Time { return day.Add(10 * time.Hour) }) // the last day, CST afternoon
	recorder := func() *Recorder {
		return &Recorder{State: nat.follow(ctx), Store: nat.led, Reg: nat.reg, Now: clock}
	}
	waitSize(t, ctx, nat.led, 13) // the sourced figures arrived

	r := recorder()
	if res, err := r.Round(ctx); err != nil || res.Raised != 5 || res.Cleared != 0 {
		t.Fatalf("first round: %+v %v, want 5 raised", res, err)
	}
	if res, err := r.Round(ctx); err != nil || res != (RecordResult{}) {
		t.Errorf("second round: %+v %v, want nothing recorded", res, err)
	}
	// A restarted recorder folds the national ledger afresh; two race.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if res, err := recorder().Round(ctx); err != nil || res != (RecordResult{}) {
				t.Errorf("a restarted recorder: %+v %v, want nothing recorded", res, err)
			}
		})
	}
	wg.Wait()
	if got := alertEvents(t, ctx, nat); got[nationevents.TypeAlertRaised] != 5 || got[nationevents.TypeAlertCleared] != 0 {
		t.Fatalf("national ledger: %v, want 5 alerts raised", got)
	}
	svc := &Service{State: r.State, Now: clock}
	want := map[string]float64{"first-case/cholera@4401": 1, "ears-c2/respiratory@44": 13}
	checkAlerts(t, ctx, svc, want, StatusRaised)

	// 31 corrects its figure: both alarms are cleared, once.
	nat.correct(last)
	waitSize(t, ctx, nat.led, 19)
	if res, err := recorder().Round(ctx); err != nil || res.Cleared != 2 || res.Raised != 0 {
		t.Fatalf("after the correction: %+v %v, want 2 cleared", res, err)
	}
	if res, err := r.Round(ctx); err != nil || res != (RecordResult{}) {
		t.Errorf("a round after the clearing: %+v %v, want nothing recorded", res, err)
	}
	if got := alertEvents(t, ctx, nat); got[nationevents.TypeAlertRaised] != 5 || got[nationevents.TypeAlertCleared] != 2 {
		t.Errorf("national ledger: %v, want 5 alerts raised and 2 cleared", got)
	}
	checkAlerts(t, ctx, svc, want, StatusCleared)
	early, err := svc.Alerts(ctx, Range{From: "2026-11-01", To: "2026-11-03"})
	if err != nil || len(early) != 3 || early[0].Status != StatusRaised {
		t.Errorf("the outbreak's first days: %+v %v, want 3 alerts still raised", early, err)
	}
	if r.State.Anomalies() != 0 {
		t.Errorf("%d anomalies", r.State.Anomalies())
	}
}

// checkAlerts checks that the view of the last 7 days answers exactly the
// alerts of want (rule/code@region → observed), each with status.
func checkAlerts(t *testing.T, ctx context.Context, svc *Service, want map[string]float64, status string) {
	t.Helper()
	got, err := svc.Alerts(ctx, Range{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("/national/alerts: %+v, want %v", got, want)
	}
	for _, a := range got {
		key := a.Rule + "/" + a.Code + "@" + string(a.Region)
		obs, ok := want[key]
		if !ok || a.Observed != obs || a.Status != status {
			t.Errorf("alert %s: observed %v, status %s; want %v, %s", key, a.Observed, a.Status, obs, status)
		}
		if key == "ears-c2/respiratory@44" && (len(a.Reporting) != 2 || a.Reporting[0] != "31" || a.Reporting[1] != "44") {
			t.Errorf("alert %s reported by %v, want [31 44]", key, a.Reporting)
		}
	}
}

// waitSize waits until the ledger holds n events.
func waitSize(t *testing.T, ctx context.Context, led *ledger.Store, n uint64) {
	t.Helper()
	for {
		size, err := led.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if size >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the national ledger holds %d events, want %d", size, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// alertEvents counts the national alert events of the national ledger by
// type.
func alertEvents(t *testing.T, ctx context.Context, nat *nation) map[string]int {
	t.Helper()
	size, err := nat.led.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	err = ledger.ScanStream(ctx, nat.js, nat.led.Stream(), []string{"ledger.*." + nationevents.KindAlert + ".*"}, 1, size, func(rec events.Recorded) error {
		e, err := events.Parse(rec.Raw)
		if err == nil {
			out[e.Type]++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
