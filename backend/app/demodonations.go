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
func DemoDonations(ctx context.Context, place DemoPlace, people *accounts.Service, ds *donations.Service, log *slog.Logger) error {
	if len(ds.State.Donations(func(*donations.Donation) bool { return true })) > 0 {
		log.Info("donation demo skipped: donations exist")
		return nil
	}
	d := &donationDemo{hospitals: people.Orgs(orgs.Hospital, events.National), start: time.Now().UTC().Add(-7 * 24 * time.Hour).Truncate(time.Hour),
		sys: auth.Principal{Subject: "demo", Role: auth.System, Scope: events.National}, place: place}
	if len(d.hospitals) < 2 {
		return fmt.Errorf("donation demo: needs the case demo's hospitals")
	}
	d.now = d.start
	clock := func() time.Time { return d.now }
	d.acc, d.svc = *people, *ds
	d.acc.Now, d.svc.Now = clock, clock
	for _, step := range []func(context.Context) error{d.members, d.needs, d.masks, d.clothing, d.individual, d.reviews} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	log.Info("donation demo data", "organisations", 4, "needs", 3, "donations", 3, "company", d.company.ID, "charity", d.charity.ID)
	return nil
}

// donationDemo is the donation demo under way: copies of the services
// whose clock is its simulated now, the organisations, their members and
// what was pledged so far.
type donationDemo struct {
	start, now                     time.Time
	acc                            accounts.Service
	svc                            donations.Service
	sys                            auth.Principal
	hospitals                      []accounts.Org
	charity, company               accounts.Org
	logistics, warehouse           accounts.Org
	charityP, companyP, logisticsP auth.Principal
	warehouseP                     auth.Principal
	hospP                          []auth.Principal
	rev1, rev2                     auth.Principal
	n95                            donations.Need
	masksID, clothingID            string
	place                          DemoPlace
}

func (d *donationDemo) step(by time.Duration) { d.now = d.now.Add(by) }

// org registers and approves an organisation and binds a member to it.
func (d *donationDemo) org(ctx context.Context, kind, name string, region events.Region) (accounts.Org, auth.Principal, error) {
	sum := sha256.Sum256([]byte(name))
	o, err := d.acc.RegisterOrg(ctx, d.sys, accounts.OrgInput{Kind: kind, Name: name, Region: region, Licence: demoLicence(name, d.place.district()),
		DocsHash: hex.EncodeToString(sum[:]), Approve: true})
	if err != nil {
		return accounts.Org{}, auth.Principal{}, fmt.Errorf("demo organisation %s: %w", name, err)
	}
	p, err := demoOrgStaff(ctx, &d.acc, d.sys, auth.OrgMember, o.ID, "demo-member-"+kind)
	return o, p, err
}

// members: a charity, a company, a logistics firm and an emergency-supplies
// warehouse with a member each, a member of each of two hospitals, and two
// donation reviewers.
func (d *donationDemo) members(ctx context.Context) error {
	var err error
	if d.charity, d.charityP, err = d.org(ctx, orgs.Charity, d.place.name("北京市红十字会", "市红十字会"), d.place.region("110102")); err != nil {
		return err
	}
	if d.company, d.companyP, err = d.org(ctx, orgs.Donor, d.place.name("北京某科技有限公司", "某科技有限公司"), d.place.region("110108")); err != nil {
		return err
	}
	if d.logistics, d.logisticsP, err = d.org(ctx, orgs.Logistics, d.place.name("京东物流北京分拨中心", "物流分拨中心"), d.place.region("110112")); err != nil {
		return err
	}
	if d.warehouse, d.warehouseP, err = d.org(ctx, orgs.Warehouse, d.place.name("北京市应急物资储备库", "市应急物资储备库"), d.place.region("110105")); err != nil {
		return err
	}
	for i, h := range d.hospitals[:2] {
		p, err := demoOrgStaff(ctx, &d.acc, d.sys, auth.OrgMember, h.ID, fmt.Sprintf("demo-member-hospital-%d", i))
		if err != nil {
			return err
		}
		d.hospP = append(d.hospP, p)
	}
	if d.rev1, err = demoStaff(ctx, &d.acc, d.sys, auth.DonationReviewer, d.place.region("11"), "demo-donation-reviewer-1"); err != nil {
		return err
	}
	d.rev2, err = demoStaff(ctx, &d.acc, d.sys, auth.DonationReviewer, d.place.region("1101"), "demo-donation-reviewer-2")
	return err
}

