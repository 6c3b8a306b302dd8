package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/backend/tracing"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/access"
	"github.com/onebook/onebook/events/caseevents"
	"github.com/onebook/onebook/events/orgs"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/caseviews"
)

// Hospital is what the service needs to know of a reporting organisation.
type Hospital struct {
	ID       string
	Kind     string
	Region   events.Region
	Approved bool
}

// Service decides the commands of case reporting.
type Service struct {
	Store events.Store
	Reg   *events.Registry
	State *State
	// Vault seals the patient's personal data (backend/personal, the same
	// vault as residents'); each card's patient data has its own key.
	Vault accounts.Vault
	// Org returns a registered organisation.
	Org func(id string) (Hospital, bool)
	Now events.Clock
	// Views is the store of the case views (projections/caseviews), which
	// region-level reads answer from.
	Views projections.DocStore
	// Filed, if set, is called after a card is filed or corrected (the
	// early-warning engine's fast path); best effort.
	Filed func(id string)
}

// Patient is the patient's personal data as typed on the card.
type Patient struct {
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
	Phone    string `json:"phone"`
}

// FileInput is a new report card.
type FileInput struct {
	Patient Patient         `json:"patient"`
	Card    caseevents.Card `json:"card"`
}

// Limits on the card's dates, relative to the day it is filed.
const (
	MaxReportAge = 30  // days: a report date at most this far back
	MaxOnsetAge  = 365 // days: onset at most this far before the report date
)

// checkDates checks the card's dates against the day of filing (CST): a
// report date in the future or long ago is a typing error.
func checkDates(c caseevents.Card, today string) error {
	rep, _ := caseevents.Day(c.Reported)
	onset, _ := caseevents.Day(c.Onset)
	now, _ := caseevents.Day(today)
	switch {
	case rep.After(now):
		return events.Invalid("card.reported", "report date %s is after today %s", c.Reported, today)
	case rep.Before(now.AddDate(0, 0, -MaxReportAge)):
		return events.Invalid("card.reported", "report date %s is more than %d days before today %s", c.Reported, MaxReportAge, today)
	case onset.Before(rep.AddDate(0, 0, -MaxOnsetAge)):
		return events.Invalid("card.onset", "onset %s is more than %d days before the report date %s", c.Onset, MaxOnsetAge, c.Reported)
	}
	return nil
}

// validCard checks a card in full, naming fields as the API shows them.
func validCard(c caseevents.Card, today string) error {
	if err := c.Validate(); err != nil {
		var e *events.Error
		if errors.As(err, &e) && e.Field != "" && !strings.HasPrefix(e.Field, "card.") {
			e.Field = "card." + e.Field
		}
		return err
	}
	if !events.KnownProvince(c.Residence) {
		return events.Invalid("card.residence", "region %s is in no province of GB/T 2260", c.Residence)
	}
	return checkDates(c, today)
}

// hospitalOf checks that p acts for an approved hospital and returns it.
func (s *Service) hospitalOf(p auth.Principal) (Hospital, error) {
	if p.Org == "" {
		return Hospital{}, &events.Error{Code: events.CodeForbidden, Message: "this account acts for no hospital"}
	}
	h, ok := s.Org(p.Org)
	if !ok || h.Kind != orgs.Hospital || !h.Approved {
		return Hospital{}, &events.Error{Code: events.CodeForbidden, Message: fmt.Sprintf("organisation %s is not an approved hospital", p.Org)}
	}
	return h, nil
}

// File records a new report card for the reporter's hospital.
func (s *Service) File(ctx context.Context, p auth.Principal, in FileInput) (Card, error) {
	if err := auth.Authorize(p, auth.ActCaseFile, ""); err != nil {
		return Card{}, err
	}
	h, err := s.hospitalOf(p)
	if err != nil {
		return Card{}, err
	}
	if err := auth.Authorize(p, auth.ActCaseFile, h.Region); err != nil {
		return Card{}, err
	}
	now := s.Now.UTC()
	if err := validCard(in.Card, events.Day(now)); err != nil {
		return Card{}, err
	}
	id := "c-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	patient, sealed, err := s.sealPatient(ctx, id, in.Patient)
	if err != nil {
		return Card{}, err
	}
	groups := caseevents.SymptomGroups(in.Card.Symptoms)
	ev := caseevents.Filed{Hospital: h.ID, Patient: patient, Personal: sealed, Card: in.Card, Groups: groups}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: caseevents.Kind, ID: id}, Region: h.Region, Actor: p.Actor(), Time: now}
	if _, err := s.append(ctx, caseevents.TypeFiled, meta, ev, events.ExpectNew()); err != nil {
		return Card{}, err
	}
	if s.Filed != nil {
		s.Filed(id)
	}
	c, _ := s.State.Card(id)
	return c, nil
}

