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
	return snapshots.Restore(b, snapshotVersion, seq, &s.mu, s.pos, func(snap *snapshot) {
		snapshots.FillByID(s.gates, snap.Gates, func(x *Gate) string { return x.ID })
		snapshots.FillByID(s.passes, snap.Passes, func(x *Pass) string { return x.ID })
		snapshots.FillByID(s.visits, snap.Visits, func(x *Visit) string { return x.ID })
		snapshots.FillByID(s.visitors, snap.Visitors, func(x *Visitor) string { return x.ID })
		snapshots.Fill(s.current, snap.Current)
		snapshots.Fill(s.status, snap.Status)
		snapshots.Fill(s.scans, snap.Scans)
		s.sweptAt, s.passesSwept, s.revokedSeq = snap.SweptAt, snap.PassesSwept, snap.RevokedSeq
	})
}
