package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
)

// Projector keeps one projection up to date: it reads the ledger through a
// durable JetStream consumer in batches, folds each batch per document in
// memory, writes every touched document once with one bulk upsert by _id,
// then advances the projection's checkpoint and acknowledges the batch.
//
// The checkpoint in the document store is the truth about progress; the
// consumer is recreated from it at every start. A crash between the bulk
// write and the checkpoint re-delivers the batch, and documents skip events
// at or below their stored sequence, so re-applying is harmless.
//
// Because re-applying is harmless, the checkpoint may trail the documents:
// while the consumer still holds events (a rebuild, a burst), it is
// written at most once per CheckpointEvery rather than after every batch,
// and always after a batch that leaves nothing pending. On FerretDB the
// checkpoint's compare-and-set after every batch of a thousand events held
// a rebuild to 0.73 of the raw bulk write's rate; trailing, it reaches
// 0.83–0.88 (ops bench --only project). A crash costs re-reading at most
// CheckpointEvery of batches.
type Projector struct {
	P      Projection
	Store  DocStore
	JS     jetstream.JetStream
	Stream string // the ledger stream
	Reg    *events.Registry
	Log    *slog.Logger

	Batch     int           // events per batch; default 1000
	MaxWait   time.Duration // how long a partial batch waits for more; default 20ms
	CacheSize int           // documents kept in memory between batches; default 100,000
	IdleCheck time.Duration // how often an idle projector re-reads its checkpoint; default 2s
	// CheckpointEvery is how often a busy projector stores its
	// checkpoint; default 1s. A caught-up one stores it after every batch.
	CheckpointEvery time.Duration

	mu     sync.Mutex
	status Status
	stop   func() // stops the running consumer's iterator (Reset)
	reset  bool   // Reset asked for a rebuild: start rebuilds whatever the checkpoint says
	cache  *lru.Cache[string, *Doc]
	// fresh means every document of the projection was written by this
	// projector since the store was empty, and none has been evicted from
	// the cache: a cache miss is then a new document, with no read needed.
	fresh bool
	// delivered is the delivery (consumer) sequence of the last message
	// taken from the current consumer, to catch a delivery out of turn.
	delivered uint64
	// stored is when the checkpoint was last written.
	stored time.Time
	// waiting says the last idle check found events pending on the
	// consumer, none delivered since waitingAt (the deliveries taken then).
	waiting   bool
	waitingAt uint64
}

// Status is what /readyz reports of a projector.
type Status struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	Seq     int64  `json:"seq"`     // last ledger sequence applied (its documents are written; the stored checkpoint may trail)
	Pending uint64 `json:"pending"` // matching events not yet applied (lag)
	Running bool   `json:"running"`
	Started bool   `json:"started"` // consumer created: Pending is meaningful
	Err     string `json:"error,omitempty"`
}

// Status returns a snapshot of the projector's progress.
func (pr *Projector) Status() Status {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.status
}

func (pr *Projector) setStatus(f func(*Status)) {
	pr.mu.Lock()
	f(&pr.status)
	pr.mu.Unlock()
}

// Reset marks the projector behind until it has restarted from its
// checkpoint, which the caller has just reset (an erasure does): until the
// projector notices (at its next batch or idle check), Status must not say
// it is caught up.
//
// The reset is also remembered here: a batch in flight may still advance
// the stored checkpoint after the caller reset it (FerretDB's
// compare-and-set of the checkpoint is not atomic), and the projector must
// rebuild all the same.
func (pr *Projector) Reset() {
	pr.mu.Lock()
	pr.status.Started, pr.status.Pending = false, 1
	pr.reset = true
	stop := pr.stop
	pr.mu.Unlock()
	if stop != nil {
		stop() // restart now rather than at the next idle check
	}
}

// CaughtUp reports whether the projector has applied every matching event
// the ledger held when it last looked.
func (s Status) CaughtUp() bool { return s.Running && s.Started && s.Pending == 0 }

// ConsumerName is the durable consumer of projection p.
func ConsumerName(p Projection) string { return "proj_" + p.Name() }

func (pr *Projector) defaults() {
	if pr.Batch <= 0 {
		pr.Batch = 1000
	}
	if pr.MaxWait <= 0 {
		pr.MaxWait = 20 * time.Millisecond
	}
	if pr.IdleCheck <= 0 {
		pr.IdleCheck = 2 * time.Second
	}
	if pr.CheckpointEvery <= 0 {
		pr.CheckpointEvery = time.Second
	}
	if pr.CacheSize <= 0 {
		pr.CacheSize = 100_000
	}
	if pr.Log == nil {
		pr.Log = slog.Default()
	}
	pr.Log = pr.Log.With("projection", pr.P.Name())
}

