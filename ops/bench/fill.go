package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
)

// fillInFlight bounds the unacknowledged async publishes of a fill.
const fillInFlight = 4096

// fill appends events from..to-1 of a workload (build makes event i) to the
// ledger of env quickly: canonical bytes built on every CPU and published
// asynchronously with the event id as Nats-Msg-Id, at most fillInFlight
// unacknowledged. Nothing is held in memory beyond what is in flight. It
// checks that the ledger grew by exactly to-from events.
func (r *runner) fill(ctx context.Context, env *natsEnv, label string, from, to uint64, build func(uint64) (events.Event, error)) error {
	if to <= from {
		return nil
	}
	before, err := env.ledgerSize(ctx)
	if err != nil {
		return err
	}
	var failed atomic.Uint64
	var lastErr atomic.Value
	js, err := asyncJS(env.nc, fillInFlight, &failed, &lastErr)
	if err != nil {
		return err
	}
	var done atomic.Uint64
	stop := track(r.progress, label, from, to, func() uint64 { return from + done.Load() })
	defer stop()
	err = parallel(ctx, int(from), int(to), runtime.NumCPU(), &done, func(ctx context.Context, i int) error {
		e, raw, err := buildCanonical(build, i)
		if err != nil {
			return err
		}
		return publishAsync(ctx, js, i, e, raw)
	})
	if err != nil {
		return err
	}
	if err := awaitAsync(ctx, js, &failed, &lastErr, label+":"); err != nil {
		return err
	}
	after, err := env.ledgerSize(ctx)
	if err != nil {
		return err
	}
	if after-before != to-from {
		return fmt.Errorf("%s: the ledger grew by %d events, not %d", label, after-before, to-from)
	}
	return nil
}

// FillPasses appends n events of the mixed pass workload (passes issued in
// the communities of one district and their gate scans, one pass.issued
// for every ten events) to the ledger on nc, sealed with reg's keyring, as
// fast as the server takes them. Tests use it to give a real backend's
// ledger the size of a district's weeks; progress, if not nil, shows how
// far it is.
func FillPasses(ctx context.Context, nc *nats.Conn, reg *events.Registry, n uint64, progress io.Writer) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	store, err := ledger.Open(ctx, js, ledger.Config{})
	if err != nil {
		return err
	}
	r := &runner{progress: progress, reg: reg, gen: newGenerator(reg)}
	return r.fill(ctx, &natsEnv{nc: nc, js: js, store: store}, "fill", 0, n, r.gen.mixed)
}

// buildCanonical builds event i and its canonical bytes.
func buildCanonical(build func(uint64) (events.Event, error), i int) (events.Event, []byte, error) {
	e, err := build(uint64(i))
	if err != nil {
		return e, nil, fmt.Errorf("build event %d: %w", i, err)
	}
	raw, err := e.Canonical()
	if err != nil {
		return e, nil, fmt.Errorf("event %d: %w", i, err)
	}
	return e, raw, nil
}

// publishAsync publishes event i's canonical bytes raw without waiting for
// its acknowledgement (awaitAsync collects them), with the event id as
// Nats-Msg-Id, waiting while too many are unacknowledged.
func publishAsync(ctx context.Context, js jetstream.JetStream, i int, e events.Event, raw []byte) error {
	msg := &nats.Msg{Subject: e.Subject(), Data: raw}
	for {
		_, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(e.ID), jetstream.WithStallWait(time.Second))
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, jetstream.ErrTooManyStalledMsgs):
			return fmt.Errorf("publish event %d: %w", i, err)
		case ctx.Err() != nil:
			return ctx.Err()
		}
	}
}
