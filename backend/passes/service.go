package passes

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/residents"
)

// PassClaims is what a pass token says.
type PassClaims struct {
	PassID    string
	Visitor   bool
	Community events.Region
	NotBefore time.Time
	NotAfter  time.Time
}

// Tokens issues and checks the signed QR pass tokens (backend/passtoken).
type Tokens interface {
	Issue(c PassClaims) (string, error)
	// Verify checks format, signature and validity window at now. A refusal
	// is a *Denial; revocation is checked by the service from its state.
	Verify(token string, now time.Time) (PassClaims, error)
}

// Denial reasons of a scan.
const (
	DenyMalformed      = "malformed"
	DenyForged         = "forged"
	DenyExpired        = "expired"
	DenyNotYetValid    = "not_yet_valid"
	DenyRevoked        = "revoked"
	DenyWrongCommunity = "wrong_community"
	DenyRedStatus      = "red_status"
	DenyIDMismatch     = "id_mismatch"
	DenyErased         = "erased"
)

// Denial is a refused pass, with the reason the gate shows.
type Denial struct{ Reason string }

func (d *Denial) Error() string { return "pass denied: " + d.Reason }

// Service decides the commands of the pass service.
type Service struct {
	Store events.Store
	Reg   *events.Registry
	State *State
	// Accounts is the accounts service's state: who belongs to which
	// household, and who was erased.
	Accounts *accounts.State
	Vault    accounts.Vault
	Tokens   Tokens
	Risk     []events.Region // risk regions for the 14-day visit rule
	PassTTL  time.Duration   // how long a pass token is valid; default 24h (the pass itself: PassValidity)
	Now      events.Clock
	// Notify, if set, tells an account holder about something that
	// happened to them (a WeChat subscribe message). Best effort: a failed
	// notification never fails the command that caused it.
	Notify accounts.Notifier
	// Warm, if set, says whether the state has caught up with the ledger
	// as it was at start; decisions wait for it (503 until then).
	Warm func() error
}

// Notice kinds.
const (
	NoticeVisitDecided = "visit_decided"
	NoticePassRevoked  = "pass_revoked"
)

// PassValidity is how long a pass (the ledger aggregate) lasts. Tokens are
// short-lived (PassTTL) and refreshed within one pass, so the ledger and the
// decision state see one pass a month per person, not one a day.
const PassValidity = 30 * 24 * time.Hour

func (s *Service) passTTL() time.Duration {
	if s.PassTTL <= 0 {
		return 24 * time.Hour
	}
	return s.PassTTL
}

// append builds, appends and waits until both states have seen the event:
// a declaration is an event of the household's aggregate, whose sequence
// the accounts state keeps.
func (s *Service) append(ctx context.Context, typ string, m events.Meta, p events.Payload, x events.Expect) (events.Recorded, error) {
	if m.Time.IsZero() {
		m.Time = s.Now.UTC()
	}
	return events.AppendAndWait(ctx, s.Store, s.Reg, events.Waiters{s.State, s.Accounts}, typ, m, p, x)
}

// catchUp waits until the state has applied everything the ledger held when
// called. Commands call it before answering "not found" for something that
// another backend replica (or ops) may have just recorded.
func (s *Service) catchUp(ctx context.Context) error {
	return events.CatchUp(ctx, s.Store, s.State)
}

// GateInput registers a gate.
type GateInput struct {
	Community events.Region `json:"community"`
	Name      string        `json:"name"`
}

// RegisterGate records a new gate of a community.
func (s *Service) RegisterGate(ctx context.Context, p auth.Principal, in GateInput) (Gate, error) {
	g := passevents.GateRegistered{Community: in.Community, Name: strings.TrimSpace(in.Name)}
	if err := g.Validate(); err != nil {
		return Gate{}, err
	}
	if err := auth.Authorize(p, auth.ActGateManage, in.Community); err != nil {
		return Gate{}, err
	}
	id := "g-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	_, err := s.append(ctx, passevents.TypeGate, events.Meta{Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: id}, Region: in.Community, Actor: p.Actor()}, g, events.ExpectNew())
	if err != nil {
		return Gate{}, err
	}
	return Gate{ID: id, Community: in.Community, Name: g.Name}, nil
}

// Gate returns a registered gate, catching up with the ledger first if it
// is not known yet.
func (s *Service) Gate(ctx context.Context, id string) (Gate, bool) {
	if g, ok := s.gate(id); ok {
		return g, ok
	}
	if s.catchUp(ctx) != nil {
		return Gate{}, false
	}
	return s.gate(id)
}

// ManagedGate returns a gate that p manages (a property manager of its
// community): for printing its check-in code.
func (s *Service) ManagedGate(ctx context.Context, p auth.Principal, id string) (Gate, error) {
	g, ok := s.Gate(ctx, id)
	if !ok {
		return Gate{}, events.Errorf(events.CodeNotFound, "no gate %q", id)
	}
	if err := auth.Authorize(p, auth.ActGateManage, g.Community); err != nil {
		return Gate{}, err
	}
	return g, nil
}