// needs: the hospitals publish three needs.
func (d *donationDemo) needs(ctx context.Context) error {
	var err error
	d.n95, err = d.svc.PublishNeed(ctx, d.hospP[0], donations.NeedInput{Item: "mask_n95", Spec: "N95", Quantity: 5000, Urgency: donationevents.Critical,
		DeliverTo: "门诊楼地下一层物资库", ValidUntil: d.now.Add(14 * 24 * time.Hour)})
	if err != nil {
		return fmt.Errorf("demo need: %w", err)
	}
	if _, err := d.svc.PublishNeed(ctx, d.hospP[0], donations.NeedInput{Item: "protective_clothing", Spec: "175", Quantity: 2000, Urgency: donationevents.High,
		DeliverTo: "门诊楼地下一层物资库", ValidUntil: d.now.Add(14 * 24 * time.Hour)}); err != nil {
		return fmt.Errorf("demo need: %w", err)
	}
	if _, err := d.svc.PublishNeed(ctx, d.hospP[1], donations.NeedInput{Item: "mask_surgical", Spec: "17.5cm×9.5cm", Quantity: 20000, Urgency: donationevents.Normal,
		DeliverTo: "后勤仓库", ValidUntil: d.now.Add(20 * 24 * time.Hour)}); err != nil {
		return fmt.Errorf("demo need: %w", err)
	}
	return nil
}

// demoHop is one hop of a donation: dispatched by from to the organisation
// to, received by its member to, after the given waits.
type demoHop struct {
	from, to         auth.Principal
	org              accounts.Org
	sent, got        []donationevents.Lot
	note, via, photo string
	before, transit  time.Duration
}

// hops sends donation id along hops, numbered from 1, each confirmed by
// its receiver (damaged when it carries a note).
func (d *donationDemo) hops(ctx context.Context, id string, hops []demoHop) error {
	for i, h := range hops {
		d.step(h.before)
		if _, err := d.svc.Dispatch(ctx, h.from, id, donations.DispatchInput{To: donationevents.Receiver{Org: h.org.ID}, Lots: h.sent, Via: h.via}); err != nil {
			return fmt.Errorf("demo dispatch %d: %w", i+1, err)
		}
		d.step(h.transit)
		cond := donationevents.Intact
		if h.note != "" {
			cond = donationevents.Damaged
		}
		sum := sha256.Sum256([]byte(h.photo))
		if _, err := d.svc.Confirm(ctx, h.to, id, i+1, donations.ReceiveInput{Lots: h.got, Condition: cond, PhotoHash: hex.EncodeToString(sum[:]), Note: h.note}); err != nil {
			return fmt.Errorf("demo receipt %d: %w", i+1, err)
		}
	}
	return nil
}

// masks: the company's N95 masks travel company → logistics → warehouse →
// hospital (one box arrives damaged and short); the hospital records its
// daily consumption.
func (d *donationDemo) masks(ctx context.Context) error {
	d.step(2 * time.Hour)
	masks, err := d.svc.Pledge(ctx, d.companyP, donations.PledgeInput{Need: d.n95.ID, Lines: []donationevents.Line{{Item: "mask_n95", Spec: "N95", Quantity: 3000}}, Note: "驰援一线"})
	if err != nil {
		return fmt.Errorf("demo pledge: %w", err)
	}
	d.masksID = masks.ID
	lots := []donationevents.Lot{{Line: donationevents.Line{Item: "mask_n95", Spec: "N95", Quantity: 2000}, Batch: "3M-2001A"}, {Line: donationevents.Line{Item: "mask_n95", Spec: "N95", Quantity: 1000}, Batch: "3M-2001B"}}
	arrived := []donationevents.Lot{lots[0], {Line: donationevents.Line{Item: "mask_n95", Spec: "N95", Quantity: 980}, Batch: "3M-2001B"}}
	via := func(i int) string { return fmt.Sprintf("京东物流 JD%010d", 7310000+i) }
	if err := d.hops(ctx, masks.ID, []demoHop{
		{from: d.companyP, to: d.logisticsP, org: d.logistics, sent: lots, got: lots, via: via(0), photo: "masks0", before: 3 * time.Hour, transit: 5 * time.Hour},
		{from: d.logisticsP, to: d.warehouseP, org: d.warehouse, sent: lots, got: arrived, note: "一箱外包装破损，20只污损已剔除", via: via(1), photo: "masks1", before: 3 * time.Hour, transit: 5 * time.Hour},
		{from: d.warehouseP, to: d.hospP[0], org: d.hospitals[0], sent: arrived, got: arrived, via: via(2), photo: "masks2", before: 3 * time.Hour, transit: 5 * time.Hour},
	}); err != nil {
		return err
	}
	for day := 0; day < 5; day++ { // per ward
		d.now = d.start.Add(time.Duration(2+day)*24*time.Hour + 20*time.Hour)
		if _, err := d.svc.Consume(ctx, d.hospP[0], donations.ConsumeInput{Item: "mask_n95", Spec: "N95", Quantity: int64(300 + 40*day), Unit: "呼吸科"}); err != nil {
			return fmt.Errorf("demo consumption: %w", err)
		}
	}
	return nil
}

