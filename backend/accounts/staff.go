package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/staff"
)

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

// InviteTTL is how long an invite code can be bound: an unused code does
// not stay a way in for ever.
const InviteTTL = 72 * time.Hour

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
	st, ok, err := events.Find(ctx, s.Store, s.State, func() (Staff, bool) {
		var (
			st Staff
			ok bool
		)
		s.State.read(func() {
			if id, found := s.State.staffByInvite[hex.EncodeToString(sum[:])]; found {
				st, ok = *s.State.staff[id], true
			}
		})
		return st, ok
	})
	if err != nil {
		return auth.Principal{}, err
	}
	if !ok || st.Disabled {
		return auth.Principal{}, events.Invalid("invite_code", "unknown or already used invite code")
	}
	if s.Now.UTC().Sub(st.Created) > InviteTTL {
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
	_, err := s.append(ctx, staff.TypeSignedOut, meta, staff.SignedOut{Before: s.Now.UTC().UTC()}, events.ExpectAny())
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

// StaffScope returns the scope of a staff account.
func (s *Service) StaffScope(id string) (events.Region, bool) {
	st, ok := s.State.staffAccount(id)
	return st.Scope, ok
}
