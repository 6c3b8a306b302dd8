package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/onebook/onebook/events"
)

// directMax is the longest range Scan reads with batched direct gets
// rather than an ordered consumer: an entry bundle of the tlog-tiles
// routes (256 events), which bounds what readDirect holds at once.
const directMax = 256

// readDirect returns the events from..to, read with batched direct gets
// (JetStream's DIRECT.GET with a batch, nats-server 2.11 and later, on a
// stream that allows direct reads). For a short range that saves what an
// ordered consumer costs per read: creating it, asking its state and
// deleting it, three API requests and a consumer's set-up on the server,
// which were most of the CPU of serving an entry bundle.
//
// ok is false, with nothing read, unless the answers are exactly the
// events from..to in order: the range runs past the end of the stream, a
// replica behind the leader answered (direct gets may be answered by any
// replica), or the server has no batched direct gets. The caller then
// reads with a consumer, whose answer is the leader's.
func (s *Store) readDirect(ctx context.Context, from, to uint64) (recs []events.Recorded, ok bool, err error) {
	recs = make([]events.Recorded, 0, to-from+1)
	next := from
	for next <= to {
		msgs, err := jetstreamext.GetBatch(ctx, s.js, s.name, int(to-next+1), jetstreamext.GetBatchSeq(next))
		if err != nil {
			return nil, false, nil
		}
		before := next
		for m, err := range msgs {
			if errors.Is(err, jetstreamext.ErrNoMessages) || errors.Is(err, jetstreamext.ErrBatchUnsupported) {
				return nil, false, nil
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil, false, ctx.Err()
				}
				return nil, false, nil
			}
			if m.Sequence != next || next > to {
				return nil, false, nil // a gap: not the leader's whole range
			}
			recs = append(recs, events.Recorded{Seq: m.Sequence, Raw: m.Data})
			next++
		}
		if next == before {
			return nil, false, nil // an empty answer: past the end
		}
		// Fewer than asked (the server's byte limit of one answer): ask
		// again from there.
	}
	return recs, true, nil
}

// scanDirect is Scan of a short range: direct reads when they give the
// whole range, else an ordered consumer.
func (s *Store) scanDirect(ctx context.Context, from, to uint64, fn func(events.Recorded) error) error {
	recs, ok, err := s.readDirect(ctx, from, to)
	if err != nil {
		return fmt.Errorf("read %s %d..%d: %w", s.name, from, to, err)
	}
	if !ok {
		return ScanStream(ctx, s.js, s.name, nil, from, to, fn)
	}
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// directRange reports whether Scan reads from..to with direct gets.
func directRange(from, to uint64) bool {
	return from > 0 && to >= from && to-from < directMax
}
