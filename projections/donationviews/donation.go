package donationviews

import (
	"slices"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/projections"
)

// MaxReviews caps the reviews a donation lists (two are expected: the
// review and the re-review); more are counted in MoreReviews.
const MaxReviews = 100

// Receiver is the named receiver of a hop (donationevents.Receiver).
type Receiver struct {
	Org  string `json:"org" bson:"org"`
	Unit string `json:"unit" bson:"unit"` // e.g. a ward; "" for the organisation
}

// Receipt is the receiver's confirmation of a hop (donationevents.Received).
type Receipt struct {
	Lots      []Lot    `json:"lots" bson:"lots"` // what arrived; a lot may be 0 (lost)
	Condition string   `json:"condition" bson:"condition"`
	PhotoHash string   `json:"photo_hash" bson:"photo_hash"`
	Flags     []string `json:"flags" bson:"flags"` // e.g. short
	Note      string   `json:"note" bson:"note"`
	Time      string   `json:"time" bson:"time"` // RFC 3339 UTC, fixed width
	By        Actor    `json:"by" bson:"by"`
}

// Hop is one handover of a donation (donationevents.Dispatched) and its receipt.
type Hop struct {
	N            int      `json:"hop" bson:"hop"` // 1 for the first hop
	From         Party    `json:"from" bson:"from"`
	To           Receiver `json:"to" bson:"to"`
	Lots         []Lot    `json:"lots" bson:"lots"`
	Via          string   `json:"via" bson:"via"`               // carrier and waybill
	Dispatched   string   `json:"dispatched" bson:"dispatched"` // RFC 3339 UTC, fixed width
	DispatchedBy Actor    `json:"dispatched_by" bson:"dispatched_by"`
	Receipt      *Receipt `json:"receipt" bson:"receipt"` // nil until confirmed
}

// Review is one review of a donation's use (donationevents.Reviewed).
type Review struct {
	Round    int    `json:"round" bson:"round"` // 1 review, 2 re-review
	Verdict  string `json:"verdict" bson:"verdict"`
	Note     string `json:"note" bson:"note"`
	Reviewer Actor  `json:"reviewer" bson:"reviewer"`
	Time     string `json:"time" bson:"time"`
}

// Donation is one donation as it stands.
type Donation struct {
	ID        string `json:"id" bson:"id"` // donation id (the aggregate)
	Donor     Party  `json:"donor" bson:"donor"`
	PledgedBy Actor  `json:"pledged_by" bson:"pledged_by"`
	Need      string `json:"need" bson:"need"` // need id; "" for the general pool
	Lines     []Line `json:"lines" bson:"lines"`
	Note      string `json:"note" bson:"note"`
	Region    string `json:"region" bson:"region"`   // region of the events (the donation's)
	Pledged   string `json:"pledged" bson:"pledged"` // RFC 3339 UTC; "" if the pledge was never seen
	// Hops lists the hops in the order dispatched, up to MaxHops; MoreHops
	// counts those not listed (their receipts are not shown).
	Hops     []Hop `json:"hops" bson:"hops"`
	MoreHops int64 `json:"more_hops" bson:"more_hops"`
	LastHop  int   `json:"last_hop" bson:"last_hop"` // highest hop number dispatched
	// LastConfirmed reports whether hop LastHop was confirmed (listed or
	// not).
	LastConfirmed bool     `json:"last_confirmed" bson:"last_confirmed"`
	Reviews       []Review `json:"reviews" bson:"reviews"`
	MoreReviews   int64    `json:"more_reviews" bson:"more_reviews"`
	// Escalated is the reason of the latest escalation, "" if none.
	Escalated   string `json:"escalated" bson:"escalated"`
	EscalatedAt string `json:"escalated_at" bson:"escalated_at"`
	EscalatedBy *Actor `json:"escalated_by" bson:"escalated_by"`
	Status      string `json:"status" bson:"status"`
	Updated     string `json:"updated" bson:"updated"` // time of the last event
	// Anomalies counts events out of order: a second pledge, an event
	// before the pledge, a hop not numbered next, a receipt of a hop not
	// listed, a second receipt of a hop (it replaces the first, as in the
	// donation service), a receipt of more than was dispatched or of a lot
	// not dispatched, a re-review without a review.
	Anomalies int64 `json:"anomalies" bson:"anomalies"`
}

