package donationviews

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/projections"
)

// Bounds of the reads.
const (
	// MaxMonths is the longest range of months one ReadSupervision may
	// cover.
	MaxMonths = 24
	// linkBatch is how many small documents (need links, hops, index
	// months) one Get asks for.
	linkBatch = 500
)

func checkID(field, id string) error {
	if !isToken(id) {
		return events.Invalid(field, "%s must be 1 to 64 of [A-Za-z0-9_-], got %q", field, id)
	}
	return nil
}

// NeedStatus is a need with what was received against it.
type NeedStatus struct {
	Need `bson:",inline"`
	// Received is what arrived at the need's hospital of the need's item
	// and specification, over the donations pledged against the need and
	// listed in Donations, as confirmed by the hospital.
	Received int64 `json:"received" bson:"received"`
	// ReceivedPartial is true when the need lists fewer donations than
	// were pledged against it (MoreDonations): Received is then a lower
	// bound.
	ReceivedPartial bool `json:"received_partial" bson:"received_partial"`
}

// ReadNeed returns the need id with what was received against it: it
// reads the need, then the link of every donation it lists. found is false
// if the need is not known (neither published nor pledged against).
func ReadNeed(ctx context.Context, ds projections.DocStore, id string) (NeedStatus, bool, error) {
	if err := checkID("id", id); err != nil {
		return NeedStatus{}, false, err
	}
	p := Needs()
	doc, found, err := projections.GetOne[NeedsDoc](ctx, ds, p, NeedKey(id))
	if err != nil || !found || doc.Need == nil {
		return NeedStatus{}, false, err
	}
	out := NeedStatus{Need: *doc.Need, ReceivedPartial: doc.Need.MoreDonations > 0}
	if out.Donations == nil {
		out.Donations = []string{}
	}
	ids := make([]string, len(out.Donations))
	for i, d := range out.Donations {
		ids[i] = NeedLinkKey(d)
	}
	err = projections.GetEach(ctx, ds, p, ids, linkBatch, func(_ string, s *NeedsDoc) error {
		if s == nil || s.Link == nil || s.Link.Need != id {
			return nil
		}
		for _, a := range s.Link.Arrived {
			if a.Org == out.Hospital && a.Item == out.Line.Item && a.Spec == out.Line.Spec {
				out.Received += a.Quantity
			}
		}
		return nil
	})
	if err != nil {
		return NeedStatus{}, false, err
	}
	return out, true, nil
}

// ReadDonation returns the donation id. found is false if it is not known.
func ReadDonation(ctx context.Context, ds projections.DocStore, id string) (Donation, bool, error) {
	if err := checkID("id", id); err != nil {
		return Donation{}, false, err
	}
	return projections.GetOne[Donation](ctx, ds, Donations(), id)
}

// StockItem is an organisation's stock of one item and specification.
type StockItem struct {
	Org  string `json:"org" bson:"org"`
	Item string `json:"item" bson:"item"`
	Spec string `json:"spec" bson:"spec"`
	// Pledged is what the organisation pledged as a donor (it holds it
	// until it dispatches it).
	Pledged int64 `json:"pledged" bson:"pledged"`
	// Received is what it confirmed receiving as the named receiver of a
	// hop.
	Received int64 `json:"received" bson:"received"`
	// InTransit is what was dispatched to it in hops it has not confirmed.
	InTransit  int64 `json:"in_transit" bson:"in_transit"`
	Dispatched int64 `json:"dispatched" bson:"dispatched"` // handed over as the sender of a hop
	Consumed   int64 `json:"consumed" bson:"consumed"`
	// OnHand = Pledged + Received − Dispatched − Consumed.
	OnHand int64 `json:"on_hand" bson:"on_hand"`
	// Daily is consumption per local day, the latest MaxDailyDays days;
	// EarlierConsumed is that of older days.
	Daily           map[string]int64 `json:"daily" bson:"daily"`
	EarlierConsumed int64            `json:"earlier_consumed" bson:"earlier_consumed"`
	// DaysLeft estimates how long OnHand lasts (donationevents.DaysLeft); nil
	// without consumption.
	DaysLeft *float64 `json:"days_left" bson:"days_left"`
	// Partial is true when more hops were dispatched to the organisation
	// than its document lists (MaxStockHops): Received and InTransit then
	// leave those hops out.
	Partial bool `json:"partial" bson:"partial"`
	// Anomalies counts the anomalies of the hops read (a receipt before
	// the dispatch, a second receipt).
	Anomalies int64 `json:"anomalies" bson:"anomalies"`
}

// stockCatalogue returns the StockKey of org for every catalogue item and
// specification, in catalogue order (some thirty).
func stockCatalogue(org string) []string {
	var out []string
	for _, it := range donationevents.Catalogue() {
		for _, s := range it.Specs {
			out = append(out, StockKey(org, it.Code, s))
		}
	}
	return out
}

