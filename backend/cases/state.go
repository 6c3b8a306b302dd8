// Package cases is infectious-disease case reporting: hospitals file report
// cards, which climb the review chain (hospital, district, city, province
// and national CDC) while, at the same moment, they count for early warning
// (backend/alerts follows the same ledger). Every read of case data by
// staff is recorded as an access event before the data is returned.
//
// # The review chain
//
// A card is reviewed first by a hospital_reviewer of its own hospital, then
// by cdc_reviewer accounts whose scope covers the hospital's region, at the
// level their scope gives them: a 6-digit scope is the district CDC, 4 the
// city, 2 the province, CN the national CDC. Each level approves (the card
// goes up; after national approval it is final), returns it for correction
// with a reason (the reporter corrects it and it climbs again from the
// hospital level, in a new round) or revokes it with a reason (it no longer
// counts anywhere). Every step is an event with its reviewer.
package cases

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/caseevents"
	"github.com/onebook/onebook/events/residents"
)

// Step is one step of a card's history.
type Step struct {
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"` // staff id
	Role     string    `json:"role"`
	Action   string    `json:"action"` // filed | corrected | approve | return | revoke
	Level    string    `json:"level,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Round    int       `json:"round"`
	Sequence uint64    `json:"seq"`
}

// Card is a report card as the service knows it.
type Card struct {
	ID             string             `json:"id"`
	Hospital       string             `json:"hospital"`
	HospitalRegion events.Region      `json:"hospital_region"`
	Patient        string             `json:"patient"`
	Sealed         residents.Sealed   `json:"-"`
	Card           caseevents.Card    `json:"card"`
	Groups         []string           `json:"groups"`
	Counted        caseevents.Counted `json:"counted"`
	Status         string             `json:"status"`
	Level          string             `json:"level,omitempty"` // the level it awaits (pending) or was returned/revoked at
	Round          int                `json:"round"`
	Filed          time.Time          `json:"filed"`
	Reporter       string             `json:"reporter"`
	History        []Step             `json:"history"`
	LastSeq        uint64             `json:"-"`
}

// State is the decision state of case reporting, folded from the ledger.
type State struct {
	mu    sync.RWMutex
	pos   *events.Position
	cards map[string]*Card
}

// NewState returns an empty state.
func NewState() *State {
	s := &State{cards: map[string]*Card{}}
	s.pos = events.NewPosition(&s.mu, "the case state")
	return s
}

// Seq is the last ledger sequence applied.
func (s *State) Seq() uint64 { return s.pos.Seq() }

// Apply folds one event; events of other services are skipped.
func (s *State) Apply(rec events.Recorded, p events.Payload) {
	s.pos.Fold(rec.Seq, func() { s.apply(rec, p) })
}

// apply folds an event not applied before, under the write lock.
func (s *State) apply(rec events.Recorded, p events.Payload) {
	e := rec.Event
	step := Step{Time: e.Time, Actor: e.Actor.ID, Role: e.Actor.Role, Sequence: rec.Seq}
	switch p := p.(type) {
	case caseevents.Filed:
		c := &Card{ID: e.Aggregate.ID, Hospital: p.Hospital, HospitalRegion: e.Region, Patient: p.Patient, Sealed: p.Personal,
			Card: p.Card, Groups: p.Groups, Counted: caseevents.CountedAs(p.Card, p.Groups, events.Day(e.Time)),
			Status: caseevents.StatusPending, Level: caseevents.LevelHospital, Round: 1, Filed: e.Time, Reporter: e.Actor.ID, LastSeq: rec.Seq}
		step.Action, step.Round = "filed", 1
		c.History = append(c.History, step)
		s.cards[c.ID] = c
	case caseevents.Corrected:
		c := s.cards[e.Aggregate.ID]
		if c == nil {
			return
		}
		c.Card, c.Groups = p.Card, p.Groups
		c.Counted = caseevents.CountedAs(p.Card, p.Groups, c.Counted.Day)
		if p.Personal != nil {
			c.Sealed, c.Patient = *p.Personal, p.Patient
		}
		c.Round++
		c.Status, c.Level, c.LastSeq = caseevents.StatusPending, caseevents.LevelHospital, rec.Seq
		step.Action, step.Round, step.Reason = "corrected", c.Round, p.Note
		c.History = append(c.History, step)
	case caseevents.Reviewed:
		c := s.cards[e.Aggregate.ID]
		if c == nil {
			return
		}
		step.Action, step.Level, step.Reason, step.Round = p.Decision, p.Level, p.Reason, p.Round
		c.History = append(c.History, step)
		c.LastSeq = rec.Seq
		switch p.Decision {
		case caseevents.Approve:
			if next := caseevents.NextLevel(p.Level); next != "" {
				c.Level = next
			} else {
				c.Status, c.Level = caseevents.StatusApproved, ""
			}
		case caseevents.Return:
			c.Status = caseevents.StatusReturned
		case caseevents.Revoke:
			c.Status = caseevents.StatusRevoked
		}
	}
}

// WaitFor blocks until the state has applied sequence seq, or ctx ends.
func (s *State) WaitFor(ctx context.Context, seq uint64) error { return s.pos.WaitFor(ctx, seq) }

// Card returns a copy of the card with id.
func (s *State) Card(id string) (Card, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.cards[id]
	if c == nil {
		return Card{}, false
	}
	cp := *c
	cp.History = slices.Clone(c.History)
	return cp, true
}

// Filter selects cards for a list.
type Filter struct {
	Status   string        // "" for any
	Level    string        // "" for any (meaningful with pending)
	Hospital string        // "" for any
	Region   events.Region // hospital region or residence inside it; "" for any
	From, To time.Time     // filing time range; zero for open
}

// List returns copies of the cards matching f and visible (a predicate the
// service builds from the caller's scope), newest first, at most limit.
func (s *State) List(f Filter, visible func(*Card) bool, limit int) []Card {
	s.mu.RLock()
	var out []Card
	for _, c := range s.cards {
		if (f.Status != "" && c.Status != f.Status) || (f.Level != "" && c.Level != f.Level) ||
			(f.Hospital != "" && c.Hospital != f.Hospital) ||
			(f.Region != "" && !f.Region.Covers(c.HospitalRegion) && !f.Region.Covers(c.Card.Residence)) ||
			(!f.From.IsZero() && c.Filed.Before(f.From)) || (!f.To.IsZero() && !c.Filed.Before(f.To)) || !visible(c) {
			continue
		}
		cp := *c
		cp.History = slices.Clone(c.History)
		out = append(out, cp)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Filed.Equal(out[j].Filed) {
			return out[i].Filed.After(out[j].Filed)
		}
		return out[i].ID > out[j].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}
