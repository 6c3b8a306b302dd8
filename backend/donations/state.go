// Package donations is the material donation service (善踪): hospitals
// publish needs; donors pledge; every hop of a donation is dispatched by the
// holder and confirmed by the named receiver; hospitals record consumption;
// reviewers check each donation's use twice; anyone can trace a donation to
// its final recipient with a ledger inclusion proof for every step.
//
// # Quantities
//
// The state keeps, per donation, what each holder has on hand of each lot
// (item, specification, batch): a donor holds what it pledged (no batch
// yet), a receiver what it confirmed. A dispatch may not take more than the
// sender holds of the donation; a receipt may not confirm more than was
// dispatched (less is recorded and flagged short). Stock per organisation
// and item is the sum over donations of what it holds, less what it
// recorded as consumed; consumption beyond stock is refused.
package donations

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
)

// Need is a hospital's need as the service knows it.
type Need struct {
	ID         string              `json:"id"`
	Hospital   string              `json:"hospital"`
	Line       donationevents.Line `json:"line"`
	Urgency    string              `json:"urgency"`
	DeliverTo  string              `json:"deliver_to"`
	Region     events.Region       `json:"region"`
	ValidUntil time.Time           `json:"valid_until"`
	Published  time.Time           `json:"published"`
	Closed     bool                `json:"closed"`
	CloseNote  string              `json:"close_reason,omitempty"`
	Pledged    int64               `json:"pledged"` // pledged against it
	Received   int64               `json:"received"`
	LastSeq    uint64              `json:"-"`
}

// Open reports whether the need takes pledges at t.
func (n Need) Open(t time.Time) bool { return !n.Closed && t.Before(n.ValidUntil) }

// Hop is one handover of a donation.
type Hop struct {
	N          int                     `json:"hop"`
	From       donationevents.Party    `json:"from"`
	To         donationevents.Receiver `json:"to"`
	Lots       []donationevents.Lot    `json:"lots"`
	Via        string                  `json:"via,omitempty"`
	Dispatched time.Time               `json:"dispatched"`
	By         string                  `json:"dispatched_by"`
	Receipt    *Receipt                `json:"receipt,omitempty"`
}

// Receipt is a confirmed hop.
type Receipt struct {
	Lots      []donationevents.Lot `json:"lots"`
	Condition string               `json:"condition"`
	PhotoHash string               `json:"photo_hash"`
	Flags     []string             `json:"flags,omitempty"`
	Note      string               `json:"note,omitempty"`
	Time      time.Time            `json:"time"`
	By        string               `json:"confirmed_by"`
}

// Review is a review of a donation's use.
type Review struct {
	Round    int       `json:"round"`
	Verdict  string    `json:"verdict"`
	Note     string    `json:"note,omitempty"`
	Reviewer string    `json:"reviewer"`
	Time     time.Time `json:"time"`
}

// Donation is a donation as the service knows it.
type Donation struct {
	ID        string                `json:"id"`
	Donor     donationevents.Party  `json:"donor"`
	Pledger   string                `json:"-"` // account that pledged (notified at each hop)
	Need      string                `json:"need,omitempty"`
	Lines     []donationevents.Line `json:"lines"`
	Region    events.Region         `json:"region"`
	Pledged   time.Time             `json:"pledged"`
	Hops      []Hop                 `json:"hops"`
	Reviews   []Review              `json:"reviews"`
	Escalated string                `json:"escalated,omitempty"`
	Seqs      []uint64              `json:"-"` // ledger sequences of its events, in order
	LastSeq   uint64                `json:"-"`
	// holdings: holder → lot → quantity on hand of this donation.
	holdings map[string]map[lotKey]int64
}

// Status summarises where a donation is.
func (d Donation) Status() string {
	return donationevents.Status(d.Escalated != "", len(d.Hops), len(d.Hops) > 0 && d.Hops[len(d.Hops)-1].Receipt != nil)
}

type lotKey struct{ Item, Spec, Batch string }

// holderKey names a holder: "org:<id>" or "person:<id>".
func holderKey(p donationevents.Party) string { return p.Kind + ":" + p.ID }

func orgHolder(id string) string { return donationevents.PartyOrg + ":" + id }

type stockKey struct{ Org, Item, Spec string }

// State is the decision state of the donation service.
type State struct {
	mu        sync.RWMutex
	pos       *events.Position
	needs     map[string]*Need
	donations map[string]*Donation
	consumed  map[stockKey]int64
	daily     map[stockKey]map[string]int64 // day → consumed
	stockSeq  map[string]uint64             // org → last stock event
}

// NewState returns an empty state.
func NewState() *State {
	s := &State{needs: map[string]*Need{}, donations: map[string]*Donation{}, consumed: map[stockKey]int64{},
		daily: map[stockKey]map[string]int64{}, stockSeq: map[string]uint64{}}
	s.pos = events.NewPosition(&s.mu, "the donation state")
	return s
}

// Seq is the last ledger sequence applied.
func (s *State) Seq() uint64 { return s.pos.Seq() }

