package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/alerts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/backend/snapshots"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/miniapp-api/api"
)

// Snapshotter is an in-memory decision state that can be snapshotted:
// accounts, passes, cases and donations states and the early-warning
// engine.
type Snapshotter interface {
	events.Applier
	// Snapshot encodes the state and the sequence it covers, consistently.
	Snapshot() ([]byte, uint64, error)
	// Restore fills an empty state from a snapshot covering seq.
	Restore(b []byte, seq uint64) error
}

// NewStates returns an empty state of each kind that is snapshotted, by
// the name of its snapshot.
func NewStates() map[string]Snapshotter {
	return map[string]Snapshotter{
		SnapshotAccounts: accounts.NewState(), SnapshotPasses: passes.NewState(), SnapshotCases: cases.NewState(),
		SnapshotAlerts: alerts.NewEngine(), SnapshotDonations: donations.NewState(),
	}
}

// The names of the states' snapshots.
const (
	SnapshotAccounts  = "accounts"
	SnapshotPasses    = "passes"
	SnapshotCases     = "cases"
	SnapshotAlerts    = "alerts"
	SnapshotDonations = "donations"
)

// OpenSnapshots opens the snapshot bucket with the snapshot key kept in the
// data directory dir (snapshot.key); create makes the key on first start
// (the backend does, the operators' tools do not).
func OpenSnapshots(ctx context.Context, js jetstream.JetStream, dir string, replicas int, create bool) (*snapshots.Store, error) {
	path := filepath.Join(dir, "snapshot.key")
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("the key that opens snapshots: %w (give --data, the backend's data directory)", err)
		}
	}
	key, err := auth.LoadOrCreateKey(path, 32)
	if err != nil {
		return nil, err
	}
	return snapshots.Open(ctx, js, snapshots.Config{Replicas: replicas, Key: key})
}

// stateSnapshots restores the states from their snapshots at start and
// writes new snapshots while this replica holds the lease.
type stateSnapshots struct {
	store    *snapshots.Store
	ledger   *ledger.Store
	reg      *events.Registry
	log      *slog.Logger
	every    uint64        // events since the last snapshot of a state that call for a new one; 0: no count
	interval time.Duration // time after which a state that moved is snapshotted; 0: no timer
	ready    func() bool   // the states have caught up with the ledger as it was at start

	// mu guards what follows; it is not held while a snapshot is folded
	// or stored, so that /healthz and an erasure never wait for one.
	mu       sync.Mutex
	gen      uint64 // discards so far: a snapshot taken before one does not count as written
	names    []string
	states   map[string]Snapshotter
	restored map[string]uint64
	written  map[string]uint64
	at       map[string]time.Time
}

func newStateSnapshots(store *snapshots.Store, led *ledger.Store, reg *events.Registry, log *slog.Logger, every uint64, interval time.Duration) *stateSnapshots {
	return &stateSnapshots{store: store, ledger: led, reg: reg, log: log, every: every, interval: interval, ready: func() bool { return true },
		states: map[string]Snapshotter{}, restored: map[string]uint64{}, written: map[string]uint64{}, at: map[string]time.Time{}}
}

// restore restores st, an empty state, from its latest snapshot if there is
// a valid one, and registers it for snapshotting. A snapshot that fails to
// open or decode, is of another version, or covers more than the ledger
// holds (size, at start) is ignored with a log line: the state then reads
// the ledger from the first event. Call it before the state follows.
func (s *stateSnapshots) restore(ctx context.Context, name string, st Snapshotter, size uint64) {
	s.mu.Lock()
	s.names = append(s.names, name)
	s.states[name] = st
	s.at[name] = time.Now()
	s.mu.Unlock()
	start := time.Now()
	b, seq, err := s.store.Get(ctx, name)
	switch {
	case events.ErrorCode(err) == events.CodeNotFound:
		return
	case err != nil:
		s.log.Warn("snapshot ignored: the state reads the ledger from the start", "state", name, "err", err)
		return
	case seq > size:
		s.log.Warn("snapshot ignored: it covers more than the ledger holds", "state", name, "seq", seq, "ledger_size", size)
		return
	}
	if err := st.Restore(b, seq); err != nil {
		s.log.Warn("snapshot ignored: the state reads the ledger from the start", "state", name, "seq", seq, "err", err)
		return
	}
	s.mu.Lock()
	s.restored[name], s.written[name] = seq, seq
	s.mu.Unlock()
	s.log.Info("state restored from its snapshot", "state", name, "seq", seq, "bytes", len(b), "took", time.Since(start))
}

