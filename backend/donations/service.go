package donations

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/events/orgs"
)

// Org is what the service needs to know of an organisation.
type Org struct {
	ID       string
	Kind     string
	Name     string
	Region   events.Region
	Approved bool
}

// Prover proves that events are in the ledger (events/seal.Prover).
type Prover interface {
	Latest(ctx context.Context) (note []byte, size uint64, root tlog.Hash, err error)
	ProveInclusion(ctx context.Context, index, size uint64) (tlog.Hash, tlog.RecordProof, error)
}

// Service decides the commands of the donation service.
type Service struct {
	Store  events.Store
	Reg    *events.Registry
	State  *State
	Org    func(id string) (Org, bool)
	Prover Prover
	Now    events.Clock
	// Notify, if set, tells the account that pledged a donation about each
	// hop (a WeChat subscribe message); best effort.
	Notify func(ctx context.Context, subject, kind string, data map[string]string) error
	// Pseudonym maps a resident's account id to their id in the donation
	// domain (personal.Vault.Pseudonym with DomainDonations): the id a
	// person's pledges show in clear, unlinkable to their passes.
	Pseudonym func(account string) string
}

// NoticeHop is the notification kind of a donation's hop.
const NoticeHop = "donation_hop"

// member checks that p acts for an approved organisation (of kind, if not
// "") and returns it.
func (s *Service) member(p auth.Principal, act auth.Action, kind string) (Org, error) {
	if err := auth.Authorize(p, act, ""); err != nil {
		return Org{}, err
	}
	if p.Role != auth.OrgMember || p.Org == "" {
		return Org{}, &events.Error{Code: events.CodeForbidden, Message: "this account acts for no organisation"}
	}
	o, ok := s.Org(p.Org)
	if !ok || !o.Approved {
		return Org{}, &events.Error{Code: events.CodeForbidden, Message: fmt.Sprintf("organisation %s is not certified (approved) yet", p.Org)}
	}
	if kind != "" && o.Kind != kind {
		return Org{}, &events.Error{Code: events.CodeForbidden, Message: fmt.Sprintf("only a %s may do this; %s is a %s", kind, o.Name, o.Kind)}
	}
	return o, nil
}

func newID(prefix string) string { return prefix + strings.ReplaceAll(uuid.NewString(), "-", "")[:20] }

// NeedInput publishes a need.
type NeedInput struct {
	Item       string        `json:"item"`
	Spec       string        `json:"spec"`
	Quantity   int64         `json:"quantity"`
	Urgency    string        `json:"urgency"`
	DeliverTo  string        `json:"deliver_to"`
	Region     events.Region `json:"region"` // of the delivery place; default the hospital's
	ValidUntil time.Time     `json:"valid_until"`
}

// MaxNeedValidity is how far ahead a need may stay open.
const MaxNeedValidity = 90 * 24 * time.Hour

// PublishNeed records a certified hospital's need.
func (s *Service) PublishNeed(ctx context.Context, p auth.Principal, in NeedInput) (Need, error) {
	h, err := s.member(p, auth.ActNeedManage, orgs.Hospital)
	if err != nil {
		return Need{}, err
	}
	if in.Region == "" {
		in.Region = h.Region
	}
	if r, err := events.ParseRegion(string(in.Region)); err == nil && !h.Region.Province().Covers(r) {
		return Need{}, events.Invalid("region", "the delivery place %s is outside the hospital's province %s", in.Region, h.Region.Province())
	}
	now := s.Now.UTC()
	if err := validity(now, in.ValidUntil); err != nil {
		return Need{}, err
	}
	ev := donationevents.NeedPublished{Hospital: h.ID, Line: donationevents.Line{Item: in.Item, Spec: in.Spec, Quantity: in.Quantity},
		Urgency: in.Urgency, DeliverTo: strings.TrimSpace(in.DeliverTo), Region: in.Region, ValidUntil: in.ValidUntil.UTC()}
	if err := ev.Validate(); err != nil {
		return Need{}, err
	}
	id := newID("n-")
	meta := events.Meta{Aggregate: events.Aggregate{Kind: donationevents.KindNeed, ID: id}, Region: h.Region, Actor: p.Actor(), Time: now}
	if _, err := s.append(ctx, donationevents.TypeNeedPublished, meta, ev, events.ExpectNew()); err != nil {
		return Need{}, err
	}
	n, _ := s.State.Need(id)
	return n, nil
}