// sealPatient validates and seals the patient's data under a key of its own
// (the card's), so that a resident's erasure of their household does not
// erase a legally required report, and returns the patient id: a
// pseudonym of the case domain, derived from another blind index than the
// pass service's person id, so that nobody without the keys can join the
// two; TraceCase makes that link when a purpose allows it.
func (s *Service) sealPatient(ctx context.Context, cardID string, in Patient) (string, residents.Sealed, error) {
	d, err := s.Vault.Normalize(in.Name, in.IDNumber, in.Phone)
	if err != nil {
		var e *events.Error
		if errors.As(err, &e) && e.Field != "" {
			e.Field = "patient." + e.Field
		}
		return "", residents.Sealed{}, err
	}
	sealed, err := s.Vault.Seal(ctx, events.CaseSubject(cardID), d)
	if err != nil {
		return "", residents.Sealed{}, err
	}
	return accounts.PersonID(sealed.IDIndex), sealed, nil
}

// CorrectInput corrects a returned card. Patient is optional: given, it
// replaces the patient's data.
type CorrectInput struct {
	Patient *Patient        `json:"patient,omitempty"`
	Card    caseevents.Card `json:"card"`
	Note    string          `json:"note"`
}

// Correct records a correction of a returned card by a reporter of its
// hospital; the card re-enters the chain at the hospital level.
func (s *Service) Correct(ctx context.Context, p auth.Principal, id string, in CorrectInput) (Card, error) {
	if err := auth.Authorize(p, auth.ActCaseFile, ""); err != nil {
		return Card{}, err
	}
	c, err := s.card(ctx, id)
	if err != nil {
		return Card{}, err
	}
	if p.Org != c.Hospital {
		return Card{}, &events.Error{Code: events.CodeForbidden, Message: "only a reporter of the card's hospital may correct it"}
	}
	if c.Status != caseevents.StatusReturned {
		return Card{}, events.Errorf(events.CodeConflict, "card %s is %s; only a returned card can be corrected", id, c.Status)
	}
	note := strings.TrimSpace(in.Note)
	if len([]rune(note)) < 2 {
		return Card{}, events.Invalid("note", "say what was corrected")
	}
	if err := validCard(in.Card, c.Counted.Day); err != nil {
		return Card{}, err
	}
	ev := caseevents.Corrected{Card: in.Card, Groups: caseevents.SymptomGroups(in.Card.Symptoms), Note: note, Previous: c.Counted}
	if in.Patient != nil {
		patient, sealed, err := s.sealPatient(ctx, id, *in.Patient)
		if err != nil {
			return Card{}, err
		}
		ev.Patient, ev.Personal = patient, &sealed
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: caseevents.Kind, ID: id}, Region: c.HospitalRegion, Actor: p.Actor()}
	if _, err := s.append(ctx, caseevents.TypeCorrected, meta, ev, events.ExpectLast(c.LastSeq)); err != nil {
		return Card{}, err
	}
	if s.Filed != nil {
		s.Filed(id)
	}
	c, _ = s.State.Card(id)
	return c, nil
}

// ReviewInput is a reviewer's decision.
type ReviewInput struct {
	Decision string `json:"decision"` // approve | return | revoke
	Reason   string `json:"reason"`
}

// LevelOf is the review level a principal reviews at: hospital reviewers at
// the hospital level, CDC reviewers by the length of their scope. ok is
// false for anyone else.
func LevelOf(p auth.Principal) (string, bool) {
	switch p.Role {
	case auth.HospitalReviewer:
		return caseevents.LevelHospital, p.Org != ""
	case auth.CDCReviewer:
		switch {
		case p.Scope == events.National:
			return caseevents.LevelNational, true
		case len(p.Scope) == 2:
			return caseevents.LevelProvince, true
		case len(p.Scope) == 4:
			return caseevents.LevelCity, true
		case len(p.Scope) == 6:
			return caseevents.LevelDistrict, true
		}
	}
	return "", false
}

