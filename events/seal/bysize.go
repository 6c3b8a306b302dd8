package seal

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
)

// BySize returns the published checkpoint of tree size size, verified;
// CodeNotFound if no checkpoint of exactly that size was published.
//
// Checkpoint sizes grow with their sequence in the stream (the sealer only
// appends larger trees, behind a fence), so the lookup is a binary search
// over the stream, O(log n) direct gets. Should the stream hold a message
// that does not parse or verify (someone else wrote to it), the search may
// be misled; it then falls back to reading every checkpoint in order.
func (c *Checkpoints) BySize(ctx context.Context, size uint64) (SignedCheckpoint, error) {
	latest, err := c.Latest(ctx)
	if err != nil {
		if events.ErrorCode(err) == events.CodeNotFound {
			return SignedCheckpoint{}, events.Errorf(events.CodeNotFound, "no checkpoint of size %d was published", size)
		}
		if events.ErrorCode(err) != events.CodeInternal {
			return SignedCheckpoint{}, err
		}
		return c.scanBySize(ctx, size) // the last message does not verify
	}
	switch {
	case latest.Size == size:
		return latest, nil
	case latest.Size < size:
		return SignedCheckpoint{}, events.Errorf(events.CodeNotFound, "no checkpoint of size %d was published; the latest has size %d", size, latest.Size)
	}
	info, err := c.stream.Info(ctx)
	if err != nil {
		return SignedCheckpoint{}, &events.Error{Code: events.CodeUnavailable, Message: "checkpoint stream", Err: err}
	}
	// The first sequence whose size is >= size, in [first, latest.Seq].
	lo, hi := info.State.FirstSeq, latest.Seq
	for lo < hi {
		mid := lo + (hi-lo)/2
		s, ok, err := c.peekSize(ctx, mid)
		if err != nil {
			return SignedCheckpoint{}, err
		}
		if !ok {
			return c.scanBySize(ctx, size)
		}
		if s < size {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	sc, err := c.at(ctx, lo)
	if err != nil {
		if events.ErrorCode(err) == events.CodeInternal {
			return c.scanBySize(ctx, size)
		}
		return SignedCheckpoint{}, err
	}
	if sc.Size != size {
		return SignedCheckpoint{}, events.Errorf(events.CodeNotFound, "no checkpoint of size %d was published", size)
	}
	return sc, nil
}

// at reads and verifies the checkpoint at stream sequence seq.
func (c *Checkpoints) at(ctx context.Context, seq uint64) (SignedCheckpoint, error) {
	m, err := c.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return SignedCheckpoint{}, &events.Error{Code: events.CodeInternal, Message: fmt.Sprintf("checkpoint message %d is missing", seq)}
	}
	if err != nil {
		return SignedCheckpoint{}, &events.Error{Code: events.CodeUnavailable, Message: "read checkpoint", Err: err}
	}
	return c.open(m.Sequence, m.Time, m.Data)
}

// peekSize reads the tree size of the message at seq without verifying
// its signature; ok is false if it is not a checkpoint.
func (c *Checkpoints) peekSize(ctx context.Context, seq uint64) (uint64, bool, error) {
	m, err := c.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, &events.Error{Code: events.CodeUnavailable, Message: "read checkpoint", Err: err}
	}
	cp, err := ParseCheckpoint(noteText(m.Data))
	if err != nil || cp.Origin != c.origin {
		return 0, false, nil
	}
	return cp.Size, true, nil
}

// scanBySize reads the checkpoints in order, skipping those that do not
// verify, for the one of size size.
func (c *Checkpoints) scanBySize(ctx context.Context, size uint64) (SignedCheckpoint, error) {
	info, err := c.stream.Info(ctx)
	if err != nil {
		return SignedCheckpoint{}, &events.Error{Code: events.CodeUnavailable, Message: "checkpoint stream", Err: err}
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		sc, err := c.at(ctx, seq)
		if events.ErrorCode(err) == events.CodeInternal {
			continue
		}
		if err != nil {
			return SignedCheckpoint{}, err
		}
		if sc.Size == size {
			return sc, nil
		}
		if sc.Size > size {
			break
		}
	}
	return SignedCheckpoint{}, events.Errorf(events.CodeNotFound, "no checkpoint of size %d was published", size)
}
