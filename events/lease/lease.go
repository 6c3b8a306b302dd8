// Package lease elects a single active worker with a lease in a JetStream KV
// bucket: the sealer of a ledger, the projector of a projection.
//
// A lease is a key created with compare-and-set (kv.Create) and renewed with
// compare-and-set on its last revision (kv.Update) every TTL/3. The bucket
// has a TTL, so the key of a holder that stops renewing (crashed, cut off)
// expires and another worker's Create succeeds. The holder counts its lease
// as lost once TTL has passed since it sent its last successful renewal,
// which is never later than the server expires the key, because the server
// measures from when it stored the renewal.
//
// A lease narrows, but cannot close, the window in which a paused old holder
// still acts (a holder that stalls for longer than TTL between checking Lost
// and writing). Writers that must never interleave also fence their writes,
// for example with Nats-Expected-Last-Subject-Sequence, as the seal does.
package lease

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketConfig configures a lease bucket.
type BucketConfig struct {
	Bucket   string        // default "leases"
	TTL      time.Duration // how long an unrenewed lease lasts; default 10s
	Replicas int           // 1 on a single machine, 3 in a cluster
}

// OpenBucket creates the lease bucket if needed (or updates its
// configuration) and returns it.
func OpenBucket(ctx context.Context, js jetstream.JetStream, cfg BucketConfig) (jetstream.KeyValue, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = "leases"
	}
	if cfg.TTL == 0 {
		cfg.TTL = 10 * time.Second
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "onebook single-active leases",
		History:     1,
		TTL:         cfg.TTL,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("lease bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// A Lease is held by one holder until it is released or lost.
type Lease struct {
	kv    jetstream.KeyValue
	key   string
	value []byte
	ttl   time.Duration

	rev      uint64 // owned by the renewal goroutine until done is closed
	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// record is the value of a lease key. The nonce tells this acquisition
// apart from an earlier one by the same holder name.
type record struct {
	Holder string    `json:"holder"`
	Nonce  string    `json:"nonce"`
	Since  time.Time `json:"since"`
}

// Acquire blocks until it holds the lease key in kv for holder, or ctx ends.
// ttl is how long the lease lasts without renewal; zero means the bucket's
// TTL, and it may not exceed the bucket's TTL (the server must not forget a
// lease its holder still counts on). The lease is renewed in the background
// until Release or until it is lost; watch Lost.
func Acquire(ctx context.Context, kv jetstream.KeyValue, key, holder string, ttl time.Duration) (*Lease, error) {
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("lease %s: bucket status: %w", key, err)
	}
	switch bttl := st.TTL(); {
	case bttl == 0:
		return nil, fmt.Errorf("lease %s: bucket %s has no TTL, so a crashed holder would keep the lease forever", key, st.Bucket())
	case ttl == 0:
		ttl = bttl
	case ttl > bttl:
		return nil, fmt.Errorf("lease %s: ttl %v exceeds the bucket's TTL %v", key, ttl, bttl)
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	value, err := json.Marshal(record{Holder: holder, Nonce: hex.EncodeToString(nonce[:]), Since: time.Now().UTC()})
	if err != nil {
		return nil, err
	}

	// Wake up early when the key changes (a holder releasing it); expiry
	// leaves no trace in the bucket, so poll as well.
	var updates <-chan jetstream.KeyValueEntry
	if w, err := kv.Watch(ctx, key, jetstream.UpdatesOnly()); err == nil {
		defer w.Stop()
		updates = w.Updates()
	}
	poll := min(max(ttl/10, 50*time.Millisecond), time.Second)
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		sent := time.Now()
		rev, err := kv.Create(ctx, key, value)
		if err == nil {
			l := &Lease{kv: kv, key: key, value: value, ttl: ttl, rev: rev,
				lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
			go l.renew(sent.Add(ttl))
			return l, nil
		}
		if errors.Is(err, jetstream.ErrInvalidKey) || errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("lease %s: %w", key, err)
		}
		// Held by someone else, or the server is unreachable: try again.
		timer.Reset(poll)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
		case _, ok := <-updates:
			if !ok {
				updates = nil
			}
		}
	}
}

// Lost is closed when the lease is no longer held: it expired without
// renewal, someone else holds it, or it was released.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

func (l *Lease) markLost() { l.lostOnce.Do(func() { close(l.lost) }) }

func (l *Lease) isLost() bool {
	select {
	case <-l.lost:
		return true
	default:
		return false
	}
}

// renew keeps the lease until stop, renewing every ttl/3. deadline is when
// the lease ends if no renewal succeeds: ttl after the last successful
// renewal was sent.
func (l *Lease) renew(deadline time.Time) {
	defer close(l.done)
	interval := l.ttl / 3
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-timer.C:
		}
		if !time.Now().Before(deadline) {
			l.markLost()
			return
		}
		sent := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		rev, err := l.kv.Update(ctx, l.key, l.value, l.rev)
		switch {
		case err == nil:
			l.rev, deadline = rev, sent.Add(l.ttl)
			timer.Reset(interval)
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			// Either someone else holds the key now, or an earlier
			// renewal of ours was stored although we saw it fail.
			e, gerr := l.kv.Get(ctx, l.key)
			if gerr == nil && bytes.Equal(e.Value(), l.value) {
				l.rev = e.Revision()
				timer.Reset(0)
				break
			}
			if gerr == nil || errors.Is(gerr, jetstream.ErrKeyNotFound) {
				cancel()
				l.markLost()
				return
			}
			timer.Reset(min(interval/4, time.Until(deadline)))
		default:
			// Unreachable for now; retry soon, and report the lease
			// lost at the deadline, not a retry interval later.
			timer.Reset(min(interval/4, time.Until(deadline)))
		}
		cancel()
	}
}

// Release gives the lease up so that another holder can take it at once,
// and closes Lost. Releasing a lease that was lost is not an error.
func (l *Lease) Release(ctx context.Context) error {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	if l.isLost() {
		return nil
	}
	defer l.markLost()
	err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("release lease %s: %w", l.key, err)
	}
	return nil
}

// Holder returns who holds the lease key in kv, or "" if nobody does.
func Holder(ctx context.Context, kv jetstream.KeyValue, key string) (string, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lease %s: %w", key, err)
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return "", fmt.Errorf("lease %s: malformed value: %w", key, err)
	}
	return r.Holder, nil
}