// clothing: the charity's protective clothing, through the warehouse.
func (d *donationDemo) clothing(ctx context.Context) error {
	d.now = d.start.Add(24 * time.Hour)
	clothing, err := d.svc.Pledge(ctx, d.charityP, donations.PledgeInput{Lines: []donationevents.Line{{Item: "protective_clothing", Spec: "175", Quantity: 800}}})
	if err != nil {
		return fmt.Errorf("demo pledge: %w", err)
	}
	d.clothingID = clothing.ID
	cl := []donationevents.Lot{{Line: donationevents.Line{Item: "protective_clothing", Spec: "175", Quantity: 800}, Batch: "GB19082-A17"}}
	return d.hops(ctx, clothing.ID, []demoHop{
		{from: d.charityP, to: d.warehouseP, org: d.warehouse, sent: cl, got: cl, photo: "clothing0", before: 6 * time.Hour, transit: 4 * time.Hour},
		{from: d.warehouseP, to: d.hospP[0], org: d.hospitals[0], sent: cl, got: cl, photo: "clothing1", before: 6 * time.Hour, transit: 4 * time.Hour},
	})
}

// individual: a resident's surgical masks, straight to the second hospital.
func (d *donationDemo) individual(ctx context.Context) error {
	d.now = d.start.Add(3 * 24 * time.Hour)
	person := d.acc.SignIn("demo-individual-donor")
	sm, err := d.svc.Pledge(ctx, person, donations.PledgeInput{Lines: []donationevents.Line{{Item: "mask_surgical", Spec: "17.5cm×9.5cm", Quantity: 500}}, DisplayName: "一位热心市民"})
	if err != nil {
		return fmt.Errorf("demo individual pledge: %w", err)
	}
	sml := []donationevents.Lot{{Line: donationevents.Line{Item: "mask_surgical", Spec: "17.5cm×9.5cm", Quantity: 500}, Batch: "YY0469-2020-03"}}
	return d.hops(ctx, sm.ID, []demoHop{
		{from: person, to: d.hospP[1], org: d.hospitals[1], sent: sml, got: sml, via: "顺丰 SF1048", photo: "surgical", before: 2 * time.Hour, transit: 20 * time.Hour},
	})
}

// reviews: the clothing checks out twice; the masks' review and re-review
// disagree about the damaged box, and the donation escalates.
func (d *donationDemo) reviews(ctx context.Context) error {
	d.now = d.start.Add(6 * 24 * time.Hour)
	for _, r := range []struct {
		p       auth.Principal
		id      string
		verdict string
		note    string
	}{
		{d.rev1, d.clothingID, donationevents.Consistent, ""},
		{d.rev2, d.clothingID, donationevents.Consistent, ""},
		{d.rev1, d.masksID, donationevents.Consistent, "破损已说明"},
		{d.rev2, d.masksID, donationevents.Inconsistent, "破损口罩的处置去向未记录"},
	} {
		d.step(time.Hour)
		if _, err := d.svc.Review(ctx, r.p, r.id, donations.ReviewInput{Verdict: r.verdict, Note: r.note}); err != nil {
			return fmt.Errorf("demo review: %w", err)
		}
	}
	return nil
}
