package lease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events/lease"
	"github.com/onebook/onebook/events/ledger/natstest"
)

const ttl = time.Second

func bucket(t *testing.T) (*natstest.Server, jetstream.KeyValue) {
	t.Helper()
	srv := natstest.Start(t)
	_, js := srv.Connect()
	kv, err := lease.OpenBucket(context.Background(), js, lease.BucketConfig{TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return srv, kv
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func holder(t *testing.T, kv jetstream.KeyValue) string {
	t.Helper()
	h, err := lease.Holder(context.Background(), kv, "k")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestExclusiveAndRenewed: a second holder waits while the first renews
// past several TTLs, and gets the lease promptly once it is released.
func TestExclusiveAndRenewed(t *testing.T) {
	ctx := context.Background()
	_, kv := bucket(t)
	a, err := lease.Acquire(ctx, kv, "k", "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *lease.Lease, 1)
	go func() {
		b, err := lease.Acquire(ctx, kv, "k", "b", 0)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	time.Sleep(3 * ttl) // several expiry periods: only renewal keeps a
	if isClosed(a.Lost()) || holder(t, kv) != "a" {
		t.Fatalf("a lost its renewed lease; holder %q", holder(t, kv))
	}
	select {
	case <-got:
		t.Fatal("b acquired a held lease")
	default:
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if !isClosed(a.Lost()) {
		t.Fatal("Lost not closed after Release")
	}
	select {
	case b := <-got:
		if holder(t, kv) != "b" {
			t.Fatalf("holder %q", holder(t, kv))
		}
		_ = b.Release(ctx)
	case <-time.After(5 * time.Second):
		t.Fatal("b did not get the released lease")
	}
	// Releasing twice is harmless.
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLostWhenTaken: someone overwrites the key; the holder notices at its
// next renewal.
func TestLostWhenTaken(t *testing.T) {
	ctx := context.Background()
	_, kv := bucket(t)
	a, err := lease.Acquire(ctx, kv, "k", "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte(`{"holder":"intruder"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Lost():
	case <-time.After(5 * ttl):
		t.Fatal("lease not reported lost")
	}
	// Release of a lost lease neither fails nor deletes the new holder's key.
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if holder(t, kv) != "intruder" {
		t.Fatalf("holder %q", holder(t, kv))
	}
}

// TestExpiresWhenHolderIsCut: the holder's connection dies; it reports the
// lease lost within about TTL, and another holder gets it once the server
// has expired the key.
func TestExpiresWhenHolderIsCut(t *testing.T) {
	ctx := context.Background()
	srv, kv := bucket(t)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	kvA, err := js.KeyValue(ctx, "leases")
	if err != nil {
		t.Fatal(err)
	}
	a, err := lease.Acquire(ctx, kvA, "k", "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	nc.Close()
	select {
	case <-a.Lost():
	case <-time.After(3 * ttl):
		t.Fatal("cut-off holder did not report the lease lost")
	}
	lostAfter := time.Since(cut)
	bctx, cancel := context.WithTimeout(ctx, 10*ttl)
	defer cancel()
	b, err := lease.Acquire(bctx, kv, "k", "b", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a reported loss after %v, b acquired after %v", lostAfter, time.Since(cut))
	_ = b.Release(ctx)
}

func TestAcquireWaitsForContext(t *testing.T) {
	ctx := context.Background()
	_, kv := bucket(t)
	a, err := lease.Acquire(ctx, kv, "k", "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(ctx)
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := lease.Acquire(cctx, kv, "k", "b", 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	// Another key is independent.
	c, err := lease.Acquire(ctx, kv, "other", "c", 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Release(ctx)
}

func TestTTLChecks(t *testing.T) {
	ctx := context.Background()
	srv, kv := bucket(t)
	if _, err := lease.Acquire(ctx, kv, "k", "a", 2*ttl); err == nil {
		t.Fatal("ttl longer than the bucket's accepted")
	}
	_, js := srv.Connect()
	forever, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "no_ttl"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lease.Acquire(ctx, forever, "k", "a", 0); err == nil {
		t.Fatal("bucket without TTL accepted")
	}
	if _, err := lease.Acquire(ctx, kv, "bad key!", "a", 0); err == nil {
		t.Fatal("invalid key accepted")
	}
}
