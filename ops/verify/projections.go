package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/projections"
)

// Projections recomputes every projection from the ledger (events 1..size)
// and compares each stored document with what the ledger derives.
//
// The backend may be running while this runs. Projectors behind the ledger
// are waited for (up to wait); documents a projector has already advanced
// past size are re-checked after reading the ledger further, so a live
// system verifies without false alarms and a document that merely claims a
// later sequence is still caught.
func Projections(ctx context.Context, reader events.Reader, reg *events.Registry, ps []projections.Projection, store projections.DocStore, size uint64, wait time.Duration, progress func(uint64)) ([]projections.Diff, error) {
	rc := projections.NewRecomputer(reg, ps...)
	read := func(from, to uint64) error {
		n := uint64(0)
		return reader.Scan(ctx, from, to, func(r events.Recorded) error {
			if err := rc.Add(ctx, r); err != nil {
				return err
			}
			if n++; progress != nil && n%4096 == 0 {
				progress(r.Seq)
			}
			return nil
		})
	}
	if err := read(1, size); err != nil {
		return nil, fmt.Errorf("replay ledger: %w", err)
	}
	if progress != nil {
		progress(size)
	}
	deadline := time.Now().Add(wait)
	for round := 0; ; round++ {
		behind, err := rc.Behind(ctx, store)
		if err != nil {
			return nil, err
		}
		if len(behind) > 0 && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		diffs, err := rc.Compare(ctx, store)
		if err != nil {
			return nil, err
		}
		ahead := false
		for _, d := range diffs {
			ahead = ahead || len(d.Ahead) > 0
		}
		if !ahead || round >= 3 {
			// After three rounds a document still ahead of the ledger
			// claims events that do not exist.
			for i := range diffs {
				want := rc.Docs(diffs[i].Name)
				for _, id := range diffs[i].Ahead {
					if _, derivable := want[id]; derivable {
						diffs[i].Changed = append(diffs[i].Changed, id)
					} else {
						diffs[i].Invented = append(diffs[i].Invented, id)
					}
				}
				diffs[i].Ahead = nil
			}
			return diffs, nil
		}
		// Projectors moved on while we compared: read the new events.
		newSize, err := reader.Size(ctx)
		if err != nil {
			return nil, err
		}
		if newSize > rc.UpTo() {
			if err := read(rc.UpTo()+1, newSize); err != nil {
				return nil, fmt.Errorf("replay ledger: %w", err)
			}
		}
	}
}
