package projections

import (
	"context"
	"fmt"

	"github.com/onebook/onebook/events"
)

// Unavailable wraps a store error of a read of p: the view cannot be read
// now (CodeUnavailable), which is not the caller's fault.
func Unavailable(p Projection, err error) error {
	return &events.Error{Code: events.CodeUnavailable, Message: "read " + p.Name(), Err: err}
}

// GetEach reads the documents ids of p in batches of batch and calls fn
// for each in the order of ids, with nil for an id not stored. S is the
// projection's state type.
func GetEach[S any](ctx context.Context, ds DocStore, p Projection, ids []string, batch int, fn func(id string, s *S) error) error {
	for len(ids) > 0 {
		n := min(len(ids), batch)
		docs, err := ds.Get(ctx, p, ids[:n])
		if err != nil {
			return Unavailable(p, err)
		}
		for _, id := range ids[:n] {
			var s *S
			if d := docs[id]; d != nil && d.State != nil {
				var ok bool
				if s, ok = d.State.(*S); !ok {
					return &events.Error{Code: events.CodeInternal, Message: fmt.Sprintf("document %s of %s decodes to %T", id, p.Name(), d.State)}
				}
			}
			if err := fn(id, s); err != nil {
				return err
			}
		}
		ids = ids[n:]
	}
	return nil
}

// GetOne reads the document id of p; found is false if it is not stored.
func GetOne[S any](ctx context.Context, ds DocStore, p Projection, id string) (S, bool, error) {
	var out S
	found := false
	err := GetEach(ctx, ds, p, []string{id}, 1, func(_ string, s *S) error {
		if s != nil {
			out, found = *s, true
		}
		return nil
	})
	return out, found, err
}
