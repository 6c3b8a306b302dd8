package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/events/orgs"
)

// DemoDonations adds a week of material donations to the demo, through the
// same service calls organisations make, on a simulated clock: a charity, a
// company, a logistics firm and an emergency-supplies warehouse are
// registered and approved; the demo hospitals publish needs; the company's
// N95 masks travel company → logistics → warehouse → hospital ward (one box
// arrives damaged and short), the charity's protective clothing goes through
// the warehouse, an individual sends surgical masks straight to a hospital;
// the hospital records daily consumption; reviewers review and re-review,
// one donation is escalated. Runs once, after DemoCases (it uses its
// hospitals).
func DemoDonations(ctx context.Context, people *accounts.Service, ds *donations.Service, log *slog.Logger) error {
	if len(ds.State.Donations(func(*donations.Donation) bool { return true })) > 0 {
		log.Info("donation demo skipped: donations exist")
		return nil
	}
	hospitals := people.Orgs(orgs.Hospital, events.National)
	if len(hospitals) < 2 {
		return fmt.Errorf("donation demo: needs the case demo's hospitals")
	}
	start := time.Now().UTC().Add(-7 * 24 * time.Hour).Truncate(time.Hour)
	now := start
	clock := func() time.Time { return now }
	acc, svc := *people, *ds
	acc.Now, svc.Now = clock, clock
	sys := auth.Principal{Subject: "demo", Role: auth.System, Scope: events.National}

	org := func(kind, name string, region events.Region) (accounts.Org, auth.Principal, error) {
		sum := sha256.Sum256([]byte(name))
		o, err := acc.RegisterOrg(ctx, sys, accounts.OrgInput{Kind: kind, Name: name, Region: region, Licence: demoLicence(name),
			DocsHash: hex.EncodeToString(sum[:]), Approve: true})
		if err != nil {
			return accounts.Org{}, auth.Principal{}, fmt.Errorf("demo organisation %s: %w", name, err)
		}
		p, err := demoOrgStaff(ctx, &acc, sys, auth.OrgMember, o.ID, "demo-member-"+kind)
		return o, p, err
	}
	charity, charityP, err := org(orgs.Charity, "北京市红十字会", "110102")
	if err != nil {
		return err
	}
	company, companyP, err := org(orgs.Donor, "北京某科技有限公司", "110108")
	if err != nil {
		return err
	}
	logistics, logisticsP, err := org(orgs.Logistics, "京东物流北京分拨中心", "110112")
	if err != nil {
		return err
	}
	warehouse, warehouseP, err := org(orgs.Warehouse, "北京市应急物资储备库", "110105")
	if err != nil {
		return err
	}
	var hospP []auth.Principal
	for i, h := range hospitals[:2] {
		p, err := demoOrgStaff(ctx, &acc, sys, auth.OrgMember, h.ID, fmt.Sprintf("demo-member-hospital-%d", i))
		if err != nil {
			return err
		}
		hospP = append(hospP, p)
	}
	rev1, err := demoStaff(ctx, &acc, sys, auth.DonationReviewer, "11", "demo-donation-reviewer-1")
	if err != nil {
		return err
	}
	rev2, err := demoStaff(ctx, &acc, sys, auth.DonationReviewer, "1101", "demo-donation-reviewer-2")
	if err != nil {
		return err
	}

	n95, err := svc.PublishNeed(ctx, hospP[0], donations.NeedInput{Item: "mask_n95", Spec: "N95", Quantity: 5000, Urgency: donationevents.Critical,
		DeliverTo: "门诊楼地下一层物资库", ValidUntil: now.Add(14 * 24 * time.Hour)})
	if err != nil {
		return fmt.Errorf("demo need: %w", err)
	}
	if _, err := svc.PublishNeed(ctx, hospP[0], donations.NeedInput{Item: "protective_clothing", Spec: "175", Quantity: 2000, Urgency: donationevents.High,
		DeliverTo: "门诊楼地下一层物资库", ValidUntil: now.Add(14 * 24 * time.Hour)}); err != nil {
		return fmt.Errorf("demo need: %w", err)
	}
	if _, err := svc.PublishNeed(ctx, hospP[1], donations.NeedInput{Item: "mask_surgical", Spec: "17.5cm×9.5cm", Quantity: 20000, Urgency: donationevents.Normal,
		DeliverTo: "后勤仓库", ValidUntil: now.Add(20 * 24 * time.Hour)}); err != nil {
		return fmt.Errorf("demo need: %w", err)
	}
	photo := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	step := func(d time.Duration) { now = now.Add(d) }

	// The company's N95 masks: four hops, one short receipt.
	step(2 * time.Hour)
	masks, err := svc.Pledge(ctx, companyP, donations.PledgeInput{Need: n95.ID, Lines: []donationevents.Line{{Item: "mask_n95", Spec: "N95", Quantity: 3000}}, Note: "驰援一线"})
	if err != nil {
		return fmt.Errorf("demo pledge: %w", err)
	}
	lots := []donationevents.Lot{{Line: donationevents.Line{Item: "mask_n95", Spec: "N95", Quantity: 2000}, Batch: "3M-2001A"}, {Line: donationevents.Line{Item: "mask_n95", Spec: "N95", Quantity: 1000}, Batch: "3M-2001B"}}
	arrived := []donationevents.Lot{lots[0], {Line: donationevents.Line{Item: "mask_n95", Spec: "N95", Quantity: 980}, Batch: "3M-2001B"}}
	hops := []struct {
		from, to auth.Principal
		org      accounts.Org
		unit     string
		sent     []donationevents.Lot
		got      []donationevents.Lot
		note     string
	}{
		{companyP, logisticsP, logistics, "", lots, lots, ""},
		{logisticsP, warehouseP, warehouse, "", lots, arrived, "一箱外包装破损，20只污损已剔除"},
		{warehouseP, hospP[0], hospitals[0], "", arrived, arrived, ""},
	}
	for i, h := range hops {
		step(3 * time.Hour)
		if _, err := svc.Dispatch(ctx, h.from, masks.ID, donations.DispatchInput{To: donationevents.Receiver{Org: h.org.ID, Unit: h.unit}, Lots: h.sent, Via: fmt.Sprintf("京东物流 JD%010d", 7310000+i)}); err != nil {
			return fmt.Errorf("demo dispatch %d: %w", i+1, err)
		}
		step(5 * time.Hour)
		cond := donationevents.Intact
		if h.note != "" {
			cond = donationevents.Damaged
		}
		if _, err := svc.Confirm(ctx, h.to, masks.ID, i+1, donations.ReceiveInput{Lots: h.got, Condition: cond, PhotoHash: photo(fmt.Sprint("masks", i)), Note: h.note}); err != nil {
			return fmt.Errorf("demo receipt %d: %w", i+1, err)
		}
	}
	// The hospital records its daily consumption (per ward).
	for day := 0; day < 5; day++ {
		now = start.Add(time.Duration(2+day)*24*time.Hour + 20*time.Hour)
		if _, err := svc.Consume(ctx, hospP[0], donations.ConsumeInput{Item: "mask_n95", Spec: "N95", Quantity: int64(300 + 40*day), Unit: "呼吸科"}); err != nil {
			return fmt.Errorf("demo consumption: %w", err)
		}
	}

	// The charity's protective clothing, through the warehouse.
	now = start.Add(24 * time.Hour)
	clothing, err := svc.Pledge(ctx, charityP, donations.PledgeInput{Lines: []donationevents.Line{{Item: "protective_clothing", Spec: "175", Quantity: 800}}})
	if err != nil {
		return fmt.Errorf("demo pledge: %w", err)
	}
	cl := []donationevents.Lot{{Line: donationevents.Line{Item: "protective_clothing", Spec: "175", Quantity: 800}, Batch: "GB19082-A17"}}
	for i, h := range []struct {
		from, to auth.Principal
		org      accounts.Org
	}{{charityP, warehouseP, warehouse}, {warehouseP, hospP[0], hospitals[0]}} {
		step(6 * time.Hour)
		if _, err := svc.Dispatch(ctx, h.from, clothing.ID, donations.DispatchInput{To: donationevents.Receiver{Org: h.org.ID}, Lots: cl}); err != nil {
			return fmt.Errorf("demo dispatch: %w", err)
		}
		step(4 * time.Hour)
		if _, err := svc.Confirm(ctx, h.to, clothing.ID, i+1, donations.ReceiveInput{Lots: cl, Condition: donationevents.Intact, PhotoHash: photo(fmt.Sprint("clothing", i))}); err != nil {
			return fmt.Errorf("demo receipt: %w", err)
		}
	}

	// An individual's surgical masks, straight to the second hospital.
	now = start.Add(3 * 24 * time.Hour)
	person := acc.SignIn("demo-individual-donor")
	sm, err := svc.Pledge(ctx, person, donations.PledgeInput{Lines: []donationevents.Line{{Item: "mask_surgical", Spec: "17.5cm×9.5cm", Quantity: 500}}, DisplayName: "一位热心市民"})
	if err != nil {
		return fmt.Errorf("demo individual pledge: %w", err)
	}
	sml := []donationevents.Lot{{Line: donationevents.Line{Item: "mask_surgical", Spec: "17.5cm×9.5cm", Quantity: 500}, Batch: "YY0469-2020-03"}}
	step(2 * time.Hour)
	if _, err := svc.Dispatch(ctx, person, sm.ID, donations.DispatchInput{To: donationevents.Receiver{Org: hospitals[1].ID}, Lots: sml, Via: "顺丰 SF1048"}); err != nil {
		return fmt.Errorf("demo individual dispatch: %w", err)
	}
	step(20 * time.Hour)
	if _, err := svc.Confirm(ctx, hospP[1], sm.ID, 1, donations.ReceiveInput{Lots: sml, Condition: donationevents.Intact, PhotoHash: photo("surgical")}); err != nil {
		return fmt.Errorf("demo individual receipt: %w", err)
	}

	// Reviews: the clothing checks out twice; the masks' review and
	// re-review disagree about the damaged box, and the donation escalates.
	now = start.Add(6 * 24 * time.Hour)
	for _, r := range []struct {
		p       auth.Principal
		id      string
		verdict string
		note    string
	}{
		{rev1, clothing.ID, donationevents.Consistent, ""},
		{rev2, clothing.ID, donationevents.Consistent, ""},
		{rev1, masks.ID, donationevents.Consistent, "破损已说明"},
		{rev2, masks.ID, donationevents.Inconsistent, "破损口罩的处置去向未记录"},
	} {
		step(time.Hour)
		if _, err := svc.Review(ctx, r.p, r.id, donations.ReviewInput{Verdict: r.verdict, Note: r.note}); err != nil {
			return fmt.Errorf("demo review: %w", err)
		}
	}
	log.Info("donation demo data", "organisations", 4, "needs", 3, "donations", 3, "company", company.ID, "charity", charity.ID)
	return nil
}
