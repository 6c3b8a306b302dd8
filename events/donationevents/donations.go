// Package donations holds the event schemas of material donations (善踪):
// hospitals publish needs, donors pledge items against a need or to the
// general pool, every handover from hop to hop is dispatched by the sender
// and confirmed by the named receiver, hospitals record what they consume,
// and reviewers check each donation's use twice. The catalogue of materials
// is in catalogue.go.
//
// Donation events are public (anyone can trace a donation without signing
// in), so they carry no personal data: individual donors appear by a
// pseudonymous id and a display name they chose.
package donationevents

import (
	"regexp"
	"slices"
	"time"

	"github.com/onebook/onebook/events"
)

// Event types and aggregate kinds.
const (
	TypeNeedPublished = "need.published"
	TypeNeedUpdated   = "need.updated"
	TypeNeedClosed    = "need.closed"

	TypePledged    = "donation.pledged"
	TypeDispatched = "donation.dispatched"
	TypeReceived   = "donation.received"
	TypeReviewed   = "donation.reviewed"
	TypeEscalated  = "donation.escalated"

	TypeConsumed = "stock.consumed"

	KindNeed     = "need"     // one need of a hospital
	KindDonation = "donation" // one donation: pledge, hops, reviews
	KindStock    = "stock"    // one organisation's consumption
)

// Register adds the donation events to r.
func Register(r *events.Registry) {
	events.Register[NeedPublished](r, TypeNeedPublished, KindNeed, 1)
	events.Register[NeedUpdated](r, TypeNeedUpdated, KindNeed, 1)
	events.Register[NeedClosed](r, TypeNeedClosed, KindNeed, 1)
	events.Register[Pledged](r, TypePledged, KindDonation, 1)
	events.Register[Dispatched](r, TypeDispatched, KindDonation, 1)
	events.Register[Received](r, TypeReceived, KindDonation, 1)
	events.Register[Reviewed](r, TypeReviewed, KindDonation, 1)
	events.Register[Escalated](r, TypeEscalated, KindDonation, 1)
	events.Register[Consumed](r, TypeConsumed, KindStock, 1)
}

// MaxQuantity bounds every quantity (a billion masks is more than China
// produced in a week at the 2020 peak).
const MaxQuantity = 1_000_000_000

// Line is a quantity of one item of one specification.
type Line struct {
	Item     string `json:"item"`
	Spec     string `json:"spec"`
	Quantity int64  `json:"quantity"`
}

// validate checks a line; errors name field, or with field "" the line's
// own fields (item, spec, quantity: where a request carries the line flat).
func (l Line) validate(field string) error {
	name := func(f string) string {
		if field == "" {
			return f
		}
		return field
	}
	it, ok := LookupItem(l.Item)
	if !ok {
		return events.Invalid(name("item"), "unknown item %q (GET /donations/catalogue lists them)", l.Item)
	}
	if !slices.Contains(it.Specs, l.Spec) {
		return events.Invalid(name("spec"), "item %s has no specification %q (one of %v)", l.Item, l.Spec, it.Specs)
	}
	if l.Quantity < 1 || l.Quantity > MaxQuantity {
		return events.Invalid(name("quantity"), "quantity must be 1 to %d, not %d", MaxQuantity, l.Quantity)
	}
	return nil
}

// Lot is a line with the manufacturer's batch number, as handed over.
type Lot struct {
	Line
	Batch string `json:"batch"`
}

var batchRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$`)

func (l Lot) validate(field string) error {
	if err := l.Line.validate(field); err != nil {
		return err
	}
	if !batchRE.MatchString(l.Batch) {
		return events.Invalid(field, "batch number %q must be 1 to 64 letters, digits, '.', '_', '/', '-'", l.Batch)
	}
	return nil
}

func lots(field string, ls []Lot) error {
	if len(ls) == 0 || len(ls) > 50 {
		return events.Invalid(field, "1 to 50 lots")
	}
	for i, l := range ls {
		if err := l.validate(field); err != nil {
			return err
		}
		for _, o := range ls[:i] {
			if o.Item == l.Item && o.Spec == l.Spec && o.Batch == l.Batch {
				return events.Invalid(field, "lot %s %s %s listed twice", l.Item, l.Spec, l.Batch)
			}
		}
	}
	return nil
}

// Urgencies of a need.
const (
	Critical = "critical" // stock runs out within a day
	High     = "high"
	Normal   = "normal"
)

// NeedPublished: a certified hospital asks for material.
type NeedPublished struct {
	Hospital   string        `json:"hospital" disclose:"public"` // organisation id
	Line       Line          `json:"line" disclose:"public"`
	Urgency    string        `json:"urgency" disclose:"public"`
	DeliverTo  string        `json:"deliver_to" disclose:"public"` // delivery place, e.g. "东院区物资库 3号门" (no personal data)
	Region     events.Region `json:"region" disclose:"public"`     // of the delivery place
	ValidUntil time.Time     `json:"valid_until" disclose:"public"`
}

func urgency(u string) error {
	if u != Critical && u != High && u != Normal {
		return events.Invalid("urgency", "must be critical, high or normal, not %q", u)
	}
	return nil
}

func (p NeedPublished) Validate() error {
	if p.Hospital == "" {
		return events.Invalid("hospital", "required")
	}
	if err := p.Line.validate(""); err != nil {
		return err
	}
	if err := urgency(p.Urgency); err != nil {
		return err
	}
	if n := len([]rune(p.DeliverTo)); n < 2 || len(p.DeliverTo) > 200 {
		return events.Invalid("deliver_to", "a delivery place of 2 characters to 200 bytes is required")
	}
	if _, err := events.ParseRegion(string(p.Region)); err != nil {
		return events.Invalid("region", "%v", err)
	}
	if p.ValidUntil.IsZero() {
		return events.Invalid("valid_until", "required")
	}
	return nil
}

// NeedUpdated: the hospital changed the quantity, urgency or validity.
type NeedUpdated struct {
	Quantity   int64     `json:"quantity" disclose:"public"`
	Urgency    string    `json:"urgency" disclose:"public"`
	ValidUntil time.Time `json:"valid_until" disclose:"public"`
	Note       string    `json:"note,omitempty" disclose:"public"`
}

func (p NeedUpdated) Validate() error {
	if p.Quantity < 1 || p.Quantity > MaxQuantity {
		return events.Invalid("quantity", "must be 1 to %d", MaxQuantity)
	}
	if err := urgency(p.Urgency); err != nil {
		return err
	}
	if p.ValidUntil.IsZero() {
		return events.Invalid("valid_until", "required")
	}
	return shortText("note", p.Note, 0)
}

// NeedClosed: the hospital closed the need (met, no longer needed).
type NeedClosed struct {
	Reason string `json:"reason" disclose:"public"`
}

func (p NeedClosed) Validate() error { return shortText("reason", p.Reason, 2) }

// Party kinds.
const (
	PartyOrg    = "org"    // a certified organisation
	PartyPerson = "person" // an individual (a signed-in WeChat user), pseudonymous
)

// Party is who holds or gives material.
type Party struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`             // organisation id, or the person's pseudonymous account id
	Name string `json:"name,omitempty"` // organisation name, or the display name an individual chose
}

func (p Party) validate(field string) error {
	if (p.Kind != PartyOrg && p.Kind != PartyPerson) || p.ID == "" {
		return events.Invalid(field, "a party is an org or a person with an id")
	}
	if len(p.Name) > 128 {
		return events.Invalid(field, "name at most 128 bytes")
	}
	return nil
}

// Pledged: a donor pledged items, against a need or to the general pool.
type Pledged struct {
	Donor Party  `json:"donor" disclose:"public"`
	Need  string `json:"need,omitempty" disclose:"public"` // need id; "" for the general pool
	Lines []Line `json:"lines" disclose:"public"`
	Note  string `json:"note,omitempty" disclose:"public"`
}

func (p Pledged) Validate() error {
	if err := p.Donor.validate("donor"); err != nil {
		return err
	}
	if len(p.Lines) == 0 || len(p.Lines) > 50 {
		return events.Invalid("lines", "1 to 50 lines")
	}
	for _, l := range p.Lines {
		if err := l.validate("lines"); err != nil {
			return err
		}
	}
	return shortText("note", p.Note, 0)
}

// Receiver is the named receiver of a hop: an organisation, and optionally
// a unit of it (a ward of a hospital).
type Receiver struct {
	Org  string `json:"org"`
	Unit string `json:"unit,omitempty"` // e.g. "呼吸科" (no personal data)
}

// Dispatched: the holder of (part of) a donation handed lots over to a
// named receiver. Hop counts from 1 within the donation.
type Dispatched struct {
	Hop  int      `json:"hop" disclose:"public"`
	From Party    `json:"from" disclose:"public"`
	To   Receiver `json:"to" disclose:"public"`
	Lots []Lot    `json:"lots" disclose:"public"`
	Via  string   `json:"via,omitempty" disclose:"public"` // carrier and waybill number, free text
}

