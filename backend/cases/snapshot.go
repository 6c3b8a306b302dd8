package cases

import "github.com/onebook/onebook/backend/snapshots"

// snapshotVersion is the format of the case state's snapshot.
const snapshotVersion = 1

// snapshot mirrors State in exported fields.
type snapshot struct {
	Cards []Card
}

// Snapshot encodes the state and the ledger sequence it covers, read under
// the read lock so that the two agree.
func (s *State) Snapshot() ([]byte, uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := snapshots.Encode(snapshotVersion, snapshot{Cards: snapshots.Values(s.cards)})
	return b, s.pos.Seq(), err
}

// Restore replaces an empty state with a snapshot covering the ledger up
// to seq; it is called before the state follows the ledger.
func (s *State) Restore(b []byte, seq uint64) error {
	return snapshots.Restore(b, snapshotVersion, seq, &s.mu, s.pos, func(snap *snapshot) {
		snapshots.FillByID(s.cards, snap.Cards, func(x *Card) string { return x.ID })
	})
}
