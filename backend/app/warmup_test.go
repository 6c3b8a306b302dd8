package app

import (
	"testing"

	"github.com/onebook/onebook/events"
)

type seqAt uint64

func (s *seqAt) Seq() uint64                                 { return uint64(*s) }
func (s *seqAt) Apply(rec events.Recorded, _ events.Payload) {}

func TestWarmup(t *testing.T) {
	a, b := seqAt(0), seqAt(0)
	w := &warmup{size: 10, states: events.Fanout{&a, &b}}
	steps := []struct {
		a, b  uint64
		ready bool
	}{
		{0, 0, false},
		{10, 3, false}, // one state still behind
		{10, 10, true}, // both read the ledger as it was at start
		{10, 10, true}, // and it stays ready
		{10, 10, true},
	}
	for i, s := range steps {
		a, b = seqAt(s.a), seqAt(s.b)
		if got := w.Ready(); got != s.ready {
			t.Fatalf("step %d: ready %v, want %v", i, got, s.ready)
		}
		if err := w.Check(); (err == nil) != s.ready || (err != nil && events.ErrorCode(err) != events.CodeUnavailable) {
			t.Fatalf("step %d: check %v", i, err)
		}
	}
	// Latched: a state that (say) restarts its follow does not make the
	// replica unready again.
	a = 0
	if !w.Ready() {
		t.Error("ready went back to false")
	}
}
