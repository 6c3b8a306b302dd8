package donations_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/casestest"
	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/events/orgs"
)

var start = time.Date(2026, 2, 3, 2, 0, 0, 0, time.UTC)

const photo = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

type world struct {
	*casestest.World
	hospital, charity, logistics, warehouse accounts.Org
	hosp, char, logi, ware                  auth.Principal
}

func newWorld(t *testing.T) *world {
	w := &world{World: casestest.New(t, start)}
	w.hospital = w.Org(orgs.Hospital, "武汉市金银潭医院", "420105001")
	w.charity = w.Org(orgs.Charity, "湖北省红十字会", "420106")
	w.logistics = w.Org(orgs.Logistics, "九州通医药物流", "420112")
	w.warehouse = w.Org(orgs.Warehouse, "武汉国际博览中心仓库", "420105")
	w.hosp = w.Staff(auth.OrgMember, "", w.hospital.ID)
	w.char = w.Staff(auth.OrgMember, "", w.charity.ID)
	w.logi = w.Staff(auth.OrgMember, "", w.logistics.ID)
	w.ware = w.Staff(auth.OrgMember, "", w.warehouse.ID)
	return w
}

func n95(q int64) donationevents.Line {
	return donationevents.Line{Item: "mask_n95", Spec: "N95", Quantity: q}
}

func lot(q int64, batch string) donationevents.Lot {
	return donationevents.Lot{Line: n95(q), Batch: batch}
}

func code(t *testing.T, err error, want events.Code, what string) {
	t.Helper()
	if events.ErrorCode(err) != want {
		t.Errorf("%s: %v, want %s", what, err, want)
	}
}

