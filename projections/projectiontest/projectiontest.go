// Package projectiontest checks projections in tests the way the backend
// runs them: Fold folds events through projections at once, stores the
// documents and checkpoints in memory and verifies them as ops verify
// would, and again one event at a time through the store, decoding every
// document between two events as a projector that restarts would.
package projectiontest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/memstore"
)

// Fold folds evs (ledger sequences 1, 2, ...) through ps and returns the
// store holding the documents. The test fails if verification finds a
// stored document that differs from the ledger, if an event lists a key
// twice, or if folding one event at a time gives other documents.
func Fold(t testing.TB, reg *events.Registry, ps []projections.Projection, evs []events.Event) *memstore.Store {
	t.Helper()
	ctx := context.Background()
	rc := projections.NewRecomputer(reg, ps...)
	for i, e := range evs {
		raw, err := e.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Add(ctx, events.Recorded{Seq: uint64(i + 1), Raw: raw, Event: e}); err != nil {
			t.Fatal(err)
		}
	}
	store := memstore.New()
	for _, p := range ps {
		var docs []*projections.Doc
		for _, d := range rc.Docs(p.Name()) {
			docs = append(docs, d)
		}
		if err := store.Put(ctx, p, docs); err != nil {
			t.Fatal(err)
		}
		if err := store.SetCheckpoint(ctx, projections.Checkpoint{Name: p.Name(), Version: p.Version(), Seq: int64(rc.Last(p.Name()))}); err != nil {
			t.Fatal(err)
		}
	}
	diffs, err := rc.Compare(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		if !d.OK() {
			t.Errorf("verify %s: %+v", d.Name, d)
		}
	}
	stepByStep(t, reg, ps, evs, rc)
	return store
}

// stepByStep folds evs one at a time through a store and compares the
// documents with those folded at once.
func stepByStep(t testing.TB, reg *events.Registry, ps []projections.Projection, evs []events.Event, rc *projections.Recomputer) {
	t.Helper()
	ctx := context.Background()
	step := memstore.New()
	for _, e := range evs {
		pl, err := reg.Decode(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			keys := p.Keys(e, pl)
			if len(slices.Compact(slices.Sorted(slices.Values(keys)))) != len(keys) {
				t.Errorf("%s: %s lists a key twice: %v", p.Name(), e.Type, keys)
			}
			got, err := step.Get(ctx, p, keys)
			if err != nil {
				t.Fatal(err)
			}
			var docs []*projections.Doc
			for _, k := range keys {
				d := got[k]
				if d == nil {
					d = &projections.Doc{ID: k, State: p.NewState()}
				}
				if err := p.Fold(k, d.State, e, pl); err != nil {
					t.Fatal(err)
				}
				docs = append(docs, d)
			}
			if err := step.Put(ctx, p, docs); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range ps {
		n, _ := step.Count(ctx, p)
		if want := len(rc.Docs(p.Name())); int(n) != want {
			t.Errorf("%s: %d documents folded step by step, %d at once", p.Name(), n, want)
		}
		for id, d := range rc.Docs(p.Name()) {
			a, _ := json.Marshal(d.State)
			got, err := step.Get(ctx, p, []string{id})
			if err != nil || got[id] == nil {
				t.Errorf("%s %s: not folded step by step (%v)", p.Name(), id, err)
				continue
			}
			if b, _ := json.Marshal(got[id].State); string(a) != string(b) {
				t.Errorf("%s %s: folded at once\n%s\nfolded step by step\n%s", p.Name(), id, a, b)
			}
		}
	}
}

// Get returns the state of document id of p, nil if it is not stored.
func Get[S any](t testing.TB, store projections.DocStore, p projections.Projection, id string) *S {
	t.Helper()
	docs, err := store.Get(context.Background(), p, []string{id})
	if err != nil {
		t.Fatal(err)
	}
	if docs[id] == nil {
		return nil
	}
	return docs[id].State.(*S)
}

// Ledger builds the events of a test in ledger order, for Fold: each made
// and validated by Reg, its sealed fields sealed to one subject.
type Ledger struct {
	T      testing.TB
	Reg    *events.Registry
	Events []events.Event
}

// Add appends an event of type typ on the aggregate agg, recorded in region
// by actor at the time at; the test fails if Reg refuses it.
func (l *Ledger) Add(typ string, agg events.Aggregate, region events.Region, actor events.Actor, at time.Time, p events.Payload) {
	l.T.Helper()
	e, err := l.Reg.New(context.Background(), typ, events.Meta{SealTo: "t-subject", Aggregate: agg, Region: region, Actor: actor, Time: at}, p)
	if err != nil {
		l.T.Fatal(err)
	}
	l.Events = append(l.Events, e)
}