// ReadStock returns the stock of org of every item and specification it
// pledged, dispatched, was sent or consumed, by item and specification.
// It reads the organisation's document of every catalogue item and
// specification (the catalogue is small, so no per-organisation index is
// kept), then the hops they list, for what was received.
func ReadStock(ctx context.Context, ds projections.DocStore, org string) ([]StockItem, error) {
	if err := checkID("org", org); err != nil {
		return nil, err
	}
	p := Stock()
	keys := stockCatalogue(org)
	out := []StockItem{}
	var hops []string
	err := projections.GetEach(ctx, ds, p, keys, len(keys), func(_ string, s *StockDoc) error {
		if s == nil || s.Level == nil {
			return nil
		}
		l := s.Level
		st := StockItem{Org: org, Item: l.Item, Spec: l.Spec, Pledged: l.Pledged, Dispatched: l.Dispatched, Consumed: l.Consumed,
			Daily: map[string]int64{}, EarlierConsumed: l.EarlierConsumed, Partial: l.MoreHops > 0}
		for d, q := range l.Daily {
			st.Daily[d] = q
		}
		out = append(out, st)
		for _, h := range l.Hops {
			if !slices.Contains(hops, h) {
				hops = append(hops, h)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = projections.GetEach(ctx, ds, p, hops, linkBatch, func(_ string, s *StockDoc) error {
		if s == nil || s.Hop == nil || s.Hop.To != org {
			return nil
		}
		for i := range out {
			st := &out[i]
			sent := quantityOf(s.Hop.Sent, st.Item, st.Spec)
			if sent == 0 && quantityOf(s.Hop.Received, st.Item, st.Spec) == 0 {
				continue
			}
			st.Anomalies += s.Hop.Anomalies
			if s.Hop.Receipts > 0 {
				st.Received += quantityOf(s.Hop.Received, st.Item, st.Spec)
			} else {
				st.InTransit += sent
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		st := &out[i]
		st.OnHand = st.Pledged + st.Received - st.Dispatched - st.Consumed
		st.DaysLeft = donationevents.DaysLeft(st.OnHand, st.Daily)
	}
	slices.SortFunc(out, func(a, b StockItem) int {
		if c := strings.Compare(a.Item, b.Item); c != 0 {
			return c
		}
		return strings.Compare(a.Spec, b.Spec)
	})
	return out, nil
}

// Supervised is the donations that concern an organisation, an item or a
// region over a range of months.
type Supervised struct {
	By   string `json:"by" bson:"by"`
	Key  string `json:"key" bson:"key"`
	From string `json:"from" bson:"from"` // YYYY-MM
	To   string `json:"to" bson:"to"`     // YYYY-MM
	// Donations lists the distinct donations, month by month, each in
	// the order it first concerned the key.
	Donations []string `json:"donations" bson:"donations"`
	// Overflow sums the Overflow of the months read: non-zero means some
	// donations are not listed.
	Overflow int64 `json:"overflow" bson:"overflow"`
}

// parseMonth parses a YYYY-MM month of field.
func parseMonth(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, events.Invalid(field, "required")
	}
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return time.Time{}, events.Invalid(field, "must be a month YYYY-MM, got %q", s)
	}
	return t, nil
}

// checkIndexKey validates what donations are indexed by.
func checkIndexKey(by, key string) error {
	switch by {
	case ByOrg:
		return checkID("key", key)
	case ByItem:
		if _, ok := donationevents.LookupItem(key); !ok {
			return events.Invalid("key", "unknown item %q (GET /donations/catalogue lists them)", key)
		}
	case ByRegion:
		if _, err := events.ParseRegion(key); err != nil || (key != string(events.National) && len(key) > 6) {
			return events.Invalid("key", "key must be a region code of 2, 4 or 6 digits or %q, got %q", events.National, key)
		}
	default:
		return events.Invalid("by", "must be %s, %s or %s, not %q", ByOrg, ByItem, ByRegion, by)
	}
	return nil
}

// ReadSupervision returns the donations that concern key, by by (ByOrg:
// an organisation id, ByItem: an item code, ByRegion: a region of 2, 4 or
// 6 digits or "CN"), in every local month from from to to (YYYY-MM), both
// included, at most MaxMonths.
func ReadSupervision(ctx context.Context, ds projections.DocStore, by, key, from, to string) (Supervised, error) {
	if err := checkIndexKey(by, key); err != nil {
		return Supervised{}, err
	}
	f, err := parseMonth("from", from)
	if err != nil {
		return Supervised{}, err
	}
	t, err := parseMonth("to", to)
	if err != nil {
		return Supervised{}, err
	}
	if t.Before(f) {
		return Supervised{}, events.Invalid("to", "to (%s) is before from (%s)", to, from)
	}
	if n := (t.Year()-f.Year())*12 + int(t.Month()-f.Month()) + 1; n > MaxMonths {
		return Supervised{}, events.Invalid("to", "the range covers %d months; at most %d per query", n, MaxMonths)
	}
	var ids []string
	for m := f; !m.After(t); m = m.AddDate(0, 1, 0) {
		ids = append(ids, IndexKey(by, key, m.Format("2006-01")))
	}
	out := Supervised{By: by, Key: key, From: from, To: to, Donations: []string{}}
	seen := map[string]bool{}
	err = projections.GetEach(ctx, ds, Supervision(), ids, MaxMonths, func(_ string, s *Index) error {
		if s == nil {
			return nil
		}
		out.Overflow += s.Overflow
		for _, d := range s.Donations {
			if !seen[d] {
				seen[d] = true
				out.Donations = append(out.Donations, d)
			}
		}
		return nil
	})
	if err != nil {
		return Supervised{}, err
	}
	return out, nil
}