// TestDonationJourney follows a donation from a charity through a
// logistics company and a warehouse to a hospital ward, with every refusal
// on the way, then checks stock, consumption, reviews and the public trace.
func TestDonationJourney(t *testing.T) {
	w := newWorld(t)
	ctx, svc := w.Ctx, w.Donations
	need, err := svc.PublishNeed(ctx, w.hosp, donations.NeedInput{Item: "mask_n95", Spec: "N95", Quantity: 10000, Urgency: donationevents.Critical,
		DeliverTo: "南楼物资库", ValidUntil: start.Add(7 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.PublishNeed(ctx, w.char, donations.NeedInput{Item: "mask_n95", Spec: "N95", Quantity: 1, Urgency: donationevents.Normal, DeliverTo: "仓库", ValidUntil: start.Add(time.Hour)})
	code(t, err, events.CodeForbidden, "a charity publishes a need")

	_, err = svc.Pledge(ctx, w.char, donations.PledgeInput{Need: need.ID, Lines: []donationevents.Line{{Item: "gloves", Spec: "M", Quantity: 5}}})
	code(t, err, events.CodeInvalid, "pledging other items against the need")
	d, err := svc.Pledge(ctx, w.char, donations.PledgeInput{Need: need.ID, Lines: []donationevents.Line{n95(6000)}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Donor.Name != "湖北省红十字会" || d.Status() != "pledged" {
		t.Errorf("donation %+v", d)
	}

	ship(t, w, d)
	need, _ = w.Donations.State.Need(need.ID)
	if need.Pledged != 6000 || need.Received != 5990 {
		t.Errorf("need pledged %d received %d", need.Pledged, need.Received)
	}
	if st := w.Donations.State.Stock(w.warehouse.ID); len(st) != 1 || st[0].OnHand != 0 {
		t.Errorf("warehouse stock after passing everything on: %+v", st)
	}

	consume(t, w)

	r1 := reviewTwice(t, w, d)

	// The public trace: every step proven against the signed checkpoint.
	w.WaitSealed()
	tr, err := svc.Trace(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Steps) != 10 { // pledge, 3 × (dispatch, receipt), 2 reviews, escalation
		t.Fatalf("%d steps", len(tr.Steps))
	}
	verifyTrace(t, tr)

	// Supervision.
	list, err := svc.Supervise(ctx, r1, donations.SuperviseInput{Org: w.warehouse.ID, Item: "mask_n95"})
	if err != nil || len(list) != 1 {
		t.Errorf("supervise by warehouse: %v %d", err, len(list))
	}
	list, err = svc.Supervise(ctx, r1, donations.SuperviseInput{Item: "gloves"})
	if err != nil || len(list) != 0 {
		t.Errorf("supervise by gloves: %v %d", err, len(list))
	}
	_, err = svc.Supervise(ctx, w.hosp, donations.SuperviseInput{})
	code(t, err, events.CodeForbidden, "a hospital supervises")
	agree(t, w)
}

// ship takes the donation d along its chain: the charity to the logistics
// company (in two batches, 10 short on receipt), then to the warehouse,
// then to the hospital's ward, with the refusals on the way.
func ship(t *testing.T, w *world, d donations.Donation) {
	t.Helper()
	ctx, svc := w.Ctx, w.Donations
	_, err := svc.Dispatch(ctx, w.char, d.ID, donations.DispatchInput{To: donationevents.Receiver{Org: w.logistics.ID}, Lots: []donationevents.Lot{lot(6001, "B1")}})
	code(t, err, events.CodeInvalid, "dispatching more than pledged")
	_, err = svc.Dispatch(ctx, w.logi, d.ID, donations.DispatchInput{To: donationevents.Receiver{Org: w.warehouse.ID}, Lots: []donationevents.Lot{lot(1, "B1")}})
	code(t, err, events.CodeForbidden, "dispatching before holding anything")
	if _, err = svc.Dispatch(ctx, w.char, d.ID, donations.DispatchInput{To: donationevents.Receiver{Org: w.logistics.ID}, Lots: []donationevents.Lot{lot(4000, "B1"), lot(2000, "B2")}, Via: "顺丰 SF123"}); err != nil {
		t.Fatal(err)
	}
	recv := func(p auth.Principal, hop int, in donations.ReceiveInput) (donations.Donation, error) {
		return svc.Confirm(ctx, p, d.ID, hop, in)
	}
	_, err = recv(w.ware, 1, donations.ReceiveInput{Lots: []donationevents.Lot{lot(4000, "B1")}, Condition: donationevents.Intact, PhotoHash: photo})
	code(t, err, events.CodeForbidden, "confirming as someone else")
	_, err = recv(w.logi, 1, donations.ReceiveInput{Lots: []donationevents.Lot{lot(4001, "B1"), lot(2000, "B2")}, Condition: donationevents.Intact, PhotoHash: photo})
	code(t, err, events.CodeInvalid, "receiving more than dispatched")
	_, err = recv(w.logi, 1, donations.ReceiveInput{Lots: []donationevents.Lot{lot(4000, "B1"), lot(1990, "B2")}, Condition: donationevents.Damaged, PhotoHash: photo})
	code(t, err, events.CodeInvalid, "short without a note")
	got, err := recv(w.logi, 1, donations.ReceiveInput{Lots: []donationevents.Lot{lot(4000, "B1"), lot(1990, "B2")}, Condition: donationevents.Damaged, PhotoHash: photo, Note: "一箱破损"})
	if err != nil {
		t.Fatal(err)
	}
	if r := got.Hops[0].Receipt; r == nil || len(r.Flags) != 1 || r.Flags[0] != donationevents.FlagShort {
		t.Errorf("short receipt = %+v", got.Hops[0].Receipt)
	}
	_, err = recv(w.logi, 1, donations.ReceiveInput{Lots: []donationevents.Lot{lot(4000, "B1")}, Condition: donationevents.Intact, PhotoHash: photo})
	code(t, err, events.CodeConflict, "confirming twice")

	// Hop 2 to the warehouse, hop 3 to the hospital's ward.
	_, err = svc.Dispatch(ctx, w.logi, d.ID, donations.DispatchInput{To: donationevents.Receiver{Org: w.warehouse.ID}, Lots: []donationevents.Lot{lot(2000, "B2")}})
	code(t, err, events.CodeInvalid, "dispatching more of a batch than received")
	steps := []struct {
		from, to auth.Principal
		org      string
		unit     string
	}{{w.logi, w.ware, w.warehouse.ID, ""}, {w.ware, w.hosp, w.hospital.ID, "呼吸科"}}
	for i, s := range steps {
		if _, err := svc.Dispatch(ctx, s.from, d.ID, donations.DispatchInput{To: donationevents.Receiver{Org: s.org, Unit: s.unit}, Lots: []donationevents.Lot{lot(4000, "B1"), lot(1990, "B2")}}); err != nil {
			t.Fatalf("hop %d: %v", i+2, err)
		}
		w.Advance(6 * time.Hour)
		if _, err := recv(s.to, i+2, donations.ReceiveInput{Lots: []donationevents.Lot{lot(4000, "B1"), lot(1990, "B2")}, Condition: donationevents.Intact, PhotoHash: photo}); err != nil {
			t.Fatalf("receipt %d: %v", i+2, err)
		}
	}
}

// consume records three days of consumption against the hospital's stock,
// with the refusals, and checks the stock and days left.
func consume(t *testing.T, w *world) {
	t.Helper()
	ctx, svc := w.Ctx, w.Donations
	_, err := svc.Consume(ctx, w.hosp, donations.ConsumeInput{Item: "mask_n95", Spec: "N95", Quantity: 5991})
	code(t, err, events.CodeInvalid, "consuming more than on hand")
	_, err = svc.Consume(ctx, w.ware, donations.ConsumeInput{Item: "mask_n95", Spec: "N95", Quantity: 1})
	code(t, err, events.CodeForbidden, "a warehouse records consumption")
	for day := range 3 {
		if _, err := svc.Consume(ctx, w.hosp, donations.ConsumeInput{Item: "mask_n95", Spec: "N95", Quantity: 1000}); err != nil {
			t.Fatal(err)
		}
		if day < 2 {
			w.Advance(24 * time.Hour)
		}
	}
	st, err := svc.StockOf(w.hosp, w.hospital.ID)
	if err != nil || len(st) != 1 {
		t.Fatalf("stock: %v %+v", err, st)
	}
	if st[0].OnHand != 2990 || st[0].Consumed != 3000 || len(st[0].Daily) != 3 || st[0].DaysLeft == nil || *st[0].DaysLeft != 2.99 {
		t.Errorf("hospital stock = %+v", st[0])
	}
	_, err = svc.StockOf(w.ware, w.hospital.ID)
	code(t, err, events.CodeForbidden, "another organisation's stock")

}

// reviewTwice reviews the donation d and has a second reviewer disagree,
// which escalates it, with the refusals; it returns the first reviewer.
func reviewTwice(t *testing.T, w *world, d donations.Donation) auth.Principal {
	t.Helper()
	ctx, svc := w.Ctx, w.Donations
	r1 := w.Staff(auth.DonationReviewer, "42", "")
	r2 := w.Staff(auth.DonationReviewer, "4201", "")
	far := w.Staff(auth.DonationReviewer, "11", "")
	_, err := svc.Review(ctx, far, d.ID, donations.ReviewInput{Verdict: donationevents.Consistent})
	code(t, err, events.CodeForbidden, "a reviewer out of scope")
	if _, err := svc.Review(ctx, r1, d.ID, donations.ReviewInput{Verdict: donationevents.Consistent}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Review(ctx, r1, d.ID, donations.ReviewInput{Verdict: donationevents.Consistent})
	code(t, err, events.CodeForbidden, "re-review by the same reviewer")
	_, err = svc.Review(ctx, r2, d.ID, donations.ReviewInput{Verdict: donationevents.Inconsistent})
	code(t, err, events.CodeInvalid, "inconsistent without a note")
	got, err := svc.Review(ctx, r2, d.ID, donations.ReviewInput{Verdict: donationevents.Inconsistent, Note: "10只去向不明"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Escalated == "" || got.Status() != "escalated" {
		t.Errorf("disagreement not escalated: %+v", got)
	}
	return r1
}

// verifyTrace checks every step as an outsider would: each event's bytes
// hash to its leaf and each leaf is proven in the tree of the checkpoint's
// root. (The checkpoint's signature is checked by the seal's own tests and
// by ops verify.)
func verifyTrace(t *testing.T, tr donations.Trace) {
	t.Helper()
	lines := strings.Split(tr.Checkpoint, "\n")
	if len(lines) < 3 {
		t.Fatalf("checkpoint %q", tr.Checkpoint)
	}
	rootB, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil {
		t.Fatal(err)
	}
	var root tlog.Hash
	copy(root[:], rootB)
	for _, s := range tr.Steps {
		if !s.Sealed {
			t.Fatalf("step %d not sealed", s.Index)
		}
		leaf := tlog.RecordHash(s.Event)
		if base64.StdEncoding.EncodeToString(leaf[:]) != s.LeafHash {
			t.Errorf("step %d: bytes do not hash to the leaf", s.Index)
		}
		var proof tlog.RecordProof
		for _, p := range s.Proof {
			b, _ := base64.StdEncoding.DecodeString(p)
			var h tlog.Hash
			copy(h[:], b)
			proof = append(proof, h)
		}
		if err := tlog.CheckRecord(proof, int64(tr.TreeSize), root, int64(s.Index), leaf); err != nil {
			t.Errorf("step %d: %v", s.Index, err)
		}
	}
}

// TestIndividualDonor: a signed-in person pledges to the general pool and
// sends it; nobody else can move it; display names cannot carry numbers.
func TestIndividualDonor(t *testing.T) {
	w := newWorld(t)
	ctx, svc := w.Ctx, w.Donations
	me := w.Accounts.SignIn("wx-donor-1")
	other := w.Accounts.SignIn("wx-donor-2")
	_, err := svc.Pledge(ctx, me, donations.PledgeInput{Lines: []donationevents.Line{n95(100)}, DisplayName: "张三13800000000"})
	code(t, err, events.CodeInvalid, "a phone number in the display name")
	d, err := svc.Pledge(ctx, me, donations.PledgeInput{Lines: []donationevents.Line{n95(100)}, DisplayName: "一位老兵"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Donor.Kind != donationevents.PartyPerson || d.Donor.Name != "一位老兵" || d.Need != "" {
		t.Errorf("donation %+v", d)
	}
	_, err = svc.Dispatch(ctx, other, d.ID, donations.DispatchInput{To: donationevents.Receiver{Org: w.hospital.ID}, Lots: []donationevents.Lot{lot(100, "X1")}})
	code(t, err, events.CodeForbidden, "another person dispatches")
	unapproved, err := w.Accounts.RegisterOrg(ctx, other, accounts.OrgInput{Kind: orgs.Hospital, Name: "未审核医院", Region: "420105", Licence: casestest.Licence("x"), DocsHash: photo})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Dispatch(ctx, me, d.ID, donations.DispatchInput{To: donationevents.Receiver{Org: unapproved.ID}, Lots: []donationevents.Lot{lot(100, "X1")}})
	code(t, err, events.CodeInvalid, "dispatching to an organisation not approved")
	if _, err := svc.Dispatch(ctx, me, d.ID, donations.DispatchInput{To: donationevents.Receiver{Org: w.hospital.ID}, Lots: []donationevents.Lot{lot(100, "X1")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Confirm(ctx, w.hosp, d.ID, 1, donations.ReceiveInput{Lots: []donationevents.Lot{lot(100, "X1")}, Condition: donationevents.Intact, PhotoHash: photo}); err != nil {
		t.Fatal(err)
	}
	got, _ := svc.State.Donation(d.ID)
	if got.Status() != "delivered" {
		t.Errorf("status %s", got.Status())
	}
	agree(t, w)
}
