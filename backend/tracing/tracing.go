// Package tracing is the government's tracing service of the entry/exit
// pass service: "who passed gate(s) G between t1 and t2" and "where was the
// person with this ID number between t1 and t2".
//
// Every query goes through the same steps:
//
//  1. authorize: only roles allowed auth.ActTrace (government analysts),
//     and only on data their region scope covers: every gate asked for
//     must lie in it, and a person trace returns only the scans at gates
//     in it (row-level data never leaves its region's scope; the caller
//     does not even learn how many scans were left out);
//  2. validate: a purpose code from Purposes and a free-text reason are
//     required, the time range is bounded (trace.MaxRange);
//  3. decide identity: results are masked (personal.MaskName,
//     personal.MaskID) unless full identity is asked for and the purpose
//     allows it for the caller's role; asking when it does not is refused,
//     not silently masked;
//  4. read the views of projections/trace by _id, resolve identities;
//  5. record the query in the ledger as one access.logged event — before
//     any data is returned; if the ledger does not take it, nothing is
//     returned.
//
// The access event never holds personal data in clear. Its fields are:
// what ("trace.gate" or "trace.person"); purpose (the free-text reason the
// caller gave: the schema's "stated purpose"); query (the purpose code, the
// range, the gates, or for a person the blind index of the ID number and
// the person id derived from it); results (rows returned); identity
// ("masked" or "full"). The reason is free text that stays in the ledger
// for good, so it must not contain personal data: runs of 11 or more digits
// (ID and phone numbers) are refused; names cannot be detected, and the
// dashboard must tell users not to write them.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/access"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/trace"
)

// Person is one person's identity in clear, as Identity.Resolve returns it.
type Person struct {
	Name     string
	IDNumber string
}

// Identity finds and reads personal data (backend/personal's Vault, through
// an adapter that knows where each person's sealed data is).
type Identity interface {
	// Index is the blind index of a value of a kind, as
	// backend/accounts.Vault.Index: Index("id", ID number) is what person
	// ids are derived from (accounts.PersonID).
	Index(kind, value string) string
	// Resolve decrypts a person's name and ID number. A person whose data
	// was erased (key shredded) gives an error with CodeNotFound.
	Resolve(ctx context.Context, personID string) (Person, error)
}

// Service answers tracing queries.
type Service struct {
	Store events.Appender
	Reg   *events.Registry // must know access.logged (events/access.Register)
	Docs  projections.DocStore
	// Gates returns the community of a registered gate.
	Gates    func(id string) (community events.Region, ok bool)
	Identity Identity
	// Cases opens a case card's patient for TraceCase (backend/cases); nil:
	// no case tracing here.
	Cases Cases
	Now   events.Clock // default time.Now
}

// Cases is the one link from a case report to the pass service's records:
// the card's patient ID number, opened with the card's key for a caller
// allowed to trace that card's contacts.
type Cases interface {
	PatientIDNumber(ctx context.Context, p auth.Principal, caseID string) (string, error)
}

// Identity modes of a result, as recorded in the access event.
const (
	Masked = "masked"
	Full   = "full"
)

// Erased is what a result shows in place of the name and ID number of a
// person whose personal data was erased.
const Erased = "(erased)"

// Purpose is a reason for tracing that the rules know about.
type Purpose struct {
	Code        string      `json:"code"`
	Description string      `json:"description"`
	Full        []auth.Role `json:"full_identity_roles"` // roles that may see full identity for it; none: masked only
}

// Purposes is the table of purpose codes. Who may trace at all is
// auth.ActTrace's business; this table says only when identities may be
// shown in full.
//
//	contact_tracing      find and reach the contacts of a confirmed or suspected case;
//	                     full identity allowed for gov_analyst
//	outbreak_statistics  counts and movement patterns for outbreak assessment; masked only
//	audit_check          check that the records are complete and consistent; masked only
func Purposes() []Purpose {
	return []Purpose{
		{Code: "contact_tracing", Description: "find and reach the contacts of a confirmed or suspected case", Full: []auth.Role{auth.GovAnalyst}},
		{Code: "outbreak_statistics", Description: "counts and movement patterns for outbreak assessment (masked only)"},
		{Code: "audit_check", Description: "check that the records are complete and consistent (masked only)"},
	}
}

