package seal

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/events"
)

// CheckpointsConfig configures the checkpoint stream.
type CheckpointsConfig struct {
	Stream string // default "LEDGER_SEAL"
	// Subject every checkpoint is published on; default "seal.checkpoint".
	// One subject lets the publisher fence on
	// Nats-Expected-Last-Subject-Sequence. Ledgers sharing a server need
	// subjects of their own.
	Subject  string
	Replicas int // 1 on a single machine, 3 in a cluster
	// VerifierKey is the signed-note verifier key of the checkpoint signer
	// ("<name>+<hash>+<base64>"). Its name is the log's origin. Every
	// checkpoint read from the stream is verified with it.
	VerifierKey string
}

// Checkpoints is the stream of signed checkpoints, one signed note per
// message, in the order they were made. The stream refuses deletes and
// purges, and a checkpoint is only appended by a publisher that names the
// sequence of the last one (see Sealer), so two sealers can never both
// extend it: the history of checkpoints is linear.
type Checkpoints struct {
	js        jetstream.JetStream
	stream    jetstream.Stream
	name      string
	subject   string
	origin    string
	vkey      string
	verifiers note.Verifiers
}

// SignedCheckpoint is a checkpoint as stored: the signed note and what it says.
type SignedCheckpoint struct {
	Checkpoint
	Note []byte    // the signed note, exactly as stored and served
	Seq  uint64    // its sequence in the checkpoint stream
	Time time.Time // when it was stored
}

// OpenCheckpoints creates the checkpoint stream if needed (or brings its
// configuration up to date) and returns it.
func OpenCheckpoints(ctx context.Context, js jetstream.JetStream, cfg CheckpointsConfig) (*Checkpoints, error) {
	if cfg.Stream == "" {
		cfg.Stream = "LEDGER_SEAL"
	}
	if cfg.Subject == "" {
		cfg.Subject = "seal.checkpoint"
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	v, err := note.NewVerifier(cfg.VerifierKey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint verifier key %q: %w", cfg.VerifierKey, err)
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "onebook ledger seal: signed checkpoints (C2SP tlog-checkpoint)",
		Subjects:    []string{cfg.Subject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxMsgSize:  64 << 10, // room for witness cosignatures
		Discard:     jetstream.DiscardNew,
		Replicas:    cfg.Replicas,
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: true,
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint stream %s: %w", cfg.Stream, err)
	}
	return &Checkpoints{js: js, stream: st, name: cfg.Stream, subject: cfg.Subject, origin: v.Name(), vkey: cfg.VerifierKey, verifiers: note.VerifierList(v)}, nil
}

// Origin is the log's origin, the verifier key's name.
func (c *Checkpoints) Origin() string { return c.origin }

// VerifierKey is the checkpoint signer's verifier key.
func (c *Checkpoints) VerifierKey() string { return c.vkey }

// Latest returns the latest checkpoint. With none stored yet it returns an
// error with code events.CodeNotFound.
func (c *Checkpoints) Latest(ctx context.Context) (SignedCheckpoint, error) {
	m, err := c.stream.GetLastMsgForSubject(ctx, c.subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return SignedCheckpoint{}, events.Errorf(events.CodeNotFound, "the ledger has no checkpoint yet")
	}
	if err != nil {
		return SignedCheckpoint{}, &events.Error{Code: events.CodeUnavailable, Message: "read latest checkpoint", Err: err}
	}
	return c.open(m.Sequence, m.Time, m.Data)
}

func (c *Checkpoints) open(seq uint64, t time.Time, msg []byte) (SignedCheckpoint, error) {
	cp, _, err := OpenCheckpoint(msg, c.verifiers, c.origin)
	if err != nil {
		// A stored checkpoint that does not verify is not the client's
		// fault: someone wrote to the stream who should not have.
		return SignedCheckpoint{}, &events.Error{Code: events.CodeInternal, Message: fmt.Sprintf("stored checkpoint %d does not verify", seq), Err: err}
	}
	return SignedCheckpoint{Checkpoint: cp, Note: msg, Seq: seq, Time: t.UTC()}, nil
}

// All yields every stored checkpoint in order, each verified, up to the
// latest one at the time All reaches the end. It stops at the first error.
func (c *Checkpoints) All(ctx context.Context) iter.Seq2[SignedCheckpoint, error] {
	return func(yield func(SignedCheckpoint, error) bool) {
		info, err := c.stream.Info(ctx)
		if err != nil {
			yield(SignedCheckpoint{}, &events.Error{Code: events.CodeUnavailable, Message: "checkpoint stream", Err: err})
			return
		}
		last := info.State.LastSeq
		if info.State.Msgs == 0 {
			return
		}
		cons, err := c.js.OrderedConsumer(ctx, c.name, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{c.subject},
			DeliverPolicy:  jetstream.DeliverAllPolicy,
		})
		if err != nil {
			yield(SignedCheckpoint{}, &events.Error{Code: events.CodeUnavailable, Message: "read checkpoints", Err: err})
			return
		}
		defer func() {
			if ci := cons.CachedInfo(); ci != nil {
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				_ = c.js.DeleteConsumer(dctx, c.name, ci.Name)
				cancel()
			}
		}()
		it, err := cons.Messages(jetstream.PullMaxMessages(1024))
		if err != nil {
			yield(SignedCheckpoint{}, &events.Error{Code: events.CodeUnavailable, Message: "read checkpoints", Err: err})
			return
		}
		defer it.Stop()
		stop := context.AfterFunc(ctx, it.Stop)
		defer stop()
		for {
			m, err := it.Next()
			if err != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				yield(SignedCheckpoint{}, &events.Error{Code: events.CodeUnavailable, Message: "read checkpoints", Err: err})
				return
			}
			md, err := m.Metadata()
			if err != nil {
				yield(SignedCheckpoint{}, fmt.Errorf("read checkpoints: %w", err))
				return
			}
			sc, err := c.open(md.Sequence.Stream, md.Timestamp, m.Data())
			if !yield(sc, err) || err != nil {
				return
			}
			if md.Sequence.Stream >= last || md.NumPending == 0 {
				return
			}
		}
	}
}

// errFenced reports that another publisher appended a checkpoint since the
// one this publisher extended.
var errFenced = errors.New("another sealer appended a checkpoint")

// append publishes a signed checkpoint, provided the latest stored one is
// still the one at sequence prev (0: none). This is the fence that keeps the
// checkpoint history linear when a sealer that lost its lease has not
// noticed yet.
func (c *Checkpoints) append(ctx context.Context, signed []byte, cp Checkpoint, prev uint64) (SignedCheckpoint, error) {
	msg := &nats.Msg{Subject: c.subject, Data: signed}
	ack, err := c.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(c.name), jetstream.WithExpectLastSequencePerSubject(prev))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return SignedCheckpoint{}, fmt.Errorf("publish checkpoint of size %d: %w", cp.Size, errFenced)
		}
		return SignedCheckpoint{}, &events.Error{Code: events.CodeUnavailable, Message: fmt.Sprintf("publish checkpoint of size %d", cp.Size), Err: err}
	}
	return SignedCheckpoint{Checkpoint: cp, Note: signed, Seq: ack.Sequence, Time: time.Now().UTC()}, nil
}