// ErrHalted wraps a failure that retrying cannot fix (a fold error on a
// ledger event): the projector stops and reports it, rather than skip an
// event and silently diverge from the ledger.
var ErrHalted = errors.New("projection halted")

// errOutOfTurn is a delivery that is not the one after the last: one was
// lost or redelivered, as around a change of the stream's or the
// consumer's leader in a cluster. Folding on would skip or reorder events
// (a document skips events older than the last it folded), so the
// projector starts again from its checkpoint.
var errOutOfTurn = errors.New("delivery out of turn")

// errStalled is a consumer that holds events for the projector and
// delivers none: its pull request is lost (below), so the projector
// starts again from its checkpoint with a new consumer.
var errStalled = errors.New("consumer stalled")

// Run projects until ctx is done or a fold fails. Store and consumer errors
// are retried with backoff.
func (pr *Projector) Run(ctx context.Context) error {
	pr.defaults()
	pr.setStatus(func(s *Status) { *s = Status{Name: pr.P.Name(), Version: pr.P.Version(), Running: true} })
	defer pr.setStatus(func(s *Status) { s.Running = false })
	backoff := 100 * time.Millisecond
	for {
		err := pr.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrHalted) {
			pr.Log.Error("projection halted", "err", err)
			pr.setStatus(func(s *Status) { s.Err = err.Error() })
			return err
		}
		if errors.Is(err, ErrCheckpointMoved) {
			pr.Log.Info("projection was reset; restarting from its new checkpoint")
			backoff = 0
		} else {
			pr.Log.Warn("projector restarting", "err", err, "in", backoff)
		}
		pr.setStatus(func(s *Status) { s.Err = err.Error() })
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
	}
}

// start reads the checkpoint, rebuilds on a version change, and (re)creates
// the durable consumer from the checkpoint.
func (pr *Projector) start(ctx context.Context) (Checkpoint, jetstream.Consumer, error) {
	name := pr.P.Name()
	cp, err := pr.Store.Checkpoint(ctx, name)
	if err != nil {
		return cp, nil, fmt.Errorf("read checkpoint: %w", err)
	}
	pr.mu.Lock()
	reset := pr.reset
	pr.reset = false
	pr.mu.Unlock()
	if cp.Version != pr.P.Version() || cp.Name == "" || reset {
		if cp.Name != "" {
			pr.Log.Info("projection version changed: rebuilding from the ledger", "from", cp.Version, "to", pr.P.Version())
		}
		if err := pr.Store.Drop(ctx, pr.P); err != nil {
			return cp, nil, fmt.Errorf("drop for rebuild: %w", err)
		}
		cp = Checkpoint{Name: name, Version: pr.P.Version(), Updated: now()}
		if err := pr.Store.SetCheckpoint(ctx, cp); err != nil {
			return cp, nil, fmt.Errorf("reset checkpoint: %w", err)
		}
	}
	n, err := pr.Store.Count(ctx, pr.P)
	if err != nil {
		return cp, nil, fmt.Errorf("count documents: %w", err)
	}
	pr.fresh = cp.Seq == 0 && n == 0
	pr.cache, _ = lru.NewWithEvict(pr.CacheSize, func(string, *Doc) { pr.fresh = false })

	cname := ConsumerName(pr.P)
	if err := pr.JS.DeleteConsumer(ctx, pr.Stream, cname); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return cp, nil, fmt.Errorf("reset consumer: %w", err)
	}
	cons, err := pr.JS.CreateConsumer(ctx, pr.Stream, jetstream.ConsumerConfig{
		Durable:        cname,
		Description:    fmt.Sprintf("projection %s v%d", name, pr.P.Version()),
		FilterSubjects: pr.P.Subjects(),
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    uint64(cp.Seq) + 1,
		AckPolicy:      jetstream.AckAllPolicy,
		AckWait:        time.Minute,
		MaxAckPending:  4 * pr.Batch,
		MaxDeliver:     -1,
	})
	if err != nil {
		return cp, nil, fmt.Errorf("create consumer: %w", err)
	}
	info, err := cons.Info(ctx)
	if err == nil {
		pr.setStatus(func(s *Status) { s.Seq, s.Pending, s.Err, s.Started = cp.Seq, info.NumPending, "", true })
	}
	pr.delivered = 0 // a new consumer delivers from 1
	pr.waiting = false
	pr.Log.Info("projector started", "version", cp.Version, "from", cp.Seq+1, "fresh", pr.fresh)
	return cp, cons, nil
}

