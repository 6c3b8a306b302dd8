// Package residents holds the event schemas of residents in the entry/exit
// pass service: registration with household, health declarations, erasure.
//
// Personal data (name, ID number, phone) never appears in clear: events
// carry it sealed with the person's own key, plus blind indexes that make it
// findable. Destroying the key (crypto-shredding) erases it for good while
// every hash in the ledger still verifies.
package residents

import (
	"slices"

	"github.com/onebook/onebook/events"
)

// Event types and the aggregate kind.
const (
	TypeRegistered = "resident.registered"
	TypeDeclared   = "health.declared"
	TypeErased     = "resident.erased"
	// TypeTransferred: a person moved from the household (the aggregate)
	// to another, confirmed in person by a property manager of the new
	// community.
	TypeTransferred = "person.transferred"
	Kind            = "resident"
)

// Register adds the resident events to r.
func Register(r *events.Registry) {
	events.Register[Registered](r, TypeRegistered, Kind, 1)
	events.Register[Declared](r, TypeDeclared, Kind, 1)
	events.Register[Erased](r, TypeErased, Kind, 1)
	events.Register[Transferred](r, TypeTransferred, Kind, 1)
}

// Sealed is one person's personal data, encrypted with that person's key.
type Sealed struct {
	KeyID      string `json:"key_id"`
	Ciphertext string `json:"ciphertext"`  // base64(nonce || AES-256-GCM ciphertext)
	IDIndex    string `json:"id_index"`    // blind index (HMAC) of the ID number
	PhoneIndex string `json:"phone_index"` // blind index of the phone number
	Last4Index string `json:"last4_index"` // blind index of the ID number's last 4, bound to the person
}

// Validate checks that s is complete; errors name field. Other schemas that
// carry sealed personal data (case cards, visitors) use it.
func (s Sealed) Validate(field string) error { return s.validate(field) }

func (s Sealed) validate(field string) error {
	if s.KeyID == "" || s.Ciphertext == "" || s.IDIndex == "" {
		return events.Invalid(field, "sealed personal data is incomplete")
	}
	return nil
}

// Member is one person of a household.
type Member struct {
	PersonID string `json:"person_id"`
	Relation string `json:"relation"` // self, spouse, child, parent, other
	Personal Sealed `json:"personal"`
}

// Registered: a resident registered (or re-registered) their household at
// an address in a community. The first member is the account holder.
type Registered struct {
	OpenIDIndex string        `json:"openid_index" disclose:"sealed"` // blind index of the WeChat openid
	Community   events.Region `json:"community" disclose:"public"`
	Building    string        `json:"building" disclose:"sealed"`
	Unit        string        `json:"unit" disclose:"sealed"`
	Members     []Member      `json:"members" disclose:"sealed"`
}

// Relations a household member may have.
func Relations() []string { return []string{"self", "spouse", "child", "parent", "other"} }

func (p Registered) Validate() error {
	if p.OpenIDIndex == "" {
		return events.Invalid("openid_index", "required")
	}
	if _, err := events.ParseRegion(string(p.Community)); err != nil || len(p.Community) != 12 {
		return events.Invalid("community", "community must be a 12-digit region code, got %q", p.Community)
	}
	if p.Building == "" || len(p.Building) > 32 || len(p.Unit) > 32 {
		return events.Invalid("building", "building is required; building and unit at most 32 bytes")
	}
	if len(p.Members) == 0 || len(p.Members) > 20 {
		return events.Invalid("members", "a household has 1 to 20 members")
	}
	for i, m := range p.Members {
		if m.PersonID == "" {
			return events.Invalid("members", "member %d has no person id", i)
		}
		if !slices.Contains(Relations(), m.Relation) {
			return events.Invalid("members", "member %d: relation %q is not one of %v", i, m.Relation, Relations())
		}
		if err := m.Personal.validate("members"); err != nil {
			return err
		}
	}
	return nil
}

// Health statuses.
const (
	Green  = "green"
	Yellow = "yellow"
	Red    = "red"
)

// Declared: a daily health declaration of one household member, with the
// status the rules gave it (see backend/passes.Assess).
type Declared struct {
	PersonID     string          `json:"person_id" disclose:"sealed"`
	Temperature  float64         `json:"temperature" disclose:"sealed"` // °C
	Symptoms     []string        `json:"symptoms" disclose:"sealed"`
	Visited      []events.Region `json:"visited" disclose:"sealed"` // regions visited in the last 14 days
	Contact      bool            `json:"contact" disclose:"sealed"` // contact with a confirmed case
	Status       string          `json:"status" disclose:"sealed"`
	StatusReason string          `json:"status_reason" disclose:"sealed"`
	RulesVersion int             `json:"rules_version" disclose:"sealed"`
}

func (p Declared) Validate() error {
	if p.PersonID == "" {
		return events.Invalid("person_id", "required")
	}
	if p.Temperature < 34 || p.Temperature > 43 {
		return events.Invalid("temperature", "temperature %.1f°C is outside 34–43°C", p.Temperature)
	}
	switch p.Status {
	case Green, Yellow, Red:
	default:
		return events.Invalid("status", "unknown status %q", p.Status)
	}
	return nil
}

// Erased: the resident's household keys were destroyed at their request;
// their sealed personal data is unreadable from now on.
type Erased struct {
	PersonIDs []string `json:"person_ids" disclose:"sealed"`
}

func (p Erased) Validate() error {
	if len(p.PersonIDs) == 0 {
		return events.Invalid("person_ids", "required")
	}
	return nil
}

// Transferred: the household released a person to another household, as a
// property manager of the new community confirmed in person.
type Transferred struct {
	PersonID string `json:"person_id" disclose:"sealed"`
	To       string `json:"to" disclose:"sealed"` // the household (resident id) they moved to
}

func (p Transferred) Validate() error {
	if p.PersonID == "" || p.To == "" {
		return events.Invalid("person_id", "person and household are required")
	}
	return nil
}
