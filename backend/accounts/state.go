package accounts

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/orgs"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/events/staff"
)

// Person is one household member as the accounts service knows them.
type Person struct {
	ID        string
	Resident  string // household (account) id; "" once released
	Community events.Region
	Sealed    residents.Sealed
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

// State is the decision state of the accounts service, folded in memory
// from the ledger by a follower: households and who belongs to them, staff
// accounts, organisations and sign-outs. Commands that append wait until
// the state has seen their own events, so a client reads its writes.
type State struct {
	mu  sync.RWMutex
	pos *events.Position

	residents     map[string]*Resident
	persons       map[string]*Person
	personByPhone map[string]string // phone blind index → person id (hosts)
	staff         map[string]*Staff
	staffByOID    map[string]string
	staffByInvite map[string]string
	signedOut     map[string]time.Time // account → sessions issued before are void
	orgs          map[string]*Org
}

// NewState returns an empty state.
func NewState() *State {
	s := &State{
		residents: map[string]*Resident{}, persons: map[string]*Person{}, personByPhone: map[string]string{},
		staff: map[string]*Staff{}, staffByOID: map[string]string{}, staffByInvite: map[string]string{},
		signedOut: map[string]time.Time{}, orgs: map[string]*Org{},
	}
	s.pos = events.NewPosition(&s.mu, "the accounts state")
	return s
}

// Seq is the last ledger sequence applied.
func (s *State) Seq() uint64 { return s.pos.Seq() }

// WaitFor blocks until the state has applied sequence seq, or ctx ends.
func (s *State) WaitFor(ctx context.Context, seq uint64) error { return s.pos.WaitFor(ctx, seq) }

// Apply folds one event. Events of other services are skipped.
func (s *State) Apply(rec events.Recorded, p events.Payload) {
	s.pos.Fold(rec.Seq, func() { s.apply(rec, p) })
}

// apply folds an event not applied before, under the write lock.
func (s *State) apply(rec events.Recorded, p events.Payload) {
	e := rec.Event
	switch p := p.(type) {
	case residents.Registered:
		s.applyRegistered(rec, p)
	case residents.Declared:
		// A declaration is the pass service's, but it is an event of the
		// household's aggregate: its sequence guards the next command.
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
				// Their keys are destroyed: the state keeps the id and the
				// mark (a scan of their pass says erased), not the sealed
				// blob nor the phone's blind index, so that no copy of it
				// (a snapshot) keeps more of them either.
				if s.personByPhone[per.Sealed.PhoneIndex] == id {
					delete(s.personByPhone, per.Sealed.PhoneIndex)
				}
				per.Erased, per.Sealed = true, residents.Sealed{}
			}
		}
	case staff.Created:
		s.staff[e.Aggregate.ID] = &Staff{ID: e.Aggregate.ID, Role: p.Role, Scope: p.Scope, Label: p.Label, Org: p.Org, Created: e.Time, LastSeq: rec.Seq}
		s.staffByInvite[p.InviteHash] = e.Aggregate.ID
	case staff.Bound:
		if st := s.staff[e.Aggregate.ID]; st != nil {
			st.OpenID, st.LastSeq = p.OpenIDIndex, rec.Seq
			s.staffByOID[p.OpenIDIndex] = st.ID
			s.forgetInvite(st.ID) // one-time
		}
	case staff.Disabled:
		if st := s.staff[e.Aggregate.ID]; st != nil {
			st.Disabled, st.LastSeq = true, rec.Seq
			delete(s.staffByOID, st.OpenID)
			s.forgetInvite(st.ID)
		}
	case staff.SignedOut:
		if p.Before.After(s.signedOut[e.Aggregate.ID]) {
			s.signedOut[e.Aggregate.ID] = p.Before
		}
	case orgs.Registered:
		s.orgs[e.Aggregate.ID] = &Org{ID: e.Aggregate.ID, Kind: p.Kind, Name: p.Name, Region: p.Region,
			Licence: p.Licence, DocsHash: p.DocsHash, LastSeq: rec.Seq}
	case orgs.Approved:
		if o := s.orgs[e.Aggregate.ID]; o != nil {
			o.Approved, o.LastSeq = true, rec.Seq
		}
	}
}

func (s *State) applyRegistered(rec events.Recorded, p residents.Registered) {
	e := rec.Event
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
}

func (s *State) forgetInvite(staffID string) {
	for h, id := range s.staffByInvite {
		if id == staffID {
			delete(s.staffByInvite, h)
		}
	}
}

// read runs f under the read lock.
func (s *State) read(f func()) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f()
}

// Person returns a household member known to the state (erased ones too).
func (s *State) Person(id string) (Person, bool) {
	return events.Get(&s.mu, s.persons, id)
}

// Household returns a household that is not erased.
func (s *State) Household(id string) (Resident, bool) {
	var (
		r  Resident
		ok bool
	)
	s.read(func() {
		if x := s.residents[id]; x != nil && !x.Erased {
			r, ok = *x, true
			r.Members = slices.Clone(x.Members)
		}
	})
	return r, ok
}

// Member returns a person of resident's household; ok is false for anyone
// else, so that a resident cannot learn whether another person exists.
func (s *State) Member(resident, personID string) (per Person, ok bool) {
	s.read(func() {
		if x := s.persons[personID]; x != nil && x.Resident == resident {
			per, ok = *x, true
		}
	})
	return per, ok
}

// HostByPhone returns the household, not erased, of the member whose phone
// has the blind index phoneIndex.
func (s *State) HostByPhone(phoneIndex string) (Resident, bool) {
	var (
		r  Resident
		ok bool
	)
	s.read(func() {
		if pid, found := s.personByPhone[phoneIndex]; found {
			if x := s.residents[s.persons[pid].Resident]; x != nil && !x.Erased {
				r, ok = *x, true
			}
		}
	})
	return r, ok
}

// staffAccount returns a staff account known to the state.
func (s *State) staffAccount(id string) (Staff, bool) {
	return events.Get(&s.mu, s.staff, id)
}

// StaffIn lists the enabled, bound staff accounts with a role whose scope
// covers region: who is responsible for it (alert notifications).
func (s *State) StaffIn(role auth.Role, region events.Region) []Staff {
	var out []Staff
	s.read(func() {
		for _, st := range s.staff {
			if st.Role == string(role) && !st.Disabled && st.Scope.Covers(region) {
				out = append(out, *st)
			}
		}
	})
	slices.SortFunc(out, func(a, b Staff) int { return strings.Compare(a.ID, b.ID) })
	return out
}
