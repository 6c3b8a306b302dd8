// Package provincelogs is the national log of logs: the national ledger
// records each province's signed checkpoint (nationevents), so that one
// national checkpoint commits to every province log, and a province that
// shows the nation one history and its residents another is caught.
//
// Three parts. Judge is the rule, pure: a checkpoint extends the nation's
// head of a province log when an RFC 6962 consistency proof from the head
// verifies. The Recorder applies it to the national ledger and the
// Follower feeds it each province's newest checkpoint. Audit and Chain are
// what ops verify runs, from the public tlog-tiles surfaces alone: every
// recorded checkpoint signed and consistent with the one before, what each
// province serves consistent with what it last told the nation, and the
// chain from a national checkpoint down to one province event.
package provincelogs

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/nationevents"
	"github.com/onebook/onebook/events/seal"
)

// Verdict is what Judge decides about a province checkpoint.
type Verdict int

const (
	Record    Verdict = iota + 1 // it extends the head: record it
	Duplicate                    // it is the head: nothing to do
	Stale                        // it is older than the head: nothing to do
	Fork                         // it is signed but does not extend the head: record the evidence
)

func (v Verdict) String() string {
	return map[Verdict]string{Record: "record", Duplicate: "duplicate", Stale: "stale", Fork: "fork"}[v]
}

// Head is what the nation last recorded of a province log.
type Head struct {
	Checkpoint seal.Checkpoint // zero Size and Origin: nothing recorded yet
	Note       string          // its signed note
	Seq        uint64          // the national ledger sequence of the event that carries it; 0: none
	// Conflicting is set when the newest event is a fork: the checkpoint
	// the head does not extend, already reported.
	Conflicting *seal.Checkpoint
}

// Judgement is a verdict with the reason for a fork.
type Judgement struct {
	Verdict Verdict
	Reason  string
}

// Judge decides whether cp, whose signature the caller has verified,
// extends head, given proof: the consistency proof from head's size to
// cp's, as the province's tiles make it. The first checkpoint of a log is
// recorded as it is (trust on first use: the province's own audit and its
// residents' checks cover its start). An older checkpoint is stale, not
// evidence: the proof the nation holds runs the other way. A proof that
// does not verify is the province's own word that the two checkpoints are
// not one history, since the province made it from its tiles.
func Judge(head Head, cp seal.Checkpoint, proof tlog.TreeProof) Judgement {
	switch {
	case head.Seq == 0:
		return Judgement{Verdict: Record}
	case cp.Size < head.Checkpoint.Size:
		return Judgement{Verdict: Stale}
	case cp.Size == head.Checkpoint.Size && cp.Hash == head.Checkpoint.Hash:
		return Judgement{Verdict: Duplicate}
	case cp.Size == head.Checkpoint.Size:
		return Judgement{Verdict: Fork, Reason: fmt.Sprintf("two checkpoints of size %d with different roots", cp.Size)}
	}
	if err := seal.VerifyConsistency(head.Checkpoint, cp, proof); err != nil {
		return Judgement{Verdict: Fork, Reason: fmt.Sprintf("the province's consistency proof from size %d to %d does not verify: %v",
			head.Checkpoint.Size, cp.Size, err)}
	}
	return Judgement{Verdict: Record}
}

// Province is a province log the nation records: its code and the
// verifier key of its checkpoints, from configuration (the key's name is
// the log's origin).
type Province struct {
	Code events.Region
	Key  string
}

// Prover makes consistency proofs of a province log: seal.Prover in the
// process, tlogclient.Client over HTTP.
type Prover interface {
	ProveConsistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error)
}

// Ledger is what the recorder needs of the national ledger
// (ledger.Store).
type Ledger interface {
	events.Appender
	Last(ctx context.Context, region events.Region, agg events.Aggregate) (events.Recorded, bool, error)
}

// Recorder appends province checkpoints to the national ledger. It keeps
// no state: the head of each province log is the newest event of its
// aggregate, so any number of recorders (replicas, restarts) agree, and
// the ledger's per-aggregate check orders them.
type Recorder struct {
	ledger    Ledger
	reg       *events.Registry
	provinces map[events.Region]note.Verifier
}

// NewRecorder returns a recorder of the given provinces into ledger; reg
// must know the nationevents types.
func NewRecorder(ledger Ledger, reg *events.Registry, provinces []Province) (*Recorder, error) {
	if reg.Version(nationevents.TypeCheckpoint) == 0 {
		return nil, errors.New("provincelogs: the registry lacks the nationevents types")
	}
	r := &Recorder{ledger: ledger, reg: reg, provinces: map[events.Region]note.Verifier{}}
	for _, p := range provinces {
		if len(p.Code) != 2 || !events.KnownProvince(p.Code) {
			return nil, fmt.Errorf("provincelogs: %q is not a province code", p.Code)
		}
		v, err := note.NewVerifier(p.Key)
		if err != nil {
			return nil, fmt.Errorf("provincelogs: verifier key of province %s: %w", p.Code, err)
		}
		r.provinces[p.Code] = v
	}
	return r, nil
}

