package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/onebook/onebook/events"
)

// Atomic batches (nats-server ≥ 2.12, ADR-50; the stream allows them with
// AllowAtomicPublish). What nats-server v2.15.2 does with one, read from
// its source (server/stream.go processJetStreamBatchMsg and
// server/jetstream_batching.go checkMsgHeadersPreClusteredProposal):
//
//   - The messages are staged apart (in a file of the batch on an R1 file
//     stream, so that a restart finishes or drops it whole) and checked
//     together when the commit arrives; then they are stored at
//     consecutive sequences with nothing in between, and the commit is
//     acknowledged once, with the last sequence, after one fsync under
//     sync_interval: always (R1) or as one Raft proposal (R3).
//   - Nats-Msg-Id is honoured: an id recorded within the stream's
//     duplicate window, or repeated inside the batch, refuses the whole
//     batch with error 10201 and no sequence. A retried batch is
//     therefore not recorded twice, but it is not acknowledged as a
//     duplicate either: AppendBatch looks its events up (retried).
//   - Nats-Expected-Last-Subject-Sequence is honoured on a subject's first
//     message in the batch; on a later one it refuses the batch (10164).
//     Nats-Expected-Last-Msg-Id is refused in a batch (10177).
//   - At most max_batch_size messages (1000 unless the server's jetstream
//     limits say otherwise; refused with 10199 "atomic publish batch is
//     too large: N"), at most 50 open batches per stream and 1000 per
//     server (10210), and an open batch is abandoned after 10 s without a
//     message.
const (
	// MaxBatch is nats-server's default max_batch_size: the most events
	// Store.AppendBatch sends as one batch until a server says it takes
	// fewer.
	MaxBatch = 1000

	errCodeBatchDuplicateMsgID = 10201 // some event of the batch is already recorded
	errCodeBatchTooLarge       = 10199 // more messages than the server's max_batch_size
	errCodeBatchTooManyOpen    = 10210 // too many open batches on the stream or server
)

// MaxBatch implements events.BatchAppender.
func (s *Store) MaxBatch() int { return int(s.maxBatch.Load()) }

// AppendBatch implements events.BatchAppender with one JetStream atomic
// batch: every event with its id as Nats-Msg-Id, an Expect as the expected
// last sequence of the event's subject (one subject per aggregate).
func (s *Store) AppendBatch(ctx context.Context, b []events.Pending) ([]events.Recorded, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if n := s.MaxBatch(); len(b) > n {
		return nil, &events.Error{Code: events.CodeTooLarge, Message: fmt.Sprintf("at most %d events in one batch, got %d", n, len(b))}
	}
	msgs := make([]*nats.Msg, len(b))
	recs := make([]events.Recorded, len(b))
	ids := make(map[string]bool, len(b))
	subjects := make(map[string]bool)
	for i, p := range b {
		e := p.Event
		if s.admit != nil {
			if err := s.admit(e); err != nil {
				return nil, err
			}
		}
		if ids[e.ID] {
			return nil, fmt.Errorf("append batch: event %s appears twice", e.ID)
		}
		ids[e.ID] = true
		raw, err := e.Canonical()
		if err != nil {
			return nil, err
		}
		m := &nats.Msg{Subject: e.Subject(), Data: raw, Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, e.ID)
		m.Header.Set(jetstream.ExpectedStreamHeader, s.name)
		if seq, check := p.Expect.Check(); check {
			if subjects[m.Subject] {
				return nil, fmt.Errorf("append batch: event %s expects its aggregate %s after an earlier event of the batch changed it", e.ID, e.Aggregate)
			}
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(seq, 10))
		}
		subjects[m.Subject] = true
		msgs[i], recs[i] = m, events.Recorded{Raw: raw, Event: e}
	}
	ack, err := jetstreamext.PublishMsgBatch(ctx, s.js, msgs)
	if err != nil {
		return s.batchRefused(ctx, b, err)
	}
	// The batch is stored at consecutive sequences ending at the ack's.
	first := ack.Sequence - uint64(len(b)) + 1
	for i := range recs {
		recs[i].Seq = first + uint64(i)
	}
	return recs, nil
}

