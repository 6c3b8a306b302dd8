package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/miniapp-api/api"
	"github.com/onebook/onebook/ops/bench"
)

// restartLedgerEvents is how many events the ledger of
// TestRestartUnderScanLoad gains while its backend is down: a district's
// weeks of gate scans, which every decision state must follow before it
// may decide.
func restartLedgerEvents() uint64 {
	if testing.Short() {
		return 20_000
	}
	return 200_000
}

// TestRestartUnderScanLoad restarts a backend whose ledger grew by
// restartLedgerEvents events while it was down (its snapshots cover only
// what it had seen), under 16 gate operators scanning a valid pass from
// the first moment it listens. While its states catch up it must answer
// 503 with Retry-After and record nothing; the operators retry each scan
// with its scan id, as the scanner does. Afterwards every scan is in the
// ledger exactly once and allowed: a restart never records a false denial.
func TestRestartUnderScanLoad(t *testing.T) {
	b := newBackend(t)
	b.startWith("--demo")
	base := "http://" + b.httpAddr
	g := residentAtGate(t, b, "restart-load", "韩梅梅", "+86 138-0013-8002")
	b.settled()
	b.stop()

	before, after := growLedger(t, b, restartLedgerEvents())
	t.Logf("ledger grew from %d to %d events while the backend was down", before, after)

	if err := b.tryStart(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if st := health(t, b); st.Ready {
		t.Fatalf("ready before the first scan (%+v): the ledger is too small to test the warm-up", st)
	}
	scanner := gateScanner{base: base, token: g.op.token, gate: g.gate, pass: g.pass}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	got, err := scanner.load(ctx, 16, func() bool { return health(t, b).Ready }, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d scans acknowledged, %d answers 503 while warming", len(got.acked), got.unavailable)
	if got.unavailable == 0 {
		t.Error("no scan was turned away while the states were warming")
	}

	// The ledger after the restart holds each acknowledged scan once,
	// allowed, at the sequence the answer named, and nothing else from
	// this gate. (The projections may still be catching up: the test is
	// about decisions, and they read the ledger, not the views.)
	w := openSnapshotWorld(t, b)
	size, err := w.store.Size(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	recorded := &gateScans{gate: g.gate, seq: after, byID: map[string][]scanAt{}} // the scans came after the fill
	if err := ledger.Fold(w.ctx, w.store, w.reg, recorded, size); err != nil {
		t.Fatal(err)
	}
	for id, seq := range got.acked {
		at := recorded.byID[id]
		if len(at) != 1 || at[0].seq != seq || at[0].decision != passevents.Allow {
			t.Errorf("scan %s acknowledged at %d: in the ledger %+v", id, seq, at)
		}
	}
	for id, at := range recorded.byID {
		if _, ok := got.acked[id]; !ok {
			t.Errorf("scan %s is in the ledger (%+v) but was never acknowledged", id, at)
		}
	}
}

// gateWithResident is a gate of communityA, a gate operator of it, and a
// resident with a green pass there.
type gateWithResident struct {
	gate     string
	op       client
	resident client
	person   string
	pass     string // the pass token
}

// residentAtGate registers a gate, its operator and a one-person household
// (name, phone) whose member declared a normal temperature, and takes the
// member's pass.
func residentAtGate(t *testing.T, b *backend, code, name, phone string) gateWithResident {
	t.Helper()
	pm := staffClient(t, b, auth.PropertyManager, communityA)
	var gate struct{ ID string }
	pm.json("POST", "/gates", map[string]string{"community": communityA, "name": "西门"}, 201, &gate)
	g := gateWithResident{gate: gate.ID, op: staffClient(t, b, auth.GateOperator, communityA), resident: signIn(t, "http://"+b.httpAddr, code)}
	var reg struct {
		Household struct {
			Members []struct {
				PersonID string `json:"person_id"`
			}
		}
		Session struct{ Token string }
	}
	g.resident.json("PUT", "/me/household", map[string]any{"community": communityA, "building": "3", "unit": "2-301",
		"members": []map[string]string{{"name": name, "id_number": "110105198001010024", "phone": phone}}}, 200, &reg)
	g.resident.token = reg.Session.Token
	g.person = reg.Household.Members[0].PersonID
	g.resident.json("POST", "/me/declarations", map[string]any{"person_id": g.person, "temperature": 36.6}, 201, nil)
	var pass struct{ Token string }
	g.resident.json("GET", "/me/passes/"+g.person, nil, 200, &pass)
	g.pass = pass.Token
	return g
}

// growLedger appends n events of the bench's pass workload to b's ledger
// while b is down, on b's own embedded server and sealed with its vault,
// and returns the ledger's size before and after.
func growLedger(t *testing.T, b *backend, n uint64) (before, after uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Synced every few seconds, not per event: the fill is the test's
	// setting, not what it measures.
	srv, err := embedded.StartNATS(ctx, embedded.NATSOptions{Dir: filepath.Join(b.dir, "nats"), Port: b.natsPort, SyncInterval: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ledger.Open(ctx, js, ledger.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if before, err = st.Size(ctx); err != nil {
		t.Fatal(err)
	}
	vault, err := app.OpenVault(ctx, js, b.dir, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	var progress io.Writer
	if testing.Verbose() {
		progress = os.Stderr
	}
	if err := bench.FillPasses(ctx, nc, schemas.Registry().WithKeyring(vault), n, progress); err != nil {
		t.Fatal(err)
	}
	if after, err = st.Size(ctx); err != nil {
		t.Fatal(err)
	}
	return before, after
}

// health reads b's /healthz (200 or 503 alike).
func health(t *testing.T, b *backend) api.HealthStatus {
	t.Helper()
	resp, err := http.Get("http://" + b.httpAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st api.HealthStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// gateScanner is gate operators scanning one pass at one gate, as the
// scanner does: each scan has its id, and a 503 is retried with the same
// id after the Retry-After it names (capped, to keep the test short).
type gateScanner struct {
	base, token, gate, pass string
}

// restartScans is what a load of scans saw: the acknowledged scans with the
// sequence each answer named, and how many answers were 503.
type restartScans struct {
	acked       map[string]uint64
	unavailable int
}

// load runs clients concurrent operators until ready reports true, then
// each makes after more scans, and returns what they saw. Any answer other
// than 200 allow or 503 with Retry-After is an error.
func (g gateScanner) load(ctx context.Context, clients int, ready func() bool, after int) (restartScans, error) {
	var (
		mu   sync.Mutex
		seen = restartScans{acked: map[string]uint64{}}
		wg   sync.WaitGroup
		errs = make(chan error, clients)
	)
	stop := make(chan struct{})
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			left := -1 // scans still to make once ready; -1: not ready yet
			for i := 0; left != 0; i++ {
				select {
				case <-stop:
					if left < 0 {
						left = after
					}
				default:
				}
				id := fmt.Sprintf("restart-%d-%d", c, i)
				seq, n503, err := g.scan(ctx, id, []string{passevents.In, passevents.Out}[i%2])
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				seen.acked[id] = seq
				seen.unavailable += n503
				mu.Unlock()
				if left > 0 {
					left--
				}
			}
		}()
	}
	go func() {
		defer close(stop)
		for !ready() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	wg.Wait()
	close(errs)
	return seen, errors.Join(ctx.Err(), <-errs)
}

// scan makes one scan until it is acknowledged, and returns the sequence
// of its event and how many 503s it took.
func (g gateScanner) scan(ctx context.Context, id, direction string) (uint64, int, error) {
	body, _ := json.Marshal(map[string]any{"scan_id": id, "token": g.pass, "gate": g.gate, "direction": direction, "scanned_at": time.Now().UTC()})
	for n503 := 0; ; n503++ {
		req, err := http.NewRequestWithContext(ctx, "POST", g.base+"/scans", bytes.NewReader(body))
		if err != nil {
			return 0, n503, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+g.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, n503, fmt.Errorf("scan %s: %w", id, err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			var r struct {
				Scan struct {
					Decision string
					Seq      uint64
				}
			}
			if err := json.Unmarshal(out, &r); err != nil || r.Scan.Decision != passevents.Allow || r.Scan.Seq == 0 {
				return 0, n503, fmt.Errorf("scan %s: 200 %s", id, out)
			}
			return r.Scan.Seq, n503, nil
		case http.StatusServiceUnavailable:
			secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if err != nil || secs < 1 {
				return 0, n503, fmt.Errorf("scan %s: 503 with Retry-After %q: %s", id, resp.Header.Get("Retry-After"), out)
			}
			select {
			case <-ctx.Done():
				return 0, n503, ctx.Err()
			case <-time.After(min(time.Duration(secs)*time.Second, 200*time.Millisecond)):
			}
		default:
			return 0, n503, fmt.Errorf("scan %s: %d %s", id, resp.StatusCode, out)
		}
	}
}

// gateScans collects the scans of one gate recorded after its starting seq.
type gateScans struct {
	gate string
	seq  uint64
	byID map[string][]scanAt
}

type scanAt struct {
	seq      uint64
	decision string
}

func (s *gateScans) Seq() uint64 { return s.seq }

func (s *gateScans) Apply(rec events.Recorded, p events.Payload) {
	s.seq = rec.Seq
	if sc, ok := p.(passevents.Scanned); ok && rec.Event.Aggregate.ID == s.gate {
		s.byID[sc.ScanID] = append(s.byID[sc.ScanID], scanAt{seq: rec.Seq, decision: sc.Decision})
	}
}
