package passes

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
)

// VisitInput asks for a visit. A host (a registered resident) invites a
// visitor; a visitor (signed in, not necessarily registered) names a host by
// the host's phone number.
type VisitInput struct {
	Name      string    `json:"name"` // the visitor's
	IDNumber  string    `json:"id_number"`
	Phone     string    `json:"phone"`
	HostPhone string    `json:"host_phone,omitempty"` // when the visitor asks
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
}

// VisitView is a visit as its parties and the property manager see it.
type VisitView struct {
	ID          string        `json:"id"`
	Community   events.Region `json:"community"`
	From        time.Time     `json:"from"`
	To          time.Time     `json:"to"`
	RequestedBy string        `json:"requested_by"`
	Status      string        `json:"status"`
	Visitor     string        `json:"visitor_name_masked"`
	Reason      string        `json:"reason,omitempty"`
}

func (s *Service) validateVisit(in VisitInput) error {
	now := s.Now.UTC()
	switch {
	case in.From.IsZero() || in.To.IsZero():
		return events.Invalid("from", "from and to are required")
	case !in.To.After(in.From):
		return events.Invalid("to", "to must be after from")
	case in.To.Sub(in.From) > 7*24*time.Hour:
		return events.Invalid("to", "a visit lasts at most 7 days")
	case !in.To.After(now):
		return events.Invalid("to", "the visit is already over")
	case in.From.After(now.Add(30 * 24 * time.Hour)):
		return events.Invalid("from", "visits can be arranged at most 30 days ahead")
	}
	return nil
}

// Invite records a visit invited by a registered resident. The host's
// invitation is their approval: the visitor's temporary pass is issued at
// once and the host forwards it.
func (s *Service) Invite(ctx context.Context, p auth.Principal, in VisitInput) (VisitView, error) {
	if err := auth.Authorize(p, auth.ActRegister, ""); err != nil {
		return VisitView{}, err
	}
	host, ok := s.Accounts.Household(p.Subject)
	if !ok {
		return VisitView{}, events.Errorf(events.CodeNotFound, "register your household before inviting visitors")
	}
	v, err := s.requestVisit(ctx, p, host, in, passevents.ByHost)
	if err != nil {
		return VisitView{}, err
	}
	return s.decideVisit(ctx, p, v, true, "")
}

// RequestVisit records a visit asked for by the visitor, naming a host by
// phone number; the host or the property manager decides.
func (s *Service) RequestVisit(ctx context.Context, p auth.Principal, in VisitInput) (VisitView, error) {
	if p.Role != auth.Resident || p.Subject == "" {
		return VisitView{}, &events.Error{Code: events.CodeForbidden, Message: "sign in with WeChat to ask for a visit"}
	}
	phone, err := s.Vault.NormalizePhone(in.HostPhone)
	if err != nil {
		return VisitView{}, accounts.Prefix("host_phone", err)
	}
	host, ok := s.Accounts.HostByPhone(s.Vault.Index("phone", phone))
	if !ok {
		return VisitView{}, events.Invalid("host_phone", "no registered household has this phone number")
	}
	v, err := s.requestVisit(ctx, p, host, in, passevents.ByVisitor)
	if err != nil {
		return VisitView{}, err
	}
	return s.visitView(ctx, v.ID), nil
}

func (s *Service) requestVisit(ctx context.Context, p auth.Principal, host accounts.Resident, in VisitInput, by string) (Visit, error) {
	if err := s.validateVisit(in); err != nil {
		return Visit{}, err
	}
	d, err := s.Vault.Normalize(in.Name, in.IDNumber, in.Phone)
	if err != nil {
		return Visit{}, err
	}
	pid := accounts.PersonID(s.Vault.Index("id", d.IDNumber))
	sealed, err := s.Vault.Seal(ctx, pid, d)
	if err != nil {
		return Visit{}, err
	}
	sealed.Last4Index = s.Vault.Index("last4:"+pid, d.IDNumber[len(d.IDNumber)-4:])
	id := uuid.NewString()
	ev := passevents.VisitRequested{Host: host.ID, Visitor: pid, Personal: sealed, Requester: p.Subject, RequestedBy: by,
		Community: host.Community, From: in.From.UTC(), To: in.To.UTC()}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: passevents.KindVisit, ID: id}, Region: host.Community, Actor: p.PublicActor(), SealTo: pid}
	if _, err := s.append(ctx, passevents.TypeVisitRequested, meta, ev, events.ExpectNew()); err != nil {
		return Visit{}, err
	}
	var v Visit
	s.State.read(func() { v = *s.State.visits[id] })
	return v, nil
}

// DecideVisit approves or refuses a pending visit: the host may, and so may
// a property manager whose scope covers the community.
func (s *Service) DecideVisit(ctx context.Context, p auth.Principal, id string, approve bool, reason string) (VisitView, error) {
	var v Visit
	ok := false
	s.State.read(func() {
		if x := s.State.visits[id]; x != nil {
			v, ok = *x, true
		}
	})
	if !ok {
		return VisitView{}, events.Errorf(events.CodeNotFound, "no visit %q", id)
	}
	if p.Role == auth.Resident {
		if p.Subject != v.Host {
			return VisitView{}, events.Errorf(events.CodeNotFound, "no visit %q", id)
		}
	} else if err := auth.Authorize(p, auth.ActVisitorDecide, v.Community); err != nil {
		return VisitView{}, err
	}
	if v.Status != "pending" {
		return VisitView{}, &events.Error{Code: events.CodeConflict, Message: "the visit was already " + v.Status}
	}
	if len(reason) > 200 {
		return VisitView{}, events.Invalid("reason", "at most 200 bytes")
	}
	return s.decideVisit(ctx, p, v, approve, strings.TrimSpace(reason))
}

