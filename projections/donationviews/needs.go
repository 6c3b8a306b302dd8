package donationviews

import (
	"slices"
	"strings"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/projections"
)

// Bounds of the donation_needs documents.
const (
	// MaxNeedDonations caps the donations a need lists (about 30 bytes of
	// BSON each); pledges beyond it are counted in Need.MoreDonations and
	// their receipts are not counted by ReadNeed.
	MaxNeedDonations = 10_000
	// MaxHops caps the hops a donation lists (a hop is at most a few KB;
	// real donations take three to five). Hops beyond it are counted in
	// MoreHops; their receipts are not applied.
	MaxHops = 200
)

// NeedKey is the donation_needs document id of need id: "need:<id>".
func NeedKey(id string) string { return "need:" + id }

// NeedLinkKey is the donation_needs document id of the link of donation
// id to its need: "donation:<id>".
func NeedLinkKey(id string) string { return "donation:" + id }

// Need is one need of a hospital as it stands.
type Need struct {
	ID             string `json:"id" bson:"id"`                           // need id (the aggregate)
	Hospital       string `json:"hospital" bson:"hospital"`               // organisation id
	HospitalRegion string `json:"hospital_region" bson:"hospital_region"` // region of the events (the hospital's)
	Line           Line   `json:"line" bson:"line"`                       // item, spec and the quantity asked for (as last updated)
	Urgency        string `json:"urgency" bson:"urgency"`                 // critical | high | normal
	DeliverTo      string `json:"deliver_to" bson:"deliver_to"`
	Region         string `json:"region" bson:"region"`           // of the delivery place
	ValidUntil     string `json:"valid_until" bson:"valid_until"` // RFC 3339 UTC, fixed width
	Published      string `json:"published" bson:"published"`     // "" if the publication was never seen
	Updated        string `json:"updated" bson:"updated"`         // time of the last update; "" if never updated
	UpdateNote     string `json:"update_note" bson:"update_note"` // note of the last update
	Updates        int64  `json:"updates" bson:"updates"`
	Closed         bool   `json:"closed" bson:"closed"`
	ClosedAt       string `json:"closed_at" bson:"closed_at"`
	CloseReason    string `json:"close_reason" bson:"close_reason"`
	// Pledged is the quantity of the need's item and specification pledged
	// against it (other lines of the same pledges are not counted), as the
	// donation service counts it.
	Pledged int64 `json:"pledged" bson:"pledged"`
	// Donations lists the donations pledged against the need, in ledger
	// order, up to MaxNeedDonations; MoreDonations counts those not listed.
	Donations     []string `json:"donations" bson:"donations"`
	MoreDonations int64    `json:"more_donations" bson:"more_donations"`
	// Anomalies counts events out of order: a second publication, an
	// update or closure of a need never published, an update after the
	// closure, a second closure, a pledge before the publication (listed,
	// its quantity not counted).
	Anomalies int64 `json:"anomalies" bson:"anomalies"`
}

// HopTo is the receiver of one hop of a donation.
type HopTo struct {
	Hop       int    `json:"hop" bson:"hop"`
	Org       string `json:"org" bson:"org"`
	Confirmed bool   `json:"confirmed" bson:"confirmed"` // a receipt was recorded
}

// Arrived is what one organisation confirmed receiving of one item and
// specification, over all hops of a donation.
type Arrived struct {
	Org      string `json:"org" bson:"org"`
	Item     string `json:"item" bson:"item"`
	Spec     string `json:"spec" bson:"spec"`
	Quantity int64  `json:"quantity" bson:"quantity"`
}

// NeedLink is what a need needs to know of one donation: the need it was
// pledged against ("" for the general pool), who receives each hop and
// what each receiver confirmed. Every donation has one, since the events
// that build it (dispatch, receipt) do not say whether it has a need.
type NeedLink struct {
	Donation string    `json:"donation" bson:"donation"`
	Need     string    `json:"need" bson:"need"`
	Hops     []HopTo   `json:"hops" bson:"hops"`
	MoreHops int64     `json:"more_hops" bson:"more_hops"`
	Arrived  []Arrived `json:"arrived" bson:"arrived"`
	// Anomalies counts events out of order: a second pledge, a hop
	// dispatched twice (the second is ignored), a receipt of a hop never
	// dispatched (ignored), a second receipt of a hop (counted again, as
	// the donation service does).
	Anomalies int64 `json:"anomalies" bson:"anomalies"`
}

// NeedsDoc is the stored state of donation_needs: a need ("need:" ids) or
// a donation's link ("donation:" ids), the other left nil (and omitted
// from the stored form).
type NeedsDoc struct {
	Need *Need     `json:"need,omitempty" bson:"need,omitempty"`
	Link *NeedLink `json:"link,omitempty" bson:"link,omitempty"`
}

