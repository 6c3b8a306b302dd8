package accounts

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/orgs"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/events/staff"
)

const community = events.Region("110105001001")

// recordingPasses stands in for the pass service: it records what the
// accounts service asks of it, as "issue <person> <community>" and
// "release <person> <community>", and answers with real pass events,
// which the accounts service records with its own.
type recordingPasses struct {
	mu    sync.Mutex
	calls []string
	fixed bool // a person's pass id is always the same: a second one is refused
}

func (r *recordingPasses) Issuing(actor events.Actor, person string, c events.Region) events.Draft {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("issue %s %s", person, c))
	now, id := time.Now().UTC(), events.NewID()
	if r.fixed {
		id = "pass-of-" + person
	}
	return events.Draft{Type: passevents.TypeIssued, Expect: events.ExpectNew(),
		Meta:    events.Meta{Aggregate: events.Aggregate{Kind: passevents.KindPass, ID: id}, Region: c, Actor: actor, SealTo: person},
		Payload: passevents.Issued{Holder: person, HolderOf: passevents.HolderResident, Community: c, NotBefore: now, NotAfter: now.Add(time.Hour)}}
}

func (r *recordingPasses) Releasing(actor events.Actor, person string, c events.Region) (events.Draft, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("release %s %s", person, c))
	return events.Draft{Type: passevents.TypeRevoked, Expect: events.ExpectAny(),
		Meta:    events.Meta{Aggregate: events.Aggregate{Kind: passevents.KindPass, ID: "pass-of-" + person}, Region: community, Actor: actor, SealTo: person},
		Payload: passevents.Revoked{Reason: passevents.ReasonMovedOut}}, true
}

func (r *recordingPasses) Standing(string) (string, string) { return "", "" }

func (r *recordingPasses) WaitFor(context.Context, uint64) error { return nil }

// take returns the calls recorded since the last take.
func (r *recordingPasses) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

type world struct {
	t      *testing.T
	ctx    context.Context
	acc    *Service
	passes *recordingPasses
	now    time.Time
}

// newWorld runs the accounts service on an embedded NATS server with the
// real vault of personal data.
func newWorld(t *testing.T) *world {
	l := natstest.OpenLedger(t, time.Minute)
	js, ctx, st := l.JS, l.Ctx, l.Store
	key := func(s string) []byte { k := sha256.Sum256([]byte(s)); return k[:] }
	vault, err := personal.OpenVault(ctx, js, personal.VaultConfig{MasterKey: key("master"), IndexKey: key("index")})
	if err != nil {
		t.Fatal(err)
	}
	reg := events.NewRegistry().WithKeyring(vault)
	residents.Register(reg)
	staff.Register(reg)
	orgs.Register(reg)
	passevents.Register(reg)
	state := NewState()
	go ledger.Follow(ctx, js, st.Stream(), reg, state)
	w := &world{t: t, ctx: ctx, passes: &recordingPasses{}, now: time.Now().UTC().Truncate(time.Second)}
	w.acc = &Service{Store: st, Reg: reg, State: state, Vault: PersonalVault(vault), Passes: w.passes, Now: func() time.Time { return w.now }}
	return w
}

func (w *world) resident(openID string) auth.Principal { return w.acc.SignIn(openID) }

func (w *world) staff(role auth.Role, scope events.Region) auth.Principal {
	ns, err := w.acc.AddStaff(w.ctx, auth.Principal{Subject: "ops", Role: auth.System}, StaffInput{Role: string(role), Scope: scope, Label: "test"})
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := w.acc.BindStaff(w.ctx, "wx-"+ns.ID, ns.InviteCode)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) register(p auth.Principal, c events.Region, ids ...string) Household {
	w.t.Helper()
	in := RegisterInput{Community: c, Building: "3", Unit: "2-401"}
	for i, id := range ids {
		in.Members = append(in.Members, MemberInput{Name: []string{"张三", "张小明", "李四"}[i], IDNumber: id, Phone: fmt.Sprintf("1380000000%d", i), Relation: []string{"self", "child", "spouse"}[i]})
	}
	h, err := w.acc.Register(w.ctx, p, in)
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

// TestHouseholdsAndPasses checks what the accounts service asks of the
// pass service: members get passes in their community, and lose the
// passes of a community they leave, and only the persons a household holds
// are released (and shredded) by its erasure.
func TestHouseholdsAndPasses(t *testing.T) {
	w := newWorld(t)
	const self, child, other = "11010519491231002X", "110105198001010024", "110105201001010010"
	const elsewhere = events.Region("110105002001")
	a, b := w.resident("wx-a"), w.resident("wx-b")
	h := w.register(a, community, self, child)
	pSelf, pChild := h.Members[0].PersonID, h.Members[1].PersonID
	if got, want := w.passes.take(), []string{"issue " + pSelf + " " + string(community), "issue " + pChild + " " + string(community)}; !slices.Equal(got, want) {
		t.Fatalf("registration: %q, want %q", got, want)
	}
	if h.Members[0].Name != "张三" || h.Members[1].IDNumber == child || !strings.HasSuffix(h.Members[1].IDNumber, "0024") {
		t.Fatalf("household as its resident sees it: %+v", h.Members)
	}
	// Moving: the old community's passes are released, new ones issued.
	w.register(a, elsewhere, self, child)
	want := []string{"release " + pSelf + " " + string(community), "release " + pChild + " " + string(community),
		"issue " + pSelf + " " + string(elsewhere), "issue " + pChild + " " + string(elsewhere)}
	if got := w.passes.take(); !slices.Equal(got, want) {
		t.Fatalf("move: %q, want %q", got, want)
	}
	// A transfer confirmed by B's property manager releases the child's
	// pass of A's community.
	w.register(b, community, other)
	w.passes.take()
	pm := w.staff(auth.PropertyManager, community)
	pmElsewhere := w.staff(auth.PropertyManager, "110105009")
	if err := w.acc.ConfirmTransfer(w.ctx, pmElsewhere, TransferInput{IDNumber: child, To: b.Subject}); events.ErrorCode(err) != events.CodeNotFound {
		t.Fatalf("a property manager of another community: %v", err)
	}
	if err := w.acc.ConfirmTransfer(w.ctx, pm, TransferInput{IDNumber: child, To: b.Subject}); err != nil {
		t.Fatal(err)
	}
	if got, want := w.passes.take(), []string{"release " + pChild + " " + string(elsewhere)}; !slices.Equal(got, want) {
		t.Fatalf("transfer: %q, want %q", got, want)
	}
	// A's erasure releases and shreds only whom A still holds.
	if err := w.acc.Erase(w.ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, want := w.passes.take(), []string{"release " + pSelf + " "}; !slices.Equal(got, want) {
		t.Fatalf("erasure: %q, want %q", got, want)
	}
	if per, ok := w.acc.State.Person(pChild); !ok || per.Erased || per.Resident != "" {
		t.Fatalf("the transferred child after A's erasure: %+v", per)
	}
	if _, err := w.acc.Household(w.ctx, a); events.ErrorCode(err) != events.CodeNotFound {
		t.Fatalf("an erased household: %v", err)
	}
	// B registers the child, whose data A's erasure did not destroy.
	w.register(b, community, other, child)
	if _, err := w.acc.Household(w.ctx, b); err != nil {
		t.Fatalf("B's household with the child: %v", err)
	}
}

// TestRegistrationIsOneBatch checks that a registration and its members'
// passes are recorded together, at consecutive sequences, or not at all.
func TestRegistrationIsOneBatch(t *testing.T) {
	w := newWorld(t)
	const self, child = "11010519491231002X", "110105198001010024"
	w.passes.fixed = true
	a := w.resident("wx-a")
	tail := func() []string {
		n, err := w.acc.Store.Size(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for seq := uint64(1); seq <= n; seq++ {
			r, err := w.acc.Store.Read(w.ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			types = append(types, r.Event.Type)
		}
		return types
	}
	w.register(a, community, self, child)
	one := []string{residents.TypeRegistered, passevents.TypeIssued, passevents.TypeIssued}
	if got := tail(); !slices.Equal(got, one) {
		t.Fatalf("ledger after a registration: %q, want %q", got, one)
	}
	w.passes.take()

	// Registered again, the household is as expected but the passes
	// cannot be recorded (the fake issues the same pass ids again, which
	// expect to be new): none of it, registration or passes, is recorded.
	in := RegisterInput{Community: community, Building: "4", Unit: "1-101", Members: []MemberInput{
		{Name: "张三", IDNumber: self, Phone: "13800000000", Relation: "self"}, {Name: "张小明", IDNumber: child, Phone: "13800000001", Relation: "child"}}}
	if _, err := w.acc.Register(w.ctx, a, in); events.ErrorCode(err) != events.CodeConflict {
		t.Fatalf("registration whose passes are refused: %v, want conflict", err)
	}
	if got := tail(); !slices.Equal(got, one) {
		t.Fatalf("ledger after the refused registration: %q, want %q", got, one)
	}
	if h, err := w.acc.Household(w.ctx, a); err != nil || h.Building != "3" {
		t.Fatalf("household after the refused registration: %+v %v", h, err)
	}
}

func TestStaffLifecycle(t *testing.T) {
	w := newWorld(t)
	sys := auth.Principal{Subject: "ops", Role: auth.System}
	// An invite code expires, and works once.
	old, err := w.acc.AddStaff(w.ctx, sys, StaffInput{Role: string(auth.GateOperator), Scope: community, Label: "old"})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := w.acc.AddStaff(w.ctx, sys, StaffInput{Role: string(auth.GateOperator), Scope: community, Label: "fresh"})
	if err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(InviteTTL - time.Minute)
	op, err := w.acc.BindStaff(w.ctx, "wx-fresh", fresh.InviteCode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.acc.BindStaff(w.ctx, "wx-thief", fresh.InviteCode); events.ErrorCode(err) != events.CodeInvalid {
		t.Errorf("a used invite code bound again: %v", err)
	}
	w.now = w.now.Add(2 * time.Minute)
	if _, err := w.acc.BindStaff(w.ctx, "wx-old", old.InviteCode); events.ErrorCode(err) != events.CodeInvalid || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired invite code: %v", err)
	}
	issued := w.now
	if err := w.acc.SessionValid(op, issued); err != nil {
		t.Fatalf("a fresh session: %v", err)
	}
	// Disabling: an admin of another region cannot, one in scope can; the
	// session stops at once.
	adminElsewhere := w.staff(auth.Admin, "4201")
	admin := w.staff(auth.Admin, "11")
	tests := []struct {
		name string
		p    auth.Principal
		id   string
		in   DisableInput
		want events.Code
	}{
		{"the operator itself", op, op.Subject, DisableInput{Reason: "离职"}, events.CodeForbidden},
		{"an admin out of scope", adminElsewhere, op.Subject, DisableInput{Reason: "离职"}, events.CodeNotFound},
		{"no reason", admin, op.Subject, DisableInput{}, events.CodeInvalid},
		{"no such account", admin, "s-nobody", DisableInput{Reason: "离职"}, events.CodeNotFound},
	}
	for _, tc := range tests {
		if err := w.acc.DisableStaff(w.ctx, tc.p, tc.id, tc.in); events.ErrorCode(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	if err := w.acc.DisableStaff(w.ctx, admin, op.Subject, DisableInput{Reason: "离职"}); err != nil {
		t.Fatal(err)
	}
	if err := w.acc.SessionValid(op, issued); events.ErrorCode(err) != events.CodeUnauthorized {
		t.Errorf("a disabled account's session: %v", err)
	}
	if err := w.acc.DisableStaff(w.ctx, admin, op.Subject, DisableInput{Reason: "again"}); events.ErrorCode(err) != events.CodeConflict {
		t.Errorf("disabled twice: %v", err)
	}
	if p := w.acc.SignIn("wx-fresh"); p.Role == auth.GateOperator {
		t.Errorf("a disabled account signs in as %s", p.Role)
	}
	// Signing out everywhere voids the sessions issued until then.
	res := w.resident("wx-resident")
	before := w.now
	w.now = w.now.Add(time.Second)
	if err := w.acc.SignOutEverywhere(w.ctx, res); err != nil {
		t.Fatal(err)
	}
	if err := w.acc.SessionValid(res, before); events.ErrorCode(err) != events.CodeUnauthorized {
		t.Errorf("a session from before the sign-out: %v", err)
	}
	if err := w.acc.SessionValid(res, w.now.Add(time.Nanosecond)); err != nil {
		t.Errorf("a session from after the sign-out: %v", err)
	}
}
