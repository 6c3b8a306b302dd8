package events

import (
	"slices"
	"sync"
	"testing"
)

// applied is a state that records the sequences it applied, skipping those
// it has (the Applier contract), from a starting sequence as if restored
// from a snapshot.
type applied struct {
	mu   sync.Mutex
	pos  *Position
	seqs []uint64
}

func newApplied(from uint64) *applied {
	a := &applied{}
	a.pos = NewPosition(&a.mu, "test")
	a.pos.Restore(from)
	return a
}

func (a *applied) Seq() uint64 { return a.pos.Seq() }

func (a *applied) Apply(rec Recorded, _ Payload) {
	a.pos.Fold(rec.Seq, func() {
		if a.mu.TryLock() {
			panic("Fold runs apply without the state's lock")
		}
		a.seqs = append(a.seqs, rec.Seq)
	})
}

func TestFanout(t *testing.T) {
	tests := []struct {
		name    string
		from    []uint64 // where each state starts
		seq     uint64   // the fanout's Seq before applying
		applyTo uint64   // events 1..applyTo are applied through the fanout
	}{
		{"empty states", []uint64{0, 0, 0}, 0, 4},
		{"restored at different sequences", []uint64{3, 0, 5}, 0, 6},
		{"all ahead of the events", []uint64{7, 7}, 7, 6},
		{"one state", []uint64{2}, 2, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Fanout
			var states []*applied
			for _, from := range tt.from {
				a := newApplied(from)
				states = append(states, a)
				f = append(f, a)
			}
			if got := f.Seq(); got != tt.seq {
				t.Fatalf("Seq = %d, want %d", got, tt.seq)
			}
			for seq := f.Seq() + 1; seq <= tt.applyTo; seq++ {
				f.Apply(Recorded{Seq: seq}, nil)
			}
			for i, a := range states {
				var want []uint64
				for seq := tt.from[i] + 1; seq <= tt.applyTo; seq++ {
					want = append(want, seq)
				}
				if !slices.Equal(a.seqs, want) {
					t.Errorf("state %d (from %d) applied %v, want %v", i, tt.from[i], a.seqs, want)
				}
			}
			if want := max(tt.applyTo, slices.Min(tt.from)); f.Seq() != want {
				t.Errorf("Seq after = %d, want %d", f.Seq(), want)
			}
		})
	}
	if (Fanout{}).Seq() != 0 {
		t.Error("an empty fanout's Seq is not 0")
	}
}
