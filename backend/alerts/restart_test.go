package alerts_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/alerts"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/casestest"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
)

// TestNoAcknowledgedCardLost files cards from several reporters while the
// JetStream server is killed and restarted twice: every card whose filing
// was acknowledged is in the ledger, in the case state and counted by the
// engine, and the engine's counts equal what the ledger holds.
func TestNoAcknowledgedCardLost(t *testing.T) {
	f := newFixture(t)
	const workers, per = 4, 20
	var (
		mu    sync.Mutex
		acked []string
		fails int
		wg    sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				for attempt := 0; ; attempt++ {
					ctx, cancel := context.WithTimeout(f.w.Ctx, 3*time.Second)
					c, err := f.w.Cases.File(ctx, f.reporter, cases.FileInput{
						Patient: cases.Patient{Name: casestest.Name(w*per + i), IDNumber: casestest.IDNumber(string(district), w*per+i), Phone: "13900000000"},
						Card:    f.w.Card("influenza", district+"001", "fever", "cough")})
					cancel()
					mu.Lock()
					if err == nil {
						acked = append(acked, c.ID)
					} else {
						fails++
					}
					mu.Unlock()
					if err == nil {
						break
					}
					if attempt > 200 {
						t.Errorf("worker %d gave up: %v", w, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	for _, at := range []int{workers * per / 4, workers * per / 2} {
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= at {
				break
			}
			time.Sleep(time.Millisecond)
		}
		f.w.NATS.Shutdown()
		time.Sleep(300 * time.Millisecond)
		f.w.NATS.Restart()
	}
	wg.Wait()
	if len(acked) != workers*per {
		t.Fatalf("%d of %d filings acknowledged", len(acked), workers*per)
	}

	// The ledger: every card filed (acknowledged or not), each once.
	size, err := f.w.Store.Size(f.w.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	if err := f.w.Store.Scan(f.w.Ctx, 1, size, func(rec events.Recorded) error {
		e, err := events.Parse(rec.Raw)
		if err == nil && e.Type == caseevents.TypeFiled {
			stored[e.Aggregate.ID]++
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		if stored[id] != 1 {
			t.Errorf("acknowledged card %s stored %d times", id, stored[id])
		}
		if _, ok := f.w.Cases.State.Card(id); !ok {
			t.Errorf("acknowledged card %s missing from the case state", id)
		}
	}
	ctx, cancel := context.WithTimeout(f.w.Ctx, 10*time.Second)
	defer cancel()
	if err := f.w.Engine.WaitFor(ctx, size); err != nil {
		t.Fatal(err)
	}
	xs, _ := f.w.Engine.Series(alerts.Key{Target: alertevents.TargetDisease, Code: "influenza", Region: district}, events.Day(f.w.Now()), 1)
	if int(xs[0]) != len(stored) {
		t.Errorf("engine counts %v influenza cards, the ledger holds %d", xs[0], len(stored))
	}
	t.Logf("%d acknowledged, %d failed attempts, %d filed in the ledger", len(acked), fails, len(stored))
}
