package events

import (
	"context"
	"errors"
	"time"
)

// Recorded is an event as the ledger holds it: its canonical bytes and its
// position. Positions are stream sequences, 1-based and gap-free because the
// stream refuses deletes; the event's Merkle leaf index is Seq-1.
type Recorded struct {
	Seq   uint64
	Raw   []byte
	Event Event
}

// LeafIndex is the index of the event's leaf in the Merkle seal.
func (r Recorded) LeafIndex() uint64 { return r.Seq - 1 }

// Expect states what the appender believes about its aggregate, for
// optimistic concurrency: the stream sequence of the aggregate's last event.
type Expect struct {
	seq   uint64
	check bool
}

// ExpectAny appends without a concurrency check (for events that do not
// depend on earlier state, such as access logs).
func ExpectAny() Expect { return Expect{} }

// ExpectNew requires that the aggregate has no events yet.
func ExpectNew() Expect { return Expect{check: true} }

// ExpectLast requires that the aggregate's last event is at stream sequence seq.
func ExpectLast(seq uint64) Expect { return Expect{seq: seq, check: true} }

// Check reports whether a concurrency check is requested and on which sequence.
func (x Expect) Check() (seq uint64, ok bool) { return x.seq, x.check }

// Appender appends events to the ledger.
//
// Append returns the recorded position once the ledger has acknowledged the
// event durably. If an event with the same id is already recorded it returns
// that record's position and an error with CodeDuplicate; callers that retry
// treat that as success. If x does not hold it returns CodeConflict: reload
// the aggregate, decide again, append again.
type Appender interface {
	Append(ctx context.Context, e Event, x Expect) (Recorded, error)
}

// Pending is an event on its way into a batch, with what its appender
// believes about its aggregate before the batch.
type Pending struct {
	Event  Event
	Expect Expect
}

// BatchAppender appends the events of one decision that belong together
// (an offline upload of scans, a household's registration with its passes)
// as one atomic batch: a group commit.
//
// AppendBatch records every event of b, in order and at consecutive
// sequences, or none of them, with one durable acknowledgement for the
// whole batch. An Expect is checked against its aggregate as it was
// before the batch, on the aggregate's first event in b; its later events
// in b follow that one and must ExpectAny. If every event of b is already
// recorded (a retried batch), AppendBatch returns their records and an
// error with CodeDuplicate, as Append does for one event. If only some
// are (another batch repeating some of its events), or an Expect does not
// hold, nothing is recorded and it returns CodeConflict: reload the
// state, decide again, append again. More than MaxBatch events are refused
// with CodeTooLarge, and so is a batch the ledger's servers find larger
// than their limit, which MaxBatch then reports.
type BatchAppender interface {
	AppendBatch(ctx context.Context, b []Pending) ([]Recorded, error)
	// MaxBatch is the most events one AppendBatch takes.
	MaxBatch() int
}

// Loader loads the events of one aggregate, in order.
type Loader interface {
	Load(ctx context.Context, region Region, agg Aggregate) ([]Recorded, error)
}

// Reader reads the ledger by position.
type Reader interface {
	// Size is the number of events in the ledger (the last sequence).
	Size(ctx context.Context) (uint64, error)
	// Read returns the event at sequence seq.
	Read(ctx context.Context, seq uint64) (Recorded, error)
	// Scan calls fn for each event with from <= Seq <= to, in order. The
	// Recorded passed to fn has Raw set and Event zero: parsing is left to the
	// caller, since a hash-only pass does not need it.
	Scan(ctx context.Context, from, to uint64, fn func(Recorded) error) error
}

// Store is the whole ledger interface the rest of onebook depends on.
type Store interface {
	Appender
	BatchAppender
	Loader
	Reader
}

// Waiter is an in-memory state folded from the ledger that commands can
// wait on (events/events.Position).
type Waiter interface {
	WaitFor(ctx context.Context, seq uint64) error
}

// Waiters is a Waiter over several states: a command whose decision reads
// more than one state waits until each has applied its write.
type Waiters []Waiter

// WaitFor waits for every state in turn.
func (ws Waiters) WaitFor(ctx context.Context, seq uint64) error {
	for _, w := range ws {
		if err := w.WaitFor(ctx, seq); err != nil {
			return err
		}
	}
	return nil
}

// AppendAndWait builds an event, appends it and waits until w has applied
// it, so that the command that appended it reads its own write. A
// duplicate (the same event already recorded) is waited for too and
// returned with ErrDuplicate for the caller to judge.
func AppendAndWait(ctx context.Context, s Store, reg *Registry, w Waiter, typ string, m Meta, p Payload, x Expect) (Recorded, error) {
	e, err := reg.New(ctx, typ, m, p)
	if err != nil {
		return Recorded{}, err
	}
	rec, err := s.Append(ctx, e, x)
	if err != nil && !errors.Is(err, ErrDuplicate) {
		return rec, err
	}
	if werr := w.WaitFor(ctx, rec.Seq); werr != nil {
		return rec, werr
	}
	return rec, err
}

// Draft is an event a command has decided on but not built yet: what
// AppendAndWait takes, for a batch (AppendBatchAndWait).
type Draft struct {
	Type    string
	Meta    Meta
	Payload Payload
	Expect  Expect
}

// AppendBatchAndWait builds the events of ds, appends them as one atomic
// batch (BatchAppender) and waits until w has applied the last, so that
// the command reads its own writes. A retried batch, recorded already, is
// waited for too and returned with ErrDuplicate for the caller to judge.
func AppendBatchAndWait(ctx context.Context, s Store, reg *Registry, w Waiter, ds []Draft) ([]Recorded, error) {
	b := make([]Pending, len(ds))
	for i, d := range ds {
		e, err := reg.New(ctx, d.Type, d.Meta, d.Payload)
		if err != nil {
			return nil, err
		}
		b[i] = Pending{Event: e, Expect: d.Expect}
	}
	recs, err := s.AppendBatch(ctx, b)
	if err != nil && !errors.Is(err, ErrDuplicate) {
		return recs, err
	}
	if len(recs) > 0 {
		if werr := w.WaitFor(ctx, recs[len(recs)-1].Seq); werr != nil {
			return recs, werr
		}
	}
	return recs, err
}

// CatchUp waits (at most 5 s) until w has applied everything the ledger
// held when called: commands call it before answering "not found" for
// something another replica may have just recorded.
func CatchUp(ctx context.Context, s Store, w Waiter) error {
	size, err := s.Size(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return w.WaitFor(ctx, size)
}

// Find looks something up in an in-memory state with get and, if it is
// not there, catches up with the ledger (CatchUp) and looks again: it may
// have just been recorded by another replica. ok is false if it is still
// not there.
func Find[T any](ctx context.Context, s Store, w Waiter, get func() (T, bool)) (v T, ok bool, err error) {
	if v, ok = get(); ok {
		return v, true, nil
	}
	if err := CatchUp(ctx, s, w); err != nil {
		return v, false, err
	}
	v, ok = get()
	return v, ok, nil
}
