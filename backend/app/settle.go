package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// settleFor bounds how long a backend keeps trying to open its streams and
// buckets while a JetStream cluster settles. A cluster just started (or one
// that lost its meta leader) refuses placement or times out API calls for
// seconds; under load, with a stream and a dozen buckets per cell, that is
// longer than one API call's deadline. Past the bound the error stands, so
// a misconfigured deployment still fails at start.
const settleFor = 2 * time.Minute

// JetStream API error codes a cluster gives while it settles (the
// server's JSClusterNoPeersErrF and JSClusterNotAvailErr).
const (
	errCodeNoPeers      jetstream.ErrorCode = 10005 // no suitable peers for placement
	errCodeNotAvailable jetstream.ErrorCode = 10008 // JetStream system temporarily unavailable
)

// transient reports whether err, from opening what the backend keeps in
// JetStream, is one that opening again may not give: a cluster settling or
// an API call timed out, with ctx itself still live.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == errCodeNoPeers || apiErr.ErrorCode == errCodeNotAvailable
	}
	// No responders: the replicas of a stream just made serve direct gets
	// only once they are set up, and a request that reaches a server
	// before then has nobody to answer it.
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoHeartbeat) ||
		errors.Is(err, nats.ErrNoResponders)
}

// settling is a JetStream whose creating calls (streams, key-value and
// object stores: idempotent, as the backend makes them at start) go on
// trying while a cluster settles (settle). Every stream and bucket the
// backend opens goes through here, so no caller needs its own retry.
type settling struct {
	jetstream.JetStream
	log *slog.Logger
}

func (s settling) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return settle(ctx, s.log, "stream "+cfg.Name, func() (jetstream.Stream, error) { return s.JetStream.CreateOrUpdateStream(ctx, cfg) })
}

// CreateOrUpdateKeyValue and KeyValue return the bucket once it answers a
// read. A bucket's reads are direct gets, which its replicas serve only
// once they are set up: a worker that read its vault's master key id right
// after making the bucket's stream got "no responders" and exited
// (TestCellFaults, on a CI-like run).
func (s settling) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return settle(ctx, s.log, "bucket "+cfg.Bucket, func() (jetstream.KeyValue, error) {
		kv, err := s.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return kv, answers(ctx, kv)
	})
}

func (s settling) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	return settle(ctx, s.log, "bucket "+bucket, func() (jetstream.KeyValue, error) {
		kv, err := s.JetStream.KeyValue(ctx, bucket)
		if err != nil {
			return nil, err
		}
		return kv, answers(ctx, kv)
	})
}

// answers reads settledProbe, a key that need not exist, from kv: nil once
// the bucket answers reads.
func answers(ctx context.Context, kv jetstream.KeyValue) error {
	if _, err := kv.Get(ctx, settledProbe); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("bucket %s: read: %w", kv.Bucket(), err)
	}
	return nil
}

const settledProbe = "onebook-settled-probe"

func (s settling) CreateOrUpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	return settle(ctx, s.log, "object store "+cfg.Bucket, func() (jetstream.ObjectStore, error) { return s.JetStream.CreateOrUpdateObjectStore(ctx, cfg) })
}

// settle calls open until it succeeds, fails for good, or settleFor has
// passed, backing off between attempts. open must be idempotent (creating
// or updating streams and buckets is).
func settle[T any](ctx context.Context, log *slog.Logger, what string, open func() (T, error)) (T, error) {
	deadline := time.Now().Add(settleFor)
	wait := 250 * time.Millisecond
	for {
		v, err := open()
		if err == nil || !transient(ctx, err) || time.Now().Add(wait).After(deadline) {
			return v, err
		}
		log.Warn("JetStream not ready; opening again", "what", what, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}
