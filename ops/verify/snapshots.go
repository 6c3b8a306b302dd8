package verify

import (
	"bytes"
	"context"
	"fmt"

	"github.com/onebook/onebook/backend/snapshots"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
)

// State is an in-memory decision state that snapshots itself
// (backend/app.Snapshotter).
type State interface {
	events.Applier
	Snapshot() ([]byte, uint64, error)
}

// SnapshotCheck is the verdict on one stored snapshot.
type SnapshotCheck struct {
	Name    string `json:"name"`
	Seq     uint64 `json:"seq"`
	Problem string `json:"problem,omitempty"` // "" when it equals a fresh fold
}

// OK reports whether the snapshot equals a fresh fold.
func (c SnapshotCheck) OK() bool { return c.Problem == "" }

// Snapshots checks the latest snapshot of each state against a fresh fold
// of the ledger up to the sequence it covers: fresh returns an empty state
// for a snapshot's name. The states are folded together in one read of
// the ledger, each up to its own snapshot's sequence; size is the ledger's.
func Snapshots(ctx context.Context, store *ledger.Store, reg *events.Registry, snaps *snapshots.Store, fresh func(name string) (State, bool), size uint64) ([]SnapshotCheck, error) {
	names, err := snaps.Names(ctx)
	if err != nil {
		return nil, err
	}
	var (
		out  []SnapshotCheck
		fold multiFold
		data = map[string][]byte{}
	)
	for _, n := range names {
		c := SnapshotCheck{Name: n}
		b, seq, err := snaps.Get(ctx, n)
		c.Seq = seq
		st, known := fresh(n)
		switch {
		case events.ErrorCode(err) == events.CodeNotFound:
			continue // deleted meanwhile (an erasure)
		case err != nil:
			c.Problem = fmt.Sprintf("unreadable: %v", err)
		case !known:
			c.Problem = "no state of this name"
		case seq > size:
			c.Problem = fmt.Sprintf("covers %d events, more than the ledger's %d", seq, size)
		default:
			data[n] = b
			fold.states = append(fold.states, foldTo{name: n, st: st, to: seq})
			fold.to = max(fold.to, seq)
		}
		out = append(out, c)
	}
	if err := ledger.Fold(ctx, store, reg, &fold, fold.to); err != nil {
		return nil, fmt.Errorf("fold the ledger for the snapshots: %w", err)
	}
	for i, c := range out {
		if c.Problem != "" {
			continue
		}
		for _, f := range fold.states {
			if f.name != c.Name {
				continue
			}
			b, seq, err := f.st.Snapshot()
			switch {
			case err != nil:
				out[i].Problem = fmt.Sprintf("a fresh fold does not snapshot: %v", err)
			case seq != c.Seq:
				out[i].Problem = fmt.Sprintf("a fresh fold reached %d, not %d", seq, c.Seq)
			case !bytes.Equal(b, data[c.Name]):
				out[i].Problem = fmt.Sprintf("differs from a fresh fold of the ledger up to %d", c.Seq)
			}
		}
	}
	return out, nil
}

type foldTo struct {
	name string
	st   State
	to   uint64
}

// multiFold applies each event to the states whose snapshot covers it.
type multiFold struct {
	states []foldTo
	to     uint64
}

func (m *multiFold) Seq() uint64 { return 0 }

func (m *multiFold) Apply(rec events.Recorded, p events.Payload) {
	for _, f := range m.states {
		if rec.Seq <= f.to {
			f.st.Apply(rec, p)
		}
	}
}
