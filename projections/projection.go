// Package projections builds read models from the ledger and proves that they
// still match it.
//
// A projection is a pure fold (state, event) → state over the ledger, one
// document per key. Every stored document carries proof metadata: the
// sequence and leaf hash of the last event folded into it, the number of
// events and a hash chain over all of their leaf hashes. Verify recomputes
// every document from the ledger and names each stored one that differs.
package projections

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
)

// Projection is one read model. Implementations are built with Define.
type Projection interface {
	// Name is the collection the documents live in.
	Name() string
	// Version is bumped whenever Keys or Fold change meaning; a projector
	// that finds documents of another version rebuilds them from the ledger.
	Version() int
	// Subjects are the ledger subject filters the projector consumes. They
	// may be wider than what Keys accepts, never narrower.
	Subjects() []string
	// Keys returns the ids of the documents e contributes to, none if the
	// projection ignores e. It depends on e and p only (exports call it
	// on several goroutines at once).
	Keys(e events.Event, p events.Payload) []string
	// Fold applies e to the state of document id; state is a pointer
	// returned by NewState, zero for a new document.
	Fold(id string, state any, e events.Event, p events.Payload) error
	// NewState returns a pointer to a zero state.
	NewState() any
}

// Spec defines a projection with typed state S. S must be encodable by both
// encoding/json and BSON (use string times, not time.Time, so the stored form
// is exact).
type Spec[S any] struct {
	Name     string
	Version  int
	Subjects []string
	Keys     func(e events.Event, p events.Payload) []string
	Fold     func(id string, s *S, e events.Event, p events.Payload) error
	// Personal marks a projection whose documents hold what sealed fields
	// say about persons (pass holders, who was where). Erasing a person
	// rebuilds it from the ledger (Erasable), so that what the person's
	// destroyed key sealed leaves the documents too, and a recomputation
	// (ops verify), which can no longer read it, gives the same documents.
	Personal bool
}

// Define turns a Spec into a Projection.
func Define[S any](s Spec[S]) Projection {
	if s.Name == "" || s.Version < 1 || s.Keys == nil || s.Fold == nil {
		panic("projections: incomplete spec " + s.Name)
	}
	if reflect.TypeFor[S]().Kind() != reflect.Struct {
		panic("projections: state of " + s.Name + " must be a struct")
	}
	return spec[S]{s}
}

type spec[S any] struct{ s Spec[S] }

func (p spec[S]) Name() string       { return p.s.Name }
func (p spec[S]) Version() int       { return p.s.Version }
func (p spec[S]) Subjects() []string { return p.s.Subjects }
func (p spec[S]) NewState() any      { return new(S) }
func (p spec[S]) personal() bool     { return p.s.Personal }

// Personal reports whether p's documents hold personal data sealed to
// persons' keys (Spec.Personal): an erasure must rebuild it.
func Personal(p Projection) bool {
	q, ok := p.(interface{ personal() bool })
	return ok && q.personal()
}
func (p spec[S]) Keys(e events.Event, pl events.Payload) []string {
	return p.s.Keys(e, pl)
}
func (p spec[S]) Fold(id string, state any, e events.Event, pl events.Payload) error {
	return p.s.Fold(id, state.(*S), e, pl)
}

// Proof is the per-document evidence that ties a document to the ledger.
type Proof struct {
	Seq    int64  `json:"seq" bson:"seq"`       // stream sequence of the last event folded in
	Leaf   string `json:"leaf" bson:"leaf"`     // its RFC 6962 leaf hash, hex
	Chain  string `json:"chain" bson:"chain"`   // SHA-256 chain over all leaf hashes folded in, hex
	Events int64  `json:"events" bson:"events"` // how many events were folded in
}

// Doc is one projection document: its id, its state and its proof.
type Doc struct {
	ID    string `json:"_id" bson:"_id"`
	State any    `json:"state" bson:"state"`
	Proof Proof  `json:"proof" bson:"proof"`
	// New marks a document the projector knows is not stored yet, so a
	// store may insert it rather than upsert (much faster on FerretDB).
	New bool `json:"-" bson:"-"`
}

// zeroChain is the chain value of a document with no events.
var zeroChain = hex.EncodeToString(make([]byte, sha256.Size))

// Extend returns the proof after folding in the event at seq with leaf hash
// leaf: chain' = SHA-256(chain || leaf).
func (p Proof) Extend(seq uint64, leaf tlog.Hash) Proof {
	prev, err := hex.DecodeString(p.Chain)
	if err != nil || len(prev) != sha256.Size {
		prev, _ = hex.DecodeString(zeroChain)
	}
	h := sha256.New()
	h.Write(prev)
	h.Write(leaf[:])
	return Proof{
		Seq:    int64(seq),
		Leaf:   hex.EncodeToString(leaf[:]),
		Chain:  hex.EncodeToString(h.Sum(nil)),
		Events: p.Events + 1,
	}
}

// fold applies one recorded event to doc (creating the state if needed),
// unless the document already includes it: re-applying a batch after a crash
// is then harmless.
func fold(p Projection, doc *Doc, rec events.Recorded, pl events.Payload, leaf tlog.Hash) (bool, error) {
	if doc.Proof.Seq >= int64(rec.Seq) {
		return false, nil
	}
	if doc.State == nil {
		doc.State = p.NewState()
	}
	if err := p.Fold(doc.ID, doc.State, rec.Event, pl); err != nil {
		return false, err
	}
	doc.Proof = doc.Proof.Extend(rec.Seq, leaf)
	return true, nil
}

// TimeText is the layout of times stored in documents: RFC 3339 UTC with a
// fixed-width fraction, so that stored times are exact and sort as text.
const TimeText = "2006-01-02T15:04:05.000000000Z07:00"

// FixedTime formats t as stored in documents (TimeText).
func FixedTime(t time.Time) string { return t.UTC().Format(TimeText) }