// Donations is the projection of donations, keyed by donation id.
func Donations() projections.Projection {
	return projections.Define(projections.Spec[Donation]{
		Name:     "donations",
		Version:  1,
		Subjects: []string{donationSubject},
		Keys: func(e events.Event, p events.Payload) []string {
			switch p.(type) {
			case donationevents.Pledged, donationevents.Dispatched, donationevents.Received, donationevents.Reviewed, donationevents.Escalated:
				return []string{e.Aggregate.ID}
			}
			return nil
		},
		Fold: func(id string, s *Donation, e events.Event, p events.Payload) error {
			s.ID = id
			if s.Lines == nil {
				s.Lines, s.Hops, s.Reviews = []Line{}, []Hop{}, []Review{}
			}
			if _, ok := p.(donationevents.Pledged); !ok && s.Pledged == "" {
				s.Anomalies++ // before the pledge
			}
			at := fixed(e.Time)
			switch p := p.(type) {
			case donationevents.Pledged:
				if s.Pledged != "" {
					s.Anomalies++
				}
				s.Donor, s.PledgedBy, s.Need = partyOf(p.Donor), actorOf(e), p.Need
				s.Lines, s.Note, s.Region, s.Pledged = linesOf(p.Lines), p.Note, string(e.Region), at
			case donationevents.Dispatched:
				s.dispatch(e, p, at)
			case donationevents.Received:
				s.receive(e, p, at)
			case donationevents.Reviewed:
				if p.Round == 2 && !slices.ContainsFunc(s.Reviews, func(r Review) bool { return r.Round == 1 }) && s.MoreReviews == 0 {
					s.Anomalies++
				}
				if len(s.Reviews) >= MaxReviews {
					s.MoreReviews++
				} else {
					s.Reviews = append(s.Reviews, Review{Round: p.Round, Verdict: p.Verdict, Note: p.Note, Reviewer: actorOf(e), Time: at})
				}
			case donationevents.Escalated:
				a := actorOf(e)
				s.Escalated, s.EscalatedAt, s.EscalatedBy = p.Reason, at, &a
			default:
				return nil
			}
			s.Status = s.status()
			s.Updated = at
			return nil
		},
	})
}

func (s *Donation) dispatch(e events.Event, p donationevents.Dispatched, at string) {
	if p.Hop != s.LastHop+1 {
		s.Anomalies++
	}
	if p.Hop > s.LastHop {
		s.LastHop, s.LastConfirmed = p.Hop, false
	}
	if len(s.Hops) >= MaxHops {
		s.MoreHops++
		return
	}
	s.Hops = append(s.Hops, Hop{N: p.Hop, From: partyOf(p.From), To: Receiver{Org: p.To.Org, Unit: p.To.Unit},
		Lots: lotsOf(p.Lots), Via: p.Via, Dispatched: at, DispatchedBy: actorOf(e)})
}

func (s *Donation) receive(e events.Event, p donationevents.Received, at string) {
	if p.Hop == s.LastHop {
		s.LastConfirmed = true
	}
	i := slices.IndexFunc(s.Hops, func(h Hop) bool { return h.N == p.Hop })
	if i < 0 {
		if s.MoreHops == 0 {
			s.Anomalies++
		}
		return
	}
	h := &s.Hops[i]
	if h.Receipt != nil {
		s.Anomalies++
	}
	sent := map[[3]string]int64{}
	for _, l := range h.Lots {
		sent[[3]string{l.Item, l.Spec, l.Batch}] += l.Quantity
	}
	got := map[[3]string]int64{}
	for _, l := range p.Lots {
		got[[3]string{l.Item, l.Spec, l.Batch}] += l.Quantity
	}
	for k, q := range got {
		if q > sent[k] {
			s.Anomalies++
			break
		}
	}
	flags := slices.Clone(p.Flags)
	if flags == nil {
		flags = []string{}
	}
	h.Receipt = &Receipt{Lots: lotsOf(p.Lots), Condition: p.Condition, PhotoHash: p.PhotoHash, Flags: flags,
		Note: p.Note, Time: at, By: actorOf(e)}
}

// status is where the donation stands (donationevents.Status).
func (s *Donation) status() string {
	return donationevents.Status(s.Escalated != "", s.LastHop, s.LastConfirmed)
}