// Needs is the projection of needs (NeedKey) and of the links of donations
// to their needs (NeedLinkKey). A need.* event touches its need; a pledge
// touches the donation's link and, if pledged against a need, the need; a
// dispatch or a receipt touches the donation's link.
func Needs() projections.Projection {
	return projections.Define(projections.Spec[NeedsDoc]{
		Name:     "donation_needs",
		Version:  1,
		Subjects: []string{needSubject, donationSubject},
		Keys: func(e events.Event, p events.Payload) []string {
			switch p := p.(type) {
			case donationevents.NeedPublished, donationevents.NeedUpdated, donationevents.NeedClosed:
				return []string{NeedKey(e.Aggregate.ID)}
			case donationevents.Pledged:
				keys := []string{NeedLinkKey(e.Aggregate.ID)}
				if isToken(p.Need) {
					keys = append(keys, NeedKey(p.Need))
				}
				return keys
			case donationevents.Dispatched, donationevents.Received:
				return []string{NeedLinkKey(e.Aggregate.ID)}
			}
			return nil
		},
		Fold: func(id string, s *NeedsDoc, e events.Event, p events.Payload) error {
			if d, ok := strings.CutPrefix(id, "donation:"); ok {
				if s.Link == nil {
					s.Link = &NeedLink{Donation: d, Hops: []HopTo{}, Arrived: []Arrived{}}
				}
				s.Link.fold(e, p)
				return nil
			}
			if s.Need == nil {
				s.Need = &Need{ID: strings.TrimPrefix(id, "need:"), Donations: []string{}}
			}
			s.Need.fold(e, p)
			return nil
		},
	})
}

func (n *Need) fold(e events.Event, p events.Payload) {
	at := fixed(e.Time)
	switch p := p.(type) {
	case donationevents.NeedPublished:
		if n.Published != "" {
			n.Anomalies++
		}
		n.Hospital, n.HospitalRegion = p.Hospital, string(e.Region)
		n.Line = Line{Item: p.Line.Item, Spec: p.Line.Spec, Quantity: p.Line.Quantity}
		n.Urgency, n.DeliverTo, n.Region, n.ValidUntil = p.Urgency, p.DeliverTo, string(p.Region), fixed(p.ValidUntil)
		n.Published = at
	case donationevents.NeedUpdated:
		if n.Published == "" || n.Closed {
			n.Anomalies++
		}
		n.Line.Quantity, n.Urgency, n.ValidUntil = p.Quantity, p.Urgency, fixed(p.ValidUntil)
		n.Updated, n.UpdateNote = at, p.Note
		n.Updates++
	case donationevents.NeedClosed:
		if n.Published == "" || n.Closed {
			n.Anomalies++
		}
		n.Closed, n.ClosedAt, n.CloseReason = true, at, p.Reason
	case donationevents.Pledged:
		if n.Published == "" {
			n.Anomalies++ // the need's item is not known yet
		} else {
			for _, l := range p.Lines {
				if l.Item == n.Line.Item && l.Spec == n.Line.Spec {
					n.Pledged += l.Quantity
				}
			}
		}
		if len(n.Donations) >= MaxNeedDonations {
			n.MoreDonations++
		} else {
			n.Donations = append(n.Donations, e.Aggregate.ID)
		}
	}
}

func (l *NeedLink) fold(e events.Event, p events.Payload) {
	switch p := p.(type) {
	case donationevents.Pledged:
		if l.Need != "" {
			l.Anomalies++
		}
		l.Need = p.Need
	case donationevents.Dispatched:
		for _, h := range l.Hops {
			if h.Hop == p.Hop {
				l.Anomalies++
				return
			}
		}
		if len(l.Hops) >= MaxHops {
			l.MoreHops++
			return
		}
		l.Hops = append(l.Hops, HopTo{Hop: p.Hop, Org: p.To.Org})
	case donationevents.Received:
		i := slices.IndexFunc(l.Hops, func(h HopTo) bool { return h.Hop == p.Hop })
		if i < 0 {
			if l.MoreHops == 0 {
				l.Anomalies++
			}
			return
		}
		if l.Hops[i].Confirmed {
			l.Anomalies++ // counted again, as the donation service would
		}
		l.Hops[i].Confirmed = true
		org := l.Hops[i].Org
		for _, lot := range p.Lots {
			l.arrive(org, lot.Item, lot.Spec, lot.Quantity)
		}
	}
}

func (l *NeedLink) arrive(org, item, spec string, q int64) {
	for i, a := range l.Arrived {
		if a.Org == org && a.Item == item && a.Spec == spec {
			l.Arrived[i].Quantity += q
			return
		}
	}
	l.Arrived = append(l.Arrived, Arrived{Org: org, Item: item, Spec: spec, Quantity: q})
}
