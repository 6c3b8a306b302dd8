// Package cases holds the event schemas of infectious-disease case
// reporting: a hospital files a report card, the card climbs the review
// chain (hospital, district, city, province and national CDC), and a card
// returned for correction is corrected and climbs again. The catalogue of
// diseases, symptoms and symptom groups the cards use is in catalogue.go.
//
// The patient's personal data never appears in clear: the card carries it
// sealed with the patient's own key, like residents' data
// (events/residents.Sealed).
package caseevents

import (
	"slices"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/residents"
)

// Event types and the aggregate kind: one aggregate per report card.
const (
	TypeFiled     = "case.filed"
	TypeCorrected = "case.corrected"
	TypeReviewed  = "case.reviewed"
	Kind          = "case"
)

// Register adds the case events to r.
func Register(r *events.Registry) {
	events.Register[Filed](r, TypeFiled, Kind, 1)
	events.Register[Corrected](r, TypeCorrected, Kind, 1)
	events.Register[Reviewed](r, TypeReviewed, Kind, 1)
}

// DateLayout is the layout of the dates of a card: a calendar day in China
// Standard Time.
const DateLayout = "2006-01-02"

// Card is what a report card says about the case. Dates are calendar days.
type Card struct {
	Disease    string        `json:"disease"`   // Diseases() code
	Diagnosis  string        `json:"diagnosis"` // suspected | clinical | confirmed
	Onset      string        `json:"onset"`     // YYYY-MM-DD
	Diagnosed  string        `json:"diagnosed"`
	Reported   string        `json:"reported"`
	Symptoms   []string      `json:"symptoms"`
	Residence  events.Region `json:"residence"` // the patient's residential region, district (6 digits) or finer
	Occupation string        `json:"occupation"`
	Severity   string        `json:"severity"`
}

// Validate checks a card on its own: codes exist and the dates are
// consistent (onset ≤ diagnosis ≤ report). Each error names its field.
func (c Card) Validate() error {
	if _, ok := LookupDisease(c.Disease); !ok {
		return events.Invalid("disease", "unknown disease code %q (GET /cases/catalogue lists them)", c.Disease)
	}
	switch c.Diagnosis {
	case Suspected, Clinical, Confirmed:
	default:
		return events.Invalid("diagnosis", "must be suspected, clinical or confirmed, not %q", c.Diagnosis)
	}
	onset, err := day("onset", c.Onset)
	if err != nil {
		return err
	}
	diag, err := day("diagnosed", c.Diagnosed)
	if err != nil {
		return err
	}
	rep, err := day("reported", c.Reported)
	if err != nil {
		return err
	}
	if diag.Before(onset) {
		return events.Invalid("diagnosed", "diagnosis date %s is before onset %s", c.Diagnosed, c.Onset)
	}
	if rep.Before(diag) {
		return events.Invalid("reported", "report date %s is before diagnosis %s", c.Reported, c.Diagnosed)
	}
	if len(c.Symptoms) > 20 {
		return events.Invalid("symptoms", "at most 20 symptoms")
	}
	for i, s := range c.Symptoms {
		if !knownSymptom(s) {
			return events.Invalid("symptoms", "symptom %d: unknown code %q", i, s)
		}
		if slices.Contains(c.Symptoms[:i], s) {
			return events.Invalid("symptoms", "symptom %q listed twice", s)
		}
	}
	if r, err := events.ParseRegion(string(c.Residence)); err != nil || len(r) < 6 {
		return events.Invalid("residence", "the residential region must be a region code of 6, 9 or 12 digits (district or finer), not %q", c.Residence)
	}
	if !slices.Contains(Occupations(), c.Occupation) {
		return events.Invalid("occupation", "unknown occupation %q (one of %v)", c.Occupation, Occupations())
	}
	if !slices.Contains(Severities(), c.Severity) {
		return events.Invalid("severity", "unknown severity %q (one of %v)", c.Severity, Severities())
	}
	return nil
}

// Day parses one of the card's dates.
func Day(s string) (time.Time, error) { return time.Parse(DateLayout, s) }

func day(field, s string) (time.Time, error) {
	t, err := Day(s)
	if err != nil {
		return time.Time{}, events.Invalid(field, "must be a date YYYY-MM-DD, not %q", s)
	}
	return t, nil
}

// Filed: a hospital's reporter filed a report card. The card counts for
// early warning from this moment, before any review. Groups are the
// symptom groups of the card's symptoms (SymptomGroups), recorded so that
// counts never depend on a later change to the catalogue.
type Filed struct {
	Hospital string           `json:"hospital" disclose:"public"` // organisation id
	Patient  string           `json:"patient" disclose:"sealed"`  // person id derived from the ID number's blind index
	Personal residents.Sealed `json:"personal" disclose:"sealed"` // the patient's name, ID number, phone, sealed
	Card     Card             `json:"card" disclose:"sealed"`
	Groups   []string         `json:"groups" disclose:"sealed"`
}

func (p Filed) Validate() error {
	if p.Hospital == "" {
		return events.Invalid("hospital", "required")
	}
	if p.Patient == "" {
		return events.Invalid("patient", "required")
	}
	if err := p.Personal.Validate("personal"); err != nil {
		return err
	}
	if err := p.Card.Validate(); err != nil {
		return err
	}
	return groups(p.Card, p.Groups)
}

