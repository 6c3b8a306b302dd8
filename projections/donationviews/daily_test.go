package donationviews_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/donationviews"
	"github.com/onebook/onebook/projections/projectiontest"
)

// TestDaily folds donation events of two days (a province's ledger, with
// an individual's pledge of region CN) and reads each day's totals, as
// the province publisher does.
func TestDaily(t *testing.T) {
	l := newLedger(t)
	l.donation("d1", "110105", donorAcc, at(0), donationevents.Pledged{Donor: donorOrg, Lines: []donationevents.Line{line("mask_n95", "KN95", 1000)}})
	l.donation("d1", "110105", donorAcc, at(10), donationevents.Dispatched{Hop: 1, From: donorOrg, To: donationevents.Receiver{Org: "h-1"},
		Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B1", 1000)}})
	l.donation("d1", "110105", member1, at(20), donationevents.Received{Hop: 1, Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B1", 990)},
		Condition: donationevents.Intact, PhotoHash: photo, Flags: []string{donationevents.FlagShort}, Note: "10 missing"})
	l.donation("d2", "CN", resident, at(30), donationevents.Pledged{Donor: person, Lines: []donationevents.Line{line("gloves", "M", 50)}})
	l.consume("h-1", at(40), "mask_n95", "KN95", 300, "2026-11-24") // counts on the day it names
	store := projectiontest.Fold(t, registry(), []projections.Projection{donationviews.Daily()}, l.Events)

	ctx := context.Background()
	for _, tc := range []struct {
		day  string
		want aggregates.DonationTotals
	}{
		{"2026-11-25", aggregates.DonationTotals{Items: map[string]aggregates.ItemTotals{"mask_n95": {Pledged: 1000, Dispatched: 1000, Received: 990},
			"gloves": {Pledged: 50}}, Pledges: 2, Hops: 1, Receipts: 1, Short: 1}},
		{"2026-11-24", aggregates.DonationTotals{Items: map[string]aggregates.ItemTotals{"mask_n95": {Consumed: 300}}, Consumed: 1}},
		{"2026-11-23", aggregates.DonationTotals{}},
	} {
		got, err := donationviews.ReadDaily(ctx, store, tc.day)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.day, got, tc.want)
		}
	}
}
