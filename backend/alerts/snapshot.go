package alerts

import (
	"cmp"

	"github.com/onebook/onebook/backend/snapshots"
	"github.com/onebook/onebook/events/caseevents"
)

// snapshotVersion is the format of the engine's snapshot.
const snapshotVersion = 1

// snapshot mirrors Engine in exported fields, maps as sorted entries.
type snapshot struct {
	Rules   []Rule
	Series  []seriesSnapshot
	Alerts  []Alert
	Open    []snapshots.Entry[string, string]
	Pending []Signal
	Cards   []snapshots.Entry[string, caseevents.Counted]
	Origin  int32
	Begun   bool
}

type seriesSnapshot struct {
	Key    Key
	Counts []snapshots.Entry[int32, float64]
	Cases  []snapshots.Entry[int32, []string]
}

func compareKey(a, b Key) int {
	return cmp.Or(cmp.Compare(a.Target, b.Target), cmp.Compare(a.Code, b.Code), cmp.Compare(a.Region, b.Region))
}

// Snapshot encodes the engine and the ledger sequence it covers, read
// under the read lock so that the two agree.
func (en *Engine) Snapshot() ([]byte, uint64, error) {
	en.mu.RLock()
	defer en.mu.RUnlock()
	snap := snapshot{Rules: snapshots.Values(en.rules), Alerts: snapshots.Values(en.alerts), Open: snapshots.Sorted(en.open),
		Pending: snapshots.Values(en.pending), Cards: snapshots.Sorted(en.cards), Origin: en.origin, Begun: en.begun}
	for _, e := range snapshots.SortedFunc(en.series, compareKey) {
		snap.Series = append(snap.Series, seriesSnapshot{Key: e.K, Counts: snapshots.Sorted(e.V.counts), Cases: snapshots.Sorted(e.V.cases)})
	}
	b, err := snapshots.Encode(snapshotVersion, snap)
	return b, en.pos.Seq(), err
}

// Restore replaces an empty engine with a snapshot covering the ledger up
// to seq; it is called before the engine follows the ledger.
func (en *Engine) Restore(b []byte, seq uint64) error {
	return snapshots.Restore(b, snapshotVersion, seq, &en.mu, en.pos, func(snap *snapshot) {
		for _, r := range snap.Rules {
			en.rules[r.ID] = &r
		}
		for _, a := range snap.Alerts {
			en.alerts[a.ID] = &a
		}
		for _, s := range snap.Pending {
			en.pending[s.AlertID] = &s
		}
		for _, e := range snap.Open {
			en.open[e.K] = e.V
		}
		for _, e := range snap.Cards {
			en.cards[e.K] = e.V
		}
		for _, ss := range snap.Series {
			s := &series{counts: map[int32]float64{}, cases: map[int32][]string{}}
			for _, c := range ss.Counts {
				s.counts[c.K] = c.V
			}
			for _, c := range ss.Cases {
				s.cases[c.K] = c.V
			}
			en.series[ss.Key] = s
		}
		en.origin, en.begun = snap.Origin, snap.Begun
	})
}