// status reports each state's position and the snapshot it started from.
func (s *stateSnapshots) status() []api.StateStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]api.StateStatus, 0, len(s.names))
	for _, n := range s.names {
		out = append(out, api.StateStatus{Name: n, Seq: s.states[n].Seq(), Snapshot: s.restored[n]})
	}
	return out
}

// run writes snapshots while ctx lasts (the lease is held): a state is
// snapshotted once it has applied every events since its last snapshot,
// or once interval has passed and it moved; and each one when ctx ends
// (a clean shutdown). Nothing is written while the states are still
// catching up at start.
func (s *stateSnapshots) run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			return s.write(fctx, func(string, uint64) bool { return true })
		case <-tick.C:
			if !s.ready() {
				continue
			}
			now := time.Now()
			if err := s.write(ctx, func(name string, moved uint64) bool {
				return (s.every > 0 && moved >= s.every) || (s.interval > 0 && now.Sub(s.at[name]) >= s.interval)
			}); err != nil {
				s.log.Warn("snapshot", "err", err)
			}
		}
	}
}

// write snapshots each state that moved since its last snapshot and that
// due (called with the lock held) says is due.
//
// A snapshot is not the live state's bytes but a fresh fold's: the latest
// stored snapshot restored into an empty state, and the ledger folded on
// to where the live state is. The live state decoded each event when it
// applied it, and may hold what an erasure has since made unreadable (a
// sealed household's members, say); a fresh fold holds only what the
// ledger yields now, so a snapshot is exactly what ops verify recomputes,
// and after an erasure (which discards every snapshot) the next one is
// folded from the first event, without the erased.
func (s *stateSnapshots) write(ctx context.Context, due func(name string, moved uint64) bool) error {
	s.mu.Lock()
	names := slices.Clone(s.names)
	s.mu.Unlock()
	for _, n := range names {
		s.mu.Lock()
		live := s.states[n].Seq()
		moved := live - min(live, s.written[n])
		isDue, gen := moved > 0 && due(n, moved), s.gen
		s.mu.Unlock()
		if !isDue {
			continue
		}
		st := NewStates()[n]
		if b, seq, err := s.store.Get(ctx, n); err == nil && seq <= live {
			if err := st.Restore(b, seq); err != nil {
				st = NewStates()[n] // fold from the first event
			}
		}
		if err := ledger.Fold(ctx, s.ledger, s.reg, st, live); err != nil {
			return fmt.Errorf("fold %s for its snapshot: %w", n, err)
		}
		b, seq, err := st.Snapshot()
		if err != nil {
			return fmt.Errorf("snapshot of %s: %w", n, err)
		}
		if err := s.store.Put(ctx, n, seq, b); err != nil {
			return err
		}
		s.mu.Lock()
		if s.gen == gen { // else an erasure may have deleted it meanwhile: write it again
			s.written[n], s.at[n] = seq, time.Now()
		}
		s.mu.Unlock()
		s.log.Debug("snapshot written", "state", n, "seq", seq, "bytes", len(b))
	}
	return nil
}

// discard deletes every snapshot after an erasure recorded before the
// ledger reached size (snapshots.Store.Discard).
func (s *stateSnapshots) discard(ctx context.Context, size uint64) error {
	if err := s.store.Discard(ctx, size); err != nil {
		return fmt.Errorf("discard snapshots after an erasure: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	for n := range s.written {
		s.written[n] = 0 // write each again, from states that applied the erasure
	}
	return nil
}
