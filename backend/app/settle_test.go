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
