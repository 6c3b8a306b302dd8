package accounts

import (
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/snapshots/snapshotstest"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/orgs"
)

// TestSnapshotRoundTrip snapshots the accounts state at every point of a
// community's life (households registered and moved, a member transferred
// and taken in, a household erased; staff added, bound, disabled, signed out; an
// organisation registered and approved) and checks each restore against
// the fold (snapshotstest.RoundTrip).
func TestSnapshotRoundTrip(t *testing.T) {
	w := newWorld(t)
	const self, child, other = "11010519491231002X", "110105198001010024", "110105201001010010"
	a, b := w.resident("wx-a"), w.resident("wx-b")
	h := w.register(a, community, self, child)
	w.register(b, community, other)
	pm := w.staff(auth.PropertyManager, community)
	admin := w.staff(auth.Admin, "1101")
	gate := w.staff(auth.GateOperator, community)
	unbound, err := w.acc.AddStaff(w.ctx, admin, StaffInput{Role: string(auth.GateOperator), Scope: community, Label: "夜班"})
	if err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(time.Hour)
	if err := w.acc.SignOutEverywhere(w.ctx, pm); err != nil {
		t.Fatal(err)
	}
	if err := w.acc.DisableStaff(w.ctx, admin, gate.Subject, DisableInput{Reason: "离职"}); err != nil {
		t.Fatal(err)
	}
	org, err := w.acc.RegisterOrg(w.ctx, admin, OrgInput{Kind: orgs.Hospital, Name: "朝阳医院", Region: "110105",
		Licence: "911101056000000000", DocsHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.acc.ApproveOrg(w.ctx, admin, org.ID, "licence checked"); err != nil {
		t.Fatal(err)
	}
	w.register(a, "110105002001", self, child) // a move
	if err := w.acc.ConfirmTransfer(w.ctx, pm, TransferInput{IDNumber: child, To: b.Subject}); err != nil {
		t.Fatal(err)
	}
	// The events as a follower saw them, live: read after the erasure, the
	// registrations sealed to a's persons would no longer open.
	evs := snapshotstest.Events(w.ctx, t, w.acc.Store, w.acc.Reg)
	if err := w.acc.Erase(w.ctx, a); err != nil {
		t.Fatal(err)
	}
	w.register(b, community, other, child) // b takes in the child transferred before
	evs = append(evs, snapshotstest.Events(w.ctx, t, w.acc.Store, w.acc.Reg)[len(evs):]...)

	person := func(id string) func(*State) any {
		return func(s *State) any { p, ok := s.Person(id); return []any{p, ok} }
	}
	reads := snapshotstest.Reads[*State]{
		"Household a": func(s *State) any { r, ok := s.Household(a.Subject); return []any{r, ok} },
		"Household b": func(s *State) any { r, ok := s.Household(b.Subject); return []any{r, ok} },
		"Member child of b": func(s *State) any {
			p, ok := s.Member(b.Subject, h.Members[1].PersonID)
			return []any{p, ok}
		},
		"StaffIn gate operators": func(s *State) any { return s.StaffIn(auth.GateOperator, community) },
		"StaffIn admins":         func(s *State) any { return s.StaffIn(auth.Admin, community) },
		"staff disabled":         func(s *State) any { st, ok := s.staffAccount(gate.Subject); return []any{st, ok} },
		"staff unbound":          func(s *State) any { st, ok := s.staffAccount(unbound.ID); return []any{st, ok} },
		"org":                    func(s *State) any { o, ok := events.Get(&s.mu, s.orgs, org.ID); return []any{o, ok} },
		"signed out": func(s *State) any {
			var at time.Time
			s.read(func() { at = s.signedOut[pm.Subject] })
			return at
		},
	}
	for i, m := range h.Members {
		reads["Person of a, "+string(rune('0'+i))] = person(m.PersonID)
	}
	snapshotstest.RoundTrip(t, evs, NewState, reads)
}