func groups(c Card, gs []string) error {
	if !slices.Equal(gs, SymptomGroups(c.Symptoms)) && !(len(gs) == 0 && len(SymptomGroups(c.Symptoms)) == 0) {
		return events.Invalid("groups", "symptom groups %v do not follow from the symptoms %v", gs, c.Symptoms)
	}
	return nil
}

// Counted is where a card counts for early warning: its residential
// district, the day it was filed (China Standard Time), its disease and
// symptom groups. Events that move or remove a count carry the previous
// one, so that counts are a fold of the events alone.
type Counted struct {
	District events.Region `json:"district"` // 6 digits
	Day      string        `json:"day"`      // YYYY-MM-DD
	Disease  string        `json:"disease"`
	Groups   []string      `json:"groups"`
}

func (c Counted) validate(field string) error {
	if r, err := events.ParseRegion(string(c.District)); err != nil || len(r) != 6 {
		return events.Invalid(field, "district must be a 6-digit region code")
	}
	if _, err := Day(c.Day); err != nil {
		return events.Invalid(field, "day must be YYYY-MM-DD")
	}
	if _, ok := LookupDisease(c.Disease); !ok {
		return events.Invalid(field, "unknown disease %q", c.Disease)
	}
	return nil
}

// CountedAs is where a card filed on day (YYYY-MM-DD, CST) counts.
func CountedAs(c Card, groups []string, day string) Counted {
	return Counted{District: c.Residence[:6], Day: day, Disease: c.Disease, Groups: groups}
}

// Corrected: the reporter corrected a card that was returned; the card
// re-enters the review chain at the hospital level. The card is given in
// full; Personal is set only when the patient's data changed.
type Corrected struct {
	Card     Card              `json:"card" disclose:"sealed"`
	Groups   []string          `json:"groups" disclose:"sealed"`
	Personal *residents.Sealed `json:"personal,omitempty" disclose:"sealed"`
	Patient  string            `json:"patient,omitempty" disclose:"sealed"` // with Personal: the patient id it derives
	Note     string            `json:"note" disclose:"sealed"`              // what was corrected
	Previous Counted           `json:"previous" disclose:"sealed"`          // where the card counted before
}

func (p Corrected) Validate() error {
	if err := p.Card.Validate(); err != nil {
		return err
	}
	if p.Personal != nil {
		if err := p.Personal.Validate("personal"); err != nil {
			return err
		}
		if p.Patient == "" {
			return events.Invalid("patient", "required with personal")
		}
	}
	if len(p.Note) > 500 {
		return events.Invalid("note", "at most 500 bytes")
	}
	if err := p.Previous.validate("previous"); err != nil {
		return err
	}
	return groups(p.Card, p.Groups)
}

// Review levels, in the order a card climbs them.
const (
	LevelHospital = "hospital"
	LevelDistrict = "district"
	LevelCity     = "city"
	LevelProvince = "province"
	LevelNational = "national"
)

// Levels returns the review levels in order.
func Levels() []string {
	return []string{LevelHospital, LevelDistrict, LevelCity, LevelProvince, LevelNational}
}

// NextLevel is the review level above l: where an approved card goes next;
// "" above national, where an approval is final. The case service and the
// case views both follow it.
func NextLevel(l string) string {
	lv := Levels()
	if i := slices.Index(lv, l); i >= 0 && i+1 < len(lv) {
		return lv[i+1]
	}
	return ""
}

// Statuses of a card, as its review decisions leave it.
const (
	StatusPending  = "pending"  // awaiting review at its level
	StatusReturned = "returned" // returned for correction by the reporter
	StatusApproved = "approved" // approved at the national level: final
	StatusRevoked  = "revoked"  // withdrawn; counts nowhere
)

// Review decisions.
const (
	Approve = "approve" // the card goes up to the next level (or is final after national)
	Return  = "return"  // back to the reporter for correction, with a reason
	Revoke  = "revoke"  // the card is withdrawn: it no longer counts anywhere
)

// Reviewed: a reviewer at one level decided on the card.
type Reviewed struct {
	Level    string `json:"level" disclose:"public"`
	Decision string `json:"decision" disclose:"public"`
	Reason   string `json:"reason,omitempty" disclose:"sealed"`
	Round    int    `json:"round" disclose:"public"` // 1 for the card as filed, +1 for each correction
	// Counted is set on a revocation: the count the card is removed from.
	Counted *Counted `json:"counted,omitempty" disclose:"sealed"`
}

func (p Reviewed) Validate() error {
	if !slices.Contains(Levels(), p.Level) {
		return events.Invalid("level", "unknown review level %q", p.Level)
	}
	switch p.Decision {
	case Approve:
	case Return, Revoke:
		if len([]rune(p.Reason)) < 2 {
			return events.Invalid("reason", "a reason is required to %s a card", p.Decision)
		}
	default:
		return events.Invalid("decision", "must be approve, return or revoke, not %q", p.Decision)
	}
	if len(p.Reason) > 500 {
		return events.Invalid("reason", "at most 500 bytes")
	}
	if p.Round < 1 {
		return events.Invalid("round", "must be at least 1")
	}
	if (p.Decision == Revoke) != (p.Counted != nil) {
		return events.Invalid("counted", "a revocation, and only a revocation, names the count it removes")
	}
	if p.Counted != nil {
		return p.Counted.validate("counted")
	}
	return nil
}
