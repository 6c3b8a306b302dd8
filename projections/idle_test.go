package projections

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// answering is a consumer whose Info answers info; nothing else is called.
type answering struct {
	jetstream.Consumer
	info *jetstream.ConsumerInfo
}

func (a answering) Info(context.Context) (*jetstream.ConsumerInfo, error) { return a.info, nil }

// TestIdleFindsDeliveriesGoneAstray: when nothing came for a while, a
// consumer that delivered more than the projector took lost a delivery on
// the way (around a change of its leader): the projector starts again from
// its checkpoint rather than wait a minute for the redelivery, saying it
// is caught up meanwhile. Otherwise its pending count is the consumer's.
func TestIdleFindsDeliveriesGoneAstray(t *testing.T) {
	for _, tt := range []struct {
		name                 string
		delivered, took      uint64
		pending, wantPending uint64
		astray               bool
	}{
		{"all taken, nothing pending", 40, 40, 0, 0, false},
		{"all taken, more to come", 40, 40, 7, 7, false},
		{"two gone astray", 42, 40, 0, 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pr := &Projector{}
			pr.setStatus(func(s *Status) { s.Pending = 1 })
			info := &jetstream.ConsumerInfo{Delivered: jetstream.SequenceInfo{Consumer: tt.delivered}, NumPending: tt.pending}
			err := pr.idle(context.Background(), answering{info: info}, tt.took)
			if got := errors.Is(err, errOutOfTurn); got != tt.astray {
				t.Fatalf("idle: %v, want a restart %v", err, tt.astray)
			}
			if got := pr.Status().Pending; got != tt.wantPending {
				t.Errorf("pending %d, want %d", got, tt.wantPending)
			}
		})
	}
}

// TestIdleFindsAStalledConsumer: events pending at two idle checks in a
// row, with nothing delivered between them, is a lost pull request; the
// projector starts again. Pending once, or pending again after deliveries,
// is a consumer at work.
func TestIdleFindsAStalledConsumer(t *testing.T) {
	type check struct {
		took, pending uint64
		stalled       bool
	}
	for _, tt := range []struct {
		name   string
		checks []check
	}{
		{"pending once", []check{{40, 3, false}, {45, 0, false}}},
		{"pending, then more delivered and pending again", []check{{40, 3, false}, {43, 2, false}, {45, 2, false}}},
		{"pending twice, nothing delivered", []check{{40, 3, false}, {40, 3, true}}},
		{"caught up in between", []check{{40, 3, false}, {40, 0, false}, {40, 1, false}, {40, 1, true}}},
		{"nothing pending", []check{{40, 0, false}, {40, 0, false}, {40, 0, false}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pr := &Projector{}
			for i, c := range tt.checks {
				info := &jetstream.ConsumerInfo{Delivered: jetstream.SequenceInfo{Consumer: c.took}, NumPending: c.pending}
				err := pr.idle(context.Background(), answering{info: info}, c.took)
				if got := errors.Is(err, errStalled); got != c.stalled {
					t.Fatalf("check %d: %v, want stalled %v", i, err, c.stalled)
				}
			}
		})
	}
}