func validity(now, until time.Time) error {
	switch {
	case until.IsZero():
		return events.Invalid("valid_until", "required (RFC 3339)")
	case !until.After(now):
		return events.Invalid("valid_until", "must be in the future")
	case until.After(now.Add(MaxNeedValidity)):
		return events.Invalid("valid_until", "at most %d days ahead", int(MaxNeedValidity.Hours()/24))
	}
	return nil
}

// ownNeed returns a need of p's hospital.
func (s *Service) ownNeed(ctx context.Context, p auth.Principal, id string) (Need, error) {
	h, err := s.member(p, auth.ActNeedManage, orgs.Hospital)
	if err != nil {
		return Need{}, err
	}
	n, ok, err := events.Find(ctx, s.Store, s.State, func() (Need, bool) { return s.State.Need(id) })
	if err != nil {
		return Need{}, err
	}
	if !ok {
		return Need{}, events.Errorf(events.CodeNotFound, "no need %s", id)
	}
	if n.Hospital != h.ID {
		return Need{}, &events.Error{Code: events.CodeForbidden, Message: "only the hospital that published a need changes it"}
	}
	if n.Closed {
		return Need{}, events.Errorf(events.CodeConflict, "need %s is closed", id)
	}
	return n, nil
}

// NeedUpdate changes a need.
type NeedUpdate struct {
	Quantity   int64     `json:"quantity"`
	Urgency    string    `json:"urgency"`
	ValidUntil time.Time `json:"valid_until"`
	Note       string    `json:"note"`
}

// UpdateNeed changes a need's quantity, urgency or validity.
func (s *Service) UpdateNeed(ctx context.Context, p auth.Principal, id string, in NeedUpdate) (Need, error) {
	n, err := s.ownNeed(ctx, p, id)
	if err != nil {
		return Need{}, err
	}
	if err := validity(s.Now.UTC(), in.ValidUntil); err != nil {
		return Need{}, err
	}
	ev := donationevents.NeedUpdated{Quantity: in.Quantity, Urgency: in.Urgency, ValidUntil: in.ValidUntil.UTC(), Note: strings.TrimSpace(in.Note)}
	if err := ev.Validate(); err != nil {
		return Need{}, err
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: donationevents.KindNeed, ID: id}, Region: s.orgRegion(n.Hospital), Actor: p.PublicActor()}
	if _, err := s.append(ctx, donationevents.TypeNeedUpdated, meta, ev, events.ExpectLast(n.LastSeq)); err != nil {
		return Need{}, err
	}
	n, _ = s.State.Need(id)
	return n, nil
}

// CloseNeed closes a need.
func (s *Service) CloseNeed(ctx context.Context, p auth.Principal, id, reason string) (Need, error) {
	n, err := s.ownNeed(ctx, p, id)
	if err != nil {
		return Need{}, err
	}
	ev := donationevents.NeedClosed{Reason: strings.TrimSpace(reason)}
	if err := ev.Validate(); err != nil {
		return Need{}, err
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: donationevents.KindNeed, ID: id}, Region: s.orgRegion(n.Hospital), Actor: p.PublicActor()}
	if _, err := s.append(ctx, donationevents.TypeNeedClosed, meta, ev, events.ExpectLast(n.LastSeq)); err != nil {
		return Need{}, err
	}
	n, _ = s.State.Need(id)
	return n, nil
}

func (s *Service) orgRegion(id string) events.Region {
	o, _ := s.Org(id)
	return o.Region
}

// PledgeInput pledges a donation.
type PledgeInput struct {
	Need  string                `json:"need"` // "" for the general pool
	Lines []donationevents.Line `json:"lines"`
	Note  string                `json:"note"`
	// DisplayName is how an individual donor appears in public ("" shows
	// 爱心人士, a well-wisher). Organisations appear by their name.
	DisplayName string `json:"display_name"`
}

