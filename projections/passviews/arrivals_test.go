package passviews_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/passviews"
	"github.com/onebook/onebook/projections/projectiontest"
)

// TestArrivals folds declarations of two days in two cities of province
// 31 and checks what the province's arrivals figure makes of them: a stay
// in another province counts on the first day it is declared, once per
// person, and regions of the province itself never count.
func TestArrivals(t *testing.T) {
	reg := registry()
	l := &ledger{t: t, reg: reg}
	d1 := time.Date(2026, 2, 1, 2, 0, 0, 0, time.UTC) // 10:00 CST
	d2 := d1.Add(24 * time.Hour)
	declare := func(at time.Time, community events.Region, person string, visited ...events.Region) {
		l.add(residents.TypeDeclared, events.Aggregate{Kind: residents.Kind, ID: "h-" + person}, community, at, residents.Declared{
			PersonID: person, Temperature: 36.5, Symptoms: []string{}, Visited: visited, Status: residents.Green, StatusReason: "ok", RulesVersion: 1})
	}
	shanghai, chongming := events.Region("310101001001"), events.Region("310230001001") // cities 3101 and 3102
	for i := range 6 {
		p := fmt.Sprintf("w%d", i)
		declare(d1, shanghai, p, "420106")              // day 1: six from Hubei
		declare(d1.Add(time.Hour), shanghai, p, "4201") // again the same day: once
		declare(d2, shanghai, p, "420106", "110105")    // day 2: Hubei again (not new), Beijing new
	}
	declare(d2, chongming, "b1", "110105") // day 2, another city of 31
	declare(d2, chongming, "b2", "310104") // own province: not an arrival
	declare(d2, chongming, "b3")           // nothing visited: not in the view
	store := projectiontest.Fold(t, reg, []projections.Projection{passviews.Arrivals()}, l.evs)

	ctx := context.Background()
	figure := func(day, before string) aggregates.Moves {
		today, p1, err := passviews.ReadArrivals(ctx, store, "31", day)
		if err != nil {
			t.Fatal(err)
		}
		yesterday, p2, err := passviews.ReadArrivals(ctx, store, "31", before)
		if err != nil {
			t.Fatal(err)
		}
		return aggregates.MoveFigure("31", day, 5, today, yesterday, p1 || p2)
	}
	if got := figure("2026-02-01", "2026-01-31"); !reflect.DeepEqual(got.From, map[string]int64{"42": 6}) || got.Other != 0 {
		t.Errorf("day 1: from %v other %d, want 6 from 42", got.From, got.Other)
	}
	if got := figure("2026-02-02", "2026-02-01"); !reflect.DeepEqual(got.From, map[string]int64{"11": 7}) || got.Other != 0 {
		t.Errorf("day 2: from %v other %d, want 7 from 11 and none again from 42", got.From, got.Other)
	}
	doc := projectiontest.Get[passviews.ArrivalDay](t, store, passviews.Arrivals(), "3101@20260202")
	if len(doc.Named) != 6 || !reflect.DeepEqual(doc.Named["w0"], []string{"11", "42"}) {
		t.Errorf("3101 day 2 holds %v", doc.Named)
	}
	if _, _, err := passviews.ReadArrivals(ctx, store, "3101", "2026-02-02"); err == nil {
		t.Error("a city was taken for a province")
	}
}