func (p Dispatched) Validate() error {
	if p.Hop < 1 {
		return events.Invalid("hop", "must be at least 1")
	}
	if err := p.From.validate("from"); err != nil {
		return err
	}
	if p.To.Org == "" {
		return events.Invalid("to", "name the receiving organisation")
	}
	if len(p.To.Unit) > 64 {
		return events.Invalid("to", "unit at most 64 bytes")
	}
	if err := lots("lots", p.Lots); err != nil {
		return err
	}
	return shortText("via", p.Via, 0)
}

// Conditions of received material.
const (
	Intact  = "intact"
	Damaged = "damaged" // some of it unusable; say what in the note
)

// Flags of a receipt.
const (
	FlagShort = "short" // received less than dispatched
)

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Received: the named receiver confirmed a hop: what arrived, in what
// condition, with the SHA-256 of a photo of it. Quantities never exceed
// those dispatched (refused); less is flagged short.
type Received struct {
	Hop       int      `json:"hop" disclose:"public"`
	Lots      []Lot    `json:"lots" disclose:"public"`
	Condition string   `json:"condition" disclose:"public"`
	PhotoHash string   `json:"photo_hash" disclose:"public"`
	Flags     []string `json:"flags,omitempty" disclose:"public"`
	Note      string   `json:"note,omitempty" disclose:"public"`
}

func (p Received) Validate() error {
	if p.Hop < 1 {
		return events.Invalid("hop", "must be at least 1")
	}
	if len(p.Lots) > 50 {
		return events.Invalid("lots", "at most 50 lots")
	}
	for _, l := range p.Lots { // a lot may arrive with quantity 0: lost
		if l.Quantity == 0 {
			l.Quantity = 1 // validate the rest of it
		}
		if err := l.validate("lots"); err != nil {
			return err
		}
	}
	if p.Condition != Intact && p.Condition != Damaged {
		return events.Invalid("condition", "must be intact or damaged")
	}
	if !hexSHA256.MatchString(p.PhotoHash) {
		return events.Invalid("photo_hash", "must be the lowercase hex SHA-256 of the photo")
	}
	for _, f := range p.Flags {
		if f != FlagShort {
			return events.Invalid("flags", "unknown flag %q", f)
		}
	}
	return shortText("note", p.Note, 0)
}

// Review verdicts.
const (
	Consistent   = "consistent"   // the use matches the donation's trace
	Inconsistent = "inconsistent" // something does not add up; say what
)

// Reviewed: a reviewer checked the donation's use. Round 1 is the review,
// round 2 the re-review by a different reviewer.
type Reviewed struct {
	Round   int    `json:"round" disclose:"public"`
	Verdict string `json:"verdict" disclose:"public"`
	Note    string `json:"note" disclose:"public"`
}

func (p Reviewed) Validate() error {
	if p.Round != 1 && p.Round != 2 {
		return events.Invalid("round", "must be 1 (review) or 2 (re-review)")
	}
	if p.Verdict != Consistent && p.Verdict != Inconsistent {
		return events.Invalid("verdict", "must be consistent or inconsistent")
	}
	if p.Verdict == Inconsistent {
		return shortText("note", p.Note, 4)
	}
	return shortText("note", p.Note, 0)
}

// Escalated: the review and the re-review disagree; a supervisor decides.
type Escalated struct {
	Reason string `json:"reason" disclose:"public"`
}

func (p Escalated) Validate() error { return shortText("reason", p.Reason, 2) }

// Consumed: a hospital used material on a day (one event per item and
// day, per unit if it tracks wards).
type Consumed struct {
	Line `disclose:"public"`
	Day  string `json:"day" disclose:"public"` // YYYY-MM-DD, China Standard Time
	Unit string `json:"unit,omitempty" disclose:"public"`
}

func (p Consumed) Validate() error {
	if err := p.Line.validate(""); err != nil {
		return err
	}
	if _, err := time.Parse("2006-01-02", p.Day); err != nil {
		return events.Invalid("day", "must be YYYY-MM-DD")
	}
	if len(p.Unit) > 64 {
		return events.Invalid("unit", "at most 64 bytes")
	}
	return nil
}

func shortText(field, s string, min int) error {
	if len([]rune(s)) < min || len(s) > 500 {
		return events.Invalid(field, "%d characters to 500 bytes", min)
	}
	return nil
}
