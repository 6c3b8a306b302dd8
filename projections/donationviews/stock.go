package donationviews

import (
	"slices"
	"strconv"
	"strings"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/projections"
)

// Bounds of the donation_stock documents.
const (
	// MaxDailyDays caps the days of consumption a stock document lists: the
	// latest ones (a year and more, what a consumption curve shows).
	// Consumption on older days is in EarlierConsumed.
	MaxDailyDays = 400
	// MaxStockHops caps the hops a stock document lists (about 40 bytes
	// each); hops beyond it are counted in MoreHops and ReadStock reports
	// the stock as partial.
	MaxStockHops = 10_000
)

// StockKey is the donation_stock document id of what org holds of item
// and spec: "<org>|<item>|<spec>", e.g. "h-1|mask_n95|KN95".
func StockKey(org, item, spec string) string { return org + "|" + item + "|" + spec }

// HopKey is the donation_stock document id of hop n of donation:
// "hop:<donation>#<n>", e.g. "hop:d-1#2".
func HopKey(donation string, n int) string { return "hop:" + donation + "#" + strconv.Itoa(n) }

// StockLevel is what the ledger says, event by event, of one
// organisation's stock of one item and specification. What it received
// is not here (a receipt does not name its receiver): ReadStock adds it
// from the hops listed.
type StockLevel struct {
	Org  string `json:"org" bson:"org"`
	Item string `json:"item" bson:"item"`
	Spec string `json:"spec" bson:"spec"`
	// Pledged is what the organisation pledged as a donor: it holds it
	// until it dispatches it.
	Pledged int64 `json:"pledged" bson:"pledged"`
	// Dispatched is what it handed over, as the sender of a hop.
	Dispatched int64 `json:"dispatched" bson:"dispatched"`
	// Sent is what was dispatched to it, as the named receiver of a hop,
	// confirmed or not.
	Sent     int64 `json:"sent" bson:"sent"`
	Consumed int64 `json:"consumed" bson:"consumed"`
	// Daily is the consumption per local (CST) day YYYY-MM-DD, the latest
	// MaxDailyDays days with any; EarlierConsumed is the consumption of
	// older days. Consumed = EarlierConsumed + the sum of Daily.
	Daily           map[string]int64 `json:"daily" bson:"daily"`
	EarlierConsumed int64            `json:"earlier_consumed" bson:"earlier_consumed"`
	// Hops lists the hops dispatched to the organisation with this item
	// and specification (their HopKey), in ledger order, up to
	// MaxStockHops; MoreHops counts those not listed.
	Hops     []string `json:"hops" bson:"hops"`
	MoreHops int64    `json:"more_hops" bson:"more_hops"`
	Updated  string   `json:"updated" bson:"updated"` // time of the last event
}

// StockHop is one hop as stock sees it: its receiver, what was sent and
// what the receiver confirmed, by item and specification.
type StockHop struct {
	Donation string `json:"donation" bson:"donation"`
	Hop      int    `json:"hop" bson:"hop"`
	To       string `json:"to" bson:"to"` // receiving organisation; "" if the dispatch was never seen
	Sent     []Line `json:"sent" bson:"sent"`
	Received []Line `json:"received" bson:"received"`
	// Receipts counts the receipts recorded: 0 in transit, 1 confirmed.
	Receipts int64 `json:"receipts" bson:"receipts"`
	// Anomalies counts a second dispatch under the same hop number (its
	// lots are added), a receipt before the dispatch, a second receipt
	// (added again, as the donation service does).
	Anomalies int64 `json:"anomalies" bson:"anomalies"`
}

// StockDoc is the stored state of donation_stock: a StockLevel
// (StockKey ids) or a StockHop (HopKey ids), the other left nil (and
// omitted from the stored form).
type StockDoc struct {
	Level *StockLevel `json:"level,omitempty" bson:"level,omitempty"`
	Hop   *StockHop   `json:"hop,omitempty" bson:"hop,omitempty"`
}