// Apply folds one event.
func (s *State) Apply(rec events.Recorded, p events.Payload) {
	s.pos.Fold(rec.Seq, func() { s.apply(rec, p) })
}

// apply folds an event not applied before, under the write lock.
func (s *State) apply(rec events.Recorded, p events.Payload) {
	e := rec.Event
	switch p := p.(type) {
	case donationevents.NeedPublished:
		s.needs[e.Aggregate.ID] = &Need{ID: e.Aggregate.ID, Hospital: p.Hospital, Line: p.Line, Urgency: p.Urgency, DeliverTo: p.DeliverTo,
			Region: p.Region, ValidUntil: p.ValidUntil, Published: e.Time, LastSeq: rec.Seq}
	case donationevents.NeedUpdated:
		if n := s.needs[e.Aggregate.ID]; n != nil {
			n.Line.Quantity, n.Urgency, n.ValidUntil, n.LastSeq = p.Quantity, p.Urgency, p.ValidUntil, rec.Seq
		}
	case donationevents.NeedClosed:
		if n := s.needs[e.Aggregate.ID]; n != nil {
			n.Closed, n.CloseNote, n.LastSeq = true, p.Reason, rec.Seq
		}
	case donationevents.Pledged:
		s.pledge(rec, p)
	case donationevents.Dispatched:
		s.dispatch(rec, p)
	case donationevents.Received:
		s.receive(rec, p)
	case donationevents.Reviewed:
		if d := s.donations[e.Aggregate.ID]; d != nil {
			d.Reviews = append(d.Reviews, Review{Round: p.Round, Verdict: p.Verdict, Note: p.Note, Reviewer: e.Actor.ID, Time: e.Time})
			s.touch(d, rec.Seq)
		}
	case donationevents.Escalated:
		if d := s.donations[e.Aggregate.ID]; d != nil {
			d.Escalated = p.Reason
			s.touch(d, rec.Seq)
		}
	case donationevents.Consumed:
		k := stockKey{e.Aggregate.ID, p.Item, p.Spec}
		s.consumed[k] += p.Quantity
		if s.daily[k] == nil {
			s.daily[k] = map[string]int64{}
		}
		s.daily[k][p.Day] += p.Quantity
		s.stockSeq[e.Aggregate.ID] = rec.Seq
	}
}

// pledge adds a donation, held by its donor, and counts its lines toward
// the need it answers.
func (s *State) pledge(rec events.Recorded, p donationevents.Pledged) {
	e := rec.Event
	d := &Donation{ID: e.Aggregate.ID, Donor: p.Donor, Pledger: pledger(e, p), Need: p.Need, Lines: p.Lines, Region: e.Region,
		Pledged: e.Time, holdings: map[string]map[lotKey]int64{}}
	h := map[lotKey]int64{}
	for _, l := range p.Lines {
		h[lotKey{l.Item, l.Spec, ""}] += l.Quantity
	}
	d.holdings[holderKey(p.Donor)] = h
	if n := s.needs[p.Need]; n != nil {
		for _, l := range p.Lines {
			if l.Item == n.Line.Item && l.Spec == n.Line.Spec {
				n.Pledged += l.Quantity
			}
		}
	}
	s.donations[d.ID] = d
	s.touch(d, rec.Seq)
}

// dispatch adds a hop and takes its lots from the sender's holdings.
func (s *State) dispatch(rec events.Recorded, p donationevents.Dispatched) {
	e := rec.Event
	d := s.donations[e.Aggregate.ID]
	if d == nil {
		return
	}
	d.Hops = append(d.Hops, Hop{N: p.Hop, From: p.From, To: p.To, Lots: p.Lots, Via: p.Via, Dispatched: e.Time, By: e.Actor.ID})
	from := d.holdings[holderKey(p.From)]
	for _, l := range p.Lots {
		k := lotKey{l.Item, l.Spec, l.Batch}
		if from[k] < l.Quantity { // the donor's pledge has no batch
			k.Batch = ""
		}
		if from != nil {
			from[k] -= l.Quantity
		}
	}
	s.touch(d, rec.Seq)
}

// receive records a hop's receipt, adds its lots to the receiver's
// holdings and counts them toward the need when the receiver is the
// hospital that published it.
func (s *State) receive(rec events.Recorded, p donationevents.Received) {
	e := rec.Event
	d := s.donations[e.Aggregate.ID]
	if d == nil || p.Hop < 1 || p.Hop > len(d.Hops) {
		return
	}
	hop := &d.Hops[p.Hop-1]
	hop.Receipt = &Receipt{Lots: p.Lots, Condition: p.Condition, PhotoHash: p.PhotoHash, Flags: p.Flags, Note: p.Note, Time: e.Time, By: e.Actor.ID}
	to := orgHolder(hop.To.Org)
	if d.holdings[to] == nil {
		d.holdings[to] = map[lotKey]int64{}
	}
	for _, l := range p.Lots {
		d.holdings[to][lotKey{l.Item, l.Spec, l.Batch}] += l.Quantity
		if n := s.needs[d.Need]; n != nil && n.Hospital == hop.To.Org && l.Item == n.Line.Item && l.Spec == n.Line.Spec {
			n.Received += l.Quantity
		}
	}
	s.touch(d, rec.Seq)
}

