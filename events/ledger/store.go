// Package ledger stores the ledger in a NATS JetStream stream.
//
// The stream is the only source of truth of onebook. It is configured to
// refuse deletes and purges, deduplicates by event id (Nats-Msg-Id) within a
// window, and checks per-aggregate optimistic concurrency with
// Nats-Expected-Last-Subject-Sequence. Each message body is the canonical
// bytes of one event; nothing else is stored in it. Events that belong
// together are appended as one atomic batch (batch.go).
package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
)

// Config configures the ledger stream.
type Config struct {
	Stream          string        // stream name; default "LEDGER"
	Replicas        int           // 1 on a single machine, 3 in a cluster
	DuplicateWindow time.Duration // dedup window for event ids; default 1h
	// Admit, if set, is asked about every event before it is appended;
	// its error refuses the event and nothing is sent. A cell of a
	// partitioned deployment sets its routing rule here
	// (partition.Province, partition.National), so that no service can
	// put an event in another cell's ledger.
	Admit func(events.Event) error
	// Sources, if any, are streams the ledger sources besides what is
	// appended to it: the national ledger sources every province's
	// OUTBOX (events/outbox.Sources). They are part of the stream's
	// configuration, so that Open, which brings the configuration up to
	// date, keeps them.
	Sources []*jetstream.StreamSource
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = "LEDGER"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = time.Hour
	}
	return c
}

// StreamConfig is the JetStream configuration of the ledger stream.
func (c Config) StreamConfig() jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:        c.Stream,
		Description: "onebook ledger: append-only, sealed by a Merkle log",
		Subjects:    []string{events.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxAge:      0,
		MaxMsgSize:  events.MaxEventSize,
		Discard:     jetstream.DiscardNew, // never drop old events to make room
		Replicas:    c.Replicas,
		Duplicates:  c.DuplicateWindow,
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: true,
		// Group commit (Store.AppendBatch). It leaves DenyPurge alone,
		// unlike SubjectDeleteMarkerTTL and AllowMsgSchedules.
		AllowAtomicPublish: true,
		Sources:            c.Sources,
	}
}

// Store is the ledger on JetStream. It implements events.Store.
type Store struct {
	js        jetstream.JetStream
	stream    jetstream.Stream
	name      string
	dupWindow time.Duration
	maxBatch  atomic.Int64 // MaxBatch, or less once a server said so
	admit     func(events.Event) error
}

var _ events.Store = (*Store)(nil)

// Open creates the ledger stream if needed (or brings its configuration up to
// date: a stream made before group commit gets AllowAtomicPublish) and
// returns a Store on it.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	st, err := js.CreateOrUpdateStream(ctx, cfg.StreamConfig())
	if err != nil {
		return nil, fmt.Errorf("ledger stream %s: %w", cfg.Stream, err)
	}
	s := &Store{js: js, stream: st, name: cfg.Stream, dupWindow: cfg.DuplicateWindow, admit: cfg.Admit}
	s.maxBatch.Store(MaxBatch)
	return s, nil
}

// Stream is the name of the underlying stream.
func (s *Store) Stream() string { return s.name }

// Append implements events.Appender.
func (s *Store) Append(ctx context.Context, e events.Event, x events.Expect) (events.Recorded, error) {
	raw, err := e.Canonical()
	if err != nil {
		return events.Recorded{}, err
	}
	return s.AppendCanonical(ctx, e, raw, x)
}

// AppendCanonical appends e whose canonical bytes raw the caller already has.
func (s *Store) AppendCanonical(ctx context.Context, e events.Event, raw []byte, x events.Expect) (events.Recorded, error) {
	if s.admit != nil {
		if err := s.admit(e); err != nil {
			return events.Recorded{}, err
		}
	}
	msg := &nats.Msg{Subject: e.Subject(), Data: raw, Header: nats.Header{}}
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(e.ID), jetstream.WithExpectStream(s.name)}
	seq, check := x.Check()
	if check {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(seq))
	}
	ack, err := s.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		if isWrongLastSequence(err) {
			// Outside the dedup window a retried event shows up as a
			// concurrency conflict: look for it before calling it one.
			if rec, ok := s.findByID(ctx, e); ok {
				return rec, &events.Error{Code: events.CodeDuplicate, Message: "event " + e.ID + " is already recorded"}
			}
			return events.Recorded{}, &events.Error{Code: events.CodeConflict, Message: fmt.Sprintf("%s changed concurrently; reload and retry", e.Aggregate), Err: err}
		}
		return events.Recorded{}, &events.Error{Code: events.CodeUnavailable, Message: "ledger did not acknowledge the event", Err: err}
	}
	rec := events.Recorded{Seq: ack.Sequence, Raw: raw, Event: e}
	if ack.Duplicate {
		return rec, &events.Error{Code: events.CodeDuplicate, Message: "event " + e.ID + " is already recorded"}
	}
	return rec, nil
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

func (s *Store) findByID(ctx context.Context, e events.Event) (events.Recorded, bool) {
	recs, err := s.Load(ctx, e.Region, e.Aggregate)
	if err != nil {
		return events.Recorded{}, false
	}
	for _, r := range recs {
		if r.Event.ID == e.ID {
			return r, true
		}
	}
	return events.Recorded{}, false
}

