package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestTransient(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"no peers yet", live, fmt.Errorf("snapshot bucket: %w", &jetstream.APIError{ErrorCode: errCodeNoPeers}), true},
		{"system unavailable", live, &jetstream.APIError{ErrorCode: errCodeNotAvailable}, true},
		{"API call timed out", live, fmt.Errorf("snapshot bucket: %w", context.DeadlineExceeded), true},
		{"request timed out", live, nats.ErrTimeout, true},
		{"replicas not serving reads yet", live, fmt.Errorf("read: %w", nats.ErrNoResponders), true},
		{"caller gave up", done, context.DeadlineExceeded, false},
		{"bad stream configuration", live, &jetstream.APIError{ErrorCode: jetstream.JSErrCodeStreamNameInUse}, false},
		{"no JetStream", live, jetstream.ErrJetStreamNotEnabled, false},
		{"other", live, errors.New("seal key: permission denied"), false},
	} {
		if got := transient(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestSettleRetriesOnlyWhatMayPass(t *testing.T) {
	ctx := context.Background()
	calls := 0
	v, err := settle(ctx, slog.New(slog.DiscardHandler), "test", func() (int, error) {
		calls++
		if calls < 3 {
			return 0, &jetstream.APIError{ErrorCode: errCodeNoPeers}
		}
		return 7, nil
	})
	if err != nil || v != 7 || calls != 3 {
		t.Errorf("settle after two refusals: %d, %v after %d calls; want 7 after 3", v, err, calls)
	}
	calls = 0
	_, err = settle(ctx, slog.New(slog.DiscardHandler), "test", func() (int, error) {
		calls++
		return 0, errors.New("permission denied")
	})
	if err == nil || calls != 1 {
		t.Errorf("settle on a lasting error: %v after %d calls; want the error after 1", err, calls)
	}
}

// refusing is a JetStream that refuses placement n times, then makes the
// bucket, which has no responders to reads the first unready times.
type refusing struct {
	jetstream.JetStream
	n, calls int
	unready  int
	opened   int // KeyValue calls
}

func (r *refusing) KeyValue(context.Context, string) (jetstream.KeyValue, error) {
	r.opened++
	return unreadyBucket{r: r}, nil
}

func (r *refusing) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	r.calls++
	if r.calls <= r.n {
		return nil, &jetstream.APIError{ErrorCode: errCodeNoPeers, Description: "no suitable peers for placement, peer offline"}
	}
	return unreadyBucket{r: r}, nil
}

// unreadyBucket answers reads with no responders while r.unready lasts.
type unreadyBucket struct {
	jetstream.KeyValue
	r *refusing
}

func (b unreadyBucket) Bucket() string { return "test" }

func (b unreadyBucket) Get(context.Context, string) (jetstream.KeyValueEntry, error) {
	if b.r.unready > 0 {
		b.r.unready--
		return nil, nats.ErrNoResponders
	}
	return nil, jetstream.ErrKeyNotFound
}

// TestSettlingRetriesCreates checks that a bucket made through the
// backend's JetStream is made again while the cluster refuses placement:
// the bucket that failed TestCellFaults' start (cosignatures) is made by
// a service, not by open, so the retry must be in the JetStream itself.
func TestSettlingRetriesCreates(t *testing.T) {
	r := &refusing{n: 2}
	js := settling{JetStream: r, log: slog.New(slog.DiscardHandler)}
	if _, err := js.CreateOrUpdateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "ledger_cosignatures"}); err != nil || r.calls != 3 {
		t.Errorf("after two refusals: %v after %d calls; want the bucket after 3", err, r.calls)
	}
	// A bucket made but not yet read from (its replicas not serving)
	// is opened again until it answers.
	r = &refusing{unready: 2}
	js = settling{JetStream: r, log: slog.New(slog.DiscardHandler)}
	if _, err := js.CreateOrUpdateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "person_keys"}); err != nil || r.calls != 3 || r.unready != 0 {
		t.Errorf("after two unanswered reads: %v after %d calls; want the bucket after 3", err, r.calls)
	}
	// The same for a bucket whose stream was made as a stream (the
	// vault's) and is then opened as a bucket.
	r = &refusing{unready: 2}
	js = settling{JetStream: r, log: slog.New(slog.DiscardHandler)}
	if _, err := js.KeyValue(context.Background(), "person_keys"); err != nil || r.opened != 3 || r.unready != 0 {
		t.Errorf("KeyValue after two unanswered reads: %v after %d calls; want the bucket after 3", err, r.opened)
	}
}