// LookupPurpose returns the purpose with code.
func LookupPurpose(code string) (Purpose, bool) {
	for _, p := range Purposes() {
		if p.Code == code {
			return p, true
		}
	}
	return Purpose{}, false
}

// Reason limits: the access event's purpose field allows 4 characters to
// 500 bytes (about 166 Chinese characters).
const (
	MinReasonChars = 4
	MaxReasonBytes = 500
)

// GateQuery asks who passed gates between From (inclusive) and To
// (exclusive).
type GateQuery struct {
	Gates []string `json:"gates"`
	Ask
}

// Ask is what every tracing query states: the time window [From, To),
// the purpose and the reason (kept in the ledger), and whether full
// identity is asked for.
type Ask struct {
	From         time.Time `json:"from"`
	To           time.Time `json:"to"`
	Purpose      string    `json:"purpose"` // a code of Purposes
	Reason       string    `json:"reason"`  // why, in words (kept in the ledger)
	FullIdentity bool      `json:"full_identity"`
}

// GateTrace is the answer to a GateQuery.
type GateTrace struct {
	Gates    []string       `json:"gates"`
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	Purpose  string         `json:"purpose"`
	Identity string         `json:"identity"`     // masked | full
	AccessID string         `json:"access_event"` // id of the access.logged event that recorded the query
	Rows     []GateTraceRow `json:"rows"`
	// Unlisted counts scans in the hours read that the views counted but
	// could not list (trace.MaxScansPerDoc): non-zero means incomplete.
	Unlisted int64 `json:"unlisted"`
}

// GateTraceRow is one scan at a gate.
type GateTraceRow struct {
	Time      time.Time     `json:"time"`
	Gate      string        `json:"gate"`
	Community events.Region `json:"community"`
	Pass      string        `json:"pass"`
	PersonID  string        `json:"person_id"` // "" if the pass could not be read
	Name      string        `json:"name"`      // masked unless full identity; Erased if erased
	IDNumber  string        `json:"id_number"` // masked unless full identity; Erased if erased
	Direction string        `json:"direction"`
	Decision  string        `json:"decision"`
	Reason    string        `json:"reason,omitempty"` // why denied
}

// PersonQuery asks where the person with an ID number was between From
// (inclusive) and To (exclusive).
type PersonQuery struct {
	IDNumber string `json:"id_number"`
	Ask
}

// PersonTrace is the answer to a PersonQuery: the person's scans at gates
// inside the caller's scope.
type PersonTrace struct {
	PersonID string           `json:"person_id"`
	Name     string           `json:"name"`      // "" when there are no rows; Erased if erased
	IDNumber string           `json:"id_number"` // the number asked for, masked unless full identity
	From     time.Time        `json:"from"`
	To       time.Time        `json:"to"`
	Purpose  string           `json:"purpose"`
	Identity string           `json:"identity"`
	AccessID string           `json:"access_event"`
	Rows     []PersonTraceRow `json:"rows"`
	// Incomplete reports that a day read held more scans than the view
	// lists. It is a flag, not a count, because the count covers every
	// region and the caller may see only theirs.
	Incomplete bool `json:"incomplete"`
}

// PersonTraceRow is one scan of the person.
type PersonTraceRow struct {
	Time      time.Time     `json:"time"`
	Gate      string        `json:"gate"`
	Community events.Region `json:"community"`
	Direction string        `json:"direction"`
	Decision  string        `json:"decision"`
}