// Review records a reviewer's decision on a card awaiting their level.
func (s *Service) Review(ctx context.Context, p auth.Principal, id string, in ReviewInput) (Card, error) {
	if err := auth.Authorize(p, auth.ActCaseReview, ""); err != nil {
		return Card{}, err
	}
	level, ok := LevelOf(p)
	if !ok {
		return Card{}, &events.Error{Code: events.CodeForbidden, Message: "this account reviews at no level of the chain (CDC reviewers need a district, city, province or national scope)"}
	}
	c, err := s.card(ctx, id)
	if err != nil {
		return Card{}, err
	}
	if level == caseevents.LevelHospital {
		if p.Org != c.Hospital {
			return Card{}, &events.Error{Code: events.CodeForbidden, Message: "only reviewers of the card's hospital review it at the hospital level"}
		}
	} else if err := auth.Authorize(p, auth.ActCaseReview, c.HospitalRegion); err != nil {
		return Card{}, err
	}
	if c.Status != caseevents.StatusPending {
		return Card{}, events.Errorf(events.CodeConflict, "card %s is %s, not awaiting review", id, c.Status)
	}
	if c.Level != level {
		return Card{}, events.Errorf(events.CodeConflict, "card %s awaits %s review, not %s", id, c.Level, level)
	}
	ev := caseevents.Reviewed{Level: level, Decision: in.Decision, Reason: strings.TrimSpace(in.Reason), Round: c.Round}
	if ev.Decision == caseevents.Revoke {
		counted := c.Counted
		ev.Counted = &counted
	}
	if err := ev.Validate(); err != nil {
		return Card{}, err
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: caseevents.Kind, ID: id}, Region: c.HospitalRegion, Actor: p.Actor()}
	if _, err := s.append(ctx, caseevents.TypeReviewed, meta, ev, events.ExpectLast(c.LastSeq)); err != nil {
		return Card{}, err
	}
	c, _ = s.State.Card(id)
	return c, nil
}

// visible reports whether p may see card c at all: hospital staff their own
// hospital's cards; CDC reviewers cards reported in or about their scope.
func visible(p auth.Principal, c *Card) bool {
	switch p.Role {
	case auth.HospitalReporter, auth.HospitalReviewer:
		return p.Org != "" && p.Org == c.Hospital
	case auth.CDCReviewer:
		return p.Scope.Covers(c.HospitalRegion) || p.Scope.Covers(c.Card.Residence)
	}
	return false
}

// card returns a card, catching up with the ledger before "not found".
func (s *Service) card(ctx context.Context, id string) (Card, error) {
	c, ok, err := events.Find(ctx, s.Store, s.State, func() (Card, bool) { return s.State.Card(id) })
	if err == nil && !ok {
		err = events.Errorf(events.CodeNotFound, "no card %s", id)
	}
	return c, err
}

// Purpose is a reason for reading case data that the rules know.
type Purpose struct {
	Code        string      `json:"code"`
	Description string      `json:"description"`
	Full        []auth.Role `json:"full_identity_roles"`
}

// Purposes lists the purposes of reading case data and who may see the
// patient's identity in full for each.
func Purposes() []Purpose {
	return []Purpose{
		{"case_review", "review or correct a report card", []auth.Role{auth.HospitalReporter, auth.HospitalReviewer, auth.CDCReviewer}},
		{"investigation", "epidemiological investigation of a case or an alert", []auth.Role{auth.CDCReviewer}},
		{"statistics", "counts and trends (masked only)", nil},
		{"audit_check", "check that the records are complete and consistent (masked only)", nil},
	}
}

func lookupPurpose(code string) (Purpose, error) {
	for _, p := range Purposes() {
		if p.Code == code {
			return p, nil
		}
	}
	codes := make([]string, 0, 4)
	for _, p := range Purposes() {
		codes = append(codes, p.Code)
	}
	if code == "" {
		return Purpose{}, events.Invalid("purpose", "required: one of %v", codes)
	}
	return Purpose{}, events.Invalid("purpose", "unknown purpose %q: one of %v", code, codes)
}

// ReadInput says why case data is read.
type ReadInput struct {
	Purpose      string `json:"purpose"`
	Reason       string `json:"reason"`
	FullIdentity bool   `json:"full_identity"`
}

// identity checks a read's purpose and reason and decides the identity
// mode, refusing (not silently masking) full identity the purpose does not
// allow for the role.
func identity(p auth.Principal, in ReadInput) (Purpose, string, error) {
	purpose, err := lookupPurpose(in.Purpose)
	if err != nil {
		return Purpose{}, "", err
	}
	if err := tracing.CheckReason(in.Reason); err != nil {
		return Purpose{}, "", err
	}
	if !in.FullIdentity {
		return purpose, tracing.Masked, nil
	}
	if !slices.Contains(purpose.Full, p.Role) {
		return Purpose{}, "", &events.Error{Code: events.CodeForbidden, Field: "full_identity",
			Message: fmt.Sprintf("purpose %s does not allow full identity for role %s; ask for masked data", purpose.Code, p.Role)}
	}
	return purpose, tracing.Full, nil
}

