// Package passes decides the commands of the entry/exit pass service
// (出入通): residents register and declare health and get a pass; gate
// operators scan it; property managers register gates. Each command is
// checked against the current state and recorded as events.
package passes

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
	ledger "github.com/onebook/onebook/events/jetstream"
	evpasses "github.com/onebook/onebook/events/passes"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/events/staff"
)

// Gate is a registered gate.
type Gate struct {
	ID        string
	Community events.Region
	Name      string
}

// Person is one household member as the domain needs it.
type Person struct {
	ID        string
	Resident  string // household (account) id
	Community events.Region
	Sealed    residents.Sealed
	Status    string // green | yellow | red ("" before the first declaration)
	Pass      string // current pass id
	Erased    bool
}

// Resident is one household account.
type Resident struct {
	ID        string
	Community events.Region
	Building  string
	Unit      string
	Members   []string // person ids, account holder first
	LastSeq   uint64   // for optimistic concurrency on the aggregate
	Erased    bool
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

// Staff is a staff account.
type Staff struct {
	ID       string
	Role     string
	Scope    events.Region
	Label    string
	Org      string // organisation the account acts for, if any
	OpenID   string // blind index, "" until bound
	Disabled bool
	Created  time.Time // when the account (and its invite code) was made
	LastSeq  uint64
}

// State is the decision state of the service, folded in memory from the
// ledger by a follower so that commands decide without a database round
// trip. Commands that append wait (WaitFor) until the state has seen their
// own events, so a client reads its writes.
type State struct {
	mu  sync.RWMutex
	pos *ledger.Position

	gates         map[string]*Gate
	residents     map[string]*Resident
	persons       map[string]*Person
	passes        map[string]*Pass
	staff         map[string]*Staff
	residentByOID map[string]string
	signedOut     map[string]time.Time // account → sessions issued before are void
	staffByOID    map[string]string
	staffByInvite map[string]string
	scans         map[string]time.Time // gate + "/" + scan id → scan time, kept for MaxScanAge
	sweptAt       time.Time            // scan time of the last sweep of scans
	passesSwept   time.Time            // event time of the last sweep of passes
	visits        map[string]*Visit
	personByPhone map[string]string // phone blind index → person id (hosts)
	orgs          map[string]*Org
	revokedSeq    uint64 // ledger sequence of the last pass.revoked event
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
		gates: map[string]*Gate{}, residents: map[string]*Resident{}, persons: map[string]*Person{},
		passes: map[string]*Pass{}, staff: map[string]*Staff{}, residentByOID: map[string]string{}, signedOut: map[string]time.Time{},
		staffByOID: map[string]string{}, staffByInvite: map[string]string{}, scans: map[string]time.Time{},
		visits: map[string]*Visit{}, personByPhone: map[string]string{}, orgs: map[string]*Org{},
	}
	s.pos = ledger.NewPosition(&s.mu, "the decision state")
	return s
}

// Seq is the last ledger sequence applied.
func (s *State) Seq() uint64 { return s.pos.Seq() }

