// Package passes holds the event schemas of the entry/exit pass service
// (出入通): passes issued to residents and visitors, revoked, and scanned at
// community gates.
package passevents

import (
	"encoding/json"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/residents"
)

// Event types.
const (
	TypeIssued  = "pass.issued"
	TypeRevoked = "pass.revoked"
	TypeScanned = "pass.scanned"
	TypeGate    = "gate.registered"

	TypeVisitRequested = "visit.requested"
	TypeVisitDecided   = "visit.decided"
)

// Aggregate kinds.
const (
	KindPass  = "pass"  // one pass; issued, then possibly revoked
	KindGate  = "gate"  // one gate; its scans, in order
	KindVisit = "visit" // one visit: requested, then approved or refused
)

// Register adds the pass events to r.
func Register(r *events.Registry) {
	events.Register[Issued](r, TypeIssued, KindPass, 1)
	events.Register[Revoked](r, TypeRevoked, KindPass, 1)
	events.Register[Scanned](r, TypeScanned, KindGate, 2, Upcaster{From: 1, Fn: upcastScannedV1})
	events.Register[GateRegistered](r, TypeGate, KindGate, 1)
	events.Register[VisitRequested](r, TypeVisitRequested, KindVisit, 1)
	events.Register[VisitDecided](r, TypeVisitDecided, KindVisit, 1)
}

// Upcaster is events.Upcaster, named here for brevity.
type Upcaster = events.Upcaster

// GateRegistered: a property manager registered a gate of a community.
type GateRegistered struct {
	Community events.Region `json:"community" disclose:"public"`
	Name      string        `json:"name" disclose:"public"` // e.g. "东门"
}

func (p GateRegistered) Validate() error {
	if err := community(p.Community); err != nil {
		return err
	}
	if p.Name == "" || len(p.Name) > 64 {
		return events.Invalid("name", "a gate name of 1 to 64 bytes is required")
	}
	return nil
}

// Who asked for a visit.
const (
	ByHost    = "host"    // a resident invited the visitor
	ByVisitor = "visitor" // the visitor asked, naming a host
)

// VisitRequested: a visit to a household was asked for, by the host or by
// the visitor. The visitor's personal data is sealed with their own key.
type VisitRequested struct {
	Host        string           `json:"host" disclose:"sealed"`         // resident (household) id
	Visitor     string           `json:"visitor" disclose:"sealed"`      // the visitor's person id
	Personal    residents.Sealed `json:"personal" disclose:"sealed"`     // the visitor's sealed personal data
	Requester   string           `json:"requester" disclose:"sealed"`    // subject of the account that asked
	RequestedBy string           `json:"requested_by" disclose:"sealed"` // host | visitor
	Community   events.Region    `json:"community" disclose:"public"`
	From        time.Time        `json:"from" disclose:"sealed"`
	To          time.Time        `json:"to" disclose:"sealed"`
}

func (p VisitRequested) Validate() error {
	if p.Host == "" || p.Visitor == "" || p.Requester == "" {
		return events.Invalid("host", "host, visitor and requester are required")
	}
	if p.RequestedBy != ByHost && p.RequestedBy != ByVisitor {
		return events.Invalid("requested_by", "must be %q or %q", ByHost, ByVisitor)
	}
	if err := community(p.Community); err != nil {
		return err
	}
	if !p.To.After(p.From) || p.To.Sub(p.From) > 7*24*time.Hour {
		return events.Invalid("to", "a visit lasts more than nothing and at most 7 days")
	}
	return nil
}

// VisitDecided: the host or the property manager approved or refused a
// visit; an approval comes with the visitor's temporary pass.
type VisitDecided struct {
	Approved bool   `json:"approved" disclose:"sealed"`
	Pass     string `json:"pass,omitempty" disclose:"sealed"` // the temporary pass issued on approval
	Reason   string `json:"reason,omitempty" disclose:"sealed"`
}

func (p VisitDecided) Validate() error {
	if p.Approved && p.Pass == "" {
		return events.Invalid("pass", "an approval names the pass it issued")
	}
	if len(p.Reason) > 200 {
		return events.Invalid("reason", "at most 200 bytes")
	}
	return nil
}