// CardView is a card as staff read it: the patient masked unless full
// identity was asked for and allowed.
type CardView struct {
	Card
	PatientName     string `json:"patient_name"`
	PatientIDNumber string `json:"patient_id_number"`
	PatientPhone    string `json:"patient_phone"`
	Identity        string `json:"identity"`
	AccessID        string `json:"access_event,omitempty"`
}

// Read returns one card, recording the read first.
func (s *Service) Read(ctx context.Context, p auth.Principal, id string, in ReadInput) (CardView, error) {
	if err := auth.Authorize(p, auth.ActCaseRead, ""); err != nil {
		return CardView{}, err
	}
	purpose, mode, err := identity(p, in)
	if err != nil {
		return CardView{}, err
	}
	c, err := s.card(ctx, id)
	if err != nil {
		return CardView{}, err
	}
	if !visible(p, &c) {
		// The same answer as a missing card: staff out of scope do not
		// learn which cards exist.
		return CardView{}, events.Errorf(events.CodeNotFound, "no card %s", id)
	}
	v := s.view(ctx, c, mode)
	v.AccessID, err = s.logAccess(ctx, p, "case.read", in.Reason, map[string]string{"purpose": purpose.Code, "card": id}, []string{id}, mode)
	if err != nil {
		return CardView{}, err
	}
	return v, nil
}

// PatientIDNumber opens the patient's ID number of card id for a caller
// who may trace the case's contacts and sees the card; the caller
// (backend/tracing) records the access. An erased or unreadable patient is
// not found.
func (s *Service) PatientIDNumber(ctx context.Context, p auth.Principal, id string) (string, error) {
	if err := auth.Authorize(p, auth.ActTraceCase, ""); err != nil {
		return "", err
	}
	c, err := s.card(ctx, id)
	if err != nil {
		return "", err
	}
	if !visible(p, &c) {
		return "", events.Errorf(events.CodeNotFound, "no card %s", id)
	}
	d, err := s.Vault.Open(ctx, events.CaseSubject(c.ID), c.Sealed)
	if err != nil {
		return "", events.Errorf(events.CodeNotFound, "the patient of card %s cannot be read", id)
	}
	return d.IDNumber, nil
}

// view opens the patient's data, masked unless mode is full.
func (s *Service) view(ctx context.Context, c Card, mode string) CardView {
	v := CardView{Card: c, Identity: mode}
	d, err := s.Vault.Open(ctx, events.CaseSubject(c.ID), c.Sealed)
	if err != nil {
		v.PatientName, v.PatientIDNumber, v.PatientPhone = tracing.Erased, tracing.Erased, tracing.Erased
		return v
	}
	if mode == tracing.Full {
		v.PatientName, v.PatientIDNumber, v.PatientPhone = d.Name, d.IDNumber, d.Phone
	} else {
		v.PatientName, v.PatientIDNumber, v.PatientPhone = personal.MaskName(d.Name), personal.MaskID(d.IDNumber), personal.MaskPhone(d.Phone)
	}
	return v
}

// ListInput selects cards.
type ListInput struct {
	Status  string        `query:"status"`
	Level   string        `query:"level"` // "mine": the level the caller reviews at
	Region  events.Region `query:"region"`
	From    string        `query:"from"` // YYYY-MM-DD (CST), inclusive
	To      string        `query:"to"`   // YYYY-MM-DD (CST), inclusive
	Purpose string        `query:"purpose"`
	Reason  string        `query:"reason"`
	Limit   int           `query:"limit"`
}

// MaxList bounds one list.
const MaxList = 500

