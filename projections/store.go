package projections

import (
	"context"
	"errors"
)

// Checkpoint records how far a projection has read the ledger.
type Checkpoint struct {
	Name    string `json:"_id" bson:"_id"`
	Version int    `json:"version" bson:"version"`
	Seq     int64  `json:"seq" bson:"seq"` // last ledger sequence applied (0: none)
	Updated string `json:"updated" bson:"updated"`
}

// DocStore keeps projection documents. The MongoDB implementation lives in
// projections/mongostore; an in-memory one in projections/memstore serves tests.
// Every method keys documents by _id only, since that is what all supported
// stores index.
type DocStore interface {
	// Get returns the stored documents among ids, decoding state with
	// p.NewState. Missing ids are absent from the map.
	Get(ctx context.Context, p Projection, ids []string) (map[string]*Doc, error)
	// Put upserts docs by _id in one bulk operation.
	Put(ctx context.Context, p Projection, docs []*Doc) error
	// Scan calls fn for every stored document. A document that cannot be
	// decoded into the projection's schema (or carries fields it does not
	// know) is passed with Doc nil and Err set.
	Scan(ctx context.Context, p Projection, fn func(id string, d *Doc, err error) error) error
	// Drop removes all documents of p.
	Drop(ctx context.Context, p Projection) error
	// Count returns the number of stored documents of p.
	Count(ctx context.Context, p Projection) (int64, error)

	Checkpoint(ctx context.Context, name string) (Checkpoint, error) // zero Checkpoint if none
	SetCheckpoint(ctx context.Context, cp Checkpoint) error
	// AdvanceCheckpoint replaces the checkpoint only if it still is prev
	// (same version and sequence); otherwise it returns ErrCheckpointMoved.
	// That is how a running projector notices that an operator reset its
	// projection (ops rebuild) while it was working.
	AdvanceCheckpoint(ctx context.Context, prev, next Checkpoint) error
}

// ErrCheckpointMoved reports that a projection's checkpoint was changed by
// someone else since the projector read it.
var ErrCheckpointMoved = errors.New("projection checkpoint changed by another writer")
