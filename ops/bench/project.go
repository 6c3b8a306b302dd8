package bench

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/mongostore"
	"github.com/onebook/onebook/projections/passviews"
)

// projectBatch is the projector's batch size (its default) and the raw
// baseline's bulk size.
const projectBatch = 1000

// ProjectResult is the projection benchmark: the passes projector folding a
// ledger of pass.issued events (one per pass, so one new document each) into
// MongoDB (embedded FerretDB on SQLite), against writing the same final
// documents with the same Store.Put path and batch size.
type ProjectResult struct {
	Events  int
	Docs    int
	Batch   int
	Rate    float64 // events/s, projector start until its checkpoint reaches the end
	RawRate float64 // documents/s (one per event) through Store.Put
}

// Ratio is the projector's rate over the raw write rate.
func (r ProjectResult) Ratio() float64 { return r.Rate / r.RawRate }

// benchProject runs on servers of its own (a second embedded NATS and the
// embedded FerretDB), so that its ledger holds nothing but its workload.
// The raw write and the projector alternate raw-projector-projector-raw
// (cycles times), each into a fresh database, and every projected database is compared
// document by document with a recomputation from the ledger.
func (r *runner) benchProject(ctx context.Context, n int) (ProjectResult, error) {
	res := ProjectResult{Events: n, Batch: projectBatch}
	env, err := r.startNATS(ctx, "nats-project")
	if err != nil {
		return res, err
	}
	defer env.close()
	if err := r.fill(ctx, env, "project: fill", 0, uint64(n), r.gen.issued); err != nil {
		return res, err
	}
	fmt.Fprintf(r.progressOrDiscard(), "project: starting embedded FerretDB\n")
	m, err := startMongo(ctx, subdir(r.dir, "ferretdb"), r.quiet)
	if err != nil {
		return res, err
	}
	defer func() {
		if err := m.close(ctx); err != nil {
			r.log.Warn("stop FerretDB", "err", err)
		}
	}()

	// The final documents, recomputed from the ledger as ops verify does.
	p := passviews.Passes()
	rc := projections.NewRecomputer(r.reg, p)
	if err := env.store.Scan(ctx, 1, uint64(n), func(rec events.Recorded) error { return rc.Add(ctx, rec) }); err != nil {
		return res, fmt.Errorf("recompute: %w", err)
	}
	docs := finalDocs(rc.Docs(p.Name()))
	res.Docs = len(docs)

	var rawTime, projTime time.Duration
	for round, kind := range abba(cycles, "raw", "projector") {
		db := m.client.Database(fmt.Sprintf("bench_%s_%d", kind, round))
		store := mongostore.New(db, time.Minute)
		var took time.Duration
		if kind == "raw" {
			took, err = r.rawPut(ctx, store, p, docs)
			rawTime += took
		} else {
			took, err = r.runProjector(ctx, env, store, p, uint64(n))
			projTime += took
			if err == nil {
				err = sameAsLedger(ctx, rc, store)
			}
		}
		if err != nil {
			return res, fmt.Errorf("project %s: %w", kind, err)
		}
		if err := db.Drop(ctx); err != nil {
			r.log.Warn("drop benchmark database", "db", db.Name(), "err", err)
		}
	}
	res.Rate = 2 * cycles * float64(n) / projTime.Seconds()
	res.RawRate = 2 * cycles * float64(len(docs)) / rawTime.Seconds()
	return res, nil
}

// finalDocs returns the recomputed documents in ledger order, marked New as
// the projector marks documents it knows are not stored yet.
func finalDocs(m map[string]*projections.Doc) []*projections.Doc {
	out := make([]*projections.Doc, 0, len(m))
	for _, d := range m {
		c := *d
		c.New = true
		out = append(out, &c)
	}
	slices.SortFunc(out, func(a, b *projections.Doc) int { return int(a.Proof.Seq - b.Proof.Seq) })
	return out
}

// rawPut writes docs with Store.Put in bulks of projectBatch.
func (r *runner) rawPut(ctx context.Context, store *mongostore.Store, p projections.Projection, docs []*projections.Doc) (time.Duration, error) {
	var done atomic.Uint64
	stop := track(r.progress, "project: raw Store.Put", 0, uint64(len(docs)), done.Load)
	defer stop()
	start := time.Now()
	for len(docs) > 0 {
		chunk := docs[:min(len(docs), projectBatch)]
		docs = docs[len(chunk):]
		if err := store.Put(ctx, p, chunk); err != nil {
			return 0, err
		}
		done.Add(uint64(len(chunk)))
	}
	return time.Since(start), nil
}

// runProjector runs a fresh projector of p into store until its checkpoint
// reaches the ledger's end, and returns how long that took.
func (r *runner) runProjector(ctx context.Context, env *natsEnv, store projections.DocStore, p projections.Projection, end uint64) (time.Duration, error) {
	pr := &projections.Projector{P: p, Store: store, JS: env.js, Stream: "LEDGER", Reg: r.reg, Log: r.quiet, Batch: projectBatch}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := track(r.progress, "project: projector checkpoint", 0, end, func() uint64 { return uint64(pr.Status().Seq) })
	defer stop()
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- pr.Run(pctx) }()
	// A projector that cannot make progress retries for ever; give up
	// generously rather than hang.
	deadline := time.NewTimer(time.Minute + time.Duration(end)*5*time.Millisecond)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			return 0, fmt.Errorf("projector stopped: %v", err)
		case <-deadline.C:
			return 0, fmt.Errorf("projector did not reach %d (status %+v)", end, pr.Status())
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
		if uint64(pr.Status().Seq) >= end {
			took := time.Since(start)
			cancel()
			<-errc
			return took, nil
		}
	}
}

// sameAsLedger checks that store holds exactly the recomputed documents.
func sameAsLedger(ctx context.Context, rc *projections.Recomputer, store projections.DocStore) error {
	diffs, err := rc.Compare(ctx, store)
	if err != nil {
		return err
	}
	for _, d := range diffs {
		if !d.OK() || d.Behind {
			return fmt.Errorf("projection %s differs from the ledger: %d changed, %d missing, %d invented (%s)", d.Name, len(d.Changed), len(d.Missing), len(d.Invented), d.Problem)
		}
	}
	return nil
}