// Apply folds one event. Events of other services are skipped.
func (s *State) Apply(rec events.Recorded, p events.Payload) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pos.Advance(rec.Seq) {
		return
	}
	e := rec.Event
	if s.applyOrg(rec, p) {
		return
	}
	switch p := p.(type) {
	case evpasses.GateRegistered:
		s.gates[e.Aggregate.ID] = &Gate{ID: e.Aggregate.ID, Community: p.Community, Name: p.Name}
	case evpasses.Issued:
		s.sweepPasses(e.Time)
		s.passes[e.Aggregate.ID] = &Pass{ID: e.Aggregate.ID, Person: p.Holder, Community: p.Community, NotBefore: p.NotBefore, NotAfter: p.NotAfter}
		if per := s.persons[p.Holder]; per != nil {
			per.Pass = e.Aggregate.ID
		}
	case evpasses.Revoked:
		if ps := s.passes[e.Aggregate.ID]; ps != nil {
			ps.Revoked, ps.RevokedAt = p.Reason, e.Time
		}
		s.revokedSeq = rec.Seq
	case evpasses.Scanned:
		if p.ScanID != "" {
			s.scans[e.Aggregate.ID+"/"+p.ScanID] = e.Time
			s.sweepScans(e.Time)
		}
	case residents.Registered:
		r := &Resident{ID: e.Aggregate.ID, Community: p.Community, Building: p.Building, Unit: p.Unit, LastSeq: rec.Seq}
		// Members the household no longer lists are released: another
		// household may register them now.
		if old := s.residents[r.ID]; old != nil {
			for _, id := range old.Members {
				if per := s.persons[id]; per != nil && per.Resident == r.ID && !slices.ContainsFunc(p.Members, func(m residents.Member) bool { return m.PersonID == id }) {
					per.Resident = ""
				}
			}
		}
		for _, m := range p.Members {
			r.Members = append(r.Members, m.PersonID)
			per := s.persons[m.PersonID]
			if per == nil {
				per = &Person{ID: m.PersonID}
				s.persons[m.PersonID] = per
			}
			per.Resident, per.Community, per.Sealed, per.Erased = r.ID, p.Community, m.Personal, false
			if m.Personal.PhoneIndex != "" {
				s.personByPhone[m.Personal.PhoneIndex] = m.PersonID
			}
		}
		s.residents[r.ID] = r
		if p.OpenIDIndex != "" { // "" once the household was erased: its registrations are unreadable
			s.residentByOID[p.OpenIDIndex] = r.ID
		}
	case residents.Declared:
		if per := s.persons[p.PersonID]; per != nil {
			per.Status = p.Status
		}
		if r := s.residents[e.Aggregate.ID]; r != nil {
			r.LastSeq = rec.Seq
		}
	case residents.Transferred:
		if per := s.persons[p.PersonID]; per != nil && per.Resident == e.Aggregate.ID {
			per.Resident = "" // released: the new household registers them
		}
		if r := s.residents[e.Aggregate.ID]; r != nil {
			r.Members = slices.DeleteFunc(slices.Clone(r.Members), func(id string) bool { return id == p.PersonID })
			r.LastSeq = rec.Seq
		}
	case residents.Erased:
		if r := s.residents[e.Aggregate.ID]; r != nil {
			r.Erased, r.LastSeq = true, rec.Seq
		}
		for _, id := range p.PersonIDs {
			if per := s.persons[id]; per != nil && per.Resident == e.Aggregate.ID {
				per.Erased = true
			}
		}
	case evpasses.VisitRequested:
		s.visits[e.Aggregate.ID] = &Visit{ID: e.Aggregate.ID, Host: p.Host, Visitor: p.Visitor, Requester: p.Requester, RequestedBy: p.RequestedBy,
			Community: p.Community, From: p.From, To: p.To, Status: "pending", LastSeq: rec.Seq}
		if s.persons[p.Visitor] == nil {
			s.persons[p.Visitor] = &Person{ID: p.Visitor, Community: p.Community, Sealed: p.Personal}
		}
	case evpasses.VisitDecided:
		if v := s.visits[e.Aggregate.ID]; v != nil {
			v.Status, v.Pass, v.Reason, v.LastSeq = "refused", p.Pass, p.Reason, rec.Seq
			if p.Approved {
				v.Status = "approved"
			}
		}
	case staff.Created:
		s.staff[e.Aggregate.ID] = &Staff{ID: e.Aggregate.ID, Role: p.Role, Scope: p.Scope, Label: p.Label, Org: p.Org, Created: e.Time, LastSeq: rec.Seq}
		s.staffByInvite[p.InviteHash] = e.Aggregate.ID
	case staff.Bound:
		if st := s.staff[e.Aggregate.ID]; st != nil {
			st.OpenID, st.LastSeq = p.OpenIDIndex, rec.Seq
			s.staffByOID[p.OpenIDIndex] = st.ID
			for h, id := range s.staffByInvite {
				if id == st.ID {
					delete(s.staffByInvite, h) // one-time
				}
			}
		}
	case staff.Disabled:
		if st := s.staff[e.Aggregate.ID]; st != nil {
			st.Disabled, st.LastSeq = true, rec.Seq
			delete(s.staffByOID, st.OpenID)
			for h, id := range s.staffByInvite {
				if id == st.ID {
					delete(s.staffByInvite, h)
				}
			}
		}
	case staff.SignedOut:
		if p.Before.After(s.signedOut[e.Aggregate.ID]) {
			s.signedOut[e.Aggregate.ID] = p.Before
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

// Follow keeps st up to date with the ledger from the start, until ctx ends
// (events/jetstream.Follow).
func Follow(ctx context.Context, js jetstream.JetStream, stream string, reg *events.Registry, st *State) error {
	return ledger.Follow(ctx, js, stream, reg, st)
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

// Person returns a person known to the state (household member or visitor).
func (s *State) Person(id string) (Person, bool) {
	var (
		p  Person
		ok bool
	)
	s.read(func() {
		if x := s.persons[id]; x != nil {
			p, ok = *x, true
		}
	})
	return p, ok
}

// staffAccount returns a staff account known to the state.
func (s *State) staffAccount(id string) (Staff, bool) {
	var (
		st Staff
		ok bool
	)
	s.read(func() {
		if x := s.staff[id]; x != nil {
			st, ok = *x, true
		}
	})
	return st, ok
}

// member returns a person of resident's household and their current pass
// (zero if none); ok is false for anyone else, so that a resident cannot
// learn whether another person exists.
func (s *State) member(resident, personID string) (per Person, pass Pass, ok bool) {
	s.read(func() {
		x := s.persons[personID]
		if x == nil || x.Resident != resident {
			return
		}
		per, ok = *x, true
		if ps := s.passes[x.Pass]; ps != nil {
			pass = *ps
		}
	})
	return per, pass, ok
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
