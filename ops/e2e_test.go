package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/config"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/miniapp-api/api"
	"github.com/onebook/onebook/ops/loopback"
)

// freePort returns a loopback port that was free a moment ago, below the
// kernel's ephemeral range (package loopback says why).
func freePort(t *testing.T) int {
	p, err := loopback.Port()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// backend runs the real backend in-process on embedded servers with fixed
// loopback ports, so it can be stopped and started again on the same data.
type backend struct {
	t                   *testing.T
	dir                 string
	natsPort, mongoPort int
	httpAddr            string
	started             bool // it ran before: a restart keeps its ports
	cancel              context.CancelFunc
	done                chan error
	// nats is the URL and credential flags of an external NATS server, for
	// the backend and the ops tool alike; nil: the embedded one on natsPort.
	nats []string
}

// wxPort is the one port of the in-process fake WeChat for every backend of
// this test binary: silenceper's HTTP client is process-wide, so the API base
// can be set only once.
var wxPort = sync.OnceValue(func() int {
	p, err := loopback.Port()
	if err != nil {
		panic(err)
	}
	return p
})

func newBackend(t *testing.T) *backend {
	return &backend{t: t, dir: t.TempDir(), natsPort: freePort(t), mongoPort: freePort(t), httpAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
}

func (b *backend) start(demo bool) {
	b.t.Helper()
	if demo {
		b.startWith("--demo")
	} else {
		b.startWith()
	}
}

// startWith starts the backend in-process with extra backend flags. A
// port that another process took between freePort and the first listen
// (other test binaries run beside this one) is replaced and the start
// tried again. A restart keeps its ports, whatever it takes: the test's
// clients reconnect to them (TestNothingAcknowledgedIsLost's load stalled
// on CI when a restart moved to new ports), so a port still busy is
// waited for.
func (b *backend) startWith(extra ...string) {
	b.t.Helper()
	for attempt := 0; ; attempt++ {
		err := b.tryStart(extra...)
		if err == nil {
			b.started = true
			return
		}
		busy := strings.Contains(err.Error(), "address already in use")
		switch {
		case busy && !b.started && attempt < 3:
			b.t.Logf("backend did not start (%v): new ports, again", err)
			b.natsPort, b.mongoPort, b.httpAddr = freePort(b.t), freePort(b.t), fmt.Sprintf("127.0.0.1:%d", freePort(b.t))
		case busy && b.started && attempt < 60:
			b.t.Logf("backend did not restart (%v): the same ports, again", err)
			time.Sleep(500 * time.Millisecond)
		default:
			b.t.Fatalf("backend did not start: %v", err)
		}
	}
}

func (b *backend) tryStart(extra ...string) error {
	b.t.Helper()
	args := append([]string{"--data", b.dir, "--addr", b.httpAddr, "--nats-port", fmt.Sprint(b.natsPort), "--mongo-port", fmt.Sprint(b.mongoPort), "--seal-interval", "50ms",
		"--wxmock-port", fmt.Sprint(wxPort()), "--metrics-addr", "127.0.0.1:0",
		// Tests call far more than a client may: limits are off but in TestLimits.
		"--limit-signin", "0", "--limit-client", "0", "--limit-account", "0"}, b.nats...)
	args = append(args, extra...)
	cfg, err := config.Load(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		b.t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done = cancel, make(chan error, 1)
	ready := make(chan struct{})
	go func() { b.done <- app.Run(ctx, cfg, log, func(string) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-b.done:
		cancel()
		b.cancel = nil
		return err
	case <-time.After(60 * time.Second):
		b.t.Fatal("backend did not start in time")
	}
	b.t.Cleanup(b.stop)
	return nil
}

func (b *backend) stop() {
	if b.cancel != nil {
		b.cancel()
		if err := <-b.done; err != nil {
			b.t.Errorf("backend stopped with %v", err)
		}
		b.cancel = nil
	}
}

func (b *backend) args() []string {
	nats := b.nats
	if nats == nil {
		nats = []string{"--nats-url", fmt.Sprintf("nats://127.0.0.1:%d", b.natsPort)}
	}
	return append([]string{"--data", b.dir, "--mongo-uri", fmt.Sprintf("mongodb://127.0.0.1:%d/", b.mongoPort)}, nats...)
}

// settled waits until the seal and every projection have caught up.
func (b *backend) settled() api.HealthStatus {
	b.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st api.HealthStatus
		resp, err := http.Get("http://" + b.httpAddr + "/healthz")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			ok := st.Ready && st.Ledger.Size > 0 && st.Ledger.SealLag == 0
			for _, p := range st.Projections {
				ok = ok && p.Lag == 0 && (p.Seq > 0 || p.CaughtUp) // CaughtUp at 0: none of its events yet
			}
			if ok {
				return st
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("backend did not settle: %+v %v", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ops runs an ops command in-process and returns its exit code and output.
func ops(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	env := &environ{stdout: &out, stderr: &out, getenv: func(string) string { return "" },
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, env, args)
	return code, out.String()
}

func TestVerifyNamesEveryTampering(t *testing.T) {
	b := newBackend(t)
	b.start(true)
	b.settled()
	if code, out := ops(t, append([]string{"verify"}, b.args()...)...); code != 0 {
		t.Fatalf("clean ledger does not verify (%d):\n%s", code, out)
	}
	if code, out := ops(t, append([]string{"checkpoint"}, b.args()...)...); code != 0 || !strings.Contains(out, "onebook.local/ledger\n") {
		t.Fatalf("checkpoint (%d):\n%s", code, out)
	}
	// Export a view as a bundle and verify it offline; a changed cell is named.
	dir := filepath.Join(t.TempDir(), "bundle")
	if code, out := ops(t, append([]string{"export", "gate_hourly", "--format", "csv", "--out", dir}, b.args()...)...); code != 0 {
		t.Fatalf("export (%d):\n%s", code, out)
	}
	pub := filepath.Join(b.dir, "seal.key.pub")
	if code, out := ops(t, "verify-export", dir, "--key", pub, "--url", "http://"+b.httpAddr); code != 0 || !strings.Contains(out, "ok   ") || !strings.Contains(out, "is a prefix of the server's") {
		t.Fatalf("verify-export (%d):\n%s", code, out)
	}
	rows, err := os.ReadFile(filepath.Join(dir, "rows.csv"))
	lines := strings.Split(strings.TrimSpace(string(rows)), "\n")
	if err != nil || len(lines) < 10 || lines[0] != "\ufeffrow,id,community,denied,gate,hour,in,out,entries" {
		t.Fatalf("export: %v %d lines, header %q", err, len(lines), lines[0])
	}
	cells := strings.Split(lines[2], ",")
	cells[6] = "12345" // the "in" count of row 2
	lines[2] = strings.Join(cells, ",")
	os.WriteFile(filepath.Join(dir, "rows.csv"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	if code, out := ops(t, "verify-export", dir, "--key", pub); code == 0 || !strings.Contains(out, "rows.csv row 2: column in is \"12345\"") {
		t.Fatalf("verify-export of a changed cell (%d):\n%s", code, out)
	}

	// Tamper with the read models behind the projectors' backs.
	client, err := mongo.Connect(options.Client().ApplyURI(fmt.Sprintf("mongodb://127.0.0.1:%d/", b.mongoPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	db := client.Database("onebook")
	ctx := context.Background()
	mustOne := func(res *mongo.UpdateResult, err error) {
		if err != nil || res.MatchedCount != 1 {
			t.Fatalf("tamper: %+v %v", res, err)
		}
	}
	// Three passes of the demo: one edited, one deleted, one copied under an
	// invented id.
	cur, err := db.Collection("passes").Find(ctx, bson.D{}, options.Find().SetLimit(3))
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.M
	if err := cur.All(ctx, &docs); err != nil || len(docs) != 3 {
		t.Fatalf("demo passes: %d %v", len(docs), err)
	}
	edited, deleted := docs[0]["_id"].(string), docs[1]["_id"].(string)
	mustOne(db.Collection("passes").UpdateOne(ctx, bson.D{{Key: "_id", Value: edited}}, bson.D{{Key: "$set", Value: bson.D{{Key: "state.status", Value: "active"}, {Key: "state.scans", Value: 999}}}}))
	if res, err := db.Collection("passes").DeleteOne(ctx, bson.D{{Key: "_id", Value: deleted}}); err != nil || res.DeletedCount != 1 {
		t.Fatalf("delete: %v %v", res, err)
	}
	invented := docs[2]
	invented["_id"] = "00000000-0000-4000-8000-000000000999"
	if _, err := db.Collection("passes").InsertOne(ctx, invented); err != nil {
		t.Fatal(err)
	}
	code, out := ops(t, append([]string{"verify"}, b.args()...)...)
	if code != 1 {
		t.Fatalf("tampered projection verifies (%d):\n%s", code, out)
	}
	for _, want := range []string{"changed:  " + edited, "missing:  " + deleted, "invented: 00000000-0000-4000-8000-000000000999"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	// ops rebuild repairs it, through the running backend's projector.
	if code, out := ops(t, append([]string{"rebuild", "--lease-wait", "1s"}, append(b.args(), "passes")...)...); code != 0 {
		t.Fatalf("rebuild (%d):\n%s", code, out)
	}
	if code, out := ops(t, append([]string{"verify"}, b.args()...)...); code != 0 {
		t.Fatalf("after rebuild (%d):\n%s", code, out)
	}

	// A checkpoint signed by another key, slipped into the checkpoint
	// stream, is named and fails verification.
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", b.natsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	skey, _, _ := seal.GenerateKey("onebook.local/ledger")
	signer, _, _ := seal.LoadSigner(skey)
	forged, _ := seal.Sign(seal.Checkpoint{Origin: "onebook.local/ledger", Size: 1, Hash: [32]byte{1}}, signer)
	if _, err := js.Publish(ctx, "seal.checkpoint", forged); err != nil {
		t.Fatal(err)
	}
	code, out = ops(t, append([]string{"verify", "--ledger-only"}, b.args()...)...)
	if code != 1 || !strings.Contains(out, "FAIL checkpoint signatures") {
		t.Fatalf("forged checkpoint not caught (%d):\n%s", code, out)
	}
}

// TestNothingAcknowledgedIsLost appends from many clients while the backend
// (and with it the embedded NATS and FerretDB) is shut down and started
// again on the same data, twice; every acknowledged event must be in the
// ledger afterwards, once, and the whole ledger must verify.
func TestNothingAcknowledgedIsLost(t *testing.T) {
	b := newBackend(t)
	b.start(false)
	reg := schemas.Registry()
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		wg    sync.WaitGroup
	)
	stopLoad := make(chan struct{})
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", b.natsPort), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.RetryOnFailedConnect(true))
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			var st *ledger.Store
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				e, err := reg.New(context.Background(), passevents.TypeGate, events.Meta{Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: fmt.Sprintf("gate%d", w)}, Region: "110105001001", Actor: events.Actor{Role: "property_manager", ID: "pm1"}},
					passevents.GateRegistered{Community: "110105001001", Name: fmt.Sprint(i)})
				if err != nil {
					t.Error(err)
					return
				}
				for attempt := 0; attempt < 500; attempt++ {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					if st == nil {
						st, err = ledger.Open(ctx, js, ledger.Config{})
					}
					if st != nil {
						_, err = st.Append(ctx, e, events.ExpectAny())
					}
					cancel()
					if err == nil || errors.Is(err, events.ErrDuplicate) {
						mu.Lock()
						acked[e.ID] = true
						mu.Unlock()
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}(w)
	}
	waitAcked := func(n int) {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			got := len(acked)
			mu.Unlock()
			if got >= n {
				return
			}
		}
		t.Fatalf("load stalled below %d acknowledged events", n)
	}
	waitAcked(300)
	b.stop()
	b.start(false)
	waitAcked(800)
	b.stop()
	b.start(false)
	waitAcked(1200)
	close(stopLoad)
	wg.Wait()

	st := b.settled()
	mu.Lock()
	defer mu.Unlock()
	nc, _ := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", b.natsPort))
	defer nc.Close()
	js, _ := jetstream.New(nc)
	seen := map[string]int{}
	err := ledger.ScanStream(context.Background(), js, "LEDGER", nil, 1, st.Ledger.Size, func(r events.Recorded) error {
		e, err := events.Parse(r.Raw)
		if err != nil {
			return err
		}
		seen[e.ID]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Errorf("acknowledged event %s stored %d times", id, seen[id])
		}
	}
	t.Logf("%d acknowledged, %d in the ledger, across two restarts", len(acked), len(seen))
	if code, out := ops(t, append([]string{"verify"}, b.args()...)...); code != 0 {
		t.Fatalf("after restarts (%d):\n%s", code, out)
	}
}
