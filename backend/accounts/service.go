// Package accounts decides who someone is and what they belong to: WeChat
// sign-in, residents' households and the persons they hold (one person,
// one household), staff accounts with their invite codes and sessions, and
// organisations. The pass service (backend/passes) builds on it: a pass is
// issued to a member of a household this service registered.
package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/residents"
)

// Personal is one person's personal data, validated and normalised.
type Personal struct {
	Name, IDNumber, Phone string
}

// Vault keeps personal data sealed with per-person keys (backend/personal).
type Vault interface {
	// Normalize validates personal input and returns its normal form.
	Normalize(name, idNumber, phone string) (Personal, error)
	// NormalizePhone validates a mobile number alone.
	NormalizePhone(phone string) (string, error)
	Seal(ctx context.Context, personID string, d Personal) (residents.Sealed, error)
	Open(ctx context.Context, personID string, s residents.Sealed) (Personal, error)
	Shred(ctx context.Context, personID string) error
	// Index is the blind index of a value of a kind ("openid", "id", "phone", ...).
	Index(kind, value string) string
}

// Passes is what the accounts service needs of the pass service: a
// household's members get passes, and lose them when they leave.
//
// The pass service decides the events; the accounts service records them
// with the events of its own that they belong to, as one atomic batch.
type Passes interface {
	// Issuing is the event that issues a new pass to a household member
	// in community.
	Issuing(actor events.Actor, personID string, community events.Region) events.Draft
	// Releasing is the event that revokes the person's current pass, if
	// it is valid and of community ("" for any), because they moved out;
	// false if there is none to revoke.
	Releasing(actor events.Actor, personID string, community events.Region) (events.Draft, bool)
	// Standing returns the person's health status and current pass id.
	Standing(personID string) (status, pass string)
	// WaitFor waits until the pass state has applied sequence seq.
	events.Waiter
}

// Service decides the commands of the accounts service.
type Service struct {
	Store  events.Store
	Reg    *events.Registry
	State  *State
	Vault  Vault
	Passes Passes
	Now    events.Clock
	// Notify, if set, tells an account holder about something that
	// happened to them (a WeChat subscribe message). Best effort: a failed
	// notification never fails the command that caused it.
	Notify Notifier
	// Erased, if set, is called once a household's erasure is recorded:
	// the backend rebuilds the views that held what the destroyed keys
	// sealed (projections.Personal).
	Erased func(ctx context.Context) error
}

// Notice is a notification to the holder of an account. Data uses the
// keywords of the subscribe-message templates onebook expects: thing1 (what
// happened) and time2 (when).
type Notice struct {
	Subject string // account id
	Kind    string // one of the Notice* kinds of the service that sends it
	Data    map[string]string
}

// NoticeTransfer tells both households of a move.
const NoticeTransfer = "person_transferred"

// Notifier sends a notice to the holder of an account; nil sends none.
type Notifier func(ctx context.Context, n Notice)

// Send sends n, if there is a notifier, with ctx's values but not its
// end: a notice outlives the request that caused it.
func (f Notifier) Send(ctx context.Context, n Notice) {
	if f != nil {
		f(context.WithoutCancel(ctx), n)
	}
}

// append builds, appends and waits until the state has seen the event.
func (s *Service) append(ctx context.Context, typ string, m events.Meta, p events.Payload, x events.Expect) (events.Recorded, error) {
	if m.Time.IsZero() {
		m.Time = s.Now.UTC()
	}
	return events.AppendAndWait(ctx, s.Store, s.Reg, s.State, typ, m, p, x)
}

// appendBatch records the events of ds, its own and the pass service's,
// as one atomic batch, and waits until both states have seen them.
func (s *Service) appendBatch(ctx context.Context, ds []events.Draft) error {
	for i := range ds {
		if ds[i].Meta.Time.IsZero() {
			ds[i].Meta.Time = s.Now.UTC()
		}
	}
	_, err := events.AppendBatchAndWait(ctx, s.Store, s.Reg, events.Waiters{s.State, s.Passes}, ds)
	return err
}

// catchUp waits until the state has applied everything the ledger held when
// called. Commands call it before answering "not found" for something that
// another backend replica (or ops) may have just recorded.
func (s *Service) catchUp(ctx context.Context) error {
	return events.CatchUp(ctx, s.Store, s.State)
}

// ResidentID is the account id of the resident with WeChat openid index
// oidIndex: derived, so signing in needs no lookup and ids never collide.
func ResidentID(oidIndex string) string {
	sum := sha256.Sum256([]byte("resident:" + oidIndex))
	return "r-" + hex.EncodeToString(sum[:12])
}