func (pr *Projector) run(ctx context.Context) error {
	cp, cons, err := pr.start(ctx)
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * pr.Batch))
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	pr.mu.Lock()
	pr.stop = it.Stop
	pr.mu.Unlock()

	// Reading and opening the next batch overlaps with folding and
	// writing this one: on a sealed ledger, parsing and unsealing a batch
	// costs about as much as its bulk write. The reader runs at most one
	// batch ahead, so at most three batches are unacknowledged, under the
	// consumer's MaxAckPending of four.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan readBatch, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- pr.read(ctx, it, cp.Seq, batches)
	}()
	for b := range batches {
		if err := pr.apply(ctx, cons, &cp, b); err != nil {
			cancel()
			it.Stop()
			for range batches { // let the reader see the stop and return
			}
			return err
		}
	}
	return <-readErr
}

// readBatch is one batch taken from the consumer, parsed and routed, on its
// way to apply; or, when idle, the reader's note that nothing came.
type readBatch struct {
	items     []pending
	last      jetstream.Msg // acknowledging it acknowledges the batch (AckAll)
	lastSeq   uint64        // stream sequence of last
	remaining uint64        // the consumer's pending count after last
	idle      bool
	delivered uint64 // when idle: the consumer's deliveries taken so far
}

// read takes batches of up to pr.Batch messages from it, checks that each
// is the consumer's next delivery, prepares those after from (the
// checkpoint this consumer started at) and sends them to out, in order.
func (pr *Projector) read(ctx context.Context, it jetstream.MessagesContext, from int64, out chan<- readBatch) error {
	for {
		m, err := it.Next(jetstream.NextMaxWait(pr.IdleCheck))
		b := readBatch{idle: errors.Is(err, nats.ErrTimeout), delivered: pr.delivered}
		if err != nil && !b.idle {
			return fmt.Errorf("next: %w", err)
		}
		for n := 0; !b.idle && n < pr.Batch; n++ {
			if err := pr.take(ctx, &b, m, from); err != nil {
				return err
			}
			if n+1 < pr.Batch {
				if m, err = it.Next(jetstream.NextMaxWait(pr.MaxWait)); err != nil {
					break // timeout: apply what we have
				}
			}
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take adds message m to batch b.
func (pr *Projector) take(ctx context.Context, b *readBatch, m jetstream.Msg, from int64) error {
	md, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	// Each message must be the consumer's next delivery: a gap is a
	// delivery lost in transit (which AckAll would then acknowledge
	// unseen), a repeat is a redelivery that may come after later events.
	if md.Sequence.Consumer != pr.delivered+1 {
		return fmt.Errorf("%w: delivery %d (stream sequence %d, delivered %d times) after delivery %d",
			errOutOfTurn, md.Sequence.Consumer, md.Sequence.Stream, md.NumDelivered, pr.delivered)
	}
	pr.delivered = md.Sequence.Consumer
	b.last, b.lastSeq, b.remaining = m, md.Sequence.Stream, md.NumPending
	if int64(b.lastSeq) <= from {
		return nil // redelivered, already applied
	}
	it, err := prepare(ctx, pr.P, pr.Reg, events.Recorded{Seq: b.lastSeq, Raw: m.Data()})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrHalted, err)
	}
	if len(it.keys) > 0 {
		b.items = append(b.items, it)
	}
	return nil
}

type pending struct {
	rec  events.Recorded
	pl   events.Payload
	keys []string
}

// apply folds one batch and writes it; for an idle note, it checks that
// nobody reset the projection meanwhile and that no delivery went astray.
func (pr *Projector) apply(ctx context.Context, cons jetstream.Consumer, cp *Checkpoint, b readBatch) error {
	if b.idle {
		now, err := pr.Store.Checkpoint(ctx, cp.Name)
		if err != nil {
			return fmt.Errorf("read checkpoint: %w", err)
		}
		if now.Version != cp.Version || now.Seq != cp.Seq {
			return fmt.Errorf("checkpoint: %w", ErrCheckpointMoved)
		}
		return pr.idle(ctx, cons, b.delivered)
	}
	order, err := pr.foldItems(ctx, b.items)
	if err != nil {
		return err
	}
	if len(order) > 0 {
		if err := pr.Store.Put(ctx, pr.P, order); err != nil {
			return fmt.Errorf("bulk write %d documents: %w", len(order), err)
		}
		for _, d := range order {
			d.New = false
			pr.cache.Add(d.ID, d)
		}
	}
	if int64(b.lastSeq) > cp.Seq && (b.remaining == 0 || time.Since(pr.stored) >= pr.CheckpointEvery) {
		next := Checkpoint{Name: cp.Name, Version: cp.Version, Seq: int64(b.lastSeq), Updated: now()}
		if err := pr.Store.AdvanceCheckpoint(ctx, *cp, next); err != nil {
			// ErrCheckpointMoved: an operator reset the projection; run
			// restarts, and start rebuilds it.
			return fmt.Errorf("checkpoint: %w", err)
		}
		*cp = next
		pr.stored = time.Now()
	}
	// AckAll: acknowledging the last message acknowledges the batch. A lost
	// ack only means a harmless redelivery.
	if err := b.last.Ack(); err != nil {
		pr.Log.Debug("ack failed", "err", err)
	}
	pr.setStatus(func(s *Status) {
		if pr.reset {
			return // Reset during this batch: behind until start has rebuilt
		}
		s.Seq, s.Pending, s.Err = max(cp.Seq, int64(b.lastSeq)), b.remaining, ""
	})
	return nil
}

// idle asks the consumer, when nothing came for a while, what it
// delivered and what it still holds. A delivery lost in transit (around a
// change of the stream's or the consumer's leader in a cluster, found by
// the fault tests on a ledger per province) would otherwise come back only
// as a redelivery after AckWait, a minute in which the status said caught
// up while the stored checkpoint stayed behind: the projector starts again
// from its checkpoint at once instead. The pending count is refreshed
// either way, so that the status does not keep a stale "caught up".
//
// A delivery still in flight when the consumer answers looks lost too;
// starting again from the checkpoint is then merely early, and harmless.
//
// A consumer that holds events at two idle checks in a row with nothing
// delivered between them has lost the projector's pull request: parked
// on a server that was killed (a node restart, found by the cell fault
// test on CI), it never answers, and the client, counting it as still
// open, never sends another (it would notice missing heartbeats only
// within a single Next of over 10 s, and Next waits IdleCheck). The
// projection stayed behind for minutes; the projector starts again from
// its checkpoint instead. One check is not enough: an event appended just
// after Next gave up is pending for a moment without anything lost.
func (pr *Projector) idle(ctx context.Context, cons jetstream.Consumer, delivered uint64) error {
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("consumer info: %w", err)
	}
	if info.Delivered.Consumer > delivered {
		return fmt.Errorf("%w: the consumer delivered %d messages, %d came", errOutOfTurn, info.Delivered.Consumer, delivered)
	}
	pr.setStatus(func(s *Status) { s.Pending = info.NumPending })
	if info.NumPending == 0 {
		pr.waiting = false
		return nil
	}
	if pr.waiting && pr.waitingAt == delivered {
		return fmt.Errorf("%w: %d events pending, none delivered over two idle checks", errStalled, info.NumPending)
	}
	pr.waiting, pr.waitingAt = true, delivered
	return nil
}

