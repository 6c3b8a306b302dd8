package accounts

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/orgs"
)

// Org is a registered organisation.
type Org struct {
	ID       string        `json:"id"`
	Kind     string        `json:"kind"`
	Name     string        `json:"name"`
	Region   events.Region `json:"region"`
	Licence  string        `json:"licence"`
	DocsHash string        `json:"docs_hash"`
	Approved bool          `json:"approved"`
	LastSeq  uint64        `json:"-"`
}

// OrgInput registers an organisation. An admin registering it may approve
// it in the same call (Approve), recorded as two events.
type OrgInput struct {
	Kind     string        `json:"kind"`
	Name     string        `json:"name"`
	Region   events.Region `json:"region"`
	Licence  string        `json:"licence"`
	DocsHash string        `json:"docs_hash"`
	Approve  bool          `json:"approve"`
}

// orgRoles are the staff roles that act for an organisation, and the kind
// of organisation each needs.
func orgRoles() map[auth.Role]string {
	return map[auth.Role]string{auth.HospitalReporter: orgs.Hospital, auth.HospitalReviewer: orgs.Hospital, auth.OrgMember: ""}
}

// RegisterOrg records an organisation (admin, in scope of its region).
func (s *Service) RegisterOrg(ctx context.Context, p auth.Principal, in OrgInput) (Org, error) {
	ev := orgs.Registered{Kind: in.Kind, Name: strings.TrimSpace(in.Name), Region: in.Region,
		Licence: strings.ToUpper(strings.TrimSpace(in.Licence)), DocsHash: strings.ToLower(in.DocsHash)}
	if err := ev.Validate(); err != nil {
		return Org{}, err
	}
	switch {
	case p.Role == auth.System:
	case p.Role == auth.Admin:
		if err := auth.Authorize(p, auth.ActOrgAdmin, ev.Region); err != nil {
			return Org{}, err
		}
	case p.Subject == "":
		return Org{}, &events.Error{Code: events.CodeUnauthorized, Message: "sign in first"}
	case in.Approve:
		return Org{}, &events.Error{Code: events.CodeForbidden, Field: "approve", Message: "only an admin approves an organisation; register it and wait for approval"}
	}
	// Anyone signed in may apply for an organisation; it acts only once an
	// admin in scope has checked the certification and approved it.
	id := "o-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	meta := events.Meta{Aggregate: events.Aggregate{Kind: orgs.Kind, ID: id}, Region: ev.Region, Actor: p.PublicActor()}
	if _, err := s.append(ctx, orgs.TypeRegistered, meta, ev, events.ExpectNew()); err != nil {
		return Org{}, err
	}
	if in.Approve {
		return s.ApproveOrg(ctx, p, id, "approved at registration")
	}
	o, _ := s.Org(id)
	return o, nil
}

// ApproveOrg approves a registered organisation's certification.
func (s *Service) ApproveOrg(ctx context.Context, p auth.Principal, id, note string) (Org, error) {
	o, ok := s.Org(id)
	if !ok {
		if err := s.catchUp(ctx); err != nil {
			return Org{}, err
		}
		if o, ok = s.Org(id); !ok {
			return Org{}, events.Errorf(events.CodeNotFound, "no organisation %s", id)
		}
	}
	if p.Role != auth.System {
		if err := auth.Authorize(p, auth.ActOrgAdmin, o.Region); err != nil {
			return Org{}, err
		}
	}
	if o.Approved {
		return o, events.Errorf(events.CodeConflict, "organisation %s is already approved", id)
	}
	ev := orgs.Approved{Note: strings.TrimSpace(note)}
	if err := ev.Validate(); err != nil {
		return Org{}, err
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: orgs.Kind, ID: id}, Region: o.Region, Actor: p.Actor()}
	if _, err := s.append(ctx, orgs.TypeApproved, meta, ev, events.ExpectLast(o.LastSeq)); err != nil {
		return Org{}, err
	}
	o, _ = s.Org(id)
	return o, nil
}

// Org returns a registered organisation.
func (s *Service) Org(id string) (Org, bool) {
	return events.Get(&s.State.mu, s.State.orgs, id)
}

// Orgs lists the organisations of a kind ("" for all) whose region lies in
// scope, sorted by id.
func (s *Service) Orgs(kind string, scope events.Region) []Org {
	var out []Org
	s.State.read(func() {
		for _, o := range s.State.orgs {
			if (kind == "" || o.Kind == kind) && scope.Covers(o.Region) {
				out = append(out, *o)
			}
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ListOrgs lists, for an admin, the organisations of a kind ("" for all)
// whose region lies in their scope.
func (s *Service) ListOrgs(p auth.Principal, kind string) ([]Org, error) {
	if err := auth.Authorize(p, auth.ActOrgAdmin, ""); err != nil {
		return nil, err
	}
	if kind != "" && !slices.Contains(orgs.Kinds(), kind) {
		return nil, events.Invalid("kind", "unknown organisation kind %q (one of %v)", kind, orgs.Kinds())
	}
	list := s.Orgs(kind, p.Scope)
	if list == nil {
		list = []Org{}
	}
	return list, nil
}

// checkStaffOrg checks the organisation of a new staff account: roles that
// act for an organisation need an approved one of the right kind, located
// in the account's scope; other roles may name none.
func (s *Service) checkStaffOrg(in *StaffInput) error {
	kind, needs := orgRoles()[auth.Role(in.Role)]
	if in.Org == "" {
		if needs {
			if kind == "" {
				kind = "organisation"
			}
			return events.Invalid("org", "a %s account acts for a %s: name its organisation", in.Role, kind)
		}
		return nil
	}
	if !needs {
		return events.Invalid("org", "a %s account does not act for an organisation", in.Role)
	}
	o, ok := s.Org(in.Org)
	switch {
	case !ok:
		return events.Invalid("org", "no organisation %s", in.Org)
	case !o.Approved:
		return events.Invalid("org", "organisation %s is not approved yet", in.Org)
	case kind != "" && o.Kind != kind:
		return events.Invalid("org", "organisation %s is a %s, not a %s", in.Org, o.Kind, kind)
	}
	if in.Scope == "" {
		in.Scope = o.Region
	}
	if !in.Scope.Covers(o.Region) && !o.Region.Covers(in.Scope) {
		return events.Invalid("scope", "scope %s does not match the organisation's region %s", in.Scope, o.Region)
	}
	return nil
}