// PersonID is the id of the person with the given ID-number blind index:
// stable across re-registrations, and not personal data itself.
func PersonID(idIndex string) string {
	sum := sha256.Sum256([]byte("person:" + idIndex))
	return "p-" + hex.EncodeToString(sum[:12])
}

// SignIn resolves a WeChat openid to the principal of a resident or, if the
// openid is bound to a staff account, of that staff member.
func (s *Service) SignIn(openID string) auth.Principal {
	idx := s.Vault.Index("openid", openID)
	var p auth.Principal
	s.State.read(func() {
		if id, ok := s.State.staffByOID[idx]; ok {
			st := s.State.staff[id]
			p = auth.Principal{Subject: st.ID, Role: auth.Role(st.Role), Scope: st.Scope, OpenID: openID, Org: st.Org}
			return
		}
		p = auth.Principal{Subject: ResidentID(idx), Role: auth.Resident, OpenID: openID}
		if r := s.State.residents[p.Subject]; r != nil && !r.Erased {
			p.Scope = r.Community
		}
	})
	return p
}

// MemberInput is one household member as the resident enters it.
type MemberInput struct {
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
	Phone    string `json:"phone"`
	// PhoneCode is the code of the mini-program's getPhoneNumber button;
	// the API resolves it through WeChat into Phone.
	PhoneCode string `json:"phone_code,omitempty"`
	Relation  string `json:"relation"`
}

// RegisterInput is a household registration.
type RegisterInput struct {
	Community events.Region `json:"community"`
	Building  string        `json:"building"`
	Unit      string        `json:"unit"`
	Members   []MemberInput `json:"members"`
}

// Household is what a resident sees of their registration.
type Household struct {
	ResidentID string          `json:"resident_id"`
	Community  events.Region   `json:"community"`
	Building   string          `json:"building"`
	Unit       string          `json:"unit"`
	Members    []MemberSummary `json:"members"`
}

// MemberSummary is a member with masked personal data and status.
type MemberSummary struct {
	PersonID string `json:"person_id"`
	Relation string `json:"relation"`
	Name     string `json:"name"` // the resident's own data, in clear
	IDNumber string `json:"id_number_masked"`
	Status   string `json:"status"`
	PassID   string `json:"pass_id,omitempty"`
}

// Register records (or replaces) the resident's household and issues a
// pass to each member. Personal data is sealed per person before it goes
// anywhere near the ledger.
func (s *Service) Register(ctx context.Context, p auth.Principal, in RegisterInput) (Household, error) {
	if err := auth.Authorize(p, auth.ActRegister, ""); err != nil {
		return Household{}, err
	}
	normal, err := s.validateRegistration(&in)
	if err != nil {
		return Household{}, err
	}
	oidIdx := s.Vault.Index("openid", p.OpenID)
	rid := ResidentID(oidIdx)
	if rid != p.Subject {
		return Household{}, &events.Error{Code: events.CodeForbidden, Message: "a resident registers only their own household"}
	}
	var prev *Resident
	s.State.read(func() {
		if r := s.State.residents[rid]; r != nil {
			c := *r
			prev = &c
		}
	})
	x := events.ExpectNew()
	if prev != nil {
		if prev.Erased {
			return Household{}, &events.Error{Code: events.CodeConflict, Message: "this account was erased; sign in again to start a new one"}
		}
		x = events.ExpectLast(prev.LastSeq)
	}
	ev := residents.Registered{OpenIDIndex: oidIdx, Community: in.Community, Building: in.Building, Unit: in.Unit}
	for i, d := range normal {
		pid := PersonID(s.Vault.Index("id", d.IDNumber))
		// One person, one household: an ID number another household
		// holds cannot be registered here, nor its data replaced.
		var holder string
		s.State.read(func() {
			if per := s.State.persons[pid]; per != nil && !per.Erased && per.Resident != rid {
				holder = per.Resident
			}
		})
		if holder != "" {
			return Household{}, &events.Error{Code: events.CodeConflict, Field: fmt.Sprintf("members[%d].id_number", i),
				Message: "this person belongs to another household: that household releases them (registers again without them), " +
					"or the property manager of your community confirms the move in person"}
		}
		sealed, err := s.Vault.Seal(ctx, pid, d)
		if err != nil {
			return Household{}, fmt.Errorf("seal member %d: %w", i, err)
		}
		sealed.Last4Index = s.Vault.Index("last4:"+pid, d.IDNumber[len(d.IDNumber)-4:])
		ev.Members = append(ev.Members, residents.Member{PersonID: pid, Relation: in.Members[i].Relation, Personal: sealed})
	}
	// The registration, the release of the passes of a community left and
	// the new members' passes are one batch: no household without its
	// passes, no passes without their household.
	var batch []events.Draft
	if prev != nil && prev.Community != in.Community {
		// Moved out: the passes of the old community stop opening its gates.
		for _, id := range prev.Members {
			if d, ok := s.Passes.Releasing(p.PublicActor(), id, prev.Community); ok {
				batch = append(batch, d)
			}
		}
		// The event goes to the new community's subject, where this
		// aggregate's per-subject sequence starts afresh; the household is
		// its only writer, so no concurrency check is lost that mattered.
		x = events.ExpectAny()
	}
	// Sealed to the account holder (the first member): erasing the
	// household destroys every member's key, theirs among them.
	meta := events.Meta{Aggregate: events.Aggregate{Kind: residents.Kind, ID: rid}, Region: in.Community, Actor: p.Actor(), SealTo: ev.Members[0].PersonID}
	batch = append(batch, events.Draft{Type: residents.TypeRegistered, Meta: meta, Payload: ev, Expect: x})
	for _, m := range ev.Members {
		batch = append(batch, s.Passes.Issuing(p.PublicActor(), m.PersonID, in.Community))
	}
	if err := s.appendBatch(ctx, batch); err != nil {
		return Household{}, err
	}
	return s.Household(ctx, p)
}

