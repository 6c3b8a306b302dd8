// Package staff holds the event schemas of staff accounts: created by an
// admin with a role and a region scope, bound to a WeChat account with a
// one-time invite code, disabled.
package staff

import (
	"time"

	"github.com/onebook/onebook/events"
)

// Event types and the aggregate kind.
const (
	TypeCreated  = "staff.created"
	TypeBound    = "staff.bound"
	TypeDisabled = "staff.disabled"
	Kind         = "staff"

	// TypeSignedOut is an account (a resident's or a staff member's)
	// signing out everywhere; KindAccount its aggregate, the account id.
	TypeSignedOut = "account.signed_out"
	KindAccount   = "account"
)

// Register adds the staff events to r.
func Register(r *events.Registry) {
	events.Register[Created](r, TypeCreated, Kind, 1)
	events.Register[Bound](r, TypeBound, Kind, 1)
	events.Register[Disabled](r, TypeDisabled, Kind, 1)
	events.Register[SignedOut](r, TypeSignedOut, KindAccount, 1)
}

// SignedOut: the account signed out everywhere: every session issued
// before Before stops working, on every replica.
type SignedOut struct {
	Before time.Time `json:"before" disclose:"public"`
}

func (p SignedOut) Validate() error {
	if p.Before.IsZero() {
		return events.Invalid("before", "required")
	}
	return nil
}

// Created: an admin created a staff account. The invite code itself is
// never recorded, only its SHA-256, so the ledger cannot be used to bind.
type Created struct {
	Role       string        `json:"role" disclose:"public"`
	Scope      events.Region `json:"scope" disclose:"public"`
	Label      string        `json:"label" disclose:"public"` // e.g. "东门保安 3号", no personal data
	InviteHash string        `json:"invite_hash" disclose:"public"`
	Org        string        `json:"org,omitempty" disclose:"public"` // the organisation (hospital, CDC, ...) the account acts for
}

func (p Created) Validate() error {
	if p.Role == "" {
		return events.Invalid("role", "required")
	}
	if _, err := events.ParseRegion(string(p.Scope)); err != nil {
		return events.Invalid("scope", "scope must be a region code: %v", err)
	}
	if len(p.InviteHash) != 64 {
		return events.Invalid("invite_hash", "must be a hex SHA-256")
	}
	if len(p.Label) > 64 {
		return events.Invalid("label", "at most 64 bytes")
	}
	return nil
}

// Bound: the account was bound to a WeChat account with its invite code.
type Bound struct {
	OpenIDIndex string `json:"openid_index" disclose:"sealed"`
}

func (p Bound) Validate() error {
	if p.OpenIDIndex == "" {
		return events.Invalid("openid_index", "required")
	}
	return nil
}

// Disabled: the account may no longer sign in.
type Disabled struct {
	Reason string `json:"reason" disclose:"sealed"`
}

func (p Disabled) Validate() error { return nil }
