package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
)

// ErrCorrupt is returned by Follow for an event that does not parse or
// decode: following stops rather than skip it.
var ErrCorrupt = errors.New("corrupt ledger event")

// Follow keeps st up to date with the ledger from st.Seq()+1, until ctx
// ends. It reads with an ordered consumer and resumes after a dropped
// connection from where st is, so nothing is skipped or applied twice.
func Follow(ctx context.Context, js jetstream.JetStream, stream string, reg *events.Registry, st events.Applier) error {
	for ctx.Err() == nil {
		err := follow(ctx, js, stream, reg, st)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrCorrupt) {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func follow(ctx context.Context, js jetstream.JetStream, stream string, reg *events.Registry, st events.Applier) error {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   st.Seq() + 1,
	})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return err
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		e, err := events.Parse(m.Data())
		if err != nil {
			return fmt.Errorf("%w at %d: %v", ErrCorrupt, md.Sequence.Stream, err)
		}
		var p events.Payload
		if reg.Version(e.Type) > 0 {
			if p, err = reg.Decode(ctx, e); err != nil {
				return fmt.Errorf("%w at %d: %v", ErrCorrupt, md.Sequence.Stream, err)
			}
		}
		st.Apply(events.Recorded{Seq: md.Sequence.Stream, Raw: m.Data(), Event: e}, p)
	}
}

// Fold applies the ledger's events from st.Seq()+1 up to and including to
// into st, once, decoding each as Follow does: a fresh fold to compare
// with a snapshot (ops verify) or to build one.
func Fold(ctx context.Context, s events.Reader, reg *events.Registry, st events.Applier, to uint64) error {
	return s.Scan(ctx, st.Seq()+1, to, func(rec events.Recorded) error {
		e, err := events.Parse(rec.Raw) // Scan gives the bytes
		if err != nil {
			return fmt.Errorf("%w at %d: %v", ErrCorrupt, rec.Seq, err)
		}
		rec.Event = e
		var p events.Payload
		if reg.Version(e.Type) > 0 {
			if p, err = reg.Decode(ctx, e); err != nil {
				return fmt.Errorf("%w at %d: %v", ErrCorrupt, rec.Seq, err)
			}
		}
		st.Apply(rec, p)
		return nil
	})
}