// TraceGate answers who passed the gates in the range.
func (s *Service) TraceGate(ctx context.Context, p auth.Principal, q GateQuery) (GateTrace, error) {
	if err := auth.Authorize(p, auth.ActTrace, ""); err != nil {
		return GateTrace{}, err
	}
	purpose, identity, err := s.common(p, q.Purpose, q.Reason, q.From, q.To, q.FullIdentity)
	if err != nil {
		return GateTrace{}, err
	}
	switch {
	case len(q.Gates) == 0:
		return GateTrace{}, events.Invalid("gates", "name at least one gate")
	case len(q.Gates) > trace.MaxGates:
		return GateTrace{}, events.Invalid("gates", "at most %d gates per query, got %d", trace.MaxGates, len(q.Gates))
	}
	var gates []string
	for _, g := range q.Gates {
		var (
			community events.Region
			ok        bool
		)
		if s.Gates != nil {
			community, ok = s.Gates(g)
		}
		if !ok {
			return GateTrace{}, events.Invalid("gates", "unknown gate %q", g)
		}
		if err := auth.Authorize(p, auth.ActTrace, community); err != nil {
			var e *events.Error
			if errors.As(err, &e) {
				return GateTrace{}, &events.Error{Code: e.Code, Field: "gates", Message: fmt.Sprintf("gate %s: %s", g, e.Message)}
			}
			return GateTrace{}, err
		}
		if !slices.Contains(gates, g) {
			gates = append(gates, g)
		}
	}
	from, to := q.From.UTC(), q.To.UTC()
	read, err := trace.ReadGateScans(ctx, s.Docs, gates, from, to)
	if err != nil {
		return GateTrace{}, err
	}
	out := GateTrace{Gates: gates, From: from, To: to, Purpose: purpose.Code, Identity: identity, Rows: []GateTraceRow{}, Unlisted: read.Unlisted}
	people := map[string]Person{}
	for _, r := range read.Rows {
		if !p.Scope.Covers(r.Community) {
			continue // cannot happen for a gate in scope; kept as the last line of defence
		}
		row := GateTraceRow{Time: r.Time, Gate: r.Gate, Community: r.Community, Pass: r.Pass, PersonID: r.Person,
			Direction: r.Direction, Decision: r.Decision, Reason: r.Reason}
		if r.Person != "" {
			who, ok := people[r.Person]
			if !ok {
				if who, err = s.resolve(ctx, r.Person, identity); err != nil {
					return GateTrace{}, err
				}
				people[r.Person] = who
			}
			row.Name, row.IDNumber = who.Name, who.IDNumber
		}
		out.Rows = append(out.Rows, row)
	}
	query := map[string]string{
		"purpose": purpose.Code,
		"gates":   strings.Join(gates, ","),
		"from":    stamp(from),
		"to":      stamp(to),
	}
	if out.AccessID, err = s.logAccess(ctx, p, "trace.gate", q.Reason, query, len(out.Rows), identity); err != nil {
		return GateTrace{}, err
	}
	return out, nil
}

// TracePerson answers where the person with the ID number was, at gates
// inside the caller's scope.
func (s *Service) TracePerson(ctx context.Context, p auth.Principal, q PersonQuery) (PersonTrace, error) {
	if err := auth.Authorize(p, auth.ActTrace, ""); err != nil {
		return PersonTrace{}, err
	}
	purpose, identity, err := s.common(p, q.Purpose, q.Reason, q.From, q.To, q.FullIdentity)
	if err != nil {
		return PersonTrace{}, err
	}
	id, err := personal.ParseIDNumber(q.IDNumber)
	if err != nil {
		return PersonTrace{}, err // CodeInvalid, field id_number
	}
	// A person may have been anywhere: the query is about the caller's
	// whole scope, and the rows are filtered to it below.
	if _, err := events.ParseRegion(string(p.Scope)); err != nil {
		return PersonTrace{}, &events.Error{Code: events.CodeForbidden, Message: "your account has no region scope"}
	}
	if err := auth.Authorize(p, auth.ActTrace, p.Scope); err != nil {
		return PersonTrace{}, err
	}
	return s.tracePerson(ctx, p, id, purpose, identity, q.Ask, "trace.person", "")
}