func (s *Service) decideVisit(ctx context.Context, p auth.Principal, v Visit, approve bool, reason string) (VisitView, error) {
	ev := passevents.VisitDecided{Approved: approve, Reason: reason}
	if approve {
		passID := uuid.NewString()
		iss := passevents.Issued{Holder: v.Visitor, HolderOf: passevents.HolderVisitor, Community: v.Community, NotBefore: v.From, NotAfter: v.To}
		meta := events.Meta{Aggregate: events.Aggregate{Kind: passevents.KindPass, ID: passID}, Region: v.Community, Actor: p.PublicActor(), SealTo: v.Visitor}
		if _, err := s.append(ctx, passevents.TypeIssued, meta, iss, events.ExpectNew()); err != nil {
			return VisitView{}, err
		}
		ev.Pass = passID
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: passevents.KindVisit, ID: v.ID}, Region: v.Community, Actor: p.PublicActor(), SealTo: v.Visitor}
	if _, err := s.append(ctx, passevents.TypeVisitDecided, meta, ev, events.ExpectLast(v.LastSeq)); err != nil {
		return VisitView{}, err
	}
	if v.RequestedBy == passevents.ByVisitor {
		status := map[bool]string{true: "来访申请已通过", false: "来访申请未通过"}[approve]
		s.Notify.Send(ctx, accounts.Notice{Subject: v.Requester, Kind: NoticeVisitDecided, Data: map[string]string{"thing1": status, "time2": v.From.Format("2006-01-02 15:04")}})
	}
	return s.visitView(ctx, v.ID), nil
}

func (s *Service) visitView(ctx context.Context, id string) VisitView {
	var v Visit
	s.State.read(func() { v = *s.State.visits[id] })
	per, _, _ := s.holderOf(v.Visitor)
	name := "(erased)"
	if d, err := s.Vault.Open(ctx, per.ID, per.Sealed); err == nil {
		name = personal.MaskName(d.Name)
	}
	return VisitView{ID: v.ID, Community: v.Community, From: v.From, To: v.To, RequestedBy: v.RequestedBy, Status: v.Status, Visitor: name, Reason: v.Reason}
}

// MyVisits lists a resident's visits: those of their household and those
// they asked for.
func (s *Service) MyVisits(ctx context.Context, p auth.Principal) ([]VisitView, error) {
	if p.Role != auth.Resident {
		return nil, &events.Error{Code: events.CodeForbidden, Message: "only residents have visits of their own"}
	}
	return s.visits(ctx, p, "")
}

// PendingVisits lists the pending visits of a community, for a property
// manager whose scope covers it.
func (s *Service) PendingVisits(ctx context.Context, p auth.Principal, community events.Region) ([]VisitView, error) {
	if _, err := events.ParseRegion(string(community)); err != nil || len(community) != 12 {
		return nil, events.Invalid("community", "query parameter community must be a 12-digit region code")
	}
	if p.Role == auth.Resident {
		return nil, &events.Error{Code: events.CodeForbidden, Message: "residents see their visits at /me/visits"}
	}
	return s.visits(ctx, p, community)
}

// visits lists visits: a resident sees those of their household and those
// they asked for; a property manager sees the pending visits of a
// community in scope.
func (s *Service) visits(ctx context.Context, p auth.Principal, community events.Region) ([]VisitView, error) {
	var ids []string
	if p.Role == auth.Resident {
		s.State.read(func() {
			for id, v := range s.State.visits {
				if v.Host == p.Subject || v.Requester == p.Subject {
					ids = append(ids, id)
				}
			}
		})
	} else {
		if err := auth.Authorize(p, auth.ActVisitorDecide, community); err != nil {
			return nil, err
		}
		s.State.read(func() {
			for id, v := range s.State.visits {
				if v.Community == community && v.Status == "pending" {
					ids = append(ids, id)
				}
			}
		})
	}
	sort.Strings(ids)
	out := make([]VisitView, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.visitView(ctx, id))
	}
	return out, nil
}

// VisitPass returns the temporary pass token of an approved visit, to the
// host who invited or the visitor who asked.
func (s *Service) VisitPass(ctx context.Context, p auth.Principal, id string) (PassToken, error) {
	var (
		v    Visit
		pass Pass
		ok   bool
	)
	s.State.read(func() {
		if x := s.State.visits[id]; x != nil && (x.Host == p.Subject || x.Requester == p.Subject) {
			v, ok = *x, true
			if ps := s.State.passes[x.Pass]; ps != nil {
				pass = *ps
			}
		}
	})
	if !ok || p.Role != auth.Resident {
		return PassToken{}, events.Errorf(events.CodeNotFound, "no visit %q", id)
	}
	if v.Status != "approved" {
		return PassToken{}, &events.Error{Code: events.CodeConflict, Message: "the visit is " + v.Status}
	}
	if pass.Revoked != "" {
		return PassToken{}, &events.Error{Code: events.CodeForbidden, Message: "the visitor's pass was revoked"}
	}
	tok, err := s.Tokens.Issue(PassClaims{PassID: pass.ID, Visitor: true, Community: pass.Community, NotBefore: pass.NotBefore, NotAfter: pass.NotAfter})
	if err != nil {
		return PassToken{}, err
	}
	return PassToken{PassID: pass.ID, Token: tok, NotAfter: pass.NotAfter, Status: "visitor"}, nil
}
