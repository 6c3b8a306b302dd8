package donations_test

import (
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/backend/snapshots/snapshotstest"
	"github.com/onebook/onebook/events/donationevents"
)

// TestSnapshotRoundTrip snapshots the donation state at every point of a
// donation's journey (a need, a pledge, two batches through logistics and
// a warehouse to a ward, a short receipt, three days of consumption, a
// review, a second need closed) and checks each restore against the fold
// (snapshotstest.RoundTrip).
func TestSnapshotRoundTrip(t *testing.T) {
	w := newWorld(t)
	ctx, svc := w.Ctx, w.Donations
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	need, err := svc.PublishNeed(ctx, w.hosp, donations.NeedInput{Item: "mask_n95", Spec: "N95", Quantity: 10000, Urgency: donationevents.Critical,
		DeliverTo: "南楼物资库", ValidUntil: start.Add(7 * 24 * time.Hour)})
	must(need, err)
	gloves, err := svc.PublishNeed(ctx, w.hosp, donations.NeedInput{Item: "gloves", Spec: "M", Quantity: 500, Urgency: donationevents.Normal,
		DeliverTo: "南楼物资库", ValidUntil: start.Add(3 * 24 * time.Hour)})
	must(gloves, err)
	d, err := svc.Pledge(ctx, w.char, donations.PledgeInput{Need: need.ID, Lines: []donationevents.Line{n95(6000)}})
	must(d, err)
	hops := []struct {
		from, to auth.Principal
		org      string
		unit     string
		received []donationevents.Lot
	}{
		{w.char, w.logi, w.logistics.ID, "", []donationevents.Lot{lot(4000, "B1"), lot(1990, "B2")}},
		{w.logi, w.ware, w.warehouse.ID, "", []donationevents.Lot{lot(4000, "B1"), lot(1990, "B2")}},
		{w.ware, w.hosp, w.hospital.ID, "呼吸科", []donationevents.Lot{lot(4000, "B1"), lot(1990, "B2")}},
	}
	sent := []donationevents.Lot{lot(4000, "B1"), lot(2000, "B2")}
	for i, h := range hops {
		must(svc.Dispatch(ctx, h.from, d.ID, donations.DispatchInput{To: donationevents.Receiver{Org: h.org, Unit: h.unit}, Lots: sent}))
		w.Advance(6 * time.Hour)
		in := donations.ReceiveInput{Lots: h.received, Condition: donationevents.Intact, PhotoHash: photo}
		if i == 0 {
			in.Condition, in.Note = donationevents.Damaged, "一箱破损"
		}
		must(svc.Confirm(ctx, h.to, d.ID, i+1, in))
		sent = h.received
	}
	for range 3 {
		must(svc.Consume(ctx, w.hosp, donations.ConsumeInput{Item: "mask_n95", Spec: "N95", Quantity: 1000}))
		w.Advance(24 * time.Hour)
	}
	must(svc.Review(ctx, w.Staff(auth.DonationReviewer, "42", ""), d.ID, donations.ReviewInput{Verdict: donationevents.Consistent}))
	must(svc.CloseNeed(ctx, w.hosp, gloves.ID, "supplied by the city"))

	all := func(*donations.Donation) bool { return true }
	reads := snapshotstest.Reads[*donations.State]{
		"Donation":  func(s *donations.State) any { x, ok := s.Donation(d.ID); return []any{x, ok} },
		"Donations": func(s *donations.State) any { return s.Donations(all) },
		"Need":      func(s *donations.State) any { x, ok := s.Need(need.ID); return []any{x, ok} },
		"Need closed": func(s *donations.State) any {
			x, ok := s.Need(gloves.ID)
			return []any{x, ok}
		},
		"Needs": func(s *donations.State) any { return s.Needs(func(donations.Need) bool { return true }) },
	}
	for _, org := range []string{w.charity.ID, w.logistics.ID, w.warehouse.ID, w.hospital.ID} {
		reads["Stock "+org] = func(s *donations.State) any { return s.Stock(org) }
	}
	snapshotstest.RoundTrip(t, snapshotstest.Events(ctx, t, w.Store, w.Reg), donations.NewState, reads)
}