// Pledge records a donation pledged by a certified organisation (as that
// organisation) or by a signed-in individual.
func (s *Service) Pledge(ctx context.Context, p auth.Principal, in PledgeInput) (Donation, error) {
	if err := auth.Authorize(p, auth.ActDonate, ""); err != nil {
		return Donation{}, err
	}
	var donor donationevents.Party
	region := events.National
	if p.Role == auth.OrgMember {
		o, err := s.member(p, auth.ActDonate, "")
		if err != nil {
			return Donation{}, err
		}
		donor, region = donationevents.Party{Kind: donationevents.PartyOrg, ID: o.ID, Name: o.Name}, o.Region
	} else {
		name := strings.TrimSpace(in.DisplayName)
		if name == "" {
			name = "爱心人士"
		}
		if len([]rune(name)) > 32 {
			return Donation{}, events.Invalid("display_name", "at most 32 characters")
		}
		if strings.ContainsFunc(name, func(r rune) bool { return r >= '0' && r <= '9' }) {
			return Donation{}, events.Invalid("display_name", "a display name is public: no digits (phone or ID numbers)")
		}
		donor = donationevents.Party{Kind: donationevents.PartyPerson, ID: s.Pseudonym(p.Subject), Name: name}
		if p.Scope != "" {
			region = p.Scope
		}
	}
	if in.Need != "" {
		n, ok := s.State.Need(in.Need)
		if !ok {
			return Donation{}, events.Invalid("need", "no need %s", in.Need)
		}
		if !n.Open(s.Now.UTC()) {
			return Donation{}, events.Errorf(events.CodeConflict, "need %s is closed or expired", in.Need)
		}
		if !slices.ContainsFunc(in.Lines, func(l donationevents.Line) bool { return l.Item == n.Line.Item && l.Spec == n.Line.Spec }) {
			return Donation{}, events.Invalid("lines", "need %s asks for %s %s; pledge some of it", in.Need, n.Line.Item, n.Line.Spec)
		}
		region = n.Region
	}
	ev := donationevents.Pledged{Donor: donor, Need: in.Need, Lines: in.Lines, Note: strings.TrimSpace(in.Note)}
	if err := ev.Validate(); err != nil {
		return Donation{}, err
	}
	id := newID("d-")
	meta := events.Meta{Aggregate: events.Aggregate{Kind: donationevents.KindDonation, ID: id}, Region: region, Actor: p.PublicActor()}
	if _, err := s.append(ctx, donationevents.TypePledged, meta, ev, events.ExpectNew()); err != nil {
		return Donation{}, err
	}
	d, _ := s.State.Donation(id)
	return d, nil
}

// donation returns a donation, catching up before "not found".
func (s *Service) donation(ctx context.Context, id string) (Donation, error) {
	d, ok, err := events.Find(ctx, s.Store, s.State, func() (Donation, bool) { return s.State.Donation(id) })
	if err == nil && !ok {
		err = events.Errorf(events.CodeNotFound, "no donation %s", id)
	}
	return d, err
}

// DispatchInput hands lots of a donation over to a named receiver.
type DispatchInput struct {
	To   donationevents.Receiver `json:"to"`
	Lots []donationevents.Lot    `json:"lots"`
	Via  string                  `json:"via"`
}