func (s *Service) gate(id string) (Gate, bool) {
	var g Gate
	ok := false
	s.State.read(func() {
		if x := s.State.gates[id]; x != nil {
			g, ok = *x, true
		}
	})
	return g, ok
}

// Issuing is the event that issues a new pass to a household member
// (accounts.Passes): the accounts service records it with the
// registration that makes them one.
func (s *Service) Issuing(actor events.Actor, personID string, community events.Region) events.Draft {
	ev, meta := s.newPass(actor, personID, community)
	return events.Draft{Type: passevents.TypeIssued, Meta: meta, Payload: ev, Expect: events.ExpectNew()}
}

// Releasing is the event that revokes the person's current pass, if it is
// valid and of community ("" for any), because they moved out; false if
// there is none to revoke (accounts.Passes).
func (s *Service) Releasing(actor events.Actor, personID string, community events.Region) (events.Draft, bool) {
	_, pass := s.State.Standing(personID)
	if pass.ID == "" || pass.Revoked != "" || (community != "" && pass.Community != community) {
		return events.Draft{}, false
	}
	return s.revocation(actor, pass, passevents.ReasonMovedOut), true
}

// WaitFor waits until the pass state has applied sequence seq
// (accounts.Passes: a registration reads its passes back).
func (s *Service) WaitFor(ctx context.Context, seq uint64) error { return s.State.WaitFor(ctx, seq) }

// Standing returns the person's health status and current pass id
// (accounts.Passes).
func (s *Service) Standing(personID string) (status, pass string) {
	status, ps := s.State.Standing(personID)
	return status, ps.ID
}

// holder is a pass holder as the pass rules see them: a household member
// or a visitor, with their health status.
type holder struct {
	ID       string
	Resident string // household, "" for a visitor
	Sealed   residents.Sealed
	Status   string
	Erased   bool
}

// holderOf returns the holder with id and their current pass; ok is false
// if the person is unknown.
func (s *Service) holderOf(id string) (h holder, pass Pass, ok bool) {
	status, pass := s.State.Standing(id)
	if per, found := s.Accounts.Person(id); found {
		return holder{ID: per.ID, Resident: per.Resident, Sealed: per.Sealed, Status: status, Erased: per.Erased}, pass, true
	}
	if v, found := s.State.Visitor(id); found {
		return holder{ID: v.ID, Sealed: v.Sealed, Status: status}, pass, true
	}
	return holder{}, pass, false
}

// member returns a person of resident's household and their current pass
// (zero if none); ok is false for anyone else, so that a resident cannot
// learn whether another person exists.
func (s *Service) member(resident, personID string) (h holder, pass Pass, ok bool) {
	if _, mine := s.Accounts.Member(resident, personID); !mine {
		return holder{}, Pass{}, false
	}
	return s.holderOf(personID)
}

// issuePass records a new pass for a person, valid from now for PassValidity.
func (s *Service) issuePass(ctx context.Context, actor events.Actor, personID string, community events.Region) (string, error) {
	ev, meta := s.newPass(actor, personID, community)
	if _, err := s.append(ctx, passevents.TypeIssued, meta, ev, events.ExpectNew()); err != nil {
		return "", err
	}
	return meta.Aggregate.ID, nil
}

// newPass is the event of a new pass: valid from a minute ago (clocks
// differ) for PassValidity.
func (s *Service) newPass(actor events.Actor, personID string, community events.Region) (passevents.Issued, events.Meta) {
	now := s.Now.UTC()
	ev := passevents.Issued{Holder: personID, HolderOf: passevents.HolderResident, Community: community, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(PassValidity)}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: passevents.KindPass, ID: uuid.NewString()}, Region: community, Actor: actor, Time: now, SealTo: personID}
	return ev, meta
}

// PassToken is the QR pass a resident shows.
type PassToken struct {
	PassID   string    `json:"pass_id"`
	Token    string    `json:"token"`
	NotAfter time.Time `json:"not_after"`
	Status   string    `json:"status"`
}

// Pass returns a fresh token of the person's current pass, issuing a new
// pass when the current one expires within the hour (refresh). A person
// with red status, or whose pass was revoked, gets none.
func (s *Service) Pass(ctx context.Context, p auth.Principal, personID string) (PassToken, error) {
	if err := auth.Authorize(p, auth.ActOwnPass, ""); err != nil {
		return PassToken{}, err
	}
	per, pass, ok := s.member(p.Subject, personID)
	if !ok {
		return PassToken{}, events.Errorf(events.CodeNotFound, "no such member of your household")
	}
	if per.Erased {
		return PassToken{}, events.Errorf(events.CodeNotFound, "this person's data was erased")
	}
	if per.Status == residents.Red {
		return PassToken{}, &events.Error{Code: events.CodeForbidden, Message: "health status is red: no pass; contact your community"}
	}
	now := s.Now.UTC()
	if pass.Revoked != "" || pass.ID == "" || pass.NotAfter.Before(now.Add(s.passTTL())) {
		if pass.Revoked == passevents.ReasonMovedOut {
			return PassToken{}, &events.Error{Code: events.CodeForbidden, Message: "the pass was revoked: moved out"}
		}
		per, ok := s.Accounts.Person(personID)
		if !ok {
			return PassToken{}, events.Errorf(events.CodeNotFound, "no such member of your household")
		}
		id, err := s.issuePass(ctx, p.PublicActor(), per.ID, per.Community)
		if err != nil {
			return PassToken{}, err
		}
		s.State.read(func() { pass = *s.State.passes[id] })
	}
	// A token lasts PassTTL within its pass; scanners' clocks may run a
	// few minutes late, hence the earlier start.
	c := PassClaims{PassID: pass.ID, Community: pass.Community, NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(s.passTTL())}
	if c.NotBefore.Before(pass.NotBefore) {
		c.NotBefore = pass.NotBefore
	}
	tok, err := s.Tokens.Issue(c)
	if err != nil {
		return PassToken{}, err
	}
	return PassToken{PassID: pass.ID, Token: tok, NotAfter: c.NotAfter, Status: per.Status}, nil
}

