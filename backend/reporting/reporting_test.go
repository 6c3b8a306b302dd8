package reporting

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/caseviews"
	"github.com/onebook/onebook/projections/donationviews"
	"github.com/onebook/onebook/projections/memstore"
)

// now is 2026-11-25 10:00 CST.
var now = time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)

const day = "2026-11-25"

// views holds a day of case counts (cards of residents of 31 and 44 filed
// in 31's hospitals) and donations, as the province's projectors would.
func views(t *testing.T, measles int64) *memstore.Store {
	t.Helper()
	ctx := context.Background()
	st := memstore.New()
	child := func(total int64, diseases map[string]int64) caseviews.ChildCounts {
		return caseviews.ChildCounts{Total: total, Diseases: diseases, Groups: map[string]int64{"rash": total}}
	}
	docs := []*projections.Doc{
		{ID: caseviews.CountKey("CN", day), State: &caseviews.DayCounts{Region: "CN", Day: day, Total: measles + 3,
			Children: map[string]caseviews.ChildCounts{"31": child(measles+1, nil), "44": child(2, nil)}}},
		{ID: caseviews.CountKey("31", day), State: &caseviews.DayCounts{Region: "31", Day: day, Total: measles + 1,
			Children: map[string]caseviews.ChildCounts{"3101": child(measles+1, map[string]int64{"measles": measles, "cholera": 1})}}},
		{ID: caseviews.CountKey("44", day), State: &caseviews.DayCounts{Region: "44", Day: day, Total: 2,
			Children: map[string]caseviews.ChildCounts{"4401": child(2, map[string]int64{"measles": 2})}}},
	}
	if err := st.Put(ctx, caseviews.Counts(), docs); err != nil {
		t.Fatal(err)
	}
	don := &donationviews.DailyTotals{Day: day, Totals: aggregates.DonationTotals{
		Items: map[string]aggregates.ItemTotals{"mask_n95": {Pledged: 1000}}, Pledges: 1}}
	if err := st.Put(ctx, donationviews.Daily(), []*projections.Doc{{ID: donationviews.DailyKey(day), State: don}}); err != nil {
		t.Fatal(err)
	}
	return st
}

func publisher(t *testing.T, store *ledger.Store, v projections.DocStore) *Publisher {
	return &Publisher{Province: "31", Store: store, Reg: schemas.Registry(), Views: v, Days: 2, Now: func() time.Time { return now }}
}

// ledgerEvents returns the ledger's events in order, decoded.
func ledgerEvents(t *testing.T, s *ledger.Store) []events.Payload {
	t.Helper()
	ctx := context.Background()
	size, err := s.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg := schemas.Registry()
	var out []events.Payload
	err = s.Scan(ctx, 1, size, func(r events.Recorded) error {
		e, err := events.Parse(r.Raw)
		if err != nil {
			return err
		}
		p, err := reg.Decode(ctx, e)
		out = append(out, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPublisher: a round publishes the day's figures once, a repeated or
// restarted round nothing, a change as the next revision, and two
// publishers racing record each revision once.
func TestPublisher(t *testing.T) {
	l := natstest.OpenLedger(t, time.Minute)
	ctx, store := l.Ctx, l.Store
	v := views(t, 6)
	round := func(p *Publisher, want Result) {
		t.Helper()
		got, err := p.Round(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("round: %+v, want %+v", got, want)
		}
	}
	// Two days, three figures: the day before had nothing, nor had the
	// moves; cases and donations are published.
	round(publisher(t, store, v), Result{Published: 2, Unchanged: 4})
	round(publisher(t, store, v), Result{Unchanged: 6}) // a restarted replica
	evs := ledgerEvents(t, store)
	if len(evs) != 2 {
		t.Fatalf("ledger holds %d events, want 2", len(evs))
	}
	c := evs[0].(aggregates.Cases)
	if c.Revision != 1 || c.Total != 9 || len(c.Cities) != 1 || c.Cities[0].Diseases["measles"] != 6 || c.Cities[0].Diseases["cholera"] != 1 || c.Other != 2 {
		t.Errorf("cases: %+v", c)
	}

	// A late card: the day is corrected by revision 2, whole.
	v2 := views(t, 7)
	round(publisher(t, store, v2), Result{Corrected: 1, Unchanged: 5})
	round(publisher(t, store, v2), Result{Unchanged: 6})
	evs = ledgerEvents(t, store)
	if c := evs[len(evs)-1].(aggregates.Cases); len(evs) != 3 || c.Revision != 2 || c.Total != 10 || c.Cities[0].Diseases["measles"] != 7 {
		t.Errorf("after the correction the ledger holds %d events, the last %+v", len(evs), evs[len(evs)-1])
	}

	// Back to the first figure: it is published again, as revision 3
	// (with an id of its own, not revision 1's).
	round(publisher(t, store, v), Result{Corrected: 1, Unchanged: 5})
	if evs = ledgerEvents(t, store); len(evs) != 4 || evs[3].(aggregates.Cases).Revision != 3 {
		t.Errorf("ledger holds %d events, want 4 ending with revision 3", len(evs))
	}
}

// TestPublishersRace: two replicas that both think they hold the lease
// publish the same new figures at once; each figure is recorded once.
func TestPublishersRace(t *testing.T) {
	l := natstest.OpenLedger(t, time.Minute)
	ctx, store := l.Ctx, l.Store
	v := views(t, 6)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A loser may see a conflict; the next round settles it.
			_, _ = publisher(t, store, v).Round(ctx)
		}()
	}
	wg.Wait()
	if r, err := publisher(t, store, v).Round(ctx); err != nil || r.Published+r.Corrected != 0 {
		t.Fatalf("a round after the race: %+v, %v", r, err)
	}
	if evs := ledgerEvents(t, store); len(evs) != 2 {
		t.Fatalf("ledger holds %d events after the race, want 2", len(evs))
	}
}