// Dispatch records a hop: the current holder (the donor for the first hop,
// an organisation that received the donation afterwards) hands lots over.
// It may not hand over more of a lot than it holds of this donation.
func (s *Service) Dispatch(ctx context.Context, p auth.Principal, id string, in DispatchInput) (Donation, error) {
	if err := auth.Authorize(p, auth.ActHandover, ""); err != nil && p.Role != auth.Resident {
		return Donation{}, err
	}
	d, err := s.donation(ctx, id)
	if err != nil {
		return Donation{}, err
	}
	var from donationevents.Party
	switch {
	case p.Role == auth.Resident:
		if d.Donor.Kind != donationevents.PartyPerson || d.Donor.ID != s.Pseudonym(p.Subject) {
			return Donation{}, &events.Error{Code: events.CodeForbidden, Message: "only the holder of a donation dispatches it"}
		}
		from = d.Donor
	default:
		o, err := s.member(p, auth.ActHandover, "")
		if err != nil {
			return Donation{}, err
		}
		from = donationevents.Party{Kind: donationevents.PartyOrg, ID: o.ID, Name: o.Name}
	}
	to, ok := s.Org(in.To.Org)
	if !ok || !to.Approved {
		return Donation{}, events.Invalid("to", "the receiver must be a certified organisation; %q is not", in.To.Org)
	}
	if from.Kind == donationevents.PartyOrg && from.ID == to.ID {
		return Donation{}, events.Invalid("to", "a hop goes to another organisation")
	}
	ev := donationevents.Dispatched{Hop: len(d.Hops) + 1, From: from, To: donationevents.Receiver{Org: to.ID, Unit: strings.TrimSpace(in.To.Unit)}, Lots: in.Lots, Via: strings.TrimSpace(in.Via)}
	if err := ev.Validate(); err != nil {
		return Donation{}, err
	}
	held := s.State.holding(id, holderKey(from))
	if len(held) == 0 {
		return Donation{}, &events.Error{Code: events.CodeForbidden, Message: fmt.Sprintf("%s holds nothing of donation %s", from.Name, id)}
	}
	need := map[lotKey]int64{}
	for _, l := range in.Lots {
		k := lotKey{l.Item, l.Spec, l.Batch}
		if held[k] == 0 {
			k.Batch = "" // the donor's pledge has no batch numbers yet
		}
		need[k] += l.Quantity
	}
	for k, q := range need {
		if held[k] < q {
			return Donation{}, events.Invalid("lots", "%s %s%s: dispatching %d but %s holds %d of this donation", k.Item, k.Spec, batchText(k.Batch), q, from.Name, held[k])
		}
	}
	if from.Kind == donationevents.PartyOrg {
		// What it holds of this donation may have been used since: its
		// stock (all donations, less what it consumed) bounds it too.
		out := map[stockKey]int64{}
		for k, q := range need {
			out[stockKey{from.ID, k.Item, k.Spec}] += q
		}
		for _, st := range s.State.Stock(from.ID) {
			if q := out[stockKey{from.ID, st.Item, st.Spec}]; q > st.OnHand {
				return Donation{}, events.Invalid("lots", "%s %s: dispatching %d but %s has %d on hand (it consumed some)", st.Item, st.Spec, q, from.Name, st.OnHand)
			}
		}
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: donationevents.KindDonation, ID: id}, Region: d.Region, Actor: p.PublicActor()}
	if _, err := s.append(ctx, donationevents.TypeDispatched, meta, ev, events.ExpectLast(d.LastSeq)); err != nil {
		return Donation{}, err
	}
	s.notify(ctx, d, fmt.Sprintf("第%d程已发出: %s", ev.Hop, to.Name))
	d, _ = s.State.Donation(id)
	return d, nil
}

func batchText(b string) string {
	if b == "" {
		return ""
	}
	return " batch " + b
}

// ReceiveInput confirms a hop.
type ReceiveInput struct {
	Lots      []donationevents.Lot `json:"lots"`
	Condition string               `json:"condition"`
	PhotoHash string               `json:"photo_hash"`
	Note      string               `json:"note"`
}

// Confirm records that the named receiver of a hop received it, once.
// More than dispatched is refused; less (or a lot missing) is recorded and
// flagged short.
func (s *Service) Confirm(ctx context.Context, p auth.Principal, id string, hop int, in ReceiveInput) (Donation, error) {
	o, err := s.member(p, auth.ActHandover, "")
	if err != nil {
		return Donation{}, err
	}
	d, err := s.donation(ctx, id)
	if err != nil {
		return Donation{}, err
	}
	if hop < 1 || hop > len(d.Hops) {
		return Donation{}, events.Errorf(events.CodeNotFound, "donation %s has no hop %d", id, hop)
	}
	h := d.Hops[hop-1]
	if h.To.Org != o.ID {
		return Donation{}, &events.Error{Code: events.CodeForbidden, Message: "only the named receiver confirms a hop"}
	}
	if h.Receipt != nil {
		return Donation{}, events.Errorf(events.CodeConflict, "hop %d of donation %s was already confirmed", hop, id)
	}
	sent := map[lotKey]int64{}
	for _, l := range h.Lots {
		sent[lotKey{l.Item, l.Spec, l.Batch}] += l.Quantity
	}
	got := map[lotKey]int64{}
	for _, l := range in.Lots {
		k := lotKey{l.Item, l.Spec, l.Batch}
		if _, ok := sent[k]; !ok {
			return Donation{}, events.Invalid("lots", "%s %s batch %s was not dispatched in hop %d", l.Item, l.Spec, l.Batch, hop)
		}
		if l.Quantity < 0 {
			return Donation{}, events.Invalid("lots", "quantity must not be negative")
		}
		got[k] += l.Quantity
	}
	var flags []string
	for k, q := range sent {
		switch {
		case got[k] > q:
			return Donation{}, events.Invalid("lots", "%s %s batch %s: received %d is more than the %d dispatched; count again or record the surplus as a new donation", k.Item, k.Spec, k.Batch, got[k], q)
		case got[k] < q && !slices.Contains(flags, donationevents.FlagShort):
			flags = append(flags, donationevents.FlagShort)
		}
	}
	ev := donationevents.Received{Hop: hop, Lots: in.Lots, Condition: in.Condition, PhotoHash: strings.ToLower(in.PhotoHash), Flags: flags, Note: strings.TrimSpace(in.Note)}
	if err := ev.Validate(); err != nil {
		return Donation{}, err
	}
	if len(flags) > 0 && len([]rune(ev.Note)) < 2 {
		return Donation{}, events.Invalid("note", "less arrived than was dispatched: say what is missing")
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: donationevents.KindDonation, ID: id}, Region: d.Region, Actor: p.PublicActor()}
	if _, err := s.append(ctx, donationevents.TypeReceived, meta, ev, events.ExpectLast(d.LastSeq)); err != nil {
		return Donation{}, err
	}
	s.notify(ctx, d, fmt.Sprintf("第%d程已签收: %s", hop, o.Name))
	d, _ = s.State.Donation(id)
	return d, nil
}