// batchRefused turns the server's refusal of batch b into the error
// events.BatchAppender promises.
func (s *Store) batchRefused(ctx context.Context, b []events.Pending, err error) ([]events.Recorded, error) {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return nil, &events.Error{Code: events.CodeUnavailable, Message: "ledger did not acknowledge the batch", Err: err}
	}
	switch apiErr.ErrorCode {
	case errCodeBatchDuplicateMsgID:
		// Some event was recorded within the duplicate window: look
		// among the events of the batch's subjects stored since then.
		since := time.Now().Add(-s.dupWindow - clockSlack)
		return s.retried(ctx, b, since, err)
	case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
		// Outside the duplicate window a retried batch shows up as a
		// concurrency conflict, as a retried event does in Append: look
		// for its events over the whole of their aggregates.
		return s.retried(ctx, b, time.Time{}, err)
	case errCodeBatchTooLarge:
		n := len(b) - 1
		if d := apiErr.Description; strings.LastIndexByte(d, ' ') >= 0 {
			if v, perr := strconv.Atoi(d[strings.LastIndexByte(d, ' ')+1:]); perr == nil && v > 0 {
				n = v
			}
		}
		if n < s.MaxBatch() {
			s.maxBatch.Store(int64(n))
		}
		return nil, &events.Error{Code: events.CodeTooLarge, Message: fmt.Sprintf("the ledger takes at most %d events in one batch, got %d", s.MaxBatch(), len(b)), Err: err}
	case errCodeBatchTooManyOpen:
		return nil, &events.Error{Code: events.CodeUnavailable, Message: "the ledger has too many batches open; retry", Err: err}
	}
	return nil, &events.Error{Code: events.CodeUnavailable, Message: "ledger refused the batch", Err: err}
}

// clockSlack allows for the clocks of this process and the server that
// stamped the messages to differ.
const clockSlack = time.Minute

// retried decides what a refused batch b was: if every event of b is
// recorded (stored since since; zero: ever), a retry of a batch that was
// recorded, answered with their records and CodeDuplicate; otherwise a
// conflict, and nothing of b was recorded.
func (s *Store) retried(ctx context.Context, b []events.Pending, since time.Time, refusal error) ([]events.Recorded, error) {
	found, err := s.recorded(ctx, b, since)
	if err != nil {
		return nil, &events.Error{Code: events.CodeUnavailable, Message: "look up the events of a refused batch", Err: errors.Join(refusal, err)}
	}
	if len(found) == len(b) {
		recs := make([]events.Recorded, len(b))
		for i, p := range b {
			recs[i] = found[p.Event.ID]
		}
		return recs, &events.Error{Code: events.CodeDuplicate, Message: fmt.Sprintf("the batch of %d events is already recorded", len(b))}
	}
	for _, p := range b {
		if _, ok := found[p.Event.ID]; ok {
			return nil, &events.Error{Code: events.CodeConflict, Message: fmt.Sprintf("event %s of the batch is already recorded, not the whole batch; reload and retry", p.Event.ID), Err: refusal}
		}
	}
	return nil, &events.Error{Code: events.CodeConflict, Message: "an aggregate of the batch changed concurrently; reload and retry", Err: refusal}
}

// recorded returns the events of b found on their subjects among the
// events stored since since (zero: ever), by id.
func (s *Store) recorded(ctx context.Context, b []events.Pending, since time.Time) (map[string]events.Recorded, error) {
	want := make(map[string]bool, len(b))
	var subjects []string
	for _, p := range b {
		want[p.Event.ID] = true
		if sub := p.Event.Subject(); !slices.Contains(subjects, sub) {
			subjects = append(subjects, sub)
		}
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: subjects, DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	found := make(map[string]events.Recorded)
	err := scan(ctx, s.js, s.name, cfg, ^uint64(0), func(r events.Recorded) error {
		rec, err := parse(r.Seq, r.Raw)
		if err != nil {
			return err
		}
		if want[rec.Event.ID] {
			found[rec.Event.ID] = rec
			if len(found) == len(want) {
				return errStop
			}
		}
		return nil
	})
	return found, err
}
