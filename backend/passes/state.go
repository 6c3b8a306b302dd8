// Package passes decides the commands of the entry/exit pass service
// (出入通): residents register and declare health and get a pass; gate
// operators scan it; property managers register gates. Each command is
// checked against the current state and recorded as events.
package passes

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/residents"
)

// Gate is a registered gate.
type Gate struct {
	ID        string
	Community events.Region
	Name      string
}

// Visitor is a visitor known from a visit request: the person a visitor's
// pass is issued to, unless they are a registered household member.
type Visitor struct {
	ID        string
	Community events.Region
	Sealed    residents.Sealed
}

// Pass is an issued pass.
type Pass struct {
	ID        string
	Person    string
	Community events.Region
	NotBefore time.Time
	NotAfter  time.Time
	Revoked   string // reason, "" if valid
	RevokedAt time.Time
}

// State is the decision state of the service, folded in memory from the
// ledger by a follower so that commands decide without a database round
// trip. Commands that append wait (WaitFor) until the state has seen their
// own events, so a client reads its writes.
type State struct {
	mu  sync.RWMutex
	pos *events.Position

	gates       map[string]*Gate
	passes      map[string]*Pass
	current     map[string]string    // person → their current pass id
	status      map[string]string    // person → green | yellow | red, from their last declaration
	scans       map[string]time.Time // gate + "/" + scan id → scan time, kept for MaxScanAge
	sweptAt     time.Time            // scan time of the last sweep of scans
	passesSwept time.Time            // event time of the last sweep of passes
	visits      map[string]*Visit
	visitors    map[string]*Visitor
	revokedSeq  uint64 // ledger sequence of the last pass.revoked event
}

// Visit is a visit request and its outcome.
type Visit struct {
	ID          string
	Host        string
	Visitor     string
	Requester   string
	RequestedBy string
	Community   events.Region
	From, To    time.Time
	Status      string // pending | approved | refused
	Pass        string
	Reason      string
	LastSeq     uint64
}

// NewState returns an empty state.
func NewState() *State {
	s := &State{
		gates: map[string]*Gate{}, passes: map[string]*Pass{}, current: map[string]string{}, status: map[string]string{},
		scans: map[string]time.Time{}, visits: map[string]*Visit{}, visitors: map[string]*Visitor{},
	}
	s.pos = events.NewPosition(&s.mu, "the decision state")
	return s
}

// Seq is the last ledger sequence applied.
func (s *State) Seq() uint64 { return s.pos.Seq() }

// Apply folds one event. Events of other services are skipped.
func (s *State) Apply(rec events.Recorded, p events.Payload) {
	s.pos.Fold(rec.Seq, func() { s.apply(rec, p) })
}

// apply folds an event not applied before, under the write lock.
func (s *State) apply(rec events.Recorded, p events.Payload) {
	e := rec.Event
	switch p := p.(type) {
	case passevents.GateRegistered:
		s.gates[e.Aggregate.ID] = &Gate{ID: e.Aggregate.ID, Community: p.Community, Name: p.Name}
	case passevents.Issued:
		s.sweepPasses(e.Time)
		s.passes[e.Aggregate.ID] = &Pass{ID: e.Aggregate.ID, Person: p.Holder, Community: p.Community, NotBefore: p.NotBefore, NotAfter: p.NotAfter}
		s.current[p.Holder] = e.Aggregate.ID
	case passevents.Revoked:
		if ps := s.passes[e.Aggregate.ID]; ps != nil {
			ps.Revoked, ps.RevokedAt = p.Reason, e.Time
		}
		s.revokedSeq = rec.Seq
	case passevents.Scanned:
		if p.ScanID != "" {
			s.scans[e.Aggregate.ID+"/"+p.ScanID] = e.Time
			s.sweepScans(e.Time)
		}
	case residents.Declared:
		s.status[p.PersonID] = p.Status
	case passevents.VisitRequested:
		s.visits[e.Aggregate.ID] = &Visit{ID: e.Aggregate.ID, Host: p.Host, Visitor: p.Visitor, Requester: p.Requester, RequestedBy: p.RequestedBy,
			Community: p.Community, From: p.From, To: p.To, Status: "pending", LastSeq: rec.Seq}
		s.visitors[p.Visitor] = &Visitor{ID: p.Visitor, Community: p.Community, Sealed: p.Personal}
	case passevents.VisitDecided:
		if v := s.visits[e.Aggregate.ID]; v != nil {
			v.Status, v.Pass, v.Reason, v.LastSeq = "refused", p.Pass, p.Reason, rec.Seq
			if p.Approved {
				v.Status = "approved"
			}
		}
	}
}

// sweepScans forgets scan ids older than a scan may be uploaded (a replay
// of one is refused as too old anyway), once an hour of scan time, so the
// set stays bounded by a week of traffic.
func (s *State) sweepScans(now time.Time) {
	if now.Sub(s.sweptAt) < time.Hour {
		return
	}
	s.sweptAt = now
	horizon := now.Add(-MaxScanAge - time.Hour)
	for k, t := range s.scans {
		if t.Before(horizon) {
			delete(s.scans, k)
		}
	}
}

// sweepPasses forgets passes that ended more than a day ago (no token of
// theirs can still be valid), once a day of event time, so the state holds
// about one pass per active person.
func (s *State) sweepPasses(now time.Time) {
	if now.Sub(s.passesSwept) < 24*time.Hour {
		return
	}
	s.passesSwept = now
	for id, p := range s.passes {
		if p.NotAfter.Before(now.Add(-24 * time.Hour)) {
			delete(s.passes, id)
		}
	}
}

// WaitFor blocks until the state has applied sequence seq, or ctx ends.
func (s *State) WaitFor(ctx context.Context, seq uint64) error { return s.pos.WaitFor(ctx, seq) }

// read runs f under the read lock.
func (s *State) read(f func()) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f()
}

// RevokedSeq returns the ledger sequence of the last pass revocation
// applied (0: none): the revocation list changes only when it moves, or
// when time passes.
func (s *State) RevokedSeq() uint64 {
	var seq uint64
	s.read(func() { seq = s.revokedSeq })
	return seq
}

// Revoked returns the revoked passes whose validity has not ended by now:
// what offline scanners must be told; and, read at the same moment,
// RevokedSeq.
func (s *State) Revoked(now time.Time) (out []Pass, seq uint64) {
	s.read(func() {
		seq = s.revokedSeq
		for _, p := range s.passes {
			if p.Revoked != "" && p.NotAfter.After(now) {
				out = append(out, *p)
			}
		}
	})
	return out, seq
}

// Visitor returns a visitor known to the state.
func (s *State) Visitor(id string) (Visitor, bool) {
	return events.Get(&s.mu, s.visitors, id)
}

// Standing returns a person's health status ("" before their first
// declaration) and their current pass ("" if none).
func (s *State) Standing(personID string) (status string, pass Pass) {
	s.read(func() {
		status = s.status[personID]
		if ps := s.passes[s.current[personID]]; ps != nil {
			pass = *ps
		}
	})
	return status, pass
}

// Gates lists the gates of a community, sorted by id.
func (s *State) Gates(community events.Region) []Gate {
	var out []Gate
	s.read(func() {
		for _, g := range s.gates {
			if g.Community == community {
				out = append(out, *g)
			}
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
