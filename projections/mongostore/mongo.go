// Package mongo keeps projection documents in MongoDB (or FerretDB, which
// speaks its wire protocol). Every operation is keyed by _id, the one filter
// that FerretDB v1 pushes down, and every call runs under a deadline.
package mongostore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/onebook/onebook/projections"
)

// CheckpointCollection holds one checkpoint document per projection.
const CheckpointCollection = "projection_checkpoints"

// Store implements projections.DocStore on a MongoDB database.
type Store struct {
	db      *mongo.Database
	timeout time.Duration
}

var _ projections.DocStore = (*Store)(nil)

// New returns a Store on db. timeout bounds every single call (default 30s):
// a hung store must never hang a projector.
func New(db *mongo.Database, timeout time.Duration) *Store {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Store{db: db, timeout: timeout}
}

// Database is the underlying database.
func (s *Store) Database() *mongo.Database { return s.db }

func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// stored is a document as read: state left raw until the projection's type
// is known.
type stored struct {
	ID    string            `bson:"_id"`
	State bson.Raw          `bson:"state"`
	Proof projections.Proof `bson:"proof"`
}

func decodeDoc(p projections.Projection, raw bson.Raw) (*projections.Doc, error) {
	var st stored
	if err := bson.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("decode document: %w", err)
	}
	d := &projections.Doc{ID: st.ID, State: p.NewState(), Proof: st.Proof}
	if st.State != nil {
		if err := bson.Unmarshal(st.State, d.State); err != nil {
			return nil, fmt.Errorf("decode state of %s: %w", st.ID, err)
		}
	}
	// BSON decoding ignores fields the schema does not know. Re-encode
	// and compare so that an added field is noticed, not dropped.
	again, err := bson.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("re-encode %s: %w", st.ID, err)
	}
	if normalize(raw) != normalize(again) {
		return d, fmt.Errorf("document %s has fields or types its schema does not produce", st.ID)
	}
	return d, nil
}

// normalize renders a BSON document with keys sorted at every level, so
// that two documents with the same content compare equal whatever their
// field order.
func normalize(raw bson.Raw) string {
	var b strings.Builder
	writeNormalized(&b, raw)
	return b.String()
}

func writeNormalized(b *strings.Builder, raw bson.Raw) {
	els, err := raw.Elements()
	if err != nil {
		b.WriteString("!invalid")
		return
	}
	sort.Slice(els, func(i, j int) bool { return els[i].Key() < els[j].Key() })
	b.WriteByte('{')
	for _, e := range els {
		b.WriteString(e.Key())
		b.WriteByte(':')
		v := e.Value()
		if doc, ok := v.DocumentOK(); ok {
			writeNormalized(b, doc)
		} else {
			b.WriteString(v.Type.String())
			b.WriteByte('=')
			b.WriteString(v.String())
		}
		b.WriteByte(',')
	}
	b.WriteByte('}')
}

// Get implements projections.DocStore.
func (s *Store) Get(ctx context.Context, p projections.Projection, ids []string) (map[string]*projections.Doc, error) {
	out := make(map[string]*projections.Doc, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	cur, err := s.db.Collection(p.Name()).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return nil, fmt.Errorf("find %d documents in %s: %w", len(ids), p.Name(), err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		d, err := decodeDoc(p, cur.Current)
		if d == nil {
			return nil, err
		}
		// A document with unknown fields is still usable for folding;
		// Verify reports it.
		out[d.ID] = d
	}
	return out, cur.Err()
}

// maxUpdatesPerCall bounds the replace statements sent in one bulk write.
// FerretDB v1 on SQLite was seen to hang for good on a bulk of 100 replaces
// that grow their documents (80 passed); 32 leaves a wide margin and costs
// nothing measurable, since FerretDB runs the statements one by one anyway.
const maxUpdatesPerCall = 32

// Put implements projections.DocStore: documents marked New are inserted
// with one unordered insertMany (FerretDB's fast path); the others are
// replaced by _id with upsert, in bulks of at most maxUpdatesPerCall. A New
// document that exists after all (a duplicate key) is replaced instead, so a
// wrong hint costs time, never data.
func (s *Store) Put(ctx context.Context, p projections.Projection, docs []*projections.Doc) error {
	var inserts []any
	var updates []*projections.Doc
	for _, d := range docs {
		if d.New {
			inserts = append(inserts, d)
		} else {
			updates = append(updates, d)
		}
	}
	coll := s.db.Collection(p.Name())
	if len(inserts) > 0 {
		ictx, cancel := s.op(ctx)
		_, err := coll.InsertMany(ictx, inserts, options.InsertMany().SetOrdered(false))
		cancel()
		var bwe mongo.BulkWriteException
		switch {
		case err == nil:
		case errors.As(err, &bwe) && bwe.WriteConcernError == nil && allDuplicateKeys(bwe):
			for _, we := range bwe.WriteErrors {
				updates = append(updates, inserts[we.Index].(*projections.Doc))
			}
		default:
			return fmt.Errorf("insert %d documents into %s: %w", len(inserts), p.Name(), err)
		}
	}
	for len(updates) > 0 {
		chunk := updates[:min(len(updates), maxUpdatesPerCall)]
		updates = updates[len(chunk):]
		models := make([]mongo.WriteModel, len(chunk))
		for i, d := range chunk {
			models[i] = mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: d.ID}}).SetReplacement(d).SetUpsert(true)
		}
		uctx, cancel := s.op(ctx)
		_, err := coll.BulkWrite(uctx, models, options.BulkWrite().SetOrdered(false))
		cancel()
		if err != nil {
			return fmt.Errorf("replace %d documents in %s: %w", len(chunk), p.Name(), err)
		}
	}
	return nil
}