// Holder kinds.
const (
	HolderResident = "resident"
	HolderVisitor  = "visitor"
)

// Issued: a pass was issued to a holder for a community.
type Issued struct {
	Holder    string        `json:"holder" disclose:"sealed"`    // person id (a token, never personal data)
	HolderOf  string        `json:"holder_of" disclose:"sealed"` // resident | visitor
	Community events.Region `json:"community" disclose:"public"` // 12-digit community code
	NotBefore time.Time     `json:"not_before" disclose:"sealed"`
	NotAfter  time.Time     `json:"not_after" disclose:"sealed"`
}

func (p Issued) Validate() error {
	if p.Holder == "" {
		return events.Invalid("holder", "holder is required")
	}
	if p.HolderOf != HolderResident && p.HolderOf != HolderVisitor {
		return events.Invalid("holder_of", "must be %q or %q", HolderResident, HolderVisitor)
	}
	if err := community(p.Community); err != nil {
		return err
	}
	if p.NotBefore.IsZero() || p.NotAfter.IsZero() || !p.NotAfter.After(p.NotBefore) {
		return events.Invalid("not_after", "validity window must be non-empty: not_before < not_after")
	}
	return nil
}

// Revoke reasons.
const (
	ReasonMovedOut  = "moved_out"
	ReasonRedStatus = "red_status"
	ReasonLostPhone = "lost_phone"
	ReasonExpired   = "expired"
)

// Revoked: a pass was revoked and must no longer open a gate.
type Revoked struct {
	Reason string `json:"reason" disclose:"sealed"`
}

func (p Revoked) Validate() error {
	switch p.Reason {
	case ReasonMovedOut, ReasonRedStatus, ReasonLostPhone, ReasonExpired:
		return nil
	}
	return events.Invalid("reason", "unknown revocation reason %q", p.Reason)
}

// Directions and decisions of a scan.
const (
	In    = "in"
	Out   = "out"
	Allow = "allow"
	Deny  = "deny"
)

// Scanned (schema v2): a pass was scanned at a gate. Every scan is recorded,
// allowed or denied. Version 1 had a boolean "allowed" and no scan id.
type Scanned struct {
	ScanID    string        `json:"scan_id" disclose:"sealed"` // client-generated; "" for v1 events
	Pass      string        `json:"pass" disclose:"sealed"`
	Holder    string        `json:"holder" disclose:"sealed"`
	Community events.Region `json:"community" disclose:"public"`
	Direction string        `json:"direction" disclose:"public"` // in | out
	Decision  string        `json:"decision" disclose:"public"`  // allow | deny
	Reason    string        `json:"reason,omitempty" disclose:"sealed"`
}

func (p Scanned) Validate() error {
	if p.Pass == "" {
		return events.Invalid("pass", "pass is required")
	}
	if err := community(p.Community); err != nil {
		return err
	}
	if p.Direction != In && p.Direction != Out {
		return events.Invalid("direction", "must be %q or %q", In, Out)
	}
	switch p.Decision {
	case Allow:
	case Deny:
		if p.Reason == "" {
			return events.Invalid("reason", "a denied scan needs a reason")
		}
	default:
		return events.Invalid("decision", "must be %q or %q", Allow, Deny)
	}
	return nil
}

// scannedV1 is the retired first schema of pass.scanned.
type scannedV1 struct {
	Pass      string        `json:"pass"`
	Holder    string        `json:"holder"`
	Community events.Region `json:"community"`
	Direction string        `json:"direction"`
	Allowed   bool          `json:"allowed"`
}

func upcastScannedV1(old json.RawMessage) (json.RawMessage, error) {
	var v1 scannedV1
	if err := json.Unmarshal(old, &v1); err != nil {
		return nil, err
	}
	v2 := Scanned{Pass: v1.Pass, Holder: v1.Holder, Community: v1.Community, Direction: v1.Direction, Decision: Allow}
	if !v1.Allowed {
		v2.Decision, v2.Reason = Deny, "unrecorded" // v1 did not record why
	}
	return json.Marshal(v2)
}

func community(r events.Region) error {
	if _, err := events.ParseRegion(string(r)); err != nil || len(r) != 12 {
		return events.Invalid("community", "community must be a 12-digit region code, got %q", r)
	}
	return nil
}
