// Package memstore is an in-memory projections.DocStore for tests. It stores
// documents as JSON so that what is read back is a copy, as from a database.
package memstore

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"sync"

	"github.com/onebook/onebook/projections"
)

// Store is safe for concurrent use.
type Store struct {
	mu   sync.Mutex
	docs map[string]map[string][]byte // collection → id → JSON
	cps  map[string]projections.Checkpoint
	// FailPut, if set, is called before each Put with the number of
	// documents; an error aborts the Put after writing half of them, like a
	// bulk write cut off in the middle.
	FailPut func(n int) error
}

// New returns an empty store.
func New() *Store {
	return &Store{docs: map[string]map[string][]byte{}, cps: map[string]projections.Checkpoint{}}
}

var _ projections.DocStore = (*Store)(nil)

func (s *Store) coll(name string) map[string][]byte {
	c := s.docs[name]
	if c == nil {
		c = map[string][]byte{}
		s.docs[name] = c
	}
	return c
}

func decode(p projections.Projection, raw []byte) (*projections.Doc, error) {
	d := &projections.Doc{State: p.NewState()}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(d); err != nil {
		return nil, err
	}
	return d, nil
}

func (s *Store) Get(ctx context.Context, p projections.Projection, ids []string) (map[string]*projections.Doc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]*projections.Doc{}
	c := s.coll(p.Name())
	for _, id := range ids {
		if raw, ok := c[id]; ok {
			d, err := decode(p, raw)
			if err != nil {
				return nil, err
			}
			out[id] = d
		}
	}
	return out, nil
}

func (s *Store) Put(ctx context.Context, p projections.Projection, docs []*projections.Doc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(docs)
	var failErr error
	if s.FailPut != nil {
		if failErr = s.FailPut(n); failErr != nil {
			n /= 2
		}
	}
	c := s.coll(p.Name())
	for _, d := range docs[:n] {
		raw, err := json.Marshal(d)
		if err != nil {
			return err
		}
		c[d.ID] = raw
	}
	return failErr
}

func (s *Store) Scan(ctx context.Context, p projections.Projection, fn func(string, *projections.Doc, error) error) error {
	s.mu.Lock()
	c := s.coll(p.Name())
	ids := make([]string, 0, len(c))
	for id := range c {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	raws := make([][]byte, len(ids))
	for i, id := range ids {
		raws[i] = c[id]
	}
	s.mu.Unlock()
	for i, id := range ids {
		d, err := decode(p, raws[i])
		if err := fn(id, d, err); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) Drop(ctx context.Context, p projections.Projection) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.docs, p.Name())
	return nil
}

func (s *Store) Count(ctx context.Context, p projections.Projection) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.coll(p.Name()))), nil
}

func (s *Store) Checkpoint(ctx context.Context, name string) (projections.Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cps[name], nil
}

func (s *Store) SetCheckpoint(ctx context.Context, cp projections.Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cps[cp.Name] = cp
	return nil
}

func (s *Store) AdvanceCheckpoint(ctx context.Context, prev, next projections.Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cps[prev.Name]
	if cur.Version != prev.Version || cur.Seq != prev.Seq {
		return projections.ErrCheckpointMoved
	}
	s.cps[next.Name] = next
	return nil
}

// Raw returns the stored JSON of a document, for tests that tamper with it.
func (s *Store) Raw(coll, id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.coll(coll)[id]
}

// SetRaw overwrites (or with nil, deletes) a stored document, for tests.
func (s *Store) SetRaw(coll, id string, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if raw == nil {
		delete(s.coll(coll), id)
		return
	}
	s.coll(coll)[id] = raw
}