func aggregate(code events.Region) events.Aggregate {
	return events.Aggregate{Kind: nationevents.Kind, ID: string(code)}
}

// Head reads the nation's head of a province log.
func (r *Recorder) Head(ctx context.Context, code events.Region) (Head, error) {
	rec, ok, err := r.ledger.Last(ctx, code, aggregate(code))
	if err != nil || !ok {
		return Head{}, err
	}
	p, err := r.reg.Decode(ctx, rec.Event)
	if err != nil {
		return Head{}, fmt.Errorf("head of province log %s at %d: %w", code, rec.Seq, err)
	}
	h := Head{Seq: rec.Seq}
	switch p := p.(type) {
	case nationevents.Checkpoint:
		h.Note = p.Note
	case nationevents.Fork:
		h.Note = p.Recorded
		c, err := nationevents.NoteCheckpoint(p.Conflicting, "conflicting")
		if err != nil {
			return Head{}, err
		}
		h.Conflicting = &c
	default:
		return Head{}, fmt.Errorf("head of province log %s at %d is a %s", code, rec.Seq, rec.Event.Type)
	}
	if h.Checkpoint, err = nationevents.NoteCheckpoint(h.Note, "note"); err != nil {
		return Head{}, err
	}
	return h, nil
}

// Record records msg, a signed checkpoint of province code, in the
// national ledger if it extends the nation's head of that log, asking
// prover for the consistency proof from the head. A checkpoint whose
// signature does not verify with the province's key is refused
// (CodeInvalid) and recorded nowhere: anyone can make one, so it is not
// evidence against the province. A signed one that does not extend the
// head is a fork: it is recorded as a nation.fork event with the head, the
// proof and the reason, once per conflicting checkpoint, and the head
// stays where it was, so that the nation keeps to the first history it
// was shown and the evidence is sealed into the national log for everyone
// to see, not left in a process's log. Record is idempotent: the same
// checkpoint is recorded once.
func (r *Recorder) Record(ctx context.Context, code events.Region, msg []byte, prover Prover) (Judgement, error) {
	v, ok := r.provinces[code]
	if !ok {
		return Judgement{}, events.Invalid("province", "province %s is not one the nation records", code)
	}
	cp, _, err := seal.OpenCheckpoint(msg, note.VerifierList(v), v.Name())
	if err != nil {
		return Judgement{}, fmt.Errorf("province %s: %w", code, err)
	}
	for attempt := 0; ; attempt++ {
		j, err := r.record(ctx, code, cp, string(msg), prover)
		if events.ErrorCode(err) != events.CodeConflict || attempt >= 4 {
			return j, err
		}
		// Another recorder moved the head: judge again against it.
	}
}

func (r *Recorder) record(ctx context.Context, code events.Region, cp seal.Checkpoint, msg string, prover Prover) (Judgement, error) {
	head, err := r.Head(ctx, code)
	if err != nil {
		return Judgement{}, err
	}
	var proof tlog.TreeProof
	if head.Seq != 0 && cp.Size > head.Checkpoint.Size {
		if proof, err = prover.ProveConsistency(ctx, head.Checkpoint.Size, cp.Size); err != nil {
			return Judgement{}, fmt.Errorf("province %s: consistency proof from %d to %d: %w", code, head.Checkpoint.Size, cp.Size, err)
		}
	}
	j := Judge(head, cp, proof)
	var typ string
	var p events.Payload
	switch {
	case j.Verdict == Record:
		typ, p = nationevents.TypeCheckpoint, nationevents.Checkpoint{Province: string(code), Origin: cp.Origin, Size: cp.Size,
			Root: b64(cp.Hash), Note: msg, Previous: head.Checkpoint.Size, Proof: nationevents.EncodeProof(proof)}
	case j.Verdict == Fork && head.Conflicting != nil && *head.Conflicting == cp:
		return j, nil // reported already
	case j.Verdict == Fork:
		typ, p = nationevents.TypeFork, nationevents.Fork{Province: string(code), Origin: cp.Origin, Recorded: head.Note,
			Conflicting: msg, Proof: nationevents.EncodeProof(proof), Reason: j.Reason}
	default:
		return j, nil
	}
	x := events.ExpectNew()
	if head.Seq != 0 {
		x = events.ExpectLast(head.Seq)
	}
	e, err := r.reg.New(ctx, typ, events.Meta{ID: eventID(typ, head.Note, msg), Aggregate: aggregate(code), Region: code,
		Actor: events.Actor{Role: "system", ID: "nation-recorder"}}, p)
	if err != nil {
		return Judgement{}, err
	}
	if _, err := r.ledger.Append(ctx, e, x); err != nil && !errors.Is(err, events.ErrDuplicate) {
		return Judgement{}, err
	}
	return j, nil
}

// eventID names an event by what it records, so that a retry, by this
// recorder or another, is the same event and the ledger's deduplication
// keeps it once.
func eventID(typ, head, msg string) string {
	return uuid.NewHash(sha256.New(), uuid.NameSpaceURL, []byte(typ+"\n"+head+"\n"+msg), 8).String()
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }
