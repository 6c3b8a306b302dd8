package passes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/access"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/orgs"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/events/staff"
)

const community = events.Region("110105001001")

type world struct {
	t     *testing.T
	ctx   context.Context
	svc   *Service
	acc   *accounts.Service
	vault *fakeVault
	now   time.Time
}

func newWorld(t *testing.T) *world {
	l := natstest.OpenLedger(t, time.Minute)
	js, ctx, st := l.JS, l.Ctx, l.Store
	reg := events.NewRegistry().WithKeyring(events.NewMemoryKeyring())
	passevents.Register(reg)
	residents.Register(reg)
	staff.Register(reg)
	access.Register(reg)
	orgs.Register(reg)
	state, accState := NewState(), accounts.NewState()
	go ledger.Follow(ctx, js, st.Stream(), reg, state)
	go ledger.Follow(ctx, js, st.Stream(), reg, accState)
	w := &world{t: t, ctx: ctx, vault: newFakeVault(), now: time.Now().UTC().Truncate(time.Second)}
	clock := func() time.Time { return w.now }
	w.svc = &Service{Store: st, Reg: reg, State: state, Accounts: accState, Vault: w.vault, Tokens: fakeTokens{}, Risk: []events.Region{"4201"}, Now: clock}
	w.acc = &accounts.Service{Store: st, Reg: reg, State: accState, Vault: w.vault, Passes: w.svc, Now: clock}
	return w
}

func (w *world) resident(openID string) auth.Principal { return w.acc.SignIn(openID) }

func (w *world) staff(role auth.Role, scope events.Region) auth.Principal {
	ns, err := w.acc.AddStaff(w.ctx, auth.Principal{Subject: "ops", Role: auth.System}, accounts.StaffInput{Role: string(role), Scope: scope, Label: "test"})
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := w.acc.BindStaff(w.ctx, "wx-"+ns.ID, ns.InviteCode)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) register(p auth.Principal, ids ...string) accounts.Household {
	in := accounts.RegisterInput{Community: community, Building: "3", Unit: "2-401"}
	for i, id := range ids {
		rel := "self"
		if i > 0 {
			rel = "child"
		}
		in.Members = append(in.Members, accounts.MemberInput{Name: fmt.Sprintf("张%d", i), IDNumber: id, Phone: "13800000000", Relation: rel})
	}
	h, err := w.acc.Register(w.ctx, p, in)
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

func TestResidentFlow(t *testing.T) {
	w := newWorld(t)
	pm := w.staff(auth.PropertyManager, community)
	gate, err := w.svc.RegisterGate(w.ctx, pm, GateInput{Community: community, Name: "东门"})
	if err != nil {
		t.Fatal(err)
	}
	op := w.staff(auth.GateOperator, community)
	res := w.resident("wx-resident-1")
	h := w.register(res, "11010519491231002X", "110105201001010010")
	if len(h.Members) != 2 || h.Members[0].Name != "张0" || h.Members[0].IDNumber != "110105********002X" || h.Members[0].PassID == "" {
		t.Fatalf("household %+v", h)
	}
	res = w.resident("wx-resident-1") // signed in again: now scoped to the community
	if res.Scope != community {
		t.Fatalf("principal %+v", res)
	}
	pass, err := w.svc.Pass(w.ctx, res, h.Members[0].PersonID)
	if err != nil {
		t.Fatal(err)
	}
	scan := func(id, tok, last4 string) (ScanResult, error) {
		return w.svc.Scan(w.ctx, op, ScanInput{ScanID: id, Token: tok, IDLast4: last4, Gate: gate.ID, Direction: passevents.In, ScannedAt: w.now})
	}
	if r, err := scan("s1", pass.Token, "002X"); err != nil || r.Decision != passevents.Allow {
		t.Fatalf("scan: %+v %v", r, err)
	}
	if r, err := scan("s1", pass.Token, ""); !errors.Is(err, events.ErrDuplicate) || r.Decision != "duplicate" {
		t.Fatalf("replayed scan id: %+v %v", r, err)
	}
	if r, _ := scan("s2", pass.Token, "1234"); r.Decision != passevents.Deny || r.Reason != DenyIDMismatch {
		t.Fatalf("wrong last 4: %+v", r)
	}
	flipped := pass.Token[:len(pass.Token)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(pass.Token, "0")]
	if r, _ := scan("s3", flipped, ""); r.Reason != DenyForged {
		t.Fatalf("forged: %+v", r)
	}
	if r, _ := scan("s4", "garbage", ""); r.Reason != DenyMalformed {
		t.Fatalf("malformed: %+v", r)
	}
	// Self check-in at the gate's code.
	if r, err := w.svc.CheckIn(w.ctx, res, CheckInInput{Gate: gate.ID, PersonID: h.Members[0].PersonID, Direction: "out"}); err != nil || r.Decision != passevents.Allow {
		t.Fatalf("check-in: %+v %v", r, err)
	}
	if _, err := w.svc.CheckIn(w.ctx, res, CheckInInput{Gate: gate.ID, PersonID: "p-somebody-else", Direction: "out"}); events.ErrorCode(err) != events.CodeNotFound {
		t.Fatalf("check-in for a stranger: %v", err)
	}
	// Red status revokes the pass, tells the resident, and denies at the gate.
	var notices []accounts.Notice
	w.svc.Notify = func(_ context.Context, n accounts.Notice) { notices = append(notices, n) }
	d, err := w.svc.Declare(w.ctx, res, DeclareInput{PersonID: h.Members[0].PersonID, Temperature: 38.2, Symptoms: []string{"cough"}})
	if err != nil || d.Status != residents.Red {
		t.Fatalf("declare: %+v %v", d, err)
	}
	if len(notices) != 1 || notices[0].Kind != NoticePassRevoked || notices[0].Subject != res.Subject {
		t.Fatalf("revocation not notified: %+v", notices)
	}
	if r, _ := w.svc.CheckIn(w.ctx, res, CheckInInput{Gate: gate.ID, PersonID: h.Members[0].PersonID, Direction: "in"}); r.Reason != DenyRevoked {
		t.Fatalf("check-in after red: %+v", r)
	}
	if r, _ := scan("s5", pass.Token, ""); r.Reason != DenyRevoked {
		t.Fatalf("after red: %+v", r)
	}
	if _, err := w.svc.Pass(w.ctx, res, h.Members[0].PersonID); events.ErrorCode(err) != events.CodeForbidden {
		t.Fatalf("red person got a pass: %v", err)
	}
	// Lost phone: the old token stops working, a new one is issued.
	lost, _ := w.svc.Pass(w.ctx, res, h.Members[1].PersonID)
	if err := w.svc.RevokePass(w.ctx, res, h.Members[1].PersonID); err != nil {
		t.Fatal(err)
	}
	if r, _ := scan("l1", lost.Token, ""); r.Reason != DenyRevoked {
		t.Fatalf("lost phone token: %+v", r)
	}
	fresh, err := w.svc.Pass(w.ctx, res, h.Members[1].PersonID)
	if err != nil || fresh.PassID == lost.PassID {
		t.Fatalf("new pass after loss: %+v %v", fresh, err)
	}
	if r, _ := scan("l2", fresh.Token, ""); r.Decision != passevents.Allow {
		t.Fatalf("new token: %+v", r)
	}
	// Expired token.
	w.now = w.now.Add(48 * time.Hour)
	pass2, err := w.svc.Pass(w.ctx, res, h.Members[1].PersonID) // refreshed: a new pass
	if err != nil {
		t.Fatal(err)
	}
	old, _ := fakeTokens{}.Issue(PassClaims{PassID: pass2.PassID, Community: community, NotBefore: w.now.Add(-72 * time.Hour), NotAfter: w.now.Add(-time.Hour)})
	if r, _ := scan("s6", old, ""); r.Reason != DenyExpired {
		t.Fatalf("expired: %+v", r)
	}
	// A pass of another community.
	gate2, _ := w.svc.RegisterGate(w.ctx, w.staff(auth.PropertyManager, "110105001002"), GateInput{Community: "110105001002", Name: "北门"})
	op2 := w.staff(auth.GateOperator, "110105001002")
	if r, _ := w.svc.Scan(w.ctx, op2, ScanInput{ScanID: "x1", Token: pass2.Token, Gate: gate2.ID, Direction: passevents.In, ScannedAt: w.now}); r.Reason != DenyWrongCommunity {
		t.Fatalf("wrong community: %+v", r)
	}
	// An operator of another community may not scan at this gate at all.
	if _, err := w.svc.Scan(w.ctx, op2, ScanInput{ScanID: "x2", Token: pass2.Token, Gate: gate.ID, Direction: passevents.In, ScannedAt: w.now}); events.ErrorCode(err) != events.CodeForbidden {
		t.Fatalf("out-of-scope operator: %v", err)
	}
	// Moving out: re-registering in another community revokes the old passes.
	moved := w.resident("wx-mover")
	mh := w.register(moved, "110105199002150031")
	moved = w.resident("wx-mover")
	mp, _ := w.svc.Pass(w.ctx, moved, mh.Members[0].PersonID)
	if _, err := w.acc.Register(w.ctx, moved, accounts.RegisterInput{Community: "110105001002", Building: "5", Members: []accounts.MemberInput{{Name: "周九", IDNumber: "110105199002150031", Phone: "13800000000", Relation: "self"}}}); err != nil {
		t.Fatal(err)
	}
	if r, _ := scan("m1", mp.Token, ""); r.Reason != DenyRevoked {
		t.Fatalf("moved-out pass: %+v", r)
	}
	// Erasure: personal data gone, passes revoked.
	if err := w.acc.Erase(w.ctx, res); err != nil {
		t.Fatal(err)
	}
	if _, err := w.acc.Household(w.ctx, res); events.ErrorCode(err) != events.CodeNotFound {
		t.Fatalf("household after erase: %v", err)
	}
	if r, _ := scan("s7", pass2.Token, ""); r.Decision != passevents.Deny {
		t.Fatalf("scan after erase: %+v", r)
	}
}

func TestScanBatch(t *testing.T) {
	w := newWorld(t)
	pm := w.staff(auth.PropertyManager, community)
	gate, _ := w.svc.RegisterGate(w.ctx, pm, GateInput{Community: community, Name: "东门"})
	res := w.resident("wx-2")
	h := w.register(res, "11010519491231002X")
	pass, err := w.svc.Pass(w.ctx, w.resident("wx-2"), h.Members[0].PersonID)
	if err != nil {
		t.Fatal(err)
	}
	var batch []ScanInput
	for i := 0; i < 10; i++ {
		batch = append(batch, ScanInput{ScanID: fmt.Sprintf("b%d", i%8), Token: pass.Token, Gate: gate.ID, Direction: passevents.Out, ScannedAt: w.now.Add(-time.Duration(10-i) * time.Second)})
	}
	batch = append(batch, ScanInput{ScanID: "bad gate", Token: pass.Token, Gate: gate.ID, Direction: passevents.Out, ScannedAt: w.now})
	out, err := w.svc.ScanBatch(w.ctx, pm, batch)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range out {
		counts[r.Decision]++
	}
	if counts[passevents.Allow] != 8 || counts["duplicate"] != 2 || counts["rejected"] != 1 || out[10].Error.Field != "scan_id" {
		t.Fatalf("batch results %v: %+v", counts, out)
	}
	if _, err := w.svc.ScanBatch(w.ctx, pm, make([]ScanInput, MaxBatch+1)); events.ErrorCode(err) != events.CodeTooLarge {
		t.Fatalf("oversized batch: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	w := newWorld(t)
	pm := w.staff(auth.PropertyManager, community)
	gate, _ := w.svc.RegisterGate(w.ctx, pm, GateInput{Community: community, Name: "东门"})
	res := w.resident("wx-3")
	tests := []struct {
		name  string
		do    func() error
		field string
	}{
		{"gate name", func() error { _, err := w.svc.RegisterGate(w.ctx, pm, GateInput{Community: community}); return err }, "name"},
		{"gate community", func() error {
			_, err := w.svc.RegisterGate(w.ctx, pm, GateInput{Community: "1101", Name: "x"})
			return err
		}, "community"},
		{"unknown gate", func() error {
			_, err := w.svc.Scan(w.ctx, pm, ScanInput{ScanID: "a", Token: "t", Gate: "nope", Direction: "in", ScannedAt: w.now})
			return err
		}, "gate"},
		{"direction", func() error {
			_, err := w.svc.Scan(w.ctx, pm, ScanInput{ScanID: "a", Token: "t", Gate: gate.ID, Direction: "up", ScannedAt: w.now})
			return err
		}, "direction"},
		{"future scan", func() error {
			_, err := w.svc.Scan(w.ctx, pm, ScanInput{ScanID: "a", Token: "t", Gate: gate.ID, Direction: "in", ScannedAt: w.now.Add(time.Hour)})
			return err
		}, "scanned_at"},
		{"member id", func() error {
			_, err := w.acc.Register(w.ctx, res, accounts.RegisterInput{Community: community, Building: "1", Members: []accounts.MemberInput{{Name: "a", IDNumber: "1", Phone: "13800000000"}}})
			return err
		}, "members[0].id_number"},
		{"no members", func() error {
			_, err := w.acc.Register(w.ctx, res, accounts.RegisterInput{Community: community, Building: "1"})
			return err
		}, "members"},
		{"temperature", func() error {
			_, err := w.svc.Declare(w.ctx, res, DeclareInput{PersonID: "p", Temperature: 50})
			return err
		}, "temperature"},
		{"staff role", func() error {
			_, err := w.acc.AddStaff(w.ctx, auth.Principal{Subject: "ops", Role: auth.System}, accounts.StaffInput{Role: "king", Scope: "11"})
			return err
		}, "role"},
		{"invite code", func() error { _, err := w.acc.BindStaff(w.ctx, "wx", "NOPE"); return err }, "invite_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			var e *events.Error
			if !errors.As(err, &e) || e.Code != events.CodeInvalid || e.Field != tt.field {
				t.Fatalf("got %v, want invalid %s", err, tt.field)
			}
		})
	}
}

func TestVisits(t *testing.T) {
	w := newWorld(t)
	pm := w.staff(auth.PropertyManager, community)
	gate, _ := w.svc.RegisterGate(w.ctx, pm, GateInput{Community: community, Name: "东门"})
	op := w.staff(auth.GateOperator, community)
	host := w.resident("wx-host")
	w.register(host, "11010519491231002X")
	host = w.resident("wx-host")
	window := VisitInput{Name: "访客甲", IDNumber: "110105198001010024", Phone: "13700137000", From: w.now.Add(-time.Hour), To: w.now.Add(5 * time.Hour)}

	// The host invites: approved at once, the pass opens the gate.
	v, err := w.svc.Invite(w.ctx, host, window)
	if err != nil || v.Status != "approved" || v.Visitor != "访**" {
		t.Fatalf("invite: %+v %v", v, err)
	}
	pass, err := w.svc.VisitPass(w.ctx, host, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.svc.Scan(w.ctx, op, ScanInput{ScanID: "v1", Token: pass.Token, Gate: gate.ID, Direction: "in", ScannedAt: w.now}); err != nil || r.Decision != "allow" {
		t.Fatalf("visitor scan: %+v %v", r, err)
	}
	// After the window the pass no longer works.
	if r, _ := w.svc.Scan(w.ctx, op, ScanInput{ScanID: "v2", Token: pass.Token, Gate: gate.ID, Direction: "in", ScannedAt: w.now.Add(-2 * time.Hour)}); r.Reason != DenyNotYetValid {
		t.Fatalf("before window: %+v", r)
	}

	// A visitor asks, naming the host by phone; pending until decided.
	visitor := w.resident("wx-visitor")
	in := window
	in.Name, in.IDNumber, in.HostPhone = "访客乙", "110105199002150031", "13800000000"
	req, err := w.svc.RequestVisit(w.ctx, visitor, in)
	if err != nil || req.Status != "pending" || req.RequestedBy != "visitor" {
		t.Fatalf("request: %+v %v", req, err)
	}
	if _, err := w.svc.VisitPass(w.ctx, visitor, req.ID); events.ErrorCode(err) != events.CodeConflict {
		t.Fatalf("pass of a pending visit: %v", err)
	}
	pending, err := w.svc.PendingVisits(w.ctx, pm, community)
	if err != nil || len(pending) != 1 || pending[0].ID != req.ID {
		t.Fatalf("pending for the property manager: %+v %v", pending, err)
	}
	// Another community's manager may not decide; a stranger resident sees nothing.
	pmB := w.staff(auth.PropertyManager, "110105001002")
	if _, err := w.svc.DecideVisit(w.ctx, pmB, req.ID, true, ""); events.ErrorCode(err) != events.CodeForbidden {
		t.Fatalf("out-of-scope decision: %v", err)
	}
	if _, err := w.svc.DecideVisit(w.ctx, w.resident("wx-stranger"), req.ID, true, ""); events.ErrorCode(err) != events.CodeNotFound {
		t.Fatalf("stranger decision: %v", err)
	}
	var notices []accounts.Notice
	w.svc.Notify = func(_ context.Context, n accounts.Notice) { notices = append(notices, n) }
	if d, err := w.svc.DecideVisit(w.ctx, pm, req.ID, false, "no room"); err != nil || d.Status != "refused" {
		t.Fatalf("refuse: %+v %v", d, err)
	}
	if len(notices) != 1 || notices[0].Kind != NoticeVisitDecided || notices[0].Subject != visitor.Subject || notices[0].Data["thing1"] == "" {
		t.Fatalf("the visitor was not told: %+v", notices)
	}
	if _, err := w.svc.DecideVisit(w.ctx, host, req.ID, true, ""); events.ErrorCode(err) != events.CodeConflict {
		t.Fatalf("decided twice: %v", err)
	}
	// Bad input.
	bad := window
	bad.To = bad.From.Add(8 * 24 * time.Hour)
	if _, err := w.svc.Invite(w.ctx, host, bad); events.ErrorCode(err) != events.CodeInvalid {
		t.Fatalf("8-day visit: %v", err)
	}
	in.HostPhone = "13999999999"
	if _, err := w.svc.RequestVisit(w.ctx, visitor, in); events.ErrorCode(err) != events.CodeInvalid {
		t.Fatalf("unknown host: %v", err)
	}
}

func TestScanIDsForgottenAfterUploadHorizon(t *testing.T) {
	st := NewState()
	t0 := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	apply := func(seq uint64, at time.Time, id string) {
		st.Apply(events.Recorded{Seq: seq, Event: events.Event{Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: "g"}, Time: at}},
			passevents.Scanned{ScanID: id, Pass: "p", Community: community, Direction: "in", Decision: "allow"})
	}
	apply(1, t0, "old")
	apply(2, t0.Add(2*time.Hour), "recent")
	apply(3, t0.Add(MaxScanAge+3*time.Hour), "new")
	if _, ok := st.scans["g/old"]; ok {
		t.Fatal("a scan id older than the upload horizon is still kept")
	}
	if _, ok := st.scans["g/recent"]; !ok {
		t.Fatal("a scan id inside the horizon was forgotten")
	}
}

func TestScanWaitsForTheStateAfterAStart(t *testing.T) {
	w := newWorld(t)
	op := w.staff(auth.GateOperator, community)
	w.svc.Warm = func() error { return events.Errorf(events.CodeUnavailable, "still reading the ledger") }
	size, _ := w.svc.Store.Size(w.ctx)
	_, err := w.svc.Scan(w.ctx, op, ScanInput{ScanID: "s1", Token: "OB1.garbage", Gate: "g-x", Direction: "in", ScannedAt: w.now})
	if events.ErrorCode(err) != events.CodeUnavailable {
		t.Fatalf("scan while warming: %v", err)
	}
	if after, _ := w.svc.Store.Size(w.ctx); after != size {
		t.Fatalf("a scan was recorded while the state was catching up (%d → %d)", size, after)
	}
}

func TestOnePersonOneHousehold(t *testing.T) {
	w := newWorld(t)
	const self, x, other = "11010519491231002X", "110105198001010024", "110105201001010010"
	a, b := w.resident("wx-a"), w.resident("wx-b")
	w.register(a, self, x)
	in := accounts.RegisterInput{Community: community, Building: "9", Members: []accounts.MemberInput{{Name: "冒名", IDNumber: x, Phone: "13900000000"}}}
	if _, err := w.acc.Register(w.ctx, b, in); events.ErrorCode(err) != events.CodeConflict || !strings.Contains(err.Error(), "members[0].id_number") {
		t.Fatalf("B registering A's member: %v", err)
	}
	// B's erasure cannot reach A's member: B holds nobody.
	if err := w.acc.Erase(w.ctx, b); events.ErrorCode(err) != events.CodeNotFound {
		t.Fatalf("B's erasure: %v", err)
	}
	if h, err := w.acc.Household(w.ctx, a); err != nil || len(h.Members) != 2 {
		t.Fatalf("A's household: %+v %v", h, err)
	}
	// A registers again without x: released, and B may register them.
	w.register(a, self)
	in.Members = append(in.Members, accounts.MemberInput{Name: "他人", IDNumber: other, Phone: "13900000001", Relation: "spouse"})
	if _, err := w.acc.Register(w.ctx, b, in); err != nil {
		t.Fatalf("B registering a released person: %v", err)
	}
	// B's erasure now shreds x and the other, never A's self.
	if err := w.acc.Erase(w.ctx, b); err != nil {
		t.Fatal(err)
	}
	if h, err := w.acc.Household(w.ctx, a); err != nil || len(h.Members) != 1 || h.Members[0].IDNumber == "(erased)" {
		t.Fatalf("A's household after B's erasure: %+v %v", h, err)
	}
}