// validateRegistration checks a registration and normalises its members'
// personal data and relations (in place).
func (s *Service) validateRegistration(in *RegisterInput) ([]Personal, error) {
	if _, err := events.ParseRegion(string(in.Community)); err != nil || len(in.Community) != 12 {
		return nil, events.Invalid("community", "community must be a 12-digit region code")
	}
	if len(in.Members) == 0 || len(in.Members) > 20 {
		return nil, events.Invalid("members", "a household has 1 to 20 members")
	}
	in.Building, in.Unit = strings.TrimSpace(in.Building), strings.TrimSpace(in.Unit)
	if in.Building == "" || len(in.Building) > 32 || len(in.Unit) > 32 {
		return nil, events.Invalid("building", "building is required; building and unit at most 32 bytes")
	}
	normal := make([]Personal, len(in.Members))
	seen := map[string]bool{}
	for i, m := range in.Members {
		d, err := s.Vault.Normalize(m.Name, m.IDNumber, m.Phone)
		if err != nil {
			return nil, Prefix(fmt.Sprintf("members[%d]", i), err)
		}
		if seen[d.IDNumber] {
			return nil, events.Invalid(fmt.Sprintf("members[%d].id_number", i), "the same ID number appears twice")
		}
		seen[d.IDNumber] = true
		rel := m.Relation
		if i == 0 && rel == "" {
			rel = "self"
		}
		if !slices.Contains(residents.Relations(), rel) {
			return nil, events.Invalid(fmt.Sprintf("members[%d].relation", i), "relation %q is not one of %v", m.Relation, residents.Relations())
		}
		in.Members[i].Relation = rel
		normal[i] = d
	}
	return normal, nil
}

// Household returns the resident's own household, decrypted for them.
func (s *Service) Household(ctx context.Context, p auth.Principal) (Household, error) {
	if err := auth.Authorize(p, auth.ActOwnPass, ""); err != nil {
		return Household{}, err
	}
	var persons []Person
	r, ok := s.State.Household(p.Subject)
	if ok {
		s.State.read(func() {
			for _, id := range r.Members {
				persons = append(persons, *s.State.persons[id])
			}
		})
	}
	if !ok {
		return Household{}, events.Errorf(events.CodeNotFound, "not registered yet")
	}
	h := Household{ResidentID: r.ID, Community: r.Community, Building: r.Building, Unit: r.Unit}
	for i, per := range persons {
		d, err := s.Vault.Open(ctx, per.ID, per.Sealed)
		if err != nil {
			return Household{}, err
		}
		rel := "self"
		if i > 0 {
			rel = "member"
		}
		status, pass := s.Passes.Standing(per.ID)
		h.Members = append(h.Members, MemberSummary{PersonID: per.ID, Relation: rel, Name: d.Name, IDNumber: personal.MaskID(d.IDNumber), Status: status, PassID: pass})
	}
	return h, nil
}

