package donations_test

import (
	"testing"

	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/projections/donationviews"
	"github.com/onebook/onebook/projections/projectiontest"
)

// agree folds the world's whole ledger through the donation views and
// checks that every figure the service decides on is the one the views
// show: each organisation's stock (on hand, consumed, daily consumption,
// days left) and each donation's status. Both call the rules of
// events/donationevents; this test fails if either stops doing so.
func agree(t *testing.T, w *world) {
	t.Helper()
	ctx := w.Ctx
	store := projectiontest.Fold(t, w.Reg, donationviews.All(), w.Events())
	for _, org := range []string{w.hospital.ID, w.charity.ID, w.logistics.ID, w.warehouse.ID} {
		service := w.Donations.State.Stock(org)
		view, err := donationviews.ReadStock(ctx, store, org)
		if err != nil {
			t.Fatal(err)
		}
		if len(service) != len(view) {
			t.Fatalf("%s: the service knows %d stock lines, the view %d: %+v %+v", org, len(service), len(view), service, view)
		}
		for i, s := range service {
			v := view[i]
			if s.Item != v.Item || s.Spec != v.Spec || s.OnHand != v.OnHand || s.Consumed != v.Consumed || !sameDays(s.DaysLeft, v.DaysLeft) || len(s.Daily) != len(v.Daily) {
				t.Errorf("%s %s %s: service on hand %d consumed %d days left %v daily %v; view %d %d %v %v",
					org, s.Item, s.Spec, s.OnHand, s.Consumed, deref(s.DaysLeft), s.Daily, v.OnHand, v.Consumed, deref(v.DaysLeft), v.Daily)
			}
			for day, q := range s.Daily {
				if v.Daily[day] != q {
					t.Errorf("%s: consumption on %s: service %d, view %d", org, day, q, v.Daily[day])
				}
			}
		}
	}
	for _, d := range w.Donations.State.Donations(func(*donations.Donation) bool { return true }) {
		v, ok, err := donationviews.ReadDonation(ctx, store, d.ID)
		if err != nil || !ok {
			t.Fatalf("donation %s in the view: %v %v", d.ID, ok, err)
		}
		if d.Status() != v.Status {
			t.Errorf("donation %s: service says %s, the view %s", d.ID, d.Status(), v.Status)
		}
	}
}

func sameDays(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
