package donations

import (
	"cmp"

	"github.com/onebook/onebook/backend/snapshots"
)

// snapshotVersion is the format of the donation state's snapshot.
const snapshotVersion = 1

// snapshot mirrors State in exported fields, maps as sorted entries.
type snapshot struct {
	Needs     []Need
	Donations []donationSnapshot
	Consumed  []snapshots.Entry[stockKey, int64]
	Daily     []snapshots.Entry[stockKey, []snapshots.Entry[string, int64]]
	StockSeq  []snapshots.Entry[string, uint64]
}

type donationSnapshot struct {
	Donation Donation
	Holdings []snapshots.Entry[string, []snapshots.Entry[lotKey, int64]]
}

func compareLot(a, b lotKey) int {
	return cmp.Or(cmp.Compare(a.Item, b.Item), cmp.Compare(a.Spec, b.Spec), cmp.Compare(a.Batch, b.Batch))
}

func compareStock(a, b stockKey) int {
	return cmp.Or(cmp.Compare(a.Org, b.Org), cmp.Compare(a.Item, b.Item), cmp.Compare(a.Spec, b.Spec))
}

// Snapshot encodes the state and the ledger sequence it covers, read under
// the read lock so that the two agree.
func (s *State) Snapshot() ([]byte, uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap := snapshot{Needs: snapshots.Values(s.needs), Consumed: snapshots.SortedFunc(s.consumed, compareStock),
		StockSeq: snapshots.Sorted(s.stockSeq)}
	for _, e := range snapshots.SortedFunc(s.daily, compareStock) {
		snap.Daily = append(snap.Daily, snapshots.Entry[stockKey, []snapshots.Entry[string, int64]]{K: e.K, V: snapshots.Sorted(e.V)})
	}
	for _, e := range snapshots.Sorted(s.donations) {
		d := donationSnapshot{Donation: *e.V}
		for _, h := range snapshots.Sorted(e.V.holdings) {
			d.Holdings = append(d.Holdings, snapshots.Entry[string, []snapshots.Entry[lotKey, int64]]{K: h.K, V: snapshots.SortedFunc(h.V, compareLot)})
		}
		d.Donation.holdings = nil
		snap.Donations = append(snap.Donations, d)
	}
	b, err := snapshots.Encode(snapshotVersion, snap)
	return b, s.pos.Seq(), err
}

// Restore replaces an empty state with a snapshot covering the ledger up
// to seq; it is called before the state follows the ledger.
func (s *State) Restore(b []byte, seq uint64) error {
	return snapshots.Restore(b, snapshotVersion, seq, &s.mu, s.pos, func(snap *snapshot) {
		snapshots.FillByID(s.needs, snap.Needs, func(x *Need) string { return x.ID })
		for _, ds := range snap.Donations {
			d := ds.Donation
			d.holdings = map[string]map[lotKey]int64{}
			for _, h := range ds.Holdings {
				m := map[lotKey]int64{}
				for _, l := range h.V {
					m[l.K] = l.V
				}
				d.holdings[h.K] = m
			}
			s.donations[d.ID] = &d
		}
		snapshots.Fill(s.consumed, snap.Consumed)
		for _, e := range snap.Daily {
			m := map[string]int64{}
			for _, x := range e.V {
				m[x.K] = x.V
			}
			s.daily[e.K] = m
		}
		snapshots.Fill(s.stockSeq, snap.StockSeq)
	})
}