// RevokePass revokes a household member's current pass because the phone
// showing it was lost; the next GET of the pass issues a new one.
func (s *Service) RevokePass(ctx context.Context, p auth.Principal, personID string) error {
	if err := auth.Authorize(p, auth.ActOwnPass, ""); err != nil {
		return err
	}
	per, pass, ok := s.member(p.Subject, personID)
	if !ok || per.Erased {
		return events.Errorf(events.CodeNotFound, "no such member of your household")
	}
	if pass.ID == "" || pass.Revoked != "" {
		return nil // nothing valid to revoke
	}
	return s.revoke(ctx, p.PublicActor(), pass, passevents.ReasonLostPhone)
}

// DeclareInput is a health declaration for one household member.
type DeclareInput struct {
	PersonID    string          `json:"person_id"`
	Temperature float64         `json:"temperature"`
	Symptoms    []string        `json:"symptoms"`
	Visited     []events.Region `json:"visited"`
	Contact     bool            `json:"contact"`
}

// DeclareResult is the status the rules gave.
type DeclareResult struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// Declare records a health declaration; a red status revokes the person's
// pass at once.
func (s *Service) Declare(ctx context.Context, p auth.Principal, in DeclareInput) (DeclareResult, error) {
	d := Declaration{Temperature: in.Temperature, Symptoms: in.Symptoms, Visited: in.Visited, Contact: in.Contact}
	if err := validateDeclaration(d); err != nil {
		return DeclareResult{}, err
	}
	per, pass, ok := s.member(p.Subject, in.PersonID)
	var r accounts.Resident
	if ok {
		r, ok = s.Accounts.Household(per.Resident)
	}
	if err := auth.Authorize(p, auth.ActDeclare, ""); err != nil {
		return DeclareResult{}, err
	}
	if !ok || per.Erased {
		return DeclareResult{}, &events.Error{Code: events.CodeNotFound, Field: "person_id", Message: "no such member of your household"}
	}
	status, reason := Assess(d, s.Risk)
	ev := residents.Declared{PersonID: per.ID, Temperature: d.Temperature, Symptoms: nonNil(d.Symptoms), Visited: nonNilR(d.Visited), Contact: d.Contact,
		Status: status, StatusReason: reason, RulesVersion: RulesVersion}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: residents.Kind, ID: r.ID}, Region: r.Community, Actor: p.Actor(), SealTo: per.ID}
	if _, err := s.append(ctx, residents.TypeDeclared, meta, ev, events.ExpectLast(r.LastSeq)); err != nil {
		return DeclareResult{}, err
	}
	if status == residents.Red && pass.ID != "" && pass.Revoked == "" {
		if err := s.revoke(ctx, p.PublicActor(), pass, passevents.ReasonRedStatus); err != nil {
			return DeclareResult{}, err
		}
	}
	return DeclareResult{Status: status, Reason: reason}, nil
}

func (s *Service) revoke(ctx context.Context, actor events.Actor, pass Pass, reason string) error {
	d := s.revocation(actor, pass, reason)
	if _, err := s.append(ctx, d.Type, d.Meta, d.Payload, d.Expect); err != nil {
		return err
	}
	per, _ := s.Accounts.Person(pass.Person)
	if per.Resident != "" && reason != passevents.ReasonMovedOut {
		s.Notify.Send(ctx, accounts.Notice{Subject: per.Resident, Kind: NoticePassRevoked, Data: map[string]string{"thing1": "通行证已撤销: " + reason, "time2": s.Now.UTC().Format("2006-01-02 15:04")}})
	}
	return nil
}

// revocation is the event that revokes pass for reason.
func (s *Service) revocation(actor events.Actor, pass Pass, reason string) events.Draft {
	meta := events.Meta{Aggregate: events.Aggregate{Kind: passevents.KindPass, ID: pass.ID}, Region: pass.Community, Actor: actor, Time: s.Now.UTC(), SealTo: pass.Person}
	return events.Draft{Type: passevents.TypeRevoked, Meta: meta, Payload: passevents.Revoked{Reason: reason}, Expect: events.ExpectAny()}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilR(s []events.Region) []events.Region {
	if s == nil {
		return []events.Region{}
	}
	return s
}
