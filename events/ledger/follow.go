package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
)

// Applier is an in-memory state folded from the ledger: decision states of
// the services, the early-warning engine.
type Applier interface {
	// Seq is the last ledger sequence applied.
	Seq() uint64
	// Apply folds one event; p is nil for event types the registry does
	// not know. Apply must ignore sequences it has already applied.
	Apply(rec events.Recorded, p events.Payload)
}

// ErrCorrupt is returned by Follow for an event that does not parse or
// decode: following stops rather than skip it.
var ErrCorrupt = errors.New("corrupt ledger event")

// Follow keeps st up to date with the ledger from st.Seq()+1, until ctx
// ends. It reads with an ordered consumer and resumes after a dropped
// connection from where st is, so nothing is skipped or applied twice.
func Follow(ctx context.Context, js jetstream.JetStream, stream string, reg *events.Registry, st Applier) error {
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

func follow(ctx context.Context, js jetstream.JetStream, stream string, reg *events.Registry, st Applier) error {
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

// Position is how far an in-memory state has applied the ledger, and lets
// commands wait until it has applied their own events. It shares the
// state's lock, so that whoever waited for a sequence then reads that
// sequence's data: Advance is called with the lock held, before the event
// is applied, and waiters wake only once the lock is released.
type Position struct {
	l    sync.Locker
	cond *sync.Cond
	seq  atomic.Uint64
	what string
}

// NewPosition returns the position of a state guarded by l (its write
// lock); what names the state in errors.
func NewPosition(l sync.Locker, what string) *Position {
	return &Position{l: l, cond: sync.NewCond(l), what: what}
}

// Seq is the last sequence applied.
func (p *Position) Seq() uint64 { return p.seq.Load() }

// Advance, called with the lock held, moves the position to seq and
// reports whether seq is new (false: already applied, skip the event).
func (p *Position) Advance(seq uint64) bool {
	if seq <= p.seq.Load() {
		return false
	}
	p.seq.Store(seq)
	p.cond.Broadcast()
	return true
}

// WaitFor blocks until sequence seq is applied, or ctx ends.
func (p *Position) WaitFor(ctx context.Context, seq uint64) error {
	stop := context.AfterFunc(ctx, func() {
		p.l.Lock()
		p.cond.Broadcast()
		p.l.Unlock()
	})
	defer stop()
	p.l.Lock()
	defer p.l.Unlock()
	for p.seq.Load() < seq {
		if err := ctx.Err(); err != nil {
			return &events.Error{Code: events.CodeUnavailable, Message: p.what + " is behind the ledger", Err: err}
		}
		p.cond.Wait()
	}
	return nil
}
