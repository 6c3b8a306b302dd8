package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
)

// Recomputer folds the ledger into fresh in-memory documents for a set of
// projections, exactly as the projectors do, so that what is stored can be
// compared with what the ledger says.
type Recomputer struct {
	reg  *events.Registry
	ps   []Projection
	docs []map[string]*Doc
	last []uint64 // per projection: last sequence folded in
	upTo uint64   // last sequence added
}

// NewRecomputer returns a Recomputer for ps.
func NewRecomputer(reg *events.Registry, ps ...Projection) *Recomputer {
	r := &Recomputer{reg: reg, ps: ps, docs: make([]map[string]*Doc, len(ps)), last: make([]uint64, len(ps))}
	for i := range ps {
		r.docs[i] = map[string]*Doc{}
	}
	return r
}

// Add folds one recorded event (Raw set; Event parsed or zero) into every
// projection. Events must come in ledger order.
func (r *Recomputer) Add(ctx context.Context, rec events.Recorded) error {
	if rec.Event.ID == "" {
		e, err := events.Parse(rec.Raw)
		if err != nil {
			return fmt.Errorf("event %d: %w", rec.Seq, err)
		}
		rec.Event = e
	}
	r.upTo = rec.Seq
	var leaf tlog.Hash
	hashed := false
	for i, p := range r.ps {
		it, err := prepare(ctx, p, r.reg, rec)
		if err != nil {
			return err
		}
		if len(it.keys) == 0 {
			continue
		}
		if !hashed {
			leaf, hashed = tlog.RecordHash(rec.Raw), true
		}
		r.last[i] = rec.Seq
		for _, k := range it.keys {
			d := r.docs[i][k]
			if d == nil {
				d = &Doc{ID: k}
				r.docs[i][k] = d
			}
			if _, err := fold(p, d, it.rec, it.pl, leaf); err != nil {
				return fmt.Errorf("projection %s: fold event %d into %s: %w", p.Name(), rec.Seq, k, err)
			}
		}
	}
	return nil
}

// Docs returns the recomputed documents of projection name.
func (r *Recomputer) Docs(name string) map[string]*Doc {
	for i, p := range r.ps {
		if p.Name() == name {
			return r.docs[i]
		}
	}
	return nil
}

// Diff is what Verify found for one projection.
type Diff struct {
	Name     string   `json:"name"`
	Version  int      `json:"version"`
	Expected int      `json:"expected"`           // documents the ledger derives
	Stored   int      `json:"stored"`             // documents in the store
	Changed  []string `json:"changed,omitempty"`  // stored, but not what the ledger says
	Missing  []string `json:"missing,omitempty"`  // derived from the ledger, not stored
	Invented []string `json:"invented,omitempty"` // stored, not derivable from the ledger
	Ahead    []string `json:"ahead,omitempty"`    // stored with events past the recomputed ledger
	Behind   bool     `json:"behind,omitempty"`   // checkpoint behind the recomputed ledger
	Problem  string   `json:"problem,omitempty"`  // e.g. a version mismatch
}

// OK reports whether the store says exactly what the ledger says.
func (d Diff) OK() bool {
	return len(d.Changed) == 0 && len(d.Missing) == 0 && len(d.Invented) == 0 && d.Problem == ""
}

// Behind reports the projections whose stored checkpoint has not yet reached
// the last event recomputed for them; comparing them now would report
// documents the projector has not reached yet as changed, so callers wait.
func (r *Recomputer) Behind(ctx context.Context, store DocStore) ([]string, error) {
	var out []string
	for i, p := range r.ps {
		cp, err := store.Checkpoint(ctx, p.Name())
		if err != nil {
			return nil, fmt.Errorf("%s: checkpoint: %w", p.Name(), err)
		}
		if uint64(cp.Seq) < r.last[i] {
			out = append(out, p.Name())
		}
	}
	return out, nil
}

// Compare checks the stored documents of every projection against the
// recomputed ones, document by document. A running projector may have
// folded events past the recomputed ledger into a document; such documents
// are listed as Ahead rather than Changed, and the caller recomputes further
// and compares again. A document whose claim to be ahead is false still
// differs after that and is then reported as changed.
func (r *Recomputer) Compare(ctx context.Context, store DocStore) ([]Diff, error) {
	var out []Diff
	for i, p := range r.ps {
		d := Diff{Name: p.Name(), Version: p.Version(), Expected: len(r.docs[i])}
		cp, err := store.Checkpoint(ctx, p.Name())
		if err != nil {
			return nil, fmt.Errorf("%s: checkpoint: %w", p.Name(), err)
		}
		d.Behind = uint64(cp.Seq) < r.last[i]
		if cp.Version != p.Version() {
			d.Problem = fmt.Sprintf("stored version %d, code version %d: rebuild needed", cp.Version, p.Version())
		}
		want := r.docs[i]
		seen := make(map[string]bool, len(want))
		err = store.Scan(ctx, p, func(id string, got *Doc, derr error) error {
			d.Stored++
			exp, ok := want[id]
			if !ok {
				if got != nil && uint64(got.Proof.Seq) > r.upTo {
					d.Ahead = append(d.Ahead, id)
				} else {
					d.Invented = append(d.Invented, id)
				}
				return nil
			}
			seen[id] = true
			if derr != nil || !sameDoc(exp, got) {
				if got != nil && uint64(got.Proof.Seq) > r.upTo {
					d.Ahead = append(d.Ahead, id)
				} else {
					d.Changed = append(d.Changed, id)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: scan: %w", p.Name(), err)
		}
		for id := range want {
			if !seen[id] {
				d.Missing = append(d.Missing, id)
			}
		}
		sort.Strings(d.Missing)
		sort.Strings(d.Changed)
		sort.Strings(d.Invented)
		sort.Strings(d.Ahead)
		out = append(out, d)
	}
	return out, nil
}

// sameDoc compares documents by their JSON encoding: state types are
// structs, so the encoding is deterministic.
func sameDoc(a, b *Doc) bool {
	if a == nil || b == nil {
		return a == b
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// UpTo is the last ledger sequence added.
func (r *Recomputer) UpTo() uint64 { return r.upTo }

// Last is the last ledger sequence that touched projection name.
func (r *Recomputer) Last(name string) uint64 {
	for i, p := range r.ps {
		if p.Name() == name {
			return r.last[i]
		}
	}
	return 0
}