func (s *State) touch(d *Donation, seq uint64) {
	d.Seqs = append(d.Seqs, seq)
	d.LastSeq = seq
}

// WaitFor blocks until the state has applied sequence seq, or ctx ends.
func (s *State) WaitFor(ctx context.Context, seq uint64) error { return s.pos.WaitFor(ctx, seq) }

func copyDonation(d *Donation) Donation {
	c := *d
	c.Lines = slices.Clone(d.Lines)
	c.Hops = slices.Clone(d.Hops)
	c.Reviews = slices.Clone(d.Reviews)
	c.Seqs = slices.Clone(d.Seqs)
	c.holdings = nil
	return c
}

// Donation returns a copy of a donation.
func (s *State) Donation(id string) (Donation, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.donations[id]
	if d == nil {
		return Donation{}, false
	}
	return copyDonation(d), true
}

// Need returns a copy of a need.
func (s *State) Need(id string) (Need, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := s.needs[id]
	if n == nil {
		return Need{}, false
	}
	return *n, true
}

// Needs lists the needs matching keep, most urgent and newest first.
func (s *State) Needs(keep func(Need) bool) []Need {
	s.mu.RLock()
	var out []Need
	for _, n := range s.needs {
		if keep(*n) {
			out = append(out, *n)
		}
	}
	s.mu.RUnlock()
	rank := map[string]int{donationevents.Critical: 0, donationevents.High: 1, donationevents.Normal: 2}
	sort.Slice(out, func(i, j int) bool {
		if rank[out[i].Urgency] != rank[out[j].Urgency] {
			return rank[out[i].Urgency] < rank[out[j].Urgency]
		}
		if !out[i].Published.Equal(out[j].Published) {
			return out[i].Published.After(out[j].Published)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Donations lists the donations matching keep, newest first.
func (s *State) Donations(keep func(*Donation) bool) []Donation {
	s.mu.RLock()
	var out []Donation
	for _, d := range s.donations {
		if keep(d) {
			out = append(out, copyDonation(d))
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Pledged.Equal(out[j].Pledged) {
			return out[i].Pledged.After(out[j].Pledged)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Holding is what one holder has on hand of one lot of a donation.
type Holding struct {
	Item     string `json:"item"`
	Spec     string `json:"spec"`
	Batch    string `json:"batch,omitempty"`
	Quantity int64  `json:"quantity"`
}

// holding returns what holder has of donation id, per lot.
func (s *State) holding(id, holder string) map[lotKey]int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.donations[id]
	if d == nil {
		return nil
	}
	out := map[lotKey]int64{}
	for k, v := range d.holdings[holder] {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// Stock is an organisation's stock of one item and specification.
type Stock struct {
	Org      string `json:"org"`
	Item     string `json:"item"`
	Spec     string `json:"spec"`
	Received int64  `json:"received"` // on hand from donations (received less dispatched onwards)
	Consumed int64  `json:"consumed"`
	OnHand   int64  `json:"on_hand"`
	// Daily is consumption per day (YYYY-MM-DD), the consumption curve.
	Daily map[string]int64 `json:"daily"`
	// DaysLeft estimates how long the stock lasts at the mean daily
	// consumption of the last 7 days with any; nil without consumption.
	DaysLeft *float64 `json:"days_left"`
}

// Stock returns the stock of every (item, spec) an organisation holds or
// consumed, by item.
func (s *State) Stock(org string) []Stock {
	s.mu.RLock()
	defer s.mu.RUnlock()
	held := map[stockKey]int64{}
	for _, d := range s.donations {
		for k, v := range d.holdings[orgHolder(org)] {
			held[stockKey{org, k.Item, k.Spec}] += v
		}
	}
	for k := range s.consumed {
		if k.Org == org {
			if _, ok := held[k]; !ok {
				held[k] = 0
			}
		}
	}
	out := make([]Stock, 0, len(held))
	for k, v := range held {
		st := Stock{Org: org, Item: k.Item, Spec: k.Spec, Received: v, Consumed: s.consumed[k], Daily: map[string]int64{}}
		st.OnHand = v - st.Consumed
		for day, q := range s.daily[k] {
			st.Daily[day] = q
		}
		st.DaysLeft = donationevents.DaysLeft(st.OnHand, st.Daily)
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Item != out[j].Item {
			return out[i].Item < out[j].Item
		}
		return out[i].Spec < out[j].Spec
	})
	return out
}

// pledger is who is told about a donation's hops: the person who pledged
// (by their donation-domain pseudonym) or the organisation member.
func pledger(e events.Event, p donationevents.Pledged) string {
	if p.Donor.Kind == donationevents.PartyPerson {
		return p.Donor.ID
	}
	return e.Actor.ID
}