// Erase destroys the personal data of the resident's whole household
// (crypto-shredding): keys are destroyed, passes revoked, and the ledger
// records that it happened. The ledger still verifies; the data is gone.
func (s *Service) Erase(ctx context.Context, p auth.Principal) error {
	if err := auth.Authorize(p, auth.ActRegister, ""); err != nil {
		return err
	}
	r, ok := s.State.Household(p.Subject)
	if !ok {
		return events.Errorf(events.CodeNotFound, "not registered")
	}
	// Only the persons this household holds: a person it once listed who
	// moved to another household is theirs now.
	var mine []string
	s.State.read(func() {
		for _, id := range r.Members {
			if per := s.State.persons[id]; per != nil && per.Resident == r.ID {
				mine = append(mine, id)
			}
		}
	})
	// The revocations are sealed to the persons: recorded before their
	// keys go, all at once.
	var releases []events.Draft
	for _, id := range mine {
		if d, ok := s.Passes.Releasing(p.PublicActor(), id, ""); ok {
			releases = append(releases, d)
		}
	}
	if err := s.appendBatch(ctx, releases); err != nil {
		return err
	}
	for _, id := range mine {
		if err := s.Vault.Shred(ctx, id); err != nil {
			return fmt.Errorf("shred %s: %w", id, err)
		}
	}
	// The erasure names the erased persons to the projections, which must
	// read it after their keys are gone: it is sealed to a service key.
	meta := events.Meta{Aggregate: events.Aggregate{Kind: residents.Kind, ID: r.ID}, Region: r.Community, Actor: p.Actor(), SealTo: events.SubjectErasures}
	if _, err := s.append(ctx, residents.TypeErased, meta, residents.Erased{PersonIDs: r.Members}, events.ExpectAny()); err != nil {
		return err
	}
	if s.Erased != nil {
		return s.Erased(ctx)
	}
	return nil
}

// TransferInput moves a person into a household of the caller's community.
type TransferInput struct {
	IDNumber string `json:"id_number"`
	To       string `json:"to"` // the household (resident id) they move to
}

// ConfirmTransfer records that a property manager of the new household's
// community checked in person that the person with this ID number moves
// there: the holding household releases them (their pass there is
// revoked), both households are told, and the new one then registers them.
func (s *Service) ConfirmTransfer(ctx context.Context, p auth.Principal, in TransferInput) error {
	if err := auth.Authorize(p, auth.ActTransfer, ""); err != nil {
		return err
	}
	id, err := personal.ParseIDNumber(in.IDNumber)
	if err != nil {
		return err
	}
	pid := PersonID(s.Vault.Index("id", id.Value()))
	var (
		from Resident
		per  Person
	)
	to, okTo := s.State.Household(in.To)
	s.State.read(func() {
		if x := s.State.persons[pid]; x != nil {
			per = *x
			if r := s.State.residents[x.Resident]; r != nil {
				from = *r
			}
		}
	})
	if !okTo || auth.Authorize(p, auth.ActTransfer, to.Community) != nil {
		return events.Errorf(events.CodeNotFound, "no household %s in your community", in.To)
	}
	switch {
	case per.Resident == "" || per.Erased:
		return events.Invalid("id_number", "this person belongs to no household: the household registers them itself")
	case per.Resident == to.ID:
		return events.Errorf(events.CodeConflict, "this person already belongs to household %s", to.ID)
	}
	// The release of their pass and the transfer are one batch.
	var batch []events.Draft
	if d, ok := s.Passes.Releasing(p.PublicActor(), pid, from.Community); ok {
		batch = append(batch, d)
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: residents.Kind, ID: from.ID}, Region: from.Community, Actor: p.Actor(), SealTo: pid}
	batch = append(batch, events.Draft{Type: residents.TypeTransferred, Meta: meta, Payload: residents.Transferred{PersonID: pid, To: to.ID}, Expect: events.ExpectAny()})
	if err := s.appendBatch(ctx, batch); err != nil {
		return err
	}
	at := s.Now.UTC().Format("2006-01-02 15:04")
	for _, h := range []string{from.ID, to.ID} {
		s.Notify.Send(ctx, Notice{Subject: h, Kind: NoticeTransfer, Data: map[string]string{"thing1": "家庭成员迁移已确认", "time2": at}})
	}
	return nil
}

// Prefix puts field in front of the field an *events.Error names, so that
// an error about a part names where the part sits in the whole.
func Prefix(field string, err error) error {
	var e *events.Error
	if errors.As(err, &e) {
		c := *e
		if c.Field == "" {
			c.Field = field
		} else {
			c.Field = field + "." + c.Field
		}
		return &c
	}
	return err
}