// CaseQuery asks where the patient of a case report was: the authorised
// link between the case domain and the pass domain, whose ids are
// pseudonyms of their own that nobody without the keys can join.
type CaseQuery struct {
	Case string `json:"case"`
	Ask
}

// TraceCase answers where the patient of a case card passed gates in the
// caller's scope (a CDC reviewer investigating the case's contacts). The
// card is opened with its own key, the patient's pass-domain person id is
// derived from the ID number, and the link is recorded as an access event
// naming the card before any data is returned.
func (s *Service) TraceCase(ctx context.Context, p auth.Principal, q CaseQuery) (PersonTrace, error) {
	if err := auth.Authorize(p, auth.ActTraceCase, ""); err != nil {
		return PersonTrace{}, err
	}
	if s.Cases == nil {
		return PersonTrace{}, events.Errorf(events.CodeNotFound, "case tracing is not served here")
	}
	if q.Purpose != "contact_tracing" {
		return PersonTrace{}, events.Invalid("purpose", "tracing a case's patient serves contact tracing: purpose must be \"contact_tracing\"")
	}
	purpose, identity, err := s.common(p, q.Purpose, q.Reason, q.From, q.To, q.FullIdentity)
	if err != nil {
		return PersonTrace{}, err
	}
	if _, err := events.ParseRegion(string(p.Scope)); err != nil {
		return PersonTrace{}, &events.Error{Code: events.CodeForbidden, Message: "your account has no region scope"}
	}
	if q.Case == "" {
		return PersonTrace{}, events.Invalid("case", "required")
	}
	number, err := s.Cases.PatientIDNumber(ctx, p, q.Case)
	if err != nil {
		return PersonTrace{}, err
	}
	id, err := personal.ParseIDNumber(number)
	if err != nil {
		return PersonTrace{}, fmt.Errorf("case %s: patient ID number: %w", q.Case, err)
	}
	return s.tracePerson(ctx, p, id, purpose, identity, q.Ask, "case.trace", q.Case)
}

// tracePerson is the one person trace of TracePerson and TraceCase; a
// case trace (caseID not "") names the card in the access event.
func (s *Service) tracePerson(ctx context.Context, p auth.Principal, id personal.IDNumber, purpose Purpose, identity string,
	ask Ask, what, caseID string) (PersonTrace, error) {
	idIndex := s.Identity.Index("id", id.Value())
	personID := accounts.PersonID(idIndex)
	from, to := ask.From.UTC(), ask.To.UTC()
	read, err := trace.ReadPersonScans(ctx, s.Docs, personID, from, to)
	if err != nil {
		return PersonTrace{}, err
	}
	out := PersonTrace{PersonID: personID, From: from, To: to, Purpose: purpose.Code, Identity: identity,
		Rows: []PersonTraceRow{}, Incomplete: read.Unlisted > 0}
	for _, r := range read.Rows {
		if p.Scope.Covers(r.Community) {
			out.Rows = append(out.Rows, PersonTraceRow{Time: r.Time, Gate: r.Gate, Community: r.Community, Direction: r.Direction, Decision: r.Decision})
		}
	}
	out.IDNumber = id.Value()
	if identity == Masked {
		out.IDNumber = personal.MaskID(id.Value())
	}
	// The name is read only when the person passed a gate in scope:
	// otherwise the query would turn any ID number into a name.
	if len(out.Rows) > 0 {
		who, err := s.resolve(ctx, personID, identity)
		if err != nil {
			return PersonTrace{}, err
		}
		out.Name = who.Name
	}
	query := map[string]string{
		"purpose":  purpose.Code,
		"id_index": idIndex,
		"person":   personID,
		"from":     stamp(from),
		"to":       stamp(to),
	}
	var subjects []string
	if caseID != "" {
		query["case"] = caseID
		subjects = []string{caseID}
	}
	if out.AccessID, err = s.logAccess(ctx, p, what, ask.Reason, query, len(out.Rows), identity, subjects...); err != nil {
		return PersonTrace{}, err
	}
	return out, nil
}

