package passes

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/snapshots/snapshotstest"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
)

// TestSnapshotRoundTrip snapshots the pass state at every point of a
// gate's day (gates registered, a household's passes, scans allowed and
// denied, a red declaration, a lost phone's pass revoked and reissued, an
// invited visitor scanned, a visit refused, a household erased) and checks
// each restore against the fold (snapshotstest.RoundTrip).
func TestSnapshotRoundTrip(t *testing.T) {
	w := newWorld(t)
	pm := w.staff(auth.PropertyManager, community)
	gate, err := w.svc.RegisterGate(w.ctx, pm, GateInput{Community: community, Name: "东门"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RegisterGate(w.ctx, pm, GateInput{Community: community, Name: "西门"}); err != nil {
		t.Fatal(err)
	}
	op := w.staff(auth.GateOperator, community)
	res := w.resident("wx-resident-1")
	h := w.register(res, "11010519491231002X", "110105201001010010")
	res = w.resident("wx-resident-1")
	self, child := h.Members[0].PersonID, h.Members[1].PersonID
	scan := func(id, tok string, dir string) {
		t.Helper()
		if _, err := w.svc.Scan(w.ctx, op, ScanInput{ScanID: id, Token: tok, Gate: gate.ID, Direction: dir, ScannedAt: w.now}); err != nil {
			t.Fatal(err)
		}
	}
	pass, err := w.svc.Pass(w.ctx, res, self)
	if err != nil {
		t.Fatal(err)
	}
	scan("s1", pass.Token, passevents.Out)
	w.now = w.now.Add(2 * time.Hour)
	scan("s2", pass.Token, passevents.In)
	scan("s3", "OB1.garbage", passevents.In) // a denial
	if _, err := w.svc.Declare(w.ctx, res, DeclareInput{PersonID: self, Temperature: 38.2, Symptoms: []string{"cough"}}); err != nil {
		t.Fatal(err)
	}
	scan("s4", pass.Token, passevents.Out) // denied: revoked
	if err := w.svc.RevokePass(w.ctx, res, child); err != nil {
		t.Fatal(err)
	}
	reissued, err := w.svc.Pass(w.ctx, res, child)
	if err != nil {
		t.Fatal(err)
	}
	scan("s5", reissued.Token, passevents.Out)

	window := VisitInput{Name: "访客甲", IDNumber: "110105198001010024", Phone: "13700137000", From: w.now.Add(-time.Hour), To: w.now.Add(5 * time.Hour)}
	invited, err := w.svc.Invite(w.ctx, res, window)
	if err != nil {
		t.Fatal(err)
	}
	vp, err := w.svc.VisitPass(w.ctx, res, invited.ID)
	if err != nil {
		t.Fatal(err)
	}
	scan("v1", vp.Token, passevents.In)
	in := window
	in.Name, in.IDNumber, in.HostPhone = "访客乙", "110105199002150031", "13800000000"
	asked, err := w.svc.RequestVisit(w.ctx, w.resident("wx-visitor"), in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.DecideVisit(w.ctx, pm, asked.ID, false, "no room"); err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(time.Hour)
	if err := w.acc.Erase(w.ctx, res); err != nil {
		t.Fatal(err)
	}

	visit := func(id string) func(*State) any {
		return func(s *State) any { v, ok := events.Get(&s.mu, s.visits, id); return []any{v, ok} }
	}
	standing := func(person string) func(*State) any {
		return func(s *State) any { status, p := s.Standing(person); return []any{status, p} }
	}
	reads := snapshotstest.Reads[*State]{
		"Gates":          func(s *State) any { return s.Gates(community) },
		"Standing self":  standing(self),
		"Standing child": standing(child),
		"Revoked": func(s *State) any {
			ps, seq := s.Revoked(w.now)
			slices.SortFunc(ps, func(a, b Pass) int { return strings.Compare(a.ID, b.ID) }) // a map's order
			return []any{ps, seq}
		},
		"RevokedSeq":    func(s *State) any { return s.RevokedSeq() },
		"visit invited": visit(invited.ID),
		"visit refused": visit(asked.ID),
		"Visitor invited": func(s *State) any {
			v, _ := events.Get(&s.mu, s.visits, invited.ID)
			x, ok := s.Visitor(v.Visitor)
			return []any{x, ok}
		},
		"scan ids": func(s *State) any {
			var ids []string
			s.read(func() {
				for k := range s.scans {
					ids = append(ids, k)
				}
			})
			slices.Sort(ids)
			return ids
		},
	}
	snapshotstest.RoundTrip(t, snapshotstest.Events(w.ctx, t, w.svc.Store, w.svc.Reg), NewState, reads)
}