func allDuplicateKeys(e mongo.BulkWriteException) bool {
	for _, we := range e.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return len(e.WriteErrors) > 0
}

// Scan implements projections.DocStore.
func (s *Store) Scan(ctx context.Context, p projections.Projection, fn func(string, *projections.Doc, error) error) error {
	// One deadline per page of results rather than for the whole scan,
	// which may be long; the cursor itself is bounded by the server.
	cur, err := s.db.Collection(p.Name()).Find(ctx, bson.D{}, options.Find().SetBatchSize(1000))
	if err != nil {
		return fmt.Errorf("scan %s: %w", p.Name(), err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for {
		nctx, cancel := s.op(ctx)
		ok := cur.Next(nctx)
		cancel()
		if !ok {
			break
		}
		raw := bytes.Clone(cur.Current)
		var idOnly struct {
			ID any `bson:"_id"`
		}
		_ = bson.Unmarshal(raw, &idOnly)
		id := fmt.Sprint(idOnly.ID)
		d, derr := decodeDoc(p, raw)
		if derr != nil {
			d = nil
		}
		if err := fn(id, d, derr); err != nil {
			return err
		}
	}
	return cur.Err()
}

// AdvanceCheckpoint implements projections.DocStore with a replace whose
// filter includes the expected version and sequence; _id stays the lead
// of the filter so FerretDB finds the document by key.
func (s *Store) AdvanceCheckpoint(ctx context.Context, prev, next projections.Checkpoint) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	res, err := s.db.Collection(CheckpointCollection).ReplaceOne(ctx,
		bson.D{{Key: "_id", Value: prev.Name}, {Key: "version", Value: prev.Version}, {Key: "seq", Value: prev.Seq}}, next)
	if err != nil {
		return fmt.Errorf("advance checkpoint %s: %w", prev.Name, err)
	}
	if res.MatchedCount == 0 {
		return projections.ErrCheckpointMoved
	}
	return nil
}

// Drop implements projections.DocStore.
func (s *Store) Drop(ctx context.Context, p projections.Projection) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := s.db.Collection(p.Name()).Drop(ctx); err != nil {
		return fmt.Errorf("drop %s: %w", p.Name(), err)
	}
	return nil
}

// Count implements projections.DocStore.
func (s *Store) Count(ctx context.Context, p projections.Projection) (int64, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	n, err := s.db.Collection(p.Name()).CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", p.Name(), err)
	}
	return n, nil
}

// Checkpoint implements projections.DocStore.
func (s *Store) Checkpoint(ctx context.Context, name string) (projections.Checkpoint, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var cp projections.Checkpoint
	err := s.db.Collection(CheckpointCollection).FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&cp)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return projections.Checkpoint{}, nil
	}
	if err != nil {
		return cp, fmt.Errorf("read checkpoint %s: %w", name, err)
	}
	return cp, nil
}

// SetCheckpoint implements projections.DocStore.
func (s *Store) SetCheckpoint(ctx context.Context, cp projections.Checkpoint) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var err error
	// Two upserts of one new document race (MongoDB documents it, FerretDB
	// shows it when an erasure resets a checkpoint as its projector
	// starts): the loser gets a duplicate key error, and replacing again
	// then finds the document.
	for range 3 {
		_, err = s.db.Collection(CheckpointCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: cp.Name}}, cp, options.Replace().SetUpsert(true))
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write checkpoint %s: %w", cp.Name, err)
	}
	return nil
}