// items returns the distinct (item, spec) pairs of lines, in order.
func items(lines []Line) [][2]string {
	var out [][2]string
	for _, l := range lines {
		if k := [2]string{l.Item, l.Spec}; !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func lotLines(lots []donationevents.Lot) []Line {
	var out []Line
	for _, l := range lots {
		out = addLine(out, l.Item, l.Spec, l.Quantity)
	}
	return out
}

// stockKeys returns the StockKey of org for each catalogue item of lines;
// none if org cannot be keyed.
func stockKeys(keys []string, org string, lines []Line) []string {
	if !isToken(org) {
		return keys
	}
	for _, k := range items(lines) {
		if inCatalogue(k[0], k[1]) {
			keys = appendKey(keys, StockKey(org, k[0], k[1]))
		}
	}
	return keys
}

// Stock is the projection of stock per organisation, item and
// specification (StockKey) and of hops (HopKey):
//
//   - a pledge by an organisation touches its documents of the lines'
//     items;
//   - a dispatch touches the hop, the receiver's documents of the lots'
//     items and, if the sender is an organisation, the sender's;
//   - a receipt touches the hop;
//   - a consumption touches the consuming organisation's document (the
//     stock aggregate is the organisation).
func Stock() projections.Projection {
	return projections.Define(projections.Spec[StockDoc]{
		Name:     "donation_stock",
		Version:  1,
		Subjects: []string{donationSubject, stockSubject},
		Keys: func(e events.Event, p events.Payload) []string {
			switch p := p.(type) {
			case donationevents.Pledged:
				if p.Donor.Kind == donationevents.PartyOrg {
					return stockKeys(nil, p.Donor.ID, linesOf(p.Lines))
				}
			case donationevents.Dispatched:
				keys := []string{HopKey(e.Aggregate.ID, p.Hop)}
				keys = stockKeys(keys, p.To.Org, lotLines(p.Lots))
				if p.From.Kind == donationevents.PartyOrg {
					keys = stockKeys(keys, p.From.ID, lotLines(p.Lots))
				}
				return keys
			case donationevents.Received:
				return []string{HopKey(e.Aggregate.ID, p.Hop)}
			case donationevents.Consumed:
				return stockKeys(nil, e.Aggregate.ID, []Line{{Item: p.Item, Spec: p.Spec}})
			}
			return nil
		},
		Fold: func(id string, s *StockDoc, e events.Event, p events.Payload) error {
			if rest, ok := strings.CutPrefix(id, "hop:"); ok {
				if s.Hop == nil {
					d, n, _ := strings.Cut(rest, "#")
					hop, _ := strconv.Atoi(n)
					s.Hop = &StockHop{Donation: d, Hop: hop, Sent: []Line{}, Received: []Line{}}
				}
				s.Hop.fold(p)
				return nil
			}
			if s.Level == nil {
				parts := strings.SplitN(id, "|", 3)
				if len(parts) != 3 {
					return nil // not a key of Keys
				}
				s.Level = &StockLevel{Org: parts[0], Item: parts[1], Spec: parts[2], Daily: map[string]int64{}, Hops: []string{}}
			}
			s.Level.fold(e, p)
			return nil
		},
	})
}

func (h *StockHop) fold(p events.Payload) {
	switch p := p.(type) {
	case donationevents.Dispatched:
		if h.To != "" {
			h.Anomalies++
		}
		h.To = p.To.Org
		for _, l := range p.Lots {
			h.Sent = addLine(h.Sent, l.Item, l.Spec, l.Quantity)
		}
	case donationevents.Received:
		if h.To == "" || h.Receipts > 0 {
			h.Anomalies++
		}
		h.Receipts++
		for _, l := range p.Lots {
			h.Received = addLine(h.Received, l.Item, l.Spec, l.Quantity)
		}
	}
}

func (s *StockLevel) fold(e events.Event, p events.Payload) {
	switch p := p.(type) {
	case donationevents.Pledged:
		if p.Donor.Kind == donationevents.PartyOrg && p.Donor.ID == s.Org {
			s.Pledged += quantityOf(linesOf(p.Lines), s.Item, s.Spec)
		}
	case donationevents.Dispatched:
		q := quantityOf(lotLines(p.Lots), s.Item, s.Spec)
		if p.From.Kind == donationevents.PartyOrg && p.From.ID == s.Org {
			s.Dispatched += q
		}
		if p.To.Org == s.Org && q > 0 {
			s.Sent += q
			if len(s.Hops) >= MaxStockHops {
				s.MoreHops++
			} else if k := HopKey(e.Aggregate.ID, p.Hop); !slices.Contains(s.Hops, k) {
				s.Hops = append(s.Hops, k)
			}
		}
	case donationevents.Consumed:
		if p.Item != s.Item || p.Spec != s.Spec {
			return
		}
		s.Consumed += p.Quantity
		s.consume(p.Day, p.Quantity)
	default:
		return
	}
	s.Updated = fixed(e.Time)
}

// consume adds q to day in Daily, keeping the latest MaxDailyDays days:
// a day older than all of a full map goes to EarlierConsumed, a newer one
// pushes the oldest listed day there.
func (s *StockLevel) consume(day string, q int64) {
	if _, ok := s.Daily[day]; ok || len(s.Daily) < MaxDailyDays {
		s.Daily[day] += q
		return
	}
	oldest := ""
	for d := range s.Daily {
		if oldest == "" || d < oldest {
			oldest = d
		}
	}
	if day < oldest {
		s.EarlierConsumed += q
		return
	}
	s.EarlierConsumed += s.Daily[oldest]
	delete(s.Daily, oldest)
	s.Daily[day] = q
}