// common validates what every query carries and decides the identity mode.
func (s *Service) common(p auth.Principal, code, reason string, from, to time.Time, full bool) (Purpose, string, error) {
	if code == "" {
		return Purpose{}, "", events.Invalid("purpose", "required: one of %s", purposeCodes())
	}
	purpose, ok := LookupPurpose(code)
	if !ok {
		return Purpose{}, "", events.Invalid("purpose", "unknown purpose %q: one of %s", code, purposeCodes())
	}
	if err := CheckReason(reason); err != nil {
		return Purpose{}, "", err
	}
	if err := trace.CheckRange(from, to); err != nil {
		return Purpose{}, "", err
	}
	if !full {
		return purpose, Masked, nil
	}
	if !slices.Contains(purpose.Full, p.Role) {
		return Purpose{}, "", &events.Error{Code: events.CodeForbidden, Field: "full_identity",
			Message: fmt.Sprintf("purpose %s does not allow full identity for role %s; ask for masked results", purpose.Code, p.Role)}
	}
	return purpose, Full, nil
}

func purposeCodes() string {
	var codes []string
	for _, p := range Purposes() {
		codes = append(codes, p.Code)
	}
	return strings.Join(codes, ", ")
}

// CheckReason validates the free-text reason of a query: at least
// MinReasonChars characters and at most MaxReasonBytes bytes of UTF-8
// without control characters, surrounding space not counted, and no run
// of 11 or more digits (it would be an ID or phone number, and the reason
// stays in the ledger for good).
func CheckReason(reason string) error {
	r := strings.TrimSpace(reason)
	switch {
	case r == "":
		return events.Invalid("reason", "required: say why you need this data")
	case !utf8.ValidString(r):
		return events.Invalid("reason", "is not valid UTF-8")
	case utf8.RuneCountInString(r) < MinReasonChars:
		return events.Invalid("reason", "too short: at least %d characters", MinReasonChars)
	case len(r) > MaxReasonBytes:
		return events.Invalid("reason", "too long: at most %d bytes (about %d Chinese characters), got %d", MaxReasonBytes, MaxReasonBytes/3, len(r))
	}
	run := 0
	for _, c := range r {
		if unicode.IsControl(c) {
			return events.Invalid("reason", "must not contain control characters (line breaks included)")
		}
		if unicode.IsDigit(c) {
			run++
			if run >= 11 {
				return events.Invalid("reason", "must not contain ID or phone numbers (no run of 11 or more digits): the reason is kept in the ledger for good")
			}
		} else {
			run = 0
		}
	}
	return nil
}

// resolve reads a person's identity and masks it unless identity is Full.
func (s *Service) resolve(ctx context.Context, personID, identity string) (Person, error) {
	who, err := s.Identity.Resolve(ctx, personID)
	if events.ErrorCode(err) == events.CodeNotFound {
		return Person{Name: Erased, IDNumber: Erased}, nil
	}
	if err != nil {
		return Person{}, fmt.Errorf("resolve person %s: %w", personID, err)
	}
	if identity != Full {
		who = Person{Name: personal.MaskName(who.Name), IDNumber: personal.MaskID(who.IDNumber)}
	}
	return who, nil
}

// logAccess records the query in the ledger and returns the event's id.
func (s *Service) logAccess(ctx context.Context, p auth.Principal, what, reason string, query map[string]string, results int, identity string, subjects ...string) (string, error) {
	rec, err := access.Record(ctx, s.Store, s.Reg, p.Actor(), p.Scope, s.Now.UTC(), access.Logged{What: what, Purpose: strings.TrimSpace(reason), Query: query, Results: results, Identity: identity, Subjects: subjects})
	if err != nil {
		return "", err
	}
	return rec.Event.ID, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
