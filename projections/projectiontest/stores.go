package projectiontest

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/onebook/onebook/projections"
)

// OnlyGet is a store that lets reads use Get only, as a view's reads must
// (a read that scans or counts a collection does not scale), and records
// the ids each Get asked for.
type OnlyGet struct {
	projections.DocStore
	mu    sync.Mutex
	Calls [][]string
}

// Get records the ids and gets them from the wrapped store.
func (s *OnlyGet) Get(ctx context.Context, p projections.Projection, ids []string) (map[string]*projections.Doc, error) {
	s.mu.Lock()
	s.Calls = append(s.Calls, slices.Clone(ids))
	s.mu.Unlock()
	return s.DocStore.Get(ctx, p, ids)
}

// Scan fails: reads must not scan a collection.
func (s *OnlyGet) Scan(context.Context, projections.Projection, func(string, *projections.Doc, error) error) error {
	return errors.New("reads must not scan a collection")
}

// Count fails: reads must not count a collection.
func (s *OnlyGet) Count(context.Context, projections.Projection) (int64, error) {
	return 0, errors.New("reads must not count a collection")
}

// ErrDown is the error of every read of Failing.
var ErrDown = errors.New("connection refused")

// Failing is a store whose every Get fails with ErrDown, as a store that is
// down does.
type Failing struct{ projections.DocStore }

// Get fails with ErrDown.
func (Failing) Get(context.Context, projections.Projection, []string) (map[string]*projections.Doc, error) {
	return nil, ErrDown
}
