package donationviews_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/donationviews"
	"github.com/onebook/onebook/projections/memstore"
	"github.com/onebook/onebook/projections/projectiontest"
)

func registry() *events.Registry {
	reg := events.NewRegistry().WithKeyring(events.NewMemoryKeyring())
	donationevents.Register(reg)
	return reg
}

var (
	member1  = events.Actor{Role: "org_member", ID: "acc-h1"}
	member2  = events.Actor{Role: "org_member", ID: "acc-h2"}
	donorAcc = events.Actor{Role: "org_member", ID: "acc-donor"}
	logAcc   = events.Actor{Role: "org_member", ID: "acc-log"}
	resident = events.Actor{Role: "resident", ID: "p-1"}
	rv1      = events.Actor{Role: "donation_reviewer", ID: "rv-1"}
	rv2      = events.Actor{Role: "donation_reviewer", ID: "rv-2"}
	// t0 is 2026-11-25 10:00 CST.
	t0 = time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

const photo = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// ledger builds validated events in ledger order.
type ledger struct{ *projectiontest.Ledger }

func newLedger(t *testing.T) *ledger {
	return &ledger{&projectiontest.Ledger{T: t, Reg: registry()}}
}

// add appends an event on the aggregate of that kind and id.
func (l *ledger) add(typ, kind, id string, region events.Region, actor events.Actor, at time.Time, p events.Payload) {
	l.T.Helper()
	l.Add(typ, events.Aggregate{Kind: kind, ID: id}, region, actor, at, p)
}

func (l *ledger) need(id string, at time.Time, p events.Payload) {
	l.T.Helper()
	typ := map[reflect.Type]string{
		reflect.TypeFor[donationevents.NeedPublished](): donationevents.TypeNeedPublished,
		reflect.TypeFor[donationevents.NeedUpdated]():   donationevents.TypeNeedUpdated,
		reflect.TypeFor[donationevents.NeedClosed]():    donationevents.TypeNeedClosed,
	}[reflect.TypeOf(p)]
	l.add(typ, donationevents.KindNeed, id, "110105", member1, at, p)
}

func (l *ledger) donation(id string, region events.Region, actor events.Actor, at time.Time, p events.Payload) {
	l.T.Helper()
	typ := map[reflect.Type]string{
		reflect.TypeFor[donationevents.Pledged]():    donationevents.TypePledged,
		reflect.TypeFor[donationevents.Dispatched](): donationevents.TypeDispatched,
		reflect.TypeFor[donationevents.Received]():   donationevents.TypeReceived,
		reflect.TypeFor[donationevents.Reviewed]():   donationevents.TypeReviewed,
		reflect.TypeFor[donationevents.Escalated]():  donationevents.TypeEscalated,
	}[reflect.TypeOf(p)]
	l.add(typ, donationevents.KindDonation, id, region, actor, at, p)
}

func (l *ledger) consume(org string, at time.Time, item, spec string, q int64, day string) {
	l.T.Helper()
	l.add(donationevents.TypeConsumed, donationevents.KindStock, org, "110105", member1, at,
		donationevents.Consumed{Line: donationevents.Line{Item: item, Spec: spec, Quantity: q}, Day: day})
}

func line(item, spec string, q int64) donationevents.Line {
	return donationevents.Line{Item: item, Spec: spec, Quantity: q}
}

func lot(item, spec, batch string, q int64) donationevents.Lot {
	return donationevents.Lot{Line: line(item, spec, q), Batch: batch}
}

var (
	donorOrg  = donationevents.Party{Kind: donationevents.PartyOrg, ID: "o-donor", Name: "捐赠企业"}
	logistics = donationevents.Party{Kind: donationevents.PartyOrg, ID: "o-log", Name: "物流"}
	hospital1 = donationevents.Party{Kind: donationevents.PartyOrg, ID: "h-1", Name: "第一医院"}
	person    = donationevents.Party{Kind: donationevents.PartyPerson, ID: "p-1", Name: "爱心人士"}
)

func published() donationevents.NeedPublished {
	return donationevents.NeedPublished{Hospital: "h-1", Line: line("mask_n95", "KN95", 1000), Urgency: donationevents.Critical,
		DeliverTo: "东院区物资库 3号门", Region: "110105001", ValidUntil: t0.Add(30 * 24 * time.Hour)}
}

// project folds the events through every projection of the package and
// checks them (projectiontest.Fold).
func project(t *testing.T, reg *events.Registry, evs []events.Event) *memstore.Store {
	t.Helper()
	return projectiontest.Fold(t, reg, donationviews.All(), evs)
}

func get[S any](t *testing.T, store projections.DocStore, p projections.Projection, id string) *S {
	t.Helper()
	return projectiontest.Get[S](t, store, p, id)
}

func ids(t *testing.T, store projections.DocStore, p projections.Projection) []string {
	t.Helper()
	var out []string
	err := store.Scan(context.Background(), p, func(id string, _ *projections.Doc, err error) error {
		out = append(out, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// journey is a need met by a donation that takes three hops, the second
// confirmed short, the third to another hospital's ward across the turn
// of the month (CST), with consumption at both hospitals, two reviews that
// disagree and an escalation; and an individual's donation to the general
// pool, dispatched and not confirmed.
func journey(t *testing.T) *ledger {
	l := newLedger(t)
	l.need("n1", at(0), published())
	l.need("n1", at(5), donationevents.NeedUpdated{Quantity: 1200, Urgency: donationevents.High, ValidUntil: t0.Add(40 * 24 * time.Hour), Note: "more wards"})
	l.donation("d1", "110105001", donorAcc, at(10), donationevents.Pledged{Donor: donorOrg, Need: "n1",
		Lines: []donationevents.Line{line("mask_n95", "KN95", 1000), line("gloves", "M", 500)}, Note: "for the front line"})
	l.donation("d2", events.National, resident, at(11), donationevents.Pledged{Donor: person, Lines: []donationevents.Line{line("hand_sanitizer", "500ml", 10)}})
	l.donation("d1", "110105001", donorAcc, at(60), donationevents.Dispatched{Hop: 1, From: donorOrg, To: donationevents.Receiver{Org: "o-log"},
		Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B1", 600), lot("mask_n95", "KN95", "B2", 400), lot("gloves", "M", "G1", 500)}, Via: "SF 123"})
	l.donation("d1", "110105001", logAcc, at(120), donationevents.Received{Hop: 1, Condition: donationevents.Intact, PhotoHash: photo,
		Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B1", 600), lot("mask_n95", "KN95", "B2", 400), lot("gloves", "M", "G1", 500)}})
	l.donation("d1", "110105001", logAcc, at(180), donationevents.Dispatched{Hop: 2, From: logistics, To: donationevents.Receiver{Org: "h-1"},
		Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B1", 600), lot("mask_n95", "KN95", "B2", 400), lot("gloves", "M", "G1", 500)}})
	l.donation("d1", "110105001", member1, at(240), donationevents.Received{Hop: 2, Condition: donationevents.Damaged, PhotoHash: photo,
		Flags: []string{donationevents.FlagShort}, Note: "one carton of B2 crushed",
		Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B1", 600), lot("mask_n95", "KN95", "B2", 350), lot("gloves", "M", "G1", 500)}})
	l.donation("d2", events.National, resident, at(300), donationevents.Dispatched{Hop: 1, From: person, To: donationevents.Receiver{Org: "h-1"},
		Lots: []donationevents.Lot{lot("hand_sanitizer", "500ml", "S9", 10)}})
	l.consume("h-1", at(400), "mask_n95", "KN95", 200, "2026-11-25")
	l.consume("h-1", at(24*60), "mask_n95", "KN95", 100, "2026-11-26")
	// 2026-11-30 23:30 CST, and its receipt at 2026-12-01 00:30 CST.
	l.donation("d1", "110105001", member1, time.Date(2026, 11, 30, 15, 30, 0, 0, time.UTC), donationevents.Dispatched{Hop: 3, From: hospital1,
		To: donationevents.Receiver{Org: "h-2", Unit: "呼吸科"}, Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B1", 100)}, Via: "own van"})
	l.donation("d1", "110105001", member2, time.Date(2026, 11, 30, 16, 30, 0, 0, time.UTC), donationevents.Received{Hop: 3,
		Condition: donationevents.Intact, PhotoHash: photo, Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B1", 100)}})
	l.add(donationevents.TypeConsumed, donationevents.KindStock, "h-2", "110106", member2, time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC),
		donationevents.Consumed{Line: line("mask_n95", "KN95", 50), Day: "2026-12-01", Unit: "呼吸科"})
	l.donation("d1", "110105001", rv1, time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC), donationevents.Reviewed{Round: 1, Verdict: donationevents.Consistent})
	l.donation("d1", "110105001", rv2, time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC), donationevents.Reviewed{Round: 2, Verdict: donationevents.Inconsistent, Note: "ward count differs"})
	l.donation("d1", "110105001", rv2, time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC), donationevents.Escalated{Reason: "review and re-review disagree"})
	l.need("n1", time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC), donationevents.NeedClosed{Reason: "met"})
	return l
}

func TestJourney(t *testing.T) {
	l := journey(t)
	store := &projectiontest.OnlyGet{DocStore: project(t, l.Reg, l.Events)}
	ctx := context.Background()

	// donation_needs: the need and a link per donation.
	if got, want := ids(t, store.DocStore, donationviews.Needs()), []string{"donation:d1", "donation:d2", "need:n1"}; !slices.Equal(got, want) {
		t.Errorf("donation_needs %v, want %v", got, want)
	}
	n, found, err := donationviews.ReadNeed(ctx, store, "n1")
	if err != nil || !found {
		t.Fatal(found, err)
	}
	wantNeed := donationviews.NeedStatus{Need: donationviews.Need{ID: "n1", Hospital: "h-1", HospitalRegion: "110105",
		Line: donationviews.Line{Item: "mask_n95", Spec: "KN95", Quantity: 1200}, Urgency: donationevents.High, DeliverTo: "东院区物资库 3号门",
		Region: "110105001", ValidUntil: "2027-01-04T02:00:00.000000000Z", Published: "2026-11-25T02:00:00.000000000Z",
		Updated: "2026-11-25T02:05:00.000000000Z", UpdateNote: "more wards", Updates: 1, Closed: true,
		ClosedAt: "2026-12-04T02:00:00.000000000Z", CloseReason: "met", Pledged: 1000, Donations: []string{"d1"}},
		Received: 950} // 600 + 350 at h-1; the 100 received at h-2 do not count
	if !reflect.DeepEqual(n, wantNeed) {
		t.Errorf("need\n got %+v\nwant %+v", n, wantNeed)
	}
	link := get[donationviews.NeedsDoc](t, store, donationviews.Needs(), "donation:d1").Link
	wantLink := &donationviews.NeedLink{Donation: "d1", Need: "n1",
		Hops: []donationviews.HopTo{{Hop: 1, Org: "o-log", Confirmed: true}, {Hop: 2, Org: "h-1", Confirmed: true}, {Hop: 3, Org: "h-2", Confirmed: true}},
		Arrived: []donationviews.Arrived{{Org: "o-log", Item: "mask_n95", Spec: "KN95", Quantity: 1000}, {Org: "o-log", Item: "gloves", Spec: "M", Quantity: 500},
			{Org: "h-1", Item: "mask_n95", Spec: "KN95", Quantity: 950}, {Org: "h-1", Item: "gloves", Spec: "M", Quantity: 500},
			{Org: "h-2", Item: "mask_n95", Spec: "KN95", Quantity: 100}}}
	if !reflect.DeepEqual(link, wantLink) {
		t.Errorf("link\n got %+v\nwant %+v", link, wantLink)
	}
	if l2 := get[donationviews.NeedsDoc](t, store, donationviews.Needs(), "donation:d2").Link; l2.Need != "" || len(l2.Hops) != 1 || len(l2.Arrived) != 0 {
		t.Errorf("link of d2 %+v", l2)
	}

	// donations.
	d, found, err := donationviews.ReadDonation(ctx, store, "d1")
	if err != nil || !found {
		t.Fatal(found, err)
	}
	if d.ID != "d1" || d.Donor != (donationviews.Party{Kind: "org", ID: "o-donor", Name: "捐赠企业"}) || d.Need != "n1" ||
		d.PledgedBy != (donationviews.Actor{Role: "org_member", ID: "acc-donor"}) || d.Note != "for the front line" ||
		!slices.Equal(d.Lines, []donationviews.Line{{Item: "mask_n95", Spec: "KN95", Quantity: 1000}, {Item: "gloves", Spec: "M", Quantity: 500}}) ||
		d.Region != "110105001" || d.Pledged != "2026-11-25T02:10:00.000000000Z" || d.Status != donationevents.StatusEscalated ||
		d.Escalated != "review and re-review disagree" || d.EscalatedAt != "2026-12-03T03:00:00.000000000Z" ||
		*d.EscalatedBy != (donationviews.Actor{Role: "donation_reviewer", ID: "rv-2"}) || d.Updated != d.EscalatedAt ||
		d.LastHop != 3 || !d.LastConfirmed || d.MoreHops != 0 || d.MoreReviews != 0 || d.Anomalies != 0 {
		t.Errorf("donation %+v", d)
	}
	var hops []string
	for _, h := range d.Hops {
		s := fmt.Sprintf("%d %s:%s→%s/%s %v %q %s %s", h.N, h.From.Kind, h.From.ID, h.To.Org, h.To.Unit, h.Lots, h.Via, h.Dispatched[5:16], h.DispatchedBy.ID)
		if r := h.Receipt; r != nil {
			s += fmt.Sprintf(" | %v %s %v %q %s %s %t", r.Lots, r.Condition, r.Flags, r.Note, r.Time[5:16], r.By.ID, r.PhotoHash == photo)
		}
		hops = append(hops, s)
	}
	wantHops := []string{
		`1 org:o-donor→o-log/ [{mask_n95 KN95 B1 600} {mask_n95 KN95 B2 400} {gloves M G1 500}] "SF 123" 11-25T03:00 acc-donor` +
			` | [{mask_n95 KN95 B1 600} {mask_n95 KN95 B2 400} {gloves M G1 500}] intact [] "" 11-25T04:00 acc-log true`,
		`2 org:o-log→h-1/ [{mask_n95 KN95 B1 600} {mask_n95 KN95 B2 400} {gloves M G1 500}] "" 11-25T05:00 acc-log` +
			` | [{mask_n95 KN95 B1 600} {mask_n95 KN95 B2 350} {gloves M G1 500}] damaged [short] "one carton of B2 crushed" 11-25T06:00 acc-h1 true`,
		`3 org:h-1→h-2/呼吸科 [{mask_n95 KN95 B1 100}] "own van" 11-30T15:30 acc-h1` +
			` | [{mask_n95 KN95 B1 100}] intact [] "" 11-30T16:30 acc-h2 true`,
	}
	if !slices.Equal(hops, wantHops) {
		t.Errorf("hops\n got %q\nwant %q", hops, wantHops)
	}
	wantReviews := []donationviews.Review{
		{Round: 1, Verdict: donationevents.Consistent, Reviewer: donationviews.Actor{Role: "donation_reviewer", ID: "rv-1"}, Time: "2026-12-02T02:00:00.000000000Z"},
		{Round: 2, Verdict: donationevents.Inconsistent, Note: "ward count differs", Reviewer: donationviews.Actor{Role: "donation_reviewer", ID: "rv-2"}, Time: "2026-12-03T02:00:00.000000000Z"},
	}
	if !reflect.DeepEqual(d.Reviews, wantReviews) {
		t.Errorf("reviews %+v", d.Reviews)
	}
	d2, _, _ := donationviews.ReadDonation(ctx, store, "d2")
	if d2.Status != donationevents.StatusInTransit || d2.Donor.Kind != "person" || d2.Need != "" || d2.Region != "CN" || len(d2.Hops) != 1 ||
		d2.Hops[0].Receipt != nil || d2.Escalated != "" || d2.EscalatedBy != nil || d2.Anomalies != 0 {
		t.Errorf("donation d2 %+v", d2)
	}

	// donation_stock.
	wantStockIDs := []string{
		"h-1|gloves|M", "h-1|hand_sanitizer|500ml", "h-1|mask_n95|KN95", "h-2|mask_n95|KN95",
		"hop:d1#1", "hop:d1#2", "hop:d1#3", "hop:d2#1",
		"o-donor|gloves|M", "o-donor|mask_n95|KN95", "o-log|gloves|M", "o-log|mask_n95|KN95",
	}
	if got := ids(t, store.DocStore, donationviews.Stock()); !slices.Equal(got, wantStockIDs) {
		t.Errorf("donation_stock\n got %v\nwant %v", got, wantStockIDs)
	}
	lv := get[donationviews.StockDoc](t, store, donationviews.Stock(), "h-1|mask_n95|KN95").Level
	wantLevel := &donationviews.StockLevel{Org: "h-1", Item: "mask_n95", Spec: "KN95", Dispatched: 100, Sent: 1000, Consumed: 300,
		Daily: map[string]int64{"2026-11-25": 200, "2026-11-26": 100}, Hops: []string{"hop:d1#2"}, Updated: "2026-11-30T15:30:00.000000000Z"}
	if !reflect.DeepEqual(lv, wantLevel) {
		t.Errorf("stock level\n got %+v\nwant %+v", lv, wantLevel)
	}
	hop := get[donationviews.StockDoc](t, store, donationviews.Stock(), "hop:d1#2").Hop
	wantHop := &donationviews.StockHop{Donation: "d1", Hop: 2, To: "h-1", Receipts: 1,
		Sent:     []donationviews.Line{{Item: "mask_n95", Spec: "KN95", Quantity: 1000}, {Item: "gloves", Spec: "M", Quantity: 500}},
		Received: []donationviews.Line{{Item: "mask_n95", Spec: "KN95", Quantity: 950}, {Item: "gloves", Spec: "M", Quantity: 500}}}
	if !reflect.DeepEqual(hop, wantHop) {
		t.Errorf("hop\n got %+v\nwant %+v", hop, wantHop)
	}

	stock := map[string][]donationviews.StockItem{}
	for _, org := range []string{"o-donor", "o-log", "h-1", "h-2", "p-1", "h-9"} {
		store.Calls = nil
		s, err := donationviews.ReadStock(ctx, store, org)
		if err != nil {
			t.Fatal(err)
		}
		stock[org] = s
		if len(store.Calls) == 0 || len(store.Calls[0]) != 28 {
			t.Errorf("%s: Get calls %v, want the 28 catalogue keys first", org, store.Calls)
		}
	}
	var got []string
	for _, org := range []string{"o-donor", "o-log", "h-1", "h-2", "p-1", "h-9"} {
		for _, s := range stock[org] {
			left := "-"
			if s.DaysLeft != nil {
				left = fmt.Sprintf("%.2f", *s.DaysLeft)
			}
			got = append(got, fmt.Sprintf("%s %s %s: pledged %d received %d transit %d dispatched %d consumed %d on hand %d daily %v left %s",
				s.Org, s.Item, s.Spec, s.Pledged, s.Received, s.InTransit, s.Dispatched, s.Consumed, s.OnHand, s.Daily, left))
			if s.Partial || s.Anomalies != 0 || s.EarlierConsumed != 0 {
				t.Errorf("%s %s: partial %v anomalies %d earlier %d", org, s.Item, s.Partial, s.Anomalies, s.EarlierConsumed)
			}
		}
	}
	wantStock := []string{
		"o-donor gloves M: pledged 500 received 0 transit 0 dispatched 500 consumed 0 on hand 0 daily map[] left -",
		"o-donor mask_n95 KN95: pledged 1000 received 0 transit 0 dispatched 1000 consumed 0 on hand 0 daily map[] left -",
		"o-log gloves M: pledged 0 received 500 transit 0 dispatched 500 consumed 0 on hand 0 daily map[] left -",
		"o-log mask_n95 KN95: pledged 0 received 1000 transit 0 dispatched 1000 consumed 0 on hand 0 daily map[] left -",
		"h-1 gloves M: pledged 0 received 500 transit 0 dispatched 0 consumed 0 on hand 500 daily map[] left -",
		"h-1 hand_sanitizer 500ml: pledged 0 received 0 transit 10 dispatched 0 consumed 0 on hand 0 daily map[] left -",
		"h-1 mask_n95 KN95: pledged 0 received 950 transit 0 dispatched 100 consumed 300 on hand 550 daily map[2026-11-25:200 2026-11-26:100] left 3.67",
		"h-2 mask_n95 KN95: pledged 0 received 100 transit 0 dispatched 0 consumed 50 on hand 50 daily map[2026-12-01:50] left 1.00",
	}
	if !slices.Equal(got, wantStock) {
		t.Errorf("stock\n got %q\nwant %q", got, wantStock)
	}

	// The domain service, folding the same events, agrees.
	st := donations.NewState()
	for i, e := range l.Events {
		pl, _ := l.Reg.Decode(context.Background(), e)
		st.Apply(events.Recorded{Seq: uint64(i + 1), Event: e}, pl)
	}
	if sn, _ := st.Need("n1"); sn.Pledged != n.Pledged || sn.Received != n.Received || sn.Line.Quantity != n.Line.Quantity || !sn.Closed {
		t.Errorf("service need %+v, projection %+v", sn, n)
	}
	for org, items := range stock {
		ss := st.Stock(org)
		var a, b []string
		for _, s := range ss {
			a = append(a, fmt.Sprintf("%s %s %d %d %v %v", s.Item, s.Spec, s.Consumed, s.OnHand, s.Daily, s.DaysLeft != nil))
		}
		for _, s := range items {
			if s.Pledged+s.Received+s.Dispatched+s.Consumed == 0 {
				continue // only sent to it: the service knows nothing of it yet
			}
			b = append(b, fmt.Sprintf("%s %s %d %d %v %v", s.Item, s.Spec, s.Consumed, s.OnHand, s.Daily, s.DaysLeft != nil))
		}
		if !slices.Equal(a, b) {
			t.Errorf("%s: service stock %q, projection %q", org, a, b)
		}
	}
	for _, id := range []string{"d1", "d2"} {
		sd, _ := st.Donation(id)
		pd, _, _ := donationviews.ReadDonation(ctx, store, id)
		if sd.Status() != pd.Status || len(sd.Hops) != len(pd.Hops) || len(sd.Reviews) != len(pd.Reviews) {
			t.Errorf("%s: service status %s, projection %s", id, sd.Status(), pd.Status)
		}
	}

	// donation_index.
	wantIndex := map[string][]string{
		"item:gloves@202611":         {"d1"},
		"item:hand_sanitizer@202611": {"d2"},
		"item:mask_n95@202611":       {"d1"},
		"item:mask_n95@202612":       {"d1"},       // the receipt of hop 3
		"org:h-1@202611":             {"d1", "d2"}, // d2 dispatched to it by an individual
		"org:h-2@202611":             {"d1"},       // named receiver of hop 3, dispatched in November
		"org:o-donor@202611":         {"d1"},
		"org:o-log@202611":           {"d1"},
		"region:11@202611":           {"d1"},
		"region:11@202612":           {"d1"},
		"region:1101@202611":         {"d1"},
		"region:1101@202612":         {"d1"},
		"region:110105@202611":       {"d1"},
		"region:110105@202612":       {"d1"},
		"region:CN@202611":           {"d2"},
	}
	if got := ids(t, store.DocStore, donationviews.Supervision()); !slices.Equal(got, slices.Sorted(maps.Keys(wantIndex))) {
		t.Errorf("donation_index\n got %v\nwant %v", got, slices.Sorted(maps.Keys(wantIndex)))
	}
	for k, want := range wantIndex {
		ix := get[donationviews.Index](t, store, donationviews.Supervision(), k)
		by, rest, _ := strings.Cut(k, ":")
		key, month, _ := strings.Cut(rest, "@")
		if ix.By != by || ix.Key != key || ix.Month != month[:4]+"-"+month[4:] || !slices.Equal(ix.Donations, want) || ix.Overflow != 0 {
			t.Errorf("%s: %+v, want %v", k, ix, want)
		}
	}
	sup := []struct {
		by, key, from, to string
		want              []string
	}{
		{"org", "h-2", "2026-11", "2026-12", []string{"d1"}},
		{"org", "h-2", "2026-12", "2026-12", []string{}},
		{"org", "p-1", "2026-01", "2026-12", []string{}}, // individuals are not indexed
		{"item", "mask_n95", "2026-10", "2027-01", []string{"d1"}},
		{"item", "hand_sanitizer", "2026-11", "2026-11", []string{"d2"}},
		{"region", "11", "2026-12", "2026-12", []string{"d1"}},
		{"region", "110106", "2026-11", "2026-12", []string{}},
		{"region", "CN", "2025-12", "2027-11", []string{"d2"}},
	}
	for _, s := range sup {
		store.Calls = nil
		got, err := donationviews.ReadSupervision(ctx, store, s.by, s.key, s.from, s.to)
		if err != nil || !slices.Equal(got.Donations, s.want) || got.Overflow != 0 || got.By != s.by || got.Key != s.key ||
			got.From != s.from || got.To != s.to {
			t.Errorf("supervision %v: %+v %v", s, got, err)
		}
		if len(store.Calls) != 1 || store.Calls[0][0] != donationviews.IndexKey(s.by, s.key, s.from) {
			t.Errorf("supervision %v: Get calls %v", s, store.Calls)
		}
	}
}

// TestSteps checks each document's state after every event of the journey
// (project also compares one-at-a-time folding with folding at once for
// every prefix).
func TestSteps(t *testing.T) {
	l := journey(t)
	ctx := context.Background()
	var statuses, needs []string
	for i := range l.Events {
		store := project(t, l.Reg, l.Events[:i+1])
		d, _, err := donationviews.ReadDonation(ctx, store, "d1")
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, d.Status)
		n, _, _ := donationviews.ReadNeed(ctx, store, "n1")
		needs = append(needs, fmt.Sprintf("%d/%d/%d", n.Line.Quantity, n.Pledged, n.Received))
	}
	wantStatuses := []string{"", "", "pledged", "pledged", "in_transit", "delivered", "in_transit", "delivered", "delivered",
		"delivered", "delivered", "in_transit", "delivered", "delivered", "delivered", "delivered", "escalated", "escalated"}
	if !slices.Equal(statuses, wantStatuses) {
		t.Errorf("statuses\n got %q\nwant %q", statuses, wantStatuses)
	}
	wantNeeds := []string{"1000/0/0", "1200/0/0", "1200/1000/0", "1200/1000/0", "1200/1000/0", "1200/1000/0", "1200/1000/0",
		"1200/1000/950", "1200/1000/950", "1200/1000/950", "1200/1000/950", "1200/1000/950", "1200/1000/950", "1200/1000/950",
		"1200/1000/950", "1200/1000/950", "1200/1000/950", "1200/1000/950"}
	if !slices.Equal(needs, wantNeeds) {
		t.Errorf("needs\n got %q\nwant %q", needs, wantNeeds)
	}
}

func TestNeedAnomalies(t *testing.T) {
	l := newLedger(t)
	// A pledge before the need is published, an update before too.
	l.donation("d0", "110105", donorAcc, at(0), donationevents.Pledged{Donor: donorOrg, Need: "n1", Lines: []donationevents.Line{line("mask_n95", "KN95", 5)}})
	l.need("n1", at(1), donationevents.NeedUpdated{Quantity: 10, Urgency: donationevents.Normal, ValidUntil: at(100)})
	l.need("n1", at(2), published())
	// A pledge of another spec and of another item against it.
	l.donation("d1", "110105", donorAcc, at(3), donationevents.Pledged{Donor: donorOrg, Need: "n1",
		Lines: []donationevents.Line{line("mask_n95", "N95", 7), line("mask_n95", "KN95", 3), line("gloves", "S", 9), line("mask_n95", "KN95", 2)}})
	l.need("n1", at(4), donationevents.NeedClosed{Reason: "met"})
	l.need("n1", at(5), donationevents.NeedClosed{Reason: "met again"})
	l.need("n1", at(6), donationevents.NeedUpdated{Quantity: 10, Urgency: donationevents.Normal, ValidUntil: at(100)})
	l.need("n1", at(7), published())
	// A receipt of a hop never dispatched, a hop dispatched twice, a hop
	// confirmed twice.
	l.donation("d1", "110105", member1, at(8), donationevents.Received{Hop: 1, Condition: donationevents.Intact, PhotoHash: photo, Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B", 1)}})
	l.donation("d1", "110105", donorAcc, at(9), donationevents.Dispatched{Hop: 1, From: donorOrg, To: donationevents.Receiver{Org: "h-1"}, Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B", 5)}})
	l.donation("d1", "110105", donorAcc, at(10), donationevents.Dispatched{Hop: 1, From: donorOrg, To: donationevents.Receiver{Org: "h-9"}, Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B", 5)}})
	l.donation("d1", "110105", member1, at(11), donationevents.Received{Hop: 1, Condition: donationevents.Intact, PhotoHash: photo, Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B", 5)}})
	l.donation("d1", "110105", member1, at(12), donationevents.Received{Hop: 1, Condition: donationevents.Intact, PhotoHash: photo, Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B", 4)}})
	store := project(t, l.Reg, l.Events)
	n, found, err := donationviews.ReadNeed(context.Background(), store, "n1")
	if err != nil || !found {
		t.Fatal(found, err)
	}
	// Anomalies: d0 before publication, update before, second close,
	// update after close, second publication.
	if n.Anomalies != 5 || n.Pledged != 5 || !slices.Equal(n.Donations, []string{"d0", "d1"}) || n.Published != "2026-11-25T02:07:00.000000000Z" ||
		n.CloseReason != "met again" || n.Updates != 2 || n.Received != 9 || n.ReceivedPartial {
		t.Errorf("need %+v", n)
	}
	link := get[donationviews.NeedsDoc](t, store, donationviews.Needs(), "donation:d1").Link
	if link.Anomalies != 3 || len(link.Hops) != 1 || link.Hops[0].Org != "h-1" || len(link.Arrived) != 1 || link.Arrived[0].Quantity != 9 {
		t.Errorf("link %+v", link)
	}
	d := get[donationviews.Donation](t, store, donationviews.Donations(), "d1")
	// Receipt of an unknown hop, hop 1 twice, receipt twice.
	if d.Anomalies != 3 || len(d.Hops) != 2 || d.Status != donationevents.StatusDelivered || d.Hops[0].Receipt.Lots[0].Quantity != 4 || d.Hops[1].Receipt != nil {
		t.Errorf("donation %+v", d)
	}
	hop := get[donationviews.StockDoc](t, store, donationviews.Stock(), "hop:d1#1").Hop
	if hop.Anomalies != 4 || hop.To != "h-9" || hop.Receipts != 3 || hop.Sent[0].Quantity != 10 || hop.Received[0].Quantity != 10 {
		t.Errorf("hop %+v", hop)
	}
	// A need never published, only pledged against, is not found.
	l2 := newLedger(t)
	l2.donation("d0", "110105", donorAcc, at(0), donationevents.Pledged{Donor: donorOrg, Need: "n7", Lines: []donationevents.Line{line("mask_n95", "KN95", 5)}})
	if n, found, err := donationviews.ReadNeed(context.Background(), project(t, l2.Reg, l2.Events), "n7"); err != nil || !found || n.Published != "" || n.Anomalies != 1 {
		t.Errorf("need pledged against only: %+v %v %v", n, found, err)
	}
}

func TestDonationAnomalies(t *testing.T) {
	l := newLedger(t)
	l.donation("d1", "11", rv1, at(0), donationevents.Reviewed{Round: 2, Verdict: donationevents.Consistent})
	l.donation("d1", "11", donorAcc, at(1), donationevents.Pledged{Donor: donorOrg, Lines: []donationevents.Line{line("gloves", "S", 5)}})
	l.donation("d1", "11", donorAcc, at(2), donationevents.Pledged{Donor: donorOrg, Lines: []donationevents.Line{line("gloves", "S", 6)}})
	l.donation("d1", "11", donorAcc, at(3), donationevents.Dispatched{Hop: 2, From: donorOrg, To: donationevents.Receiver{Org: "h-1"}, Lots: []donationevents.Lot{lot("gloves", "S", "G", 5)}})
	l.donation("d1", "11", member1, at(4), donationevents.Received{Hop: 2, Condition: donationevents.Intact, PhotoHash: photo,
		Lots: []donationevents.Lot{lot("gloves", "S", "G", 6), lot("gloves", "M", "G", 1)}})
	l.donation("d1", "11", donorAcc, at(5), donationevents.Dispatched{Hop: 1, From: donorOrg, To: donationevents.Receiver{Org: "h-2"}, Lots: []donationevents.Lot{lot("gloves", "S", "G", 1)}})
	store := project(t, l.Reg, l.Events)
	d := get[donationviews.Donation](t, store, donationviews.Donations(), "d1")
	// Review before the pledge, re-review without review, second pledge,
	// hop 2 first, more received than dispatched, hop 1 after hop 2.
	if d.Anomalies != 6 || d.LastHop != 2 || d.Status != donationevents.StatusDelivered || d.Lines[0].Quantity != 6 || len(d.Hops) != 2 {
		t.Errorf("donation %+v", d)
	}
}

func TestCaps(t *testing.T) {
	ev := func(typ, kind, id string, i int) events.Event {
		return events.Event{Type: typ, Aggregate: events.Aggregate{Kind: kind, ID: id}, Region: "110105",
			Actor: member1, Time: t0.Add(time.Duration(i) * time.Second)}
	}
	pledge := donationevents.Pledged{Donor: donorOrg, Need: "n1", Lines: []donationevents.Line{line("mask_n95", "KN95", 1)}}

	// A need lists MaxNeedDonations donations.
	p := donationviews.Needs()
	need := p.NewState()
	if err := p.Fold("need:n1", need, ev(donationevents.TypeNeedPublished, donationevents.KindNeed, "n1", 0), published()); err != nil {
		t.Fatal(err)
	}
	for i := range donationviews.MaxNeedDonations + 2 {
		if err := p.Fold("need:n1", need, ev(donationevents.TypePledged, donationevents.KindDonation, fmt.Sprintf("d%d", i), i), pledge); err != nil {
			t.Fatal(err)
		}
	}
	if n := need.(*donationviews.NeedsDoc).Need; len(n.Donations) != donationviews.MaxNeedDonations || n.MoreDonations != 2 ||
		n.Pledged != donationviews.MaxNeedDonations+2 {
		t.Errorf("need: %d listed, %d more, pledged %d", len(n.Donations), n.MoreDonations, n.Pledged)
	}
	store := memstore.New()
	ctx := context.Background()
	if err := store.Put(ctx, p, []*projections.Doc{{ID: "need:n1", State: need}}); err != nil {
		t.Fatal(err)
	}
	if n, found, err := donationviews.ReadNeed(ctx, store, "n1"); err != nil || !found || !n.ReceivedPartial || n.Received != 0 {
		t.Errorf("read capped need: %v %v %v", n.ReceivedPartial, found, err)
	}

	// A donation lists MaxHops hops and MaxReviews reviews; its link
	// MaxHops hops. The status still follows the last hop.
	dp := donationviews.Donations()
	don, link := dp.NewState(), p.NewState()
	fold := func(pr projections.Projection, id string, s any, e events.Event, pl events.Payload) {
		t.Helper()
		if err := pr.Fold(id, s, e, pl); err != nil {
			t.Fatal(err)
		}
	}
	fold(dp, "d1", don, ev(donationevents.TypePledged, donationevents.KindDonation, "d1", 0), pledge)
	fold(p, "donation:d1", link, ev(donationevents.TypePledged, donationevents.KindDonation, "d1", 0), pledge)
	n := donationviews.MaxHops + 3
	for i := 1; i <= n; i++ {
		dis := donationevents.Dispatched{Hop: i, From: donorOrg, To: donationevents.Receiver{Org: fmt.Sprintf("h-%d", i)}, Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B", 1)}}
		rec := donationevents.Received{Hop: i, Condition: donationevents.Intact, PhotoHash: photo, Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B", 1)}}
		fold(dp, "d1", don, ev(donationevents.TypeDispatched, donationevents.KindDonation, "d1", 2*i), dis)
		fold(p, "donation:d1", link, ev(donationevents.TypeDispatched, donationevents.KindDonation, "d1", 2*i), dis)
		if i == n {
			if s := don.(*donationviews.Donation).Status; s != donationevents.StatusInTransit {
				t.Errorf("status with the last hop unlisted and unconfirmed: %s", s)
			}
		}
		fold(dp, "d1", don, ev(donationevents.TypeReceived, donationevents.KindDonation, "d1", 2*i+1), rec)
		fold(p, "donation:d1", link, ev(donationevents.TypeReceived, donationevents.KindDonation, "d1", 2*i+1), rec)
	}
	for i := range donationviews.MaxReviews + 4 {
		fold(dp, "d1", don, ev(donationevents.TypeReviewed, donationevents.KindDonation, "d1", 1000+i), donationevents.Reviewed{Round: 1 + i%2, Verdict: donationevents.Consistent})
	}
	d := don.(*donationviews.Donation)
	if len(d.Hops) != donationviews.MaxHops || d.MoreHops != 3 || d.LastHop != n || d.Status != donationevents.StatusDelivered ||
		len(d.Reviews) != donationviews.MaxReviews || d.MoreReviews != 4 || d.Anomalies != 0 {
		t.Errorf("donation: %d hops, %d more, last %d, status %s, %d reviews, %d more, anomalies %d",
			len(d.Hops), d.MoreHops, d.LastHop, d.Status, len(d.Reviews), d.MoreReviews, d.Anomalies)
	}
	if l := link.(*donationviews.NeedsDoc).Link; len(l.Hops) != donationviews.MaxHops || l.MoreHops != 3 || len(l.Arrived) != donationviews.MaxHops || l.Anomalies != 0 {
		t.Errorf("link: %d hops, %d more, %d arrived, anomalies %d", len(l.Hops), l.MoreHops, len(l.Arrived), l.Anomalies)
	}

	// A stock level lists MaxStockHops hops and the latest MaxDailyDays
	// days of consumption.
	sp := donationviews.Stock()
	lvl := sp.NewState()
	for i := range donationviews.MaxStockHops + 5 {
		fold(sp, "h-1|mask_n95|KN95", lvl, ev(donationevents.TypeDispatched, donationevents.KindDonation, fmt.Sprintf("d%d", i), i),
			donationevents.Dispatched{Hop: 1, From: person, To: donationevents.Receiver{Org: "h-1"}, Lots: []donationevents.Lot{lot("mask_n95", "KN95", "B", 2)}})
	}
	day0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	consume := func(d int, q int64) {
		fold(sp, "h-1|mask_n95|KN95", lvl, ev(donationevents.TypeConsumed, donationevents.KindStock, "h-1", 0),
			donationevents.Consumed{Line: line("mask_n95", "KN95", q), Day: day0.AddDate(0, 0, d).Format(time.DateOnly)})
	}
	for d := 10; d < 10+donationviews.MaxDailyDays; d++ {
		consume(d, 1)
	}
	consume(10, 1) // a listed day: added to it
	consume(9, 5)  // older than every listed day: earlier
	consume(500, 7)
	consume(501, 8) // pushes day 10 (2) and 11 (1) out
	consume(11, 3)  // now older than every listed day
	s := lvl.(*donationviews.StockDoc).Level
	var sum int64
	for _, q := range s.Daily {
		sum += q
	}
	oldest := slices.Min(slices.Collect(maps.Keys(s.Daily)))
	if len(s.Hops) != donationviews.MaxStockHops || s.MoreHops != 5 || s.Sent != 2*(donationviews.MaxStockHops+5) || s.Dispatched != 0 ||
		len(s.Daily) != donationviews.MaxDailyDays || s.EarlierConsumed != 5+2+1+3 || s.Consumed != sum+s.EarlierConsumed ||
		oldest != "2025-01-13" || s.Daily["2026-05-17"] != 8 {
		t.Errorf("stock level: %d hops, %d more, sent %d, %d days, earlier %d, consumed %d (daily %d), oldest %s",
			len(s.Hops), s.MoreHops, s.Sent, len(s.Daily), s.EarlierConsumed, s.Consumed, sum, oldest)
	}
	if err := store.Put(ctx, sp, []*projections.Doc{{ID: "h-1|mask_n95|KN95", State: lvl}}); err != nil {
		t.Fatal(err)
	}
	if st, err := donationviews.ReadStock(ctx, store, "h-1"); err != nil || len(st) != 1 || !st[0].Partial || st[0].InTransit != 0 || st[0].OnHand != -s.Consumed {
		t.Errorf("read capped stock: %+v %v", st, err)
	}

	// An index month lists MaxIndexDonations donations, each once.
	ip := donationviews.Supervision()
	ix := ip.NewState()
	for i := range donationviews.MaxIndexDonations + 6 {
		e := ev(donationevents.TypeReviewed, donationevents.KindDonation, fmt.Sprintf("d%d", i), 0)
		fold(ip, "region:11@202611", ix, e, donationevents.Reviewed{Round: 1, Verdict: donationevents.Consistent})
		fold(ip, "region:11@202611", ix, e, donationevents.Reviewed{Round: 2, Verdict: donationevents.Consistent})
	}
	if x := ix.(*donationviews.Index); len(x.Donations) != donationviews.MaxIndexDonations || x.Overflow != 12 || x.Month != "2026-11" || x.Key != "11" || x.By != "region" {
		t.Errorf("index: %d listed, overflow %d, %+v", len(x.Donations), x.Overflow, x.Month)
	}
	if err := store.Put(ctx, ip, []*projections.Doc{{ID: "region:11@202611", State: ix}}); err != nil {
		t.Fatal(err)
	}
	if s, err := donationviews.ReadSupervision(ctx, store, "region", "11", "2026-11", "2026-11"); err != nil || len(s.Donations) != donationviews.MaxIndexDonations || s.Overflow != 12 {
		t.Errorf("read capped index: %d %d %v", len(s.Donations), s.Overflow, err)
	}
}

func TestIndexKeys(t *testing.T) {
	reg := registry()
	tests := []struct {
		region events.Region
		at     time.Time
		p      events.Payload
		want   []string
	}{
		{"110105001002", time.Date(2026, 1, 31, 16, 0, 0, 0, time.UTC), donationevents.Reviewed{Round: 1, Verdict: donationevents.Consistent},
			[]string{"region:11@202602", "region:1101@202602", "region:110105@202602"}},
		{"1101", time.Date(2026, 1, 31, 15, 59, 59, 0, time.UTC), donationevents.Escalated{Reason: "why"},
			[]string{"region:11@202601", "region:1101@202601"}},
		{"CN", t0, donationevents.Pledged{Donor: person, Lines: []donationevents.Line{line("gloves", "S", 1), line("gloves", "M", 1), line("goggles", "standard", 1)}},
			[]string{"item:gloves@202611", "item:goggles@202611", "region:CN@202611"}},
		{"31", t0, donationevents.Dispatched{Hop: 1, From: hospital1, To: donationevents.Receiver{Org: "h-1", Unit: "ICU"}, Lots: []donationevents.Lot{lot("gloves", "S", "x", 1)}},
			[]string{"org:h-1@202611", "item:gloves@202611", "region:31@202611"}},
		{"31", t0, donationevents.Dispatched{Hop: 1, From: person, To: donationevents.Receiver{Org: "bad org"}, Lots: []donationevents.Lot{lot("gloves", "S", "x", 1)}},
			[]string{"item:gloves@202611", "region:31@202611"}},
	}
	for _, tt := range tests {
		e := events.Event{Type: "x", Aggregate: events.Aggregate{Kind: donationevents.KindDonation, ID: "d1"}, Region: tt.region, Time: tt.at}
		if got := donationviews.Supervision().Keys(e, tt.p); !slices.Equal(got, tt.want) {
			t.Errorf("%s %T: keys %v, want %v", tt.region, tt.p, got, tt.want)
		}
	}
	// Stock keys: the hop, the receiver's and an organisation sender's
	// documents, each once.
	e := events.Event{Aggregate: events.Aggregate{Kind: donationevents.KindDonation, ID: "d1"}, Region: "11", Time: t0}
	dis := donationevents.Dispatched{Hop: 4, From: hospital1, To: donationevents.Receiver{Org: "h-1"},
		Lots: []donationevents.Lot{lot("gloves", "S", "a", 1), lot("gloves", "S", "b", 1), lot("mask_surgical", "17.5cm×9.5cm", "c", 1)}}
	want := []string{"hop:d1#4", "h-1|gloves|S", "h-1|mask_surgical|17.5cm×9.5cm"}
	if got := donationviews.Stock().Keys(e, dis); !slices.Equal(got, want) {
		t.Errorf("stock keys %v, want %v", got, want)
	}
	// A dispatch from an organisation to itself (refused by the service)
	// counts both ways in one document.
	l := newLedger(t)
	l.Reg = reg
	l.donation("d1", "11", member1, at(0), dis)
	lv := get[donationviews.StockDoc](t, project(t, l.Reg, l.Events), donationviews.Stock(), "h-1|mask_surgical|17.5cm×9.5cm").Level
	if lv.Dispatched != 1 || lv.Sent != 1 || len(lv.Hops) != 1 {
		t.Errorf("dispatch to itself: %+v", lv)
	}
}

func TestKeys(t *testing.T) {
	if k := donationviews.IndexKey("org", "h-1", "2026-11"); k != "org:h-1@202611" {
		t.Errorf("IndexKey = %s", k)
	}
	if k := donationviews.StockKey("h-1", "mask_n95", "KN95"); k != "h-1|mask_n95|KN95" {
		t.Errorf("StockKey = %s", k)
	}
	if k := donationviews.HopKey("d-1", 12); k != "hop:d-1#12" {
		t.Errorf("HopKey = %s", k)
	}
	if donationviews.NeedKey("n1") != "need:n1" || donationviews.NeedLinkKey("d1") != "donation:d1" {
		t.Error("need keys")
	}
	// Events of other kinds, and types a registry does not know (nil
	// payload), touch nothing.
	e := events.Event{Type: "unknown.thing", Aggregate: events.Aggregate{Kind: "donation", ID: "d1"}, Region: "11", Time: t0}
	for _, p := range donationviews.All() {
		if keys := p.Keys(e, nil); len(keys) != 0 {
			t.Errorf("%s: keys %v of an unknown event", p.Name(), keys)
		}
	}
	names := map[string]bool{}
	for _, p := range donationviews.All() {
		names[p.Name()] = true
	}
	if len(names) != 4 || !names["donation_needs"] || !names["donations"] || !names["donation_stock"] || !names["donation_index"] {
		t.Errorf("projections %v", names)
	}
	// A pledge naming a need that cannot be a key touches only its link.
	pl := donationevents.Pledged{Donor: person, Need: "n 1", Lines: []donationevents.Line{line("gloves", "S", 1)}}
	if keys := donationviews.Needs().Keys(e, pl); !slices.Equal(keys, []string{"donation:d1"}) {
		t.Errorf("keys %v", keys)
	}
	// An individual's pledge and a consumption by an odd id touch no stock.
	if keys := donationviews.Stock().Keys(e, pl); len(keys) != 0 {
		t.Errorf("stock keys of an individual's pledge %v", keys)
	}
}

func TestReadBadInput(t *testing.T) {
	store := memstore.New()
	ctx := context.Background()
	sup := func(by, key, from, to string) func() error {
		return func() error { _, err := donationviews.ReadSupervision(ctx, store, by, key, from, to); return err }
	}
	tests := []struct {
		name  string
		read  func() error
		field string
	}{
		{"need: no id", func() error { _, _, err := donationviews.ReadNeed(ctx, store, ""); return err }, "id"},
		{"need: prefixed id", func() error { _, _, err := donationviews.ReadNeed(ctx, store, "need:n1"); return err }, "id"},
		{"donation: bad id", func() error { _, _, err := donationviews.ReadDonation(ctx, store, "d 1"); return err }, "id"},
		{"donation: too long", func() error { _, _, err := donationviews.ReadDonation(ctx, store, strings.Repeat("d", 65)); return err }, "id"},
		{"stock: no org", func() error { _, err := donationviews.ReadStock(ctx, store, ""); return err }, "org"},
		{"stock: bad org", func() error { _, err := donationviews.ReadStock(ctx, store, "h-1|gloves"); return err }, "org"},
		{"supervision: bad by", sup("person", "p-1", "2026-11", "2026-11"), "by"},
		{"supervision: no by", sup("", "h-1", "2026-11", "2026-11"), "by"},
		{"supervision: bad org", sup("org", "h@1", "2026-11", "2026-11"), "key"},
		{"supervision: unknown item", sup("item", "masks", "2026-11", "2026-11"), "key"},
		{"supervision: street", sup("region", "110105001", "2026-11", "2026-11"), "key"},
		{"supervision: bad region", sup("region", "1", "2026-11", "2026-11"), "key"},
		{"supervision: lowercase cn", sup("region", "cn", "2026-11", "2026-11"), "key"},
		{"supervision: no from", sup("org", "h-1", "", "2026-11"), "from"},
		{"supervision: day from", sup("org", "h-1", "2026-11-01", "2026-11"), "from"},
		{"supervision: bad to", sup("org", "h-1", "2026-11", "2026-13"), "to"},
		{"supervision: reversed", sup("org", "h-1", "2026-11", "2026-10"), "to"},
		{"supervision: 25 months", sup("org", "h-1", "2026-01", "2028-01"), "to"},
		{"supervision: centuries", sup("org", "h-1", "0001-01", "9999-12"), "to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *events.Error
			if err := tt.read(); !errors.As(err, &e) || e.Code != events.CodeInvalid || e.Field != tt.field {
				t.Errorf("%v, want invalid %s", err, tt.field)
			}
		})
	}
	// The bounds themselves are accepted.
	if s, err := donationviews.ReadSupervision(ctx, store, "org", "h-1", "2026-01", "2027-12"); err != nil || s.Donations == nil || len(s.Donations) != 0 {
		t.Errorf("24 months: %+v %v", s, err)
	}
	if _, err := donationviews.ReadSupervision(ctx, store, "region", "CN", "2026-11", "2026-11"); err != nil {
		t.Errorf("CN: %v", err)
	}
	if _, found, err := donationviews.ReadNeed(ctx, store, "n1"); found || err != nil {
		t.Errorf("missing need: %v %v", found, err)
	}
	if _, found, err := donationviews.ReadDonation(ctx, store, "d1"); found || err != nil {
		t.Errorf("missing donation: %v %v", found, err)
	}
	if s, err := donationviews.ReadStock(ctx, store, "h-1"); err != nil || s == nil || len(s) != 0 {
		t.Errorf("stock of an unknown org: %v %v", s, err)
	}
}

func TestReadUnavailable(t *testing.T) {
	ctx := context.Background()
	store := projectiontest.Failing{}
	reads := map[string]func() error{
		"need":     func() error { _, _, err := donationviews.ReadNeed(ctx, store, "n1"); return err },
		"donation": func() error { _, _, err := donationviews.ReadDonation(ctx, store, "d1"); return err },
		"stock":    func() error { _, err := donationviews.ReadStock(ctx, store, "h-1"); return err },
		"supervision": func() error {
			_, err := donationviews.ReadSupervision(ctx, store, "item", "gloves", "2026-11", "2026-12")
			return err
		},
	}
	for name, read := range reads {
		if err := read(); events.ErrorCode(err) != events.CodeUnavailable || !errors.Is(err, projectiontest.ErrDown) {
			t.Errorf("%s: %v, want unavailable wrapping the store's error", name, err)
		}
	}
	// The second read of ReadNeed and ReadStock fails too.
	l := journey(t)
	half := &failAfter{DocStore: project(t, l.Reg, l.Events), n: 1}
	if _, _, err := donationviews.ReadNeed(ctx, half, "n1"); events.ErrorCode(err) != events.CodeUnavailable || !errors.Is(err, projectiontest.ErrDown) {
		t.Errorf("need links: %v", err)
	}
	half.n = 1
	if _, err := donationviews.ReadStock(ctx, half, "h-1"); events.ErrorCode(err) != events.CodeUnavailable || !errors.Is(err, projectiontest.ErrDown) {
		t.Errorf("stock hops: %v", err)
	}
}

// failAfter fails every Get after the first n.
type failAfter struct {
	projections.DocStore
	n int
}

func (s *failAfter) Get(ctx context.Context, p projections.Projection, ids []string) (map[string]*projections.Doc, error) {
	if s.n <= 0 {
		return nil, projectiontest.ErrDown
	}
	s.n--
	return s.DocStore.Get(ctx, p, ids)
}

// TestBSON checks that every document state survives BSON, as stored in
// MongoDB or FerretDB: decoding and re-encoding gives the same document.
func TestBSON(t *testing.T) {
	l := journey(t)
	store := project(t, l.Reg, l.Events)
	n := projectiontest.RoundTripBSON(t, store, donationviews.All())
	if n != 3+2+12+15 { // needs, donations, stock, index
		t.Errorf("%d documents checked, want 32", n)
	}
	// So do the read results.
	ctx := context.Background()
	need, _, _ := donationviews.ReadNeed(ctx, store, "n1")
	stock, _ := donationviews.ReadStock(ctx, store, "h-1")
	sup, _ := donationviews.ReadSupervision(ctx, store, "org", "h-1", "2026-11", "2026-12")
	for _, v := range []any{&need, &stock[0], &sup} {
		raw, err := bson.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := bson.Unmarshal(raw, back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(v, back) {
			t.Errorf("%T changes through BSON:\n%+v\n%+v", v, v, back)
		}
	}
	if raw, _ := json.Marshal(need); !strings.Contains(string(raw), `"received":950`) || !strings.Contains(string(raw), `"hospital":"h-1"`) {
		t.Errorf("need as JSON: %s", raw)
	}
	if d := stock[2].DaysLeft; d == nil || math.Abs(*d-550.0/150) > 1e-9 {
		t.Errorf("days left %v", d)
	}
}
