package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/lease"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/mongostore"
)

// runRebuild drops a projection and folds it again from the whole ledger.
// It takes the projection's lease first, so it never races the projector of
// a running backend: stop the backend (or wait for its lease to lapse).
func runRebuild(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("rebuild", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var c conn
	c.flags(fs, env)
	leaseWait := fs.Duration("lease-wait", 3*time.Second, "how long to wait for the projection's lease")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	cell := events.Region(c.cell)
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: ops rebuild NAME (one of:%s)", projectionNames(cell))
	}
	p, err := findProjection(cell, fs.Arg(0))
	if err != nil {
		return err
	}
	nc, js, err := c.nats(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	client, db, err := c.mongo(ctx)
	if err != nil {
		return err
	}
	defer client.Disconnect(context.WithoutCancel(ctx))

	leases, err := lease.OpenBucket(ctx, js, lease.BucketConfig{})
	if err != nil {
		return err
	}
	store := mongostore.New(db, 30*time.Second)
	st, err := js.Stream(ctx, "LEDGER")
	if err != nil {
		return fmt.Errorf("ledger stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	lctx, cancel := context.WithTimeout(ctx, *leaseWait)
	l, err := lease.Acquire(lctx, leases, "projector."+p.Name(), fmt.Sprintf("ops-rebuild@%s:%d", host, os.Getpid()), 0)
	cancel()
	if err != nil {
		// A backend is projecting it: reset the checkpoint, and its
		// projector notices (at its next batch or idle check), drops the
		// documents and folds the ledger again. Follow its progress.
		holder, _ := lease.Holder(ctx, leases, "projector."+p.Name())
		fmt.Fprintf(env.stderr, "rebuild: %s is projected by %s; asking it to rebuild\n", p.Name(), holder)
		return rebuildRemote(ctx, env, store, js, p, info.State.LastSeq)
	}
	defer l.Release(context.WithoutCancel(ctx))
	return rebuildLocal(ctx, env, &c, store, js, p, info.State.LastSeq)
}

// projectionNames lists the names of the projections of cell's backend, each after a space.
func projectionNames(cell events.Region) string {
	names := ""
	for _, p := range app.CellProjections(cell) {
		names += " " + p.Name()
	}
	return names
}

// findProjection returns the projection of that name of cell's backend.
func findProjection(cell events.Region, name string) (projections.Projection, error) {
	var p projections.Projection
	for _, q := range app.CellProjections(cell) {
		if q.Name() == name {
			p = q
		}
	}
	if p == nil {
		return nil, fmt.Errorf("no projection %q", name)
	}
	return p, nil
}

// rebuildLocal drops p's documents and folds the ledger again in this
// process, up to ledgerSize, with the projection's lease already held.
func rebuildLocal(ctx context.Context, env *environ, c *conn, store *mongostore.Store, js jetstream.JetStream, p projections.Projection, ledgerSize uint64) error {
	if err := store.Drop(ctx, p); err != nil {
		return err
	}
	// A checkpoint of version 0 makes the projector start from nothing.
	if err := store.SetCheckpoint(ctx, projections.Checkpoint{Name: p.Name()}); err != nil {
		return err
	}
	reg, err := c.sealedRegistry(ctx, js)
	if err != nil {
		return err
	}
	pr := &projections.Projector{P: p, Store: store, JS: js, Stream: "LEDGER", Reg: reg, Log: env.log, Batch: 2000}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- pr.Run(rctx) }()
	report := progress(env.stderr, "rebuild "+p.Name()+": ledger sequence", ledgerSize)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("rebuild stopped: %w", err)
		case <-tick.C:
		}
		s := pr.Status()
		report(uint64(s.Seq))
		if s.CaughtUp() {
			stop()
			<-done
			n, _ := store.Count(ctx, p)
			fmt.Fprintf(env.stdout, "rebuilt %s v%d: %d documents, through ledger sequence %d\n", p.Name(), p.Version(), n, s.Seq)
			return nil
		}
	}
}

// rebuildRemote resets p's checkpoint and waits until the projector that
// holds p's lease has folded the ledger again up to ledgerSize.
func rebuildRemote(ctx context.Context, env *environ, store *mongostore.Store, js jetstream.JetStream, p projections.Projection, ledgerSize uint64) error {
	before, err := store.Checkpoint(ctx, p.Name())
	if err != nil {
		return err
	}
	if err := store.SetCheckpoint(ctx, projections.Checkpoint{Name: p.Name(), Updated: time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
		return err
	}
	report := progress(env.stderr, "rebuild "+p.Name()+": ledger sequence", ledgerSize)
	seenReset := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		cp, err := store.Checkpoint(ctx, p.Name())
		if err != nil {
			return err
		}
		if cp.Version != p.Version() {
			continue // not picked up yet
		}
		if cp.Seq < before.Seq || cp.Seq == 0 {
			seenReset = true
		}
		report(uint64(cp.Seq))
		cons, err := js.Consumer(ctx, "LEDGER", projections.ConsumerName(p))
		if err != nil {
			continue
		}
		ci, err := cons.Info(ctx)
		if err != nil {
			continue
		}
		// Caught up: the consumer has nothing pending or unacknowledged,
		// and the checkpoint covers what it delivered.
		if seenReset && ci.NumPending == 0 && ci.NumAckPending == 0 && uint64(cp.Seq) >= ci.Delivered.Stream {
			n, _ := store.Count(ctx, p)
			fmt.Fprintf(env.stdout, "rebuilt %s v%d: %d documents, through ledger sequence %d\n", p.Name(), p.Version(), n, cp.Seq)
			return nil
		}
	}
}