func (s *Service) notify(ctx context.Context, d Donation, what string) {
	if s.Notify == nil || d.Pledger == "" {
		return
	}
	_ = s.Notify(context.WithoutCancel(ctx), d.Pledger, NoticeHop, map[string]string{
		"thing1": truncate(what, 20), "time2": s.Now.UTC().In(events.China()).Format("2006-01-02 15:04")})
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// ConsumeInput records a day's consumption.
type ConsumeInput struct {
	Item     string `json:"item"`
	Spec     string `json:"spec"`
	Quantity int64  `json:"quantity"`
	Day      string `json:"day"` // YYYY-MM-DD (CST); default today
	Unit     string `json:"unit"`
}

// Consume records what a hospital used; more than its stock is refused.
func (s *Service) Consume(ctx context.Context, p auth.Principal, in ConsumeInput) (Stock, error) {
	o, err := s.member(p, auth.ActHandover, orgs.Hospital)
	if err != nil {
		return Stock{}, err
	}
	today := events.Day(s.Now.UTC())
	if in.Day == "" {
		in.Day = today
	}
	if d, err := time.Parse("2006-01-02", in.Day); err != nil || in.Day > today || d.Before(s.Now.UTC().AddDate(0, 0, -31)) {
		return Stock{}, events.Invalid("day", "must be a day YYYY-MM-DD within the last 30 days")
	}
	ev := donationevents.Consumed{Line: donationevents.Line{Item: in.Item, Spec: in.Spec, Quantity: in.Quantity}, Day: in.Day, Unit: strings.TrimSpace(in.Unit)}
	if err := ev.Validate(); err != nil {
		return Stock{}, err
	}
	var st Stock
	for _, x := range s.State.Stock(o.ID) {
		if x.Item == in.Item && x.Spec == in.Spec {
			st = x
		}
	}
	if in.Quantity > st.OnHand {
		return Stock{}, events.Invalid("quantity", "consuming %d %s %s but only %d are on hand", in.Quantity, in.Item, in.Spec, st.OnHand)
	}
	s.State.mu.RLock()
	last := s.State.stockSeq[o.ID]
	s.State.mu.RUnlock()
	x := events.ExpectNew()
	if last > 0 {
		x = events.ExpectLast(last)
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: donationevents.KindStock, ID: o.ID}, Region: o.Region, Actor: p.PublicActor()}
	if _, err := s.append(ctx, donationevents.TypeConsumed, meta, ev, x); err != nil {
		return Stock{}, err
	}
	for _, x := range s.State.Stock(o.ID) {
		if x.Item == in.Item && x.Spec == in.Spec {
			return x, nil
		}
	}
	return Stock{}, nil
}

// StockOf returns an organisation's stock: its own members, reviewers and
// analysts in scope.
func (s *Service) StockOf(p auth.Principal, org string) ([]Stock, error) {
	o, ok := s.Org(org)
	if !ok {
		return nil, events.Errorf(events.CodeNotFound, "no organisation %s", org)
	}
	if !(p.Role == auth.OrgMember && p.Org == org) {
		if err := auth.Authorize(p, auth.ActDonationSupervise, o.Region); err != nil {
			return nil, err
		}
	}
	out := s.State.Stock(org)
	if out == nil {
		out = []Stock{}
	}
	return out, nil
}

// ReviewInput is a review verdict.
type ReviewInput struct {
	Verdict string `json:"verdict"`
	Note    string `json:"note"`
}

// Review records a review (round 1) or a re-review by a different
// reviewer (round 2) of a donation's use; when they disagree the donation
// is escalated.
func (s *Service) Review(ctx context.Context, p auth.Principal, id string, in ReviewInput) (Donation, error) {
	if err := auth.Authorize(p, auth.ActDonationReview, ""); err != nil {
		return Donation{}, err
	}
	d, err := s.donation(ctx, id)
	if err != nil {
		return Donation{}, err
	}
	if err := auth.Authorize(p, auth.ActDonationReview, d.Region); err != nil && d.Region != events.National {
		return Donation{}, err
	}
	if len(d.Reviews) >= 2 {
		return Donation{}, events.Errorf(events.CodeConflict, "donation %s was already reviewed and re-reviewed", id)
	}
	if len(d.Reviews) == 1 && d.Reviews[0].Reviewer == p.Subject {
		return Donation{}, &events.Error{Code: events.CodeForbidden, Message: "the re-review must be by a different reviewer"}
	}
	ev := donationevents.Reviewed{Round: len(d.Reviews) + 1, Verdict: in.Verdict, Note: strings.TrimSpace(in.Note)}
	if err := ev.Validate(); err != nil {
		return Donation{}, err
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: donationevents.KindDonation, ID: id}, Region: d.Region, Actor: p.PublicActor()}
	rec, err := s.append(ctx, donationevents.TypeReviewed, meta, ev, events.ExpectLast(d.LastSeq))
	if err != nil {
		return Donation{}, err
	}
	if ev.Round == 2 && ev.Verdict != d.Reviews[0].Verdict {
		esc := donationevents.Escalated{Reason: fmt.Sprintf("review %s, re-review %s", d.Reviews[0].Verdict, ev.Verdict)}
		meta.Actor = events.Actor{Role: string(auth.System), ID: "donations"}
		if _, err := s.append(ctx, donationevents.TypeEscalated, meta, esc, events.ExpectLast(rec.Seq)); err != nil {
			return Donation{}, err
		}
	}
	d, _ = s.State.Donation(id)
	return d, nil
}

// Step is one step of a donation's public trace: the event exactly as the
// ledger holds it, and its inclusion proof against the checkpoint.
type Step struct {
	Index    uint64          `json:"index"` // leaf index (ledger sequence - 1)
	Type     string          `json:"type"`
	Time     time.Time       `json:"time"`
	Event    json.RawMessage `json:"event"` // canonical bytes; SHA-256 of 0x00 || these is the leaf hash
	LeafHash string          `json:"leaf_hash"`
	Proof    []string        `json:"proof,omitempty"` // RFC 6962 inclusion proof, base64 hashes
	Sealed   bool            `json:"sealed"`          // false: newer than the checkpoint, no proof yet
}

// Trace is a donation's public trace.
type Trace struct {
	Donation   Donation `json:"donation"`
	Status     string   `json:"status"`
	Checkpoint string   `json:"checkpoint"` // the signed note the proofs are against
	TreeSize   uint64   `json:"tree_size"`
	Steps      []Step   `json:"steps"`
	// Orgs names the organisations the trace mentions, by id.
	Orgs map[string]string `json:"orgs"`
}

// Trace returns the public trace of a donation: every event of it with its
// inclusion proof against the latest signed checkpoint, so that anyone
// holding onebook's verifier key can check that nothing was changed or
// left out. No sign-in is needed; donation events hold no personal data.
func (s *Service) Trace(ctx context.Context, id string) (Trace, error) {
	d, err := s.donation(ctx, id)
	if err != nil {
		return Trace{}, err
	}
	note, size, _, err := s.Prover.Latest(ctx)
	if err != nil && events.ErrorCode(err) != events.CodeNotFound {
		return Trace{}, err
	}
	t := Trace{Donation: d, Status: d.Status(), Checkpoint: string(note), TreeSize: size, Steps: make([]Step, 0, len(d.Seqs)), Orgs: map[string]string{}}
	for _, h := range d.Hops {
		for _, id := range []string{h.To.Org, h.From.ID} {
			if o, ok := s.Org(id); ok {
				t.Orgs[id] = o.Name
			}
		}
	}
	// The steps are read and proven concurrently (a few at a time): each
	// is a ledger read and a few tile reads, mostly waiting on storage.
	t.Steps = make([]Step, len(d.Seqs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, seq := range d.Seqs {
		g.Go(func() error {
			st, err := s.step(gctx, seq, size)
			t.Steps[i] = st
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return Trace{}, err
	}
	return t, nil
}

// step reads the event at seq and proves it in the tree of size (if the
// tree covers it).
func (s *Service) step(ctx context.Context, seq, size uint64) (Step, error) {
	rec, err := s.Store.Read(ctx, seq)
	if err != nil {
		return Step{}, err
	}
	e, err := events.Parse(rec.Raw)
	if err != nil {
		return Step{}, err
	}
	leaf := tlog.RecordHash(rec.Raw)
	st := Step{Index: seq - 1, Type: e.Type, Time: e.Time, Event: rec.Raw, LeafHash: b64(leaf)}
	if seq > size {
		return st, nil
	}
	got, proof, err := s.Prover.ProveInclusion(ctx, seq-1, size)
	if err != nil {
		return Step{}, fmt.Errorf("prove step %d: %w", seq, err)
	}
	if got != leaf {
		return Step{}, &events.Error{Code: events.CodeInternal, Message: "the sealed leaf differs from the stored event", Err: errors.New("leaf mismatch")}
	}
	st.Sealed = true
	for _, h := range proof {
		st.Proof = append(st.Proof, b64(h))
	}
	return st, nil
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

// SuperviseInput filters donations for regulators.
type SuperviseInput struct {
	Org    string        `query:"org"`    // donor, holder or receiver at any hop
	Item   string        `query:"item"`   //
	Region events.Region `query:"region"` // the donation's region
	From   string        `query:"from"`   // pledged on or after (YYYY-MM-DD, CST)
	To     string        `query:"to"`     // pledged on or before
}

// Supervise lists the donations in the regulator's scope matching in.
func (s *Service) Supervise(ctx context.Context, p auth.Principal, in SuperviseInput) ([]Donation, error) {
	region := in.Region
	if region == "" {
		region = p.Scope
	}
	if err := auth.Authorize(p, auth.ActDonationSupervise, region); err != nil {
		return nil, err
	}
	var from, to time.Time
	if in.From != "" {
		t, err := time.ParseInLocation("2006-01-02", in.From, events.China())
		if err != nil {
			return nil, events.Invalid("from", "must be YYYY-MM-DD")
		}
		from = t
	}
	if in.To != "" {
		t, err := time.ParseInLocation("2006-01-02", in.To, events.China())
		if err != nil {
			return nil, events.Invalid("to", "must be YYYY-MM-DD")
		}
		to = t.AddDate(0, 0, 1)
	}
	if in.Item != "" {
		if _, ok := donationevents.LookupItem(in.Item); !ok {
			return nil, events.Invalid("item", "unknown item %q", in.Item)
		}
	}
	if err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	out := s.State.Donations(func(d *Donation) bool {
		if !region.Covers(d.Region) && !(region == events.National) {
			return false
		}
		if (!from.IsZero() && d.Pledged.Before(from)) || (!to.IsZero() && !d.Pledged.Before(to)) {
			return false
		}
		if in.Item != "" && !slices.ContainsFunc(d.Lines, func(l donationevents.Line) bool { return l.Item == in.Item }) {
			return false
		}
		if in.Org != "" && !(d.Donor.Kind == donationevents.PartyOrg && d.Donor.ID == in.Org) &&
			!slices.ContainsFunc(d.Hops, func(h Hop) bool { return h.To.Org == in.Org || h.From.ID == in.Org }) {
			return false
		}
		return true
	})
	if out == nil {
		out = []Donation{}
	}
	return out, nil
}

// append builds, appends and waits until the state has seen the event.
func (s *Service) append(ctx context.Context, typ string, m events.Meta, p events.Payload, x events.Expect) (events.Recorded, error) {
	if m.Time.IsZero() {
		m.Time = s.Now.UTC()
	}
	return events.AppendAndWait(ctx, s.Store, s.Reg, s.State, typ, m, p, x)
}

// catchUp waits until the state has applied everything the ledger held.
func (s *Service) catchUp(ctx context.Context) error {
	return events.CatchUp(ctx, s.Store, s.State)
}
