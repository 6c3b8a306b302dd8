package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
)

// RawStream is the raw baseline's stream: the ledger's configuration with
// subjects of its own.
const RawStream = "RAW"

// batch is a set of prepared events: the envelopes the ledger store is
// given, and their canonical bytes and subjects for the raw baseline.
type batch struct {
	evs      []events.Event
	raw      [][]byte
	subjects []string // raw baseline subjects
	bytes    int
}

// prepare builds events 0..n-1 of the mixed workload on all CPUs.
func prepare(ctx context.Context, gen *generator, n int) (*batch, error) {
	return prepareFrom(ctx, gen, 0, n)
}

// prepareFrom builds events from..from+n-1 of the mixed workload on all
// CPUs, at indices 0..n-1 of the batch.
func prepareFrom(ctx context.Context, gen *generator, from, n int) (*batch, error) {
	b := &batch{evs: make([]events.Event, n), raw: make([][]byte, n), subjects: make([]string, n)}
	var size atomic.Int64
	err := parallel(ctx, 0, n, runtime.NumCPU(), nil, func(_ context.Context, i int) error {
		e, err := gen.mixed(uint64(from + i))
		if err != nil {
			return fmt.Errorf("build event %d: %w", i, err)
		}
		raw, err := e.Canonical()
		if err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		b.evs[i], b.raw[i], b.subjects[i] = e, raw, rawSubject(e.Subject())
		size.Add(int64(len(raw)))
		return nil
	})
	b.bytes = int(size.Load())
	return b, err
}

// parallel calls fn(i) for every i in [from, to) on conc goroutines, each
// taking the next index, and counts finished calls in done (if not nil).
func parallel(ctx context.Context, from, to, conc int, done *atomic.Uint64, fn func(ctx context.Context, i int) error) error {
	var next atomic.Int64
	next.Store(int64(from))
	g, gctx := errgroup.WithContext(ctx)
	for range conc {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return nil
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				if err := fn(gctx, i); err != nil {
					return err
				}
				if done != nil {
					done.Add(1)
				}
			}
		})
	}
	return g.Wait()
}

// AppendResult is the append benchmark: acknowledged appends through the
// ledger store against raw synchronous JetStream publishes of the same
// bytes, both with the same number of concurrent publishers.
type AppendResult struct {
	Events      int
	Concurrency int
	AvgBytes    float64
	Rate        float64 // events/s through events.Store.Append
	RawRate     float64 // messages/s through js.PublishMsg
}

// Ratio is the store's rate over the raw rate.
func (r AppendResult) Ratio() float64 { return r.Rate / r.RawRate }

// benchAppend appends b.evs to the ledger with conc goroutines and
// publishes b.raw to the raw stream the same way. The two alternate in
// slices, raw-ledger-ledger-raw (cycles times), so that drift of the server
// (growing files, page cache) and bursts of other load on the machine weigh
// on both alike.
func (r *runner) benchAppend(ctx context.Context, b *batch, conc int) (AppendResult, error) {
	res := AppendResult{Events: len(b.evs), Concurrency: conc, AvgBytes: float64(b.bytes) / float64(max(len(b.evs), 1))}
	cfg := ledger.Config{Stream: RawStream}.StreamConfig()
	cfg.Subjects = []string{"raw.>"}
	cfg.Description = "onebook bench: raw publish baseline"
	if _, err := r.nats.js.CreateStream(ctx, cfg); err != nil {
		return res, fmt.Errorf("raw stream: %w", err)
	}
	defer func() {
		// The raw stream is only a baseline; free its disk at once.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = r.nats.js.DeleteStream(dctx, RawStream)
	}()

	js := r.nats.js
	store := r.nats.store
	raw := func(ctx context.Context, i int) error {
		_, err := js.PublishMsg(ctx, &nats.Msg{Subject: b.subjects[i], Data: b.raw[i]})
		if err != nil {
			return fmt.Errorf("raw publish %d: %w", i, err)
		}
		return nil
	}
	ledger := func(ctx context.Context, i int) error {
		if _, err := store.Append(ctx, b.evs[i], events.ExpectAny()); err != nil {
			return fmt.Errorf("append event %d: %w", i, err)
		}
		return nil
	}
	n := len(b.evs)
	var rawTime, ledgerTime time.Duration
	type step struct {
		name     string
		fn       func(context.Context, int) error
		from, to int
		acc      *time.Duration
	}
	var steps []step
	for c := range cycles {
		lo, hi := n*c/cycles, n*(c+1)/cycles
		mid := lo + (hi-lo)/2
		steps = append(steps,
			step{"append raw", raw, lo, mid, &rawTime},
			step{"append ledger", ledger, lo, mid, &ledgerTime},
			step{"append ledger", ledger, mid, hi, &ledgerTime},
			step{"append raw", raw, mid, hi, &rawTime})
	}
	for _, st := range steps {
		var done atomic.Uint64
		stop := track(r.progress, st.name, uint64(st.from), uint64(n), func() uint64 { return uint64(st.from) + done.Load() })
		start := time.Now()
		err := parallel(ctx, st.from, st.to, conc, &done, st.fn)
		*st.acc += time.Since(start)
		stop()
		if err != nil {
			return res, err
		}
	}
	res.Rate = float64(n) / ledgerTime.Seconds()
	res.RawRate = float64(n) / rawTime.Seconds()
	return res, nil
}

// asyncJS returns a JetStream context for bulk fills: async publishes with
// a bounded number in flight, failures counted in failed.
func asyncJS(nc *nats.Conn, inFlight int, failed *atomic.Uint64, lastErr *atomic.Value) (jetstream.JetStream, error) {
	return jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(inFlight),
		jetstream.WithPublishAsyncTimeout(time.Minute),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			failed.Add(1)
			lastErr.Store(err)
		}))
}

// awaitAsync waits until every asynchronous publish of js (made with
// asyncJS, counting failures in failed and lastErr) is acknowledged or
// failed, and reports the failures; what prefixes the error.
func awaitAsync(ctx context.Context, js jetstream.JetStream, failed *atomic.Uint64, lastErr *atomic.Value, what string) error {
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%s %d publishes failed, the last with: %v", what, n, lastErr.Load())
	}
	return nil
}