// foldItems loads the documents items touch that are not cached, folds items
// into them and returns those that changed, in the order first touched.
func (pr *Projector) foldItems(ctx context.Context, items []pending) ([]*Doc, error) {
	var need []string
	seen := map[string]bool{}
	for _, it := range items {
		for _, k := range it.keys {
			if !seen[k] && !pr.cache.Contains(k) {
				seen[k] = true
				need = append(need, k)
			}
		}
	}
	if len(need) > 0 && !pr.fresh {
		got, err := pr.Store.Get(ctx, pr.P, need)
		if err != nil {
			return nil, fmt.Errorf("load documents: %w", err)
		}
		for id, d := range got {
			pr.cache.Add(id, d)
		}
	}
	dirty := map[string]*Doc{}
	var order []*Doc
	for _, it := range items {
		leaf := tlog.RecordHash(it.rec.Raw)
		for _, k := range it.keys {
			d, ok := dirty[k]
			if !ok {
				// Folding mutates cached documents in place. If the batch
				// then fails, run returns and start builds a new cache.
				if c, hit := pr.cache.Peek(k); hit {
					d = c
				} else {
					d = &Doc{ID: k, New: true}
				}
			}
			changed, err := fold(pr.P, d, it.rec, it.pl, leaf)
			if err != nil {
				return nil, fmt.Errorf("%w: fold event %d into %s: %v", ErrHalted, it.rec.Seq, k, err)
			}
			if changed && !ok {
				dirty[k] = d
				order = append(order, d)
			}
		}
	}
	return order, nil
}

// prepare parses a recorded event and routes it for p: it returns the
// payload (nil for event types the registry does not know) and the document
// keys. It is shared by the projector and Verify so that both route alike.
func prepare(ctx context.Context, p Projection, reg *events.Registry, rec events.Recorded) (pending, error) {
	e := rec.Event
	if e.ID == "" {
		var err error
		if e, err = events.Parse(rec.Raw); err != nil {
			return pending{}, fmt.Errorf("event %d: %w", rec.Seq, err)
		}
		rec.Event = e
	}
	var pl events.Payload
	if reg.Version(e.Type) > 0 {
		var err error
		if pl, err = reg.Decode(ctx, e); err != nil {
			return pending{}, fmt.Errorf("event %d: %w", rec.Seq, err)
		}
	}
	return pending{rec: rec, pl: pl, keys: p.Keys(e, pl)}, nil
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }
