package events

import (
	"context"
	"sync"
	"sync/atomic"
)

// Applier is an in-memory state folded from the ledger: decision states of
// the services, the early-warning engine.
type Applier interface {
	// Seq is the last ledger sequence applied.
	Seq() uint64
	// Apply folds one event; p is nil for event types the registry does
	// not know. Apply must ignore sequences it has already applied.
	Apply(rec Recorded, p Payload)
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

// Fold is the body of every state's Apply: under the state's write lock
// it moves the position to seq and, if seq is new, runs apply; an event
// already applied (a snapshot covered it, a follower resumed) is skipped.
func (p *Position) Fold(seq uint64, apply func()) {
	p.l.Lock()
	defer p.l.Unlock()
	if p.Advance(seq) {
		apply()
	}
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
			return &Error{Code: CodeUnavailable, Message: p.what + " is behind the ledger", Err: err}
		}
		p.cond.Wait()
	}
	return nil
}

// Restore sets the position of a state just restored from a snapshot that
// covers the ledger up to seq. It is called once, before the state follows
// the ledger, with no waiter and no concurrent Apply.
func (p *Position) Restore(seq uint64) {
	p.l.Lock()
	defer p.l.Unlock()
	p.seq.Store(seq)
	p.cond.Broadcast()
}

// Get returns a copy of the value m holds for key, read under l's read
// lock (an in-memory state's lock); ok is false if there is none. It is
// the accessor of every state that keeps its entities by id.
func Get[T any](l *sync.RWMutex, m map[string]*T, key string) (v T, ok bool) {
	l.RLock()
	defer l.RUnlock()
	if x := m[key]; x != nil {
		return *x, true
	}
	return v, false
}

// Fanout applies the ledger to several states through one reader, so that
// each event is parsed and unsealed once, not once per state. Its Seq is
// the least of theirs: a follower starts where the state furthest behind
// is, and each state skips what it has already applied (the Applier
// contract), so states restored from snapshots of different sequences
// share it.
type Fanout []Applier

// Seq is the least sequence the states have applied.
func (f Fanout) Seq() uint64 {
	if len(f) == 0 {
		return 0
	}
	s := f[0].Seq()
	for _, a := range f[1:] {
		s = min(s, a.Seq())
	}
	return s
}

// Apply applies the event to every state, in order.
func (f Fanout) Apply(rec Recorded, p Payload) {
	for _, a := range f {
		a.Apply(rec, p)
	}
}
