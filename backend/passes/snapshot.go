package passes

import (
	"time"

	"github.com/onebook/onebook/backend/snapshots"
)

// snapshotVersion is the format of the pass state's snapshot.
const snapshotVersion = 1

// snapshot mirrors State in exported fields, maps as sorted entries.
type snapshot struct {
	Gates       []Gate
	Passes      []Pass
	Current     []snapshots.Entry[string, string]
	Status      []snapshots.Entry[string, string]
	Scans       []snapshots.Entry[string, time.Time]
	SweptAt     time.Time
	PassesSwept time.Time
	Visits      []Visit
	Visitors    []Visitor
	RevokedSeq  uint64
}

// Snapshot encodes the state and the ledger sequence it covers, read under
// the read lock so that the two agree.
func (s *State) Snapshot() ([]byte, uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := snapshots.Encode(snapshotVersion, snapshot{
		Gates: snapshots.Values(s.gates), Passes: snapshots.Values(s.passes),
		Current: snapshots.Sorted(s.current), Status: snapshots.Sorted(s.status), Scans: snapshots.Sorted(s.scans),
		SweptAt: s.sweptAt, PassesSwept: s.passesSwept,
		Visits: snapshots.Values(s.visits), Visitors: snapshots.Values(s.visitors), RevokedSeq: s.revokedSeq,
	})
	return b, s.pos.Seq(), err
}

// Restore replaces an empty state with a snapshot covering the ledger up
// to seq; it is called before the state follows the ledger.
func (s *State) Restore(b []byte, seq uint64) error {
	var snap snapshot
	if err := snapshots.Decode(b, snapshotVersion, &snap); err != nil {
		return err
	}
	s.mu.Lock()
	for _, g := range snap.Gates {
		s.gates[g.ID] = &g
	}
	for _, p := range snap.Passes {
		s.passes[p.ID] = &p
	}
	for _, v := range snap.Visits {
		s.visits[v.ID] = &v
	}
	for _, v := range snap.Visitors {
		s.visitors[v.ID] = &v
	}
	for _, e := range snap.Current {
		s.current[e.K] = e.V
	}
	for _, e := range snap.Status {
		s.status[e.K] = e.V
	}
	for _, e := range snap.Scans {
		s.scans[e.K] = e.V
	}
	s.sweptAt, s.passesSwept, s.revokedSeq = snap.SweptAt, snap.PassesSwept, snap.RevokedSeq
	s.mu.Unlock()
	s.pos.Restore(seq)
	return nil
}
