package bench

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
)

// SnapshotResult is start-to-ready of the in-memory decision states on a
// ledger of Events events: from empty states to every state having applied
// the whole ledger, by following it from the first event (Without) and by
// restoring each state's snapshot from the bucket first (With).
type SnapshotResult struct {
	Events  uint64
	Without time.Duration
	With    time.Duration
	Restore time.Duration // of With: reading and restoring the snapshots
	Bytes   int           // the five snapshots, decrypted
}

// Speedup is Without ÷ With.
func (s SnapshotResult) Speedup() float64 { return s.Without.Seconds() / s.With.Seconds() }

func (s SnapshotResult) metrics(m map[string]float64) {
	m["snapshot_events"] = float64(s.Events)
	m["snapshot_ready_without_s"] = s.Without.Seconds()
	m["snapshot_ready_with_s"] = s.With.Seconds()
	m["snapshot_restore_s"] = s.Restore.Seconds()
	m["snapshot_speedup"] = s.Speedup()
	m["snapshot_bytes"] = float64(s.Bytes)
}

func (s SnapshotResult) row() Row {
	return Row{
		Name:     "snapshot",
		Workload: fmt.Sprintf("start-to-ready of the 5 decision states on %d events (mixed pass.issued/pass.scanned), snapshots %d B", s.Events, s.Bytes),
		Baseline: fmt.Sprintf("follow from the first event %.2f s", s.Without.Seconds()),
		Measured: fmt.Sprintf("restore snapshots (%.2f s) and follow the rest %.2f s", s.Restore.Seconds(), s.With.Seconds()),
		Ratio:    s.Speedup(), Target: "informational", Met: true,
	}
}

// benchSnapshot fills a ledger of n events (untimed, periodic sync), times
// the states' start without snapshots, snapshots them into the bucket as
// the backend does, and times a start from the snapshots. The states
// started both ways must snapshot to the same bytes.
func (r *runner) benchSnapshot(ctx context.Context, n uint64) (SnapshotResult, error) {
	env, err := r.startNATSWith(ctx, "snapshot", embedded.NATSOptions{SyncInterval: fillSyncInterval})
	if err != nil {
		return SnapshotResult{}, err
	}
	defer env.close()
	if err := r.fill(ctx, env, "snapshot fill", 0, n, r.gen.mixed); err != nil {
		return SnapshotResult{}, err
	}
	store, err := app.OpenSnapshots(ctx, env.js, r.dir, 1, true)
	if err != nil {
		return SnapshotResult{}, err
	}
	res := SnapshotResult{Events: n}
	cold := app.NewStates()
	if res.Without, err = r.ready(ctx, env, cold, n); err != nil {
		return res, err
	}
	want := map[string][]byte{}
	for name, st := range cold {
		b, seq, err := st.Snapshot()
		if err != nil {
			return res, err
		}
		if err := store.Put(ctx, name, seq, b); err != nil {
			return res, err
		}
		want[name], res.Bytes = b, res.Bytes+len(b)
	}
	warm := app.NewStates()
	start := time.Now()
	for name, st := range warm {
		b, seq, err := store.Get(ctx, name)
		if err != nil {
			return res, err
		}
		if err := st.Restore(b, seq); err != nil {
			return res, fmt.Errorf("restore %s: %w", name, err)
		}
	}
	res.Restore = time.Since(start)
	rest, err := r.ready(ctx, env, warm, n)
	if err != nil {
		return res, err
	}
	res.With = res.Restore + rest
	for name, st := range warm {
		b, _, err := st.Snapshot()
		if err != nil {
			return res, err
		}
		if !bytes.Equal(b, want[name]) {
			return res, fmt.Errorf("the %s state restored from its snapshot differs from one that read the ledger", name)
		}
	}
	return res, nil
}

// ready follows the ledger with every state through one reader, as the
// backend does at start, until each has applied n events, and returns how long that took.
func (r *runner) ready(ctx context.Context, env *natsEnv, states map[string]app.Snapshotter, n uint64) (time.Duration, error) {
	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	errs := make(chan error, 1)
	all := make(events.Fanout, 0, len(states))
	for _, st := range states {
		all = append(all, st)
	}
	start := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ledger.Follow(fctx, env.js, env.store.Stream(), r.reg, all); err != nil {
			errs <- err
		}
	}()
	for {
		if all.Seq() >= n {
			return time.Since(start), nil
		}
		select {
		case err := <-errs:
			return 0, fmt.Errorf("follow: %w", err)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}
