package mongostore_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/mongostore"
	"github.com/onebook/onebook/projections/passviews"
)

// One embedded FerretDB for the package; each test uses its own database.
var client *mongo.Client

func TestMain(m *testing.M) {
	os.Exit(func() int {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "onebook-mongo-test")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		srv, err := embedded.StartMongo(ctx, embedded.MongoOptions{Dir: dir, Logger: log})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer srv.Shutdown(ctx)
		client, err = mongo.Connect(options.Client().ApplyURI(srv.URI()))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer client.Disconnect(ctx)
		return m.Run()
	}())
}

func newStore(t *testing.T) *mongostore.Store {
	db := client.Database(fmt.Sprintf("t%d", time.Now().UnixNano()))
	t.Cleanup(func() { db.Drop(context.Background()) })
	return mongostore.New(db, 20*time.Second)
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	p := passviews.GateHourly()
	docs := []*projections.Doc{
		{ID: "g1@2026020108", State: &passviews.GateHour{Gate: "g1", Community: "110105001001", Hour: "2026-02-01T08:00:00+08:00", In: 3, Out: 1}, Proof: projections.Proof{Seq: 9, Leaf: "aa", Chain: "bb", Events: 4}},
		{ID: "g2@2026020108", State: &passviews.GateHour{Gate: "g2", In: 1}, Proof: projections.Proof{Seq: 10, Leaf: "cc", Chain: "dd", Events: 1}},
	}
	if err := s.Put(ctx, p, docs); err != nil {
		t.Fatal(err)
	}
	docs[0].State.(*passviews.GateHour).In = 4 // upsert replaces
	docs[0].New = true                         // a wrong "new" hint falls back to replace
	if err := s.Put(ctx, p, docs[:1]); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, p, []string{"g1@2026020108", "g2@2026020108", "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["g1@2026020108"].State.(*passviews.GateHour).In != 4 || got["g2@2026020108"].Proof.Seq != 10 {
		t.Fatalf("get: %+v", got)
	}
	if n, err := s.Count(ctx, p); err != nil || n != 2 {
		t.Fatalf("count %d %v", n, err)
	}
	// A field the schema does not know is reported by Scan, not dropped.
	_, err = s.Database().Collection(p.Name()).UpdateOne(ctx, bson.D{{Key: "_id", Value: "g2@2026020108"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "state.vip", Value: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	err = s.Scan(ctx, p, func(id string, d *projections.Doc, err error) error {
		if err != nil {
			bad = append(bad, id)
		}
		return nil
	})
	if err != nil || len(bad) != 1 || bad[0] != "g2@2026020108" {
		t.Fatalf("scan: bad=%v err=%v", bad, err)
	}
	cp := projections.Checkpoint{Name: p.Name(), Version: 1, Seq: 42, Updated: "now"}
	if err := s.SetCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Checkpoint(ctx, p.Name()); err != nil || got != cp {
		t.Fatalf("checkpoint %+v %v", got, err)
	}
	if err := s.Drop(ctx, p); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(ctx, p); n != 0 {
		t.Fatalf("count after drop %d", n)
	}
}

// TestLargeGrowingUpdate is the shape that hung FerretDB v1 when sent as one
// bulk of 100 replaces: documents replaced with larger ones.
func TestLargeGrowingUpdate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	p := passviews.Passes()
	var docs []*projections.Doc
	for i := 0; i < 300; i++ {
		docs = append(docs, &projections.Doc{ID: fmt.Sprintf("p%04d", i), State: &passviews.Pass{Holder: "x"}, New: true})
	}
	if err := s.Put(ctx, p, docs); err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		d.New = false
		st := d.State.(*passviews.Pass)
		st.Scans, st.LastScanAt = 7, "2026-02-01T00:00:00.123456789Z"
		d.Proof = projections.Proof{Seq: 9, Leaf: strings.Repeat("ab", 32), Chain: strings.Repeat("cd", 32), Events: 2}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := s.Put(ctx, p, docs); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, p, []string{"p0299"})
	if err != nil || got["p0299"].State.(*passviews.Pass).Scans != 7 {
		t.Fatalf("%+v %v", got, err)
	}
}

type fixture struct {
	srv   *natstest.Server
	store *ledger.Store
	reg   *events.Registry
}

func newLedger(t *testing.T, nPasses, nScans int) fixture {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, js := srv.Connect()
	st, err := ledger.Open(ctx, js, ledger.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reg := events.NewRegistry().WithKeyring(events.NewMemoryKeyring())
	passevents.Register(reg)
	const c = events.Region("110105001001")
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	app := func(typ string, agg events.Aggregate, at time.Time, p events.Payload) {
		e, err := reg.New(context.Background(), typ, events.Meta{SealTo: "t-subject", Aggregate: agg, Region: c, Actor: events.Actor{Role: "gate_operator", ID: "op1"}, Time: at}, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Append(ctx, e, events.ExpectAny()); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < nPasses; i++ {
		app(passevents.TypeIssued, events.Aggregate{Kind: passevents.KindPass, ID: fmt.Sprintf("p%04d", i)}, t0,
			passevents.Issued{Holder: fmt.Sprintf("h%d", i), HolderOf: passevents.HolderResident, Community: c, NotBefore: t0, NotAfter: t0.Add(48 * time.Hour)})
	}
	for i := 0; i < nScans; i++ {
		app(passevents.TypeScanned, events.Aggregate{Kind: passevents.KindGate, ID: fmt.Sprintf("gate%d", i%4)}, t0.Add(time.Duration(i)*time.Minute),
			passevents.Scanned{ScanID: fmt.Sprint(i), Pass: fmt.Sprintf("p%04d", i%nPasses), Holder: "h", Community: c, Direction: passevents.In, Decision: passevents.Allow})
	}
	return fixture{srv: srv, store: st, reg: reg}
}

func (f fixture) project(t *testing.T, ctx context.Context, p projections.Projection, ds projections.DocStore) *projections.Projector {
	_, js := f.srv.Connect()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pr := &projections.Projector{P: p, Store: ds, JS: js, Stream: f.store.Stream(), Reg: f.reg, Batch: 100, Log: log}
	go pr.Run(ctx)
	return pr
}

func (f fixture) waitCaughtUp(t *testing.T, pr *projections.Projector, last uint64) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if st := pr.Status(); uint64(st.Seq) >= last && st.Pending == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("projector did not catch up to %d: %+v", last, pr.Status())
}

func (f fixture) verify(t *testing.T, ds projections.DocStore, p projections.Projection) projections.Diff {
	ctx := context.Background()
	rc := projections.NewRecomputer(f.reg, p)
	size, _ := f.store.Size(ctx)
	if err := f.store.Scan(ctx, 1, size, func(rec events.Recorded) error { return rc.Add(context.Background(), rec) }); err != nil {
		t.Fatal(err)
	}
	d, err := rc.Compare(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	return d[0]
}

// TestVerifyNamesTampering projects into the embedded store, then edits,
// deletes and invents documents behind the projector's back with the plain
// driver; verification must name each one.
func TestVerifyNamesTampering(t *testing.T) {
	f := newLedger(t, 50, 300)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ds := newStore(t)
	p := passviews.Passes()
	size, _ := f.store.Size(ctx)
	pr := f.project(t, ctx, p, ds)
	f.waitCaughtUp(t, pr, size)
	cancel()
	if d := f.verify(t, ds, p); !d.OK() || d.Stored != 50 {
		t.Fatalf("clean: %+v", d)
	}
	coll := ds.Database().Collection(p.Name())
	bg := context.Background()
	if _, err := coll.UpdateOne(bg, bson.D{{Key: "_id", Value: "p0007"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "state.status", Value: "active"}, {Key: "state.scans", Value: 0}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.DeleteOne(bg, bson.D{{Key: "_id", Value: "p0011"}}); err != nil {
		t.Fatal(err)
	}
	var orig bson.M
	if err := coll.FindOne(bg, bson.D{{Key: "_id", Value: "p0012"}}).Decode(&orig); err != nil {
		t.Fatal(err)
	}
	orig["_id"] = "p9999"
	if _, err := coll.InsertOne(bg, orig); err != nil {
		t.Fatal(err)
	}
	d := f.verify(t, ds, p)
	if fmt.Sprint(d.Changed, d.Missing, d.Invented) != "[p0007] [p0011] [p9999]" {
		t.Fatalf("diff %+v", d)
	}
}

// TestKilledMidBatchEqualsCleanRebuild stops a projector at arbitrary points
// (context cancelled during its batches) and restarts it, repeatedly; the
// result must equal a clean rebuild, document for document.
func TestKilledMidBatchEqualsCleanRebuild(t *testing.T) {
	f := newLedger(t, 200, 1500)
	size, _ := f.store.Size(context.Background())
	p := passviews.Passes()

	clean := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	pr := f.project(t, ctx, p, clean)
	f.waitCaughtUp(t, pr, size)
	cancel()

	killed := newStore(t)
	for i, after := range []time.Duration{30 * time.Millisecond, 70 * time.Millisecond, 150 * time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		pr := f.project(t, ctx, p, killed)
		time.Sleep(after)
		cancel()
		for pr.Status().Running {
			time.Sleep(time.Millisecond)
		}
		t.Logf("kill %d: stopped at sequence %d of %d", i, pr.Status().Seq, size)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	pr = f.project(t, ctx, p, killed)
	f.waitCaughtUp(t, pr, size)
	cancel()

	if a, b := dump(t, clean, p), dump(t, killed, p); a != b {
		t.Fatalf("killed-and-restarted state differs from a clean rebuild:\n%s\n%s", a, b)
	}
	if d := f.verify(t, killed, p); !d.OK() {
		t.Fatalf("%+v", d)
	}
}

func dump(t *testing.T, s *mongostore.Store, p projections.Projection) string {
	var out []string
	err := s.Scan(context.Background(), p, func(id string, d *projections.Doc, err error) error {
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %+v %+v", id, d.State, d.Proof))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return fmt.Sprint(len(out), out)
}