// List returns the cards the caller may see matching in, masked, newest
// first, and records the read with the ids listed.
func (s *Service) List(ctx context.Context, p auth.Principal, in ListInput) ([]CardView, string, error) {
	if err := auth.Authorize(p, auth.ActCaseRead, ""); err != nil {
		return nil, "", err
	}
	purpose, _, err := identity(p, ReadInput{Purpose: in.Purpose, Reason: in.Reason})
	if err != nil {
		return nil, "", err
	}
	f := Filter{Status: in.Status, Level: in.Level, Region: in.Region}
	switch f.Status {
	case "", caseevents.StatusPending, caseevents.StatusReturned, caseevents.StatusApproved, caseevents.StatusRevoked:
	default:
		return nil, "", events.Invalid("status", "must be pending, returned, approved or revoked")
	}
	if f.Level == "mine" {
		l, ok := LevelOf(p)
		if !ok {
			return nil, "", events.Invalid("level", "you review at no level")
		}
		f.Level, f.Status = l, caseevents.StatusPending
	} else if f.Level != "" && !slices.Contains(caseevents.Levels(), f.Level) {
		return nil, "", events.Invalid("level", "must be one of %v or mine", caseevents.Levels())
	}
	if f.Region != "" {
		if _, err := events.ParseRegion(string(f.Region)); err != nil {
			return nil, "", events.Invalid("region", "%v", err)
		}
	}
	if in.From != "" {
		t, err := caseevents.Day(in.From)
		if err != nil {
			return nil, "", events.Invalid("from", "must be YYYY-MM-DD")
		}
		f.From = t.Add(-8 * time.Hour) // CST midnight
	}
	if in.To != "" {
		t, err := caseevents.Day(in.To)
		if err != nil {
			return nil, "", events.Invalid("to", "must be YYYY-MM-DD")
		}
		f.To = t.AddDate(0, 0, 1).Add(-8 * time.Hour)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, "", events.Invalid("to", "the range ends before it starts")
	}
	limit := in.Limit
	if limit <= 0 || limit > MaxList {
		limit = MaxList
	}
	cards := s.State.List(f, func(c *Card) bool { return visible(p, c) }, limit)
	out := make([]CardView, len(cards))
	ids := make([]string, len(cards))
	for i, c := range cards {
		out[i] = s.view(ctx, c, tracing.Masked)
		ids[i] = c.ID
	}
	query := map[string]string{"purpose": purpose.Code, "status": in.Status, "level": f.Level, "region": string(in.Region), "from": in.From, "to": in.To}
	accessID, err := s.logAccess(ctx, p, "case.list", in.Reason, query, ids, tracing.Masked)
	if err != nil {
		return nil, "", err
	}
	return out, accessID, nil
}

// logAccess records a read of case data before any is returned.
func (s *Service) logAccess(ctx context.Context, p auth.Principal, what, reason string, query map[string]string, subjects []string, mode string) (string, error) {
	for k, v := range query {
		if v == "" {
			delete(query, k)
		}
	}
	rec, err := access.Record(ctx, s.Store, s.Reg, p.Actor(), p.Scope, s.Now.UTC(), access.Logged{What: what, Purpose: strings.TrimSpace(reason), Query: query,
		Results: len(subjects), Identity: mode, Subjects: subjects})
	if err != nil {
		return "", err
	}
	return rec.Event.ID, nil
}

// append builds, appends and waits until the state has seen the event.
func (s *Service) append(ctx context.Context, typ string, m events.Meta, p events.Payload, x events.Expect) (events.Recorded, error) {
	if m.Time.IsZero() {
		m.Time = s.Now.UTC()
	}
	// Every event of a card is sealed to the card's own key, which outlives
	// the patient's erasure as a resident (the law requires the report).
	m.SealTo = events.CaseSubject(m.Aggregate.ID)
	return events.AppendAndWait(ctx, s.Store, s.Reg, s.State, typ, m, p, x)
}

// catchUp waits until the state has applied everything the ledger held.
func (s *Service) catchUp(ctx context.Context) error {
	return events.CatchUp(ctx, s.Store, s.State)
}

// Counts returns the daily case counts of region from day from to day to
// (to defaults to today, from to 27 days before to): region-level numbers,
// no row-level case data, for those p's scope lets see the region's.
func (s *Service) Counts(ctx context.Context, p auth.Principal, region events.Region, from, to string) (Counts, error) {
	if err := auth.Authorize(p, auth.ActCaseCounts, region); err != nil {
		return Counts{}, err
	}
	if to == "" {
		to = events.Day(s.Now.UTC())
	}
	if from == "" {
		t, err := caseevents.Day(to)
		if err != nil {
			return Counts{}, events.Invalid("to", "must be YYYY-MM-DD")
		}
		from = t.AddDate(0, 0, -27).Format(caseevents.DateLayout)
	}
	days, err := caseviews.ReadCounts(ctx, s.Views, region, from, to)
	return Counts{From: from, To: to, Days: days}, err
}

// Counts are a region's daily case counts over a range of days.
type Counts struct {
	From, To string
	Days     []caseviews.DayCounts
}