// Load implements events.Loader.
func (s *Store) Load(ctx context.Context, region events.Region, agg events.Aggregate) ([]events.Recorded, error) {
	probe := events.Event{Region: region, Aggregate: agg}
	subject := probe.Subject()
	last, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, &events.Error{Code: events.CodeUnavailable, Message: "load " + agg.String(), Err: err}
	}
	if last.Sequence == 0 {
		return nil, nil
	}
	cons, err := s.js.OrderedConsumer(ctx, s.name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, &events.Error{Code: events.CodeUnavailable, Message: "load " + agg.String(), Err: err}
	}
	var out []events.Recorded
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, &events.Error{Code: events.CodeUnavailable, Message: "load " + agg.String(), Err: err}
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("load %s: %w", agg, err)
			}
			rec, err := parse(md.Sequence.Stream, m.Data())
			if err != nil {
				return nil, err
			}
			out = append(out, rec)
			if md.Sequence.Stream >= last.Sequence {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil {
			return nil, &events.Error{Code: events.CodeUnavailable, Message: "load " + agg.String(), Err: err}
		}
		if n == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
}

func parse(seq uint64, data []byte) (events.Recorded, error) {
	e, err := events.Parse(data)
	if err != nil {
		return events.Recorded{}, fmt.Errorf("ledger event at sequence %d is corrupt: %w", seq, err)
	}
	return events.Recorded{Seq: seq, Raw: data, Event: e}, nil
}

// Size implements events.Reader.
func (s *Store) Size(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, &events.Error{Code: events.CodeUnavailable, Message: "ledger size", Err: err}
	}
	return info.State.LastSeq, nil
}

// Read implements events.Reader.
func (s *Store) Read(ctx context.Context, seq uint64) (events.Recorded, error) {
	m, err := s.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return events.Recorded{}, &events.Error{Code: events.CodeNotFound, Message: fmt.Sprintf("no event at sequence %d", seq)}
	}
	if err != nil {
		return events.Recorded{}, &events.Error{Code: events.CodeUnavailable, Message: fmt.Sprintf("read sequence %d", seq), Err: err}
	}
	return parse(seq, m.Data)
}

// Scan implements events.Reader with an ordered consumer, the fastest way to
// read a stream in order.
func (s *Store) Scan(ctx context.Context, from, to uint64, fn func(events.Recorded) error) error {
	return ScanStream(ctx, s.js, s.name, nil, from, to, fn)
}

// ScanStream reads messages of stream name with from <= seq <= to in order,
// optionally filtered by subjects, and calls fn with each message's bytes. It
// returns at to or at the end of the stream as it was when the scan got there.
// It is shared by the ledger, the seal and the raw baselines of ops bench, so
// that the baselines measure the same code path.
func ScanStream(ctx context.Context, js jetstream.JetStream, name string, subjects []string, from, to uint64, fn func(events.Recorded) error) error {
	if from == 0 {
		from = 1
	}
	if to < from {
		return nil
	}
	err := scan(ctx, js, name, jetstream.OrderedConsumerConfig{
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from,
	}, to, fn)
	if err != nil {
		return fmt.Errorf("scan %s from %d: %w", name, from, err)
	}
	return nil
}

// scan reads the messages of stream name that an ordered consumer of cfg
// delivers, in order, up to sequence to or the end of the stream as it
// was when the scan got there, and calls fn with each. fn returning
// errStop ends the scan early, without an error.
func scan(ctx context.Context, js jetstream.JetStream, name string, cfg jetstream.OrderedConsumerConfig, to uint64, fn func(events.Recorded) error) error {
	cons, err := js.OrderedConsumer(ctx, name, cfg)
	if err != nil {
		return err
	}
	// Ordered consumers are ephemeral but linger on the server until an
	// inactivity threshold; remove this one as soon as the scan ends, so
	// that frequent scans do not exhaust the stream's consumer limit.
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = js.DeleteConsumer(dctx, name, info.Name)
			cancel()
		}
	}()
	// Nothing to read (no message matches the subjects from there on):
	// return now, for no message would ever arrive to say so.
	if info, err := cons.Info(ctx); err != nil {
		return err
	} else if info.NumPending == 0 {
		return nil
	}
	// Ask for no more than the range holds: the server sends a whole pull
	// at once, so a pull of 4096 for a 256-event entry bundle read (and
	// loaded, and sent) sixteen times what the scan uses.
	it, err := cons.Messages(jetstream.PullMaxMessages(pullSize(cfg.OptStartSeq, to)))
	if err != nil {
		return err
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		seq := md.Sequence.Stream
		if seq > to {
			return nil
		}
		if err := fn(events.Recorded{Seq: seq, Raw: m.Data()}); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
		if seq == to || md.NumPending == 0 {
			return nil
		}
	}
}

// pullSize is how many messages a scan from from to to asks for at once:
// the range (when it is known and small) or 4096.
func pullSize(from, to uint64) int {
	const most = 4096
	if from == 0 || to < from || to-from >= most {
		return most
	}
	return int(to - from + 1)
}

// errStop ends a scan early (scan).
var errStop = errors.New("stop scanning")

// Last returns the latest event of one aggregate, ok false if it has none:
// what a decision that depends only on an aggregate's newest event (the
// national log's head of a province log) reads, in one request however
// long the aggregate's history is.
func (s *Store) Last(ctx context.Context, region events.Region, agg events.Aggregate) (rec events.Recorded, ok bool, err error) {
	probe := events.Event{Region: region, Aggregate: agg}
	m, err := s.stream.GetLastMsgForSubject(ctx, probe.Subject())
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return events.Recorded{}, false, nil
	}
	if err != nil {
		return events.Recorded{}, false, &events.Error{Code: events.CodeUnavailable, Message: "last event of " + agg.String(), Err: err}
	}
	rec, err = parse(m.Sequence, m.Data)
	return rec, err == nil, err
}
