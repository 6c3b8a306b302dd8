package passes

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/events"
	evpasses "github.com/onebook/onebook/events/passes"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/events/staff"
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
	Store   events.Store
	Reg     *events.Registry
	State   *State
	Vault   Vault
	Tokens  Tokens
	Risk    []events.Region // risk regions for the 14-day visit rule
	PassTTL time.Duration   // how long a pass token is valid; default 24h (the pass itself: PassValidity)
	Now     func() time.Time
	// Notify, if set, tells an account holder about something that
	// happened to them (a WeChat subscribe message). Best effort: a failed
	// notification never fails the command that caused it.
	Notify func(ctx context.Context, n Notice)
	// Erased, if set, is called once a household's erasure is recorded:
	// the backend rebuilds the views that held what the destroyed keys
	// sealed (projections.Personal).
	Erased func(ctx context.Context) error
	// Warm, if set, says whether the state has caught up with the ledger
	// as it was at start; decisions wait for it (503 until then).
	Warm func() error
}

// Notice is a notification to the holder of an account. Data uses the
// keywords of the subscribe-message templates onebook expects: thing1 (what
// happened) and time2 (when).
type Notice struct {
	Subject string // resident id
	Kind    string // visit_decided | pass_revoked
	Data    map[string]string
}

// Notice kinds.
const (
	NoticeVisitDecided = "visit_decided"
	NoticePassRevoked  = "pass_revoked"
)

func (s *Service) notify(ctx context.Context, n Notice) {
	if s.Notify != nil {
		s.Notify(context.WithoutCancel(ctx), n)
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

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

// append builds, appends and waits until the state has seen the event.
func (s *Service) append(ctx context.Context, typ string, m events.Meta, p events.Payload, x events.Expect) (events.Recorded, error) {
	if m.Time.IsZero() {
		m.Time = s.now()
	}
	return events.AppendAndWait(ctx, s.Store, s.Reg, s.State, typ, m, p, x)
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

// GateInput registers a gate.
type GateInput struct {
	Community events.Region `json:"community"`
	Name      string        `json:"name"`
}

// RegisterGate records a new gate of a community.
func (s *Service) RegisterGate(ctx context.Context, p auth.Principal, in GateInput) (Gate, error) {
	g := evpasses.GateRegistered{Community: in.Community, Name: strings.TrimSpace(in.Name)}
	if err := g.Validate(); err != nil {
		return Gate{}, err
	}
	if err := auth.Authorize(p, auth.ActGateManage, in.Community); err != nil {
		return Gate{}, err
	}
	id := "g-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	_, err := s.append(ctx, evpasses.TypeGate, events.Meta{Aggregate: events.Aggregate{Kind: evpasses.KindGate, ID: id}, Region: in.Community, Actor: p.Actor()}, g, events.ExpectNew())
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
	if _, err := events.ParseRegion(string(in.Community)); err != nil || len(in.Community) != 12 {
		return Household{}, events.Invalid("community", "community must be a 12-digit region code")
	}
	if len(in.Members) == 0 || len(in.Members) > 20 {
		return Household{}, events.Invalid("members", "a household has 1 to 20 members")
	}
	in.Building, in.Unit = strings.TrimSpace(in.Building), strings.TrimSpace(in.Unit)
	if in.Building == "" || len(in.Building) > 32 || len(in.Unit) > 32 {
		return Household{}, events.Invalid("building", "building is required; building and unit at most 32 bytes")
	}
	normal := make([]Personal, len(in.Members))
	seen := map[string]bool{}
	for i, m := range in.Members {
		d, err := s.Vault.Normalize(m.Name, m.IDNumber, m.Phone)
		if err != nil {
			return Household{}, prefix(fmt.Sprintf("members[%d]", i), err)
		}
		if seen[d.IDNumber] {
			return Household{}, events.Invalid(fmt.Sprintf("members[%d].id_number", i), "the same ID number appears twice")
		}
		seen[d.IDNumber] = true
		rel := m.Relation
		if i == 0 && rel == "" {
			rel = "self"
		}
		if !slices.Contains(residents.Relations(), rel) {
			return Household{}, events.Invalid(fmt.Sprintf("members[%d].relation", i), "relation %q is not one of %v", m.Relation, residents.Relations())
		}
		in.Members[i].Relation = rel
		normal[i] = d
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
	if prev != nil && prev.Community != in.Community {
		// Moved out: the passes of the old community stop opening its gates.
		var old []Pass
		s.State.read(func() {
			for _, id := range prev.Members {
				if ps := s.State.passes[s.State.persons[id].Pass]; ps != nil && ps.Revoked == "" {
					old = append(old, *ps)
				}
			}
		})
		for _, ps := range old {
			if err := s.revoke(ctx, p.PublicActor(), ps, evpasses.ReasonMovedOut); err != nil {
				return Household{}, err
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
	if _, err := s.append(ctx, residents.TypeRegistered, meta, ev, x); err != nil {
		return Household{}, err
	}
	for _, m := range ev.Members {
		if _, err := s.issuePass(ctx, p, m.PersonID, in.Community); err != nil {
			return Household{}, err
		}
	}
	return s.Household(ctx, p)
}

// PersonID is the id of the person with the given ID-number blind index:
// stable across re-registrations, and not personal data itself.
func PersonID(idIndex string) string {
	sum := sha256.Sum256([]byte("person:" + idIndex))
	return "p-" + hex.EncodeToString(sum[:12])
}

// Household returns the resident's own household, decrypted for them.
func (s *Service) Household(ctx context.Context, p auth.Principal) (Household, error) {
	if err := auth.Authorize(p, auth.ActOwnPass, ""); err != nil {
		return Household{}, err
	}
	var (
		r       Resident
		ok      bool
		persons []Person
	)
	s.State.read(func() {
		if x := s.State.residents[p.Subject]; x != nil && !x.Erased {
			r, ok = *x, true
			for _, id := range x.Members {
				persons = append(persons, *s.State.persons[id])
			}
		}
	})
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
		h.Members = append(h.Members, MemberSummary{PersonID: per.ID, Relation: rel, Name: d.Name, IDNumber: personal.MaskID(d.IDNumber), Status: per.Status, PassID: per.Pass})
	}
	return h, nil
}

// issuePass records a new pass for a person, valid from now for PassValidity.
func (s *Service) issuePass(ctx context.Context, p auth.Principal, personID string, community events.Region) (string, error) {
	now := s.now()
	id := uuid.NewString()
	ev := evpasses.Issued{Holder: personID, HolderOf: evpasses.HolderResident, Community: community, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(PassValidity)}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: evpasses.KindPass, ID: id}, Region: community, Actor: p.PublicActor(), SealTo: personID}
	if _, err := s.append(ctx, evpasses.TypeIssued, meta, ev, events.ExpectNew()); err != nil {
		return "", err
	}
	return id, nil
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
	per, pass, ok := s.State.member(p.Subject, personID)
	if !ok {
		return PassToken{}, events.Errorf(events.CodeNotFound, "no such member of your household")
	}
	if per.Erased {
		return PassToken{}, events.Errorf(events.CodeNotFound, "this person's data was erased")
	}
	if per.Status == residents.Red {
		return PassToken{}, &events.Error{Code: events.CodeForbidden, Message: "health status is red: no pass; contact your community"}
	}
	now := s.now()
	if pass.Revoked != "" || pass.ID == "" || pass.NotAfter.Before(now.Add(s.passTTL())) {
		if pass.Revoked == evpasses.ReasonMovedOut {
			return PassToken{}, &events.Error{Code: events.CodeForbidden, Message: "the pass was revoked: moved out"}
		}
		id, err := s.issuePass(ctx, p, per.ID, per.Community)
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
	per, pass, ok := s.State.member(p.Subject, personID)
	if !ok || per.Erased {
		return events.Errorf(events.CodeNotFound, "no such member of your household")
	}
	if pass.ID == "" || pass.Revoked != "" {
		return nil // nothing valid to revoke
	}
	return s.revoke(ctx, p.PublicActor(), pass, evpasses.ReasonLostPhone)
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
	per, pass, ok := s.State.member(p.Subject, in.PersonID)
	var r Resident
	if ok {
		s.State.read(func() { r = *s.State.residents[per.Resident] })
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
		if err := s.revoke(ctx, p.PublicActor(), pass, evpasses.ReasonRedStatus); err != nil {
			return DeclareResult{}, err
		}
	}
	return DeclareResult{Status: status, Reason: reason}, nil
}

func (s *Service) revoke(ctx context.Context, actor events.Actor, pass Pass, reason string) error {
	meta := events.Meta{Aggregate: events.Aggregate{Kind: evpasses.KindPass, ID: pass.ID}, Region: pass.Community, Actor: actor, SealTo: pass.Person}
	if _, err := s.append(ctx, evpasses.TypeRevoked, meta, evpasses.Revoked{Reason: reason}, events.ExpectAny()); err != nil {
		return err
	}
	var resident string
	s.State.read(func() {
		if per := s.State.persons[pass.Person]; per != nil {
			resident = per.Resident
		}
	})
	if resident != "" && reason != evpasses.ReasonMovedOut {
		s.notify(ctx, Notice{Subject: resident, Kind: NoticePassRevoked, Data: map[string]string{"thing1": "通行证已撤销: " + reason, "time2": s.now().Format("2006-01-02 15:04")}})
	}
	return nil
}

// Erase destroys the personal data of the resident's whole household
// (crypto-shredding): keys are destroyed, passes revoked, and the ledger
// records that it happened. The ledger still verifies; the data is gone.
func (s *Service) Erase(ctx context.Context, p auth.Principal) error {
	if err := auth.Authorize(p, auth.ActRegister, ""); err != nil {
		return err
	}
	var (
		r      Resident
		ok     bool
		passes []Pass
	)
	s.State.read(func() {
		if x := s.State.residents[p.Subject]; x != nil && !x.Erased {
			r, ok = *x, true
			for _, id := range x.Members {
				per := s.State.persons[id]
				if per == nil || per.Resident != x.ID {
					continue // moved to another household: not ours to revoke
				}
				if ps := s.State.passes[per.Pass]; ps != nil && ps.Revoked == "" {
					passes = append(passes, *ps)
				}
			}
		}
	})
	if !ok {
		return events.Errorf(events.CodeNotFound, "not registered")
	}
	for _, ps := range passes {
		if err := s.revoke(ctx, p.PublicActor(), ps, evpasses.ReasonMovedOut); err != nil {
			return err
		}
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

// StaffInput creates a staff account.
type StaffInput struct {
	Role  string        `json:"role"`
	Scope events.Region `json:"scope"`
	Label string        `json:"label"`
	Org   string        `json:"org,omitempty"` // hospital staff: their hospital (scope defaults to its region)
}

// NewStaff is a created account and its one-time invite code, shown once.
type NewStaff struct {
	ID         string `json:"id"`
	InviteCode string `json:"invite_code"`
}

// AddStaff creates a staff account (admins, and ops staff add as system).
func (s *Service) AddStaff(ctx context.Context, p auth.Principal, in StaffInput) (NewStaff, error) {
	if p.Role != auth.System {
		if err := auth.Authorize(p, auth.ActStaffAdmin, ""); err != nil { // the role first; the scope below
			return NewStaff{}, err
		}
	}
	if _, err := auth.ParseRole(in.Role); err != nil {
		return NewStaff{}, err
	}
	if err := s.checkStaffOrg(&in); err != nil { // may fill in the scope: authorize it after
		return NewStaff{}, err
	}
	if p.Role != auth.System {
		if in.Scope == "" {
			return NewStaff{}, events.Invalid("scope", "required")
		}
		if err := auth.Authorize(p, auth.ActStaffAdmin, in.Scope); err != nil {
			return NewStaff{}, err
		}
	}
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return NewStaff{}, err
	}
	code := strings.ToUpper(hex.EncodeToString(b[:]))
	sum := sha256.Sum256([]byte(code))
	ev := staff.Created{Role: in.Role, Scope: in.Scope, Label: strings.TrimSpace(in.Label), InviteHash: hex.EncodeToString(sum[:]), Org: in.Org}
	if err := ev.Validate(); err != nil {
		return NewStaff{}, err
	}
	id := "s-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	meta := events.Meta{Aggregate: events.Aggregate{Kind: staff.Kind, ID: id}, Region: in.Scope, Actor: p.Actor()}
	if _, err := s.append(ctx, staff.TypeCreated, meta, ev, events.ExpectNew()); err != nil {
		return NewStaff{}, err
	}
	return NewStaff{ID: id, InviteCode: code}, nil
}

// BindStaff binds the staff account of a one-time invite code to a WeChat
// openid and returns its principal.
func (s *Service) BindStaff(ctx context.Context, openID, inviteCode string) (auth.Principal, error) {
	sum := sha256.Sum256([]byte(strings.ToUpper(strings.TrimSpace(inviteCode))))
	var st Staff
	ok := false
	lookup := func() {
		if id, found := s.State.staffByInvite[hex.EncodeToString(sum[:])]; found {
			st, ok = *s.State.staff[id], true
		}
	}
	s.State.read(lookup)
	if !ok {
		if err := s.catchUp(ctx); err != nil {
			return auth.Principal{}, err
		}
		s.State.read(lookup)
	}
	if !ok || st.Disabled {
		return auth.Principal{}, events.Invalid("invite_code", "unknown or already used invite code")
	}
	if s.now().Sub(st.Created) > InviteTTL {
		return auth.Principal{}, events.Invalid("invite_code", "this invite code has expired (after %s): ask an admin for a new account", InviteTTL)
	}
	idx := s.Vault.Index("openid", openID)
	meta := events.Meta{Aggregate: events.Aggregate{Kind: staff.Kind, ID: st.ID}, Region: st.Scope, Actor: events.Actor{Role: st.Role, ID: st.ID}, SealTo: events.SubjectStaff}
	if _, err := s.append(ctx, staff.TypeBound, meta, staff.Bound{OpenIDIndex: idx}, events.ExpectLast(st.LastSeq)); err != nil {
		if errors.Is(err, events.ErrConflict) {
			return auth.Principal{}, events.Invalid("invite_code", "unknown or already used invite code")
		}
		return auth.Principal{}, err
	}
	return auth.Principal{Subject: st.ID, Role: auth.Role(st.Role), Scope: st.Scope, OpenID: openID, Org: st.Org}, nil
}

func prefix(field string, err error) error {
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

// InviteTTL is how long an invite code can be bound: an unused code does
// not stay a way in for ever.
const InviteTTL = 72 * time.Hour

// DisableInput disables a staff account.
type DisableInput struct {
	Reason string `json:"reason"`
}

// DisableStaff disables a staff account (an admin whose scope covers the
// account's): it can no longer sign in, its invite code stops working, and
// its sessions stop working at once on every replica (SessionValid).
func (s *Service) DisableStaff(ctx context.Context, p auth.Principal, id string, in DisableInput) error {
	if err := auth.Authorize(p, auth.ActStaffAdmin, ""); err != nil {
		return err
	}
	st, ok, err := events.Find(ctx, s.Store, s.State, func() (Staff, bool) { return s.State.staffAccount(id) })
	if err != nil {
		return err
	}
	if !ok || !p.Scope.Covers(st.Scope) {
		return events.Errorf(events.CodeNotFound, "no staff account %s in your scope", id)
	}
	if st.Disabled {
		return events.Errorf(events.CodeConflict, "staff account %s is already disabled", id)
	}
	reason := strings.TrimSpace(in.Reason)
	if len([]rune(reason)) < 2 || len(reason) > 200 {
		return events.Invalid("reason", "state why, in 2 to 200 bytes")
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: staff.Kind, ID: st.ID}, Region: st.Scope, Actor: p.Actor(), SealTo: events.SubjectStaff}
	_, err = s.append(ctx, staff.TypeDisabled, meta, staff.Disabled{Reason: reason}, events.ExpectLast(st.LastSeq))
	return err
}

// SignOutEverywhere voids every session of the caller's account issued
// until now, on every replica.
func (s *Service) SignOutEverywhere(ctx context.Context, p auth.Principal) error {
	if p.Subject == "" {
		return events.Errorf(events.CodeUnauthorized, "sign in first")
	}
	region := p.Scope
	if region == "" {
		region = events.National
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: staff.KindAccount, ID: p.Subject}, Region: region, Actor: p.PublicActor()}
	_, err := s.append(ctx, staff.TypeSignedOut, meta, staff.SignedOut{Before: s.now().UTC()}, events.ExpectAny())
	return err
}

// SessionValid says whether a session of p issued at issued still works:
// not if p's staff account was disabled, nor if p signed out everywhere
// after it was issued. Every replica folds the same events, so a disabling
// or a sign-out takes effect on all of them.
func (s *Service) SessionValid(p auth.Principal, issued time.Time) error {
	var err error
	s.State.read(func() {
		if st := s.State.staff[p.Subject]; st != nil && st.Disabled {
			err = &events.Error{Code: events.CodeUnauthorized, Message: "this staff account is disabled"}
			return
		}
		if before, ok := s.State.signedOut[p.Subject]; ok && !issued.After(before) {
			err = &events.Error{Code: events.CodeUnauthorized, Message: "signed out everywhere; sign in again"}
		}
	})
	return err
}

// TransferInput moves a person into a household of the caller's community.
type TransferInput struct {
	IDNumber string `json:"id_number"`
	To       string `json:"to"` // the household (resident id) they move to
}

// NoticeTransfer tells both households of a move.
const NoticeTransfer = "person_transferred"

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
		to, from Resident
		okTo     bool
		per      Person
		pass     Pass
	)
	s.State.read(func() {
		if x := s.State.residents[in.To]; x != nil && !x.Erased {
			to, okTo = *x, true
		}
		if x := s.State.persons[pid]; x != nil {
			per = *x
			if r := s.State.residents[x.Resident]; r != nil {
				from = *r
			}
			if ps := s.State.passes[x.Pass]; ps != nil {
				pass = *ps
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
	if pass.ID != "" && pass.Revoked == "" && pass.Community == from.Community {
		if err := s.revoke(ctx, p.PublicActor(), pass, evpasses.ReasonMovedOut); err != nil {
			return err
		}
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: residents.Kind, ID: from.ID}, Region: from.Community, Actor: p.Actor(), SealTo: pid}
	if _, err := s.append(ctx, residents.TypeTransferred, meta, residents.Transferred{PersonID: pid, To: to.ID}, events.ExpectAny()); err != nil {
		return err
	}
	at := s.now().Format("2006-01-02 15:04")
	for _, h := range []string{from.ID, to.ID} {
		s.notify(ctx, Notice{Subject: h, Kind: NoticeTransfer, Data: map[string]string{"thing1": "家庭成员迁移已确认", "time2": at}})
	}
	return nil
}
