package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onebook/onebook/ops/loopback"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/config"
	"github.com/onebook/onebook/events/ledger"
)

// runScanBench measures gate scans over HTTP on loopback against the raw
// baseline, in the same run: it starts the real backend in-process on
// embedded servers, registers residents with passes, then has 64 clients
// post scans (authenticated, token verified, decision made, event appended
// and acknowledged) and, on the same NATS server, 64 publishers do raw
// synchronous JetStream publishes of the same size.
func runScanBench(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("bench-scan", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	clients := fs.Int("clients", 64, "concurrent HTTP clients and raw publishers")
	scans := fs.Int("scans", 20000, "scans to post")
	residents := fs.Int("residents", 200, "residents with passes")
	sync := fs.String("nats-sync", "always", "embedded NATS sync policy, as the backend's --nats-sync")
	quick := fs.Bool("quick", false, "small sizes (tests)")
	wxPort := fs.Int("wxmock-port", 0, "port of the in-process fake WeChat (0: a free one)")
	projectors := fs.Bool("projectors", false, "run the projectors in the benchmarked backend too (on 2 CPUs they compete with the request path)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *quick {
		*scans, *residents, *clients = 600, 10, 8
	}
	b, err := startScanBackend(ctx, env, *clients, *wxPort, *sync, *projectors)
	if err != nil {
		return err
	}
	defer b.close()
	op, gate, tokens, err := b.residentsAtGate(ctx, env, *residents)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "bench-scan: %d residents with passes; %d scans by %d clients\n", len(tokens), *scans, *clients)
	rawRate, err := b.rawPublish(ctx, *clients, *scans)
	if err != nil {
		return fmt.Errorf("raw publish: %w", err)
	}
	// Scans over HTTP.
	lat := make([]time.Duration, *scans)
	var denied atomic.Int64
	scanRate, err := parallel(*clients, *scans, func(i int) error {
		start := time.Now()
		code, err := b.do(ctx, "POST", "/scans", op, map[string]any{"scan_id": fmt.Sprintf("b%d", i), "token": tokens[i%len(tokens)], "gate": gate,
			"direction": []string{"in", "out"}[i%2], "scanned_at": time.Now().UTC()}, nil)
		lat[i] = time.Since(start)
		if err != nil {
			return err
		}
		if code != 200 {
			denied.Add(1)
		}
		return nil
	}, progress(env.stderr, "bench-scan: scans", uint64(*scans)))
	if err != nil {
		return err
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	batchMS, err := b.offlineBatches(ctx, op, gate, tokens, 3)
	if err != nil {
		return err
	}
	res := map[string]any{
		"scan_rate": scanRate, "raw_publish_rate": rawRate, "scan_ratio": scanRate / rawRate,
		"scan_p50_ms": float64(p50.Microseconds()) / 1000, "scan_p99_ms": float64(p99.Microseconds()) / 1000,
		"batch_500_ms": batchMS, "batch_500_scans_per_s": 500 / (batchMS / 1000), "scans": *scans, "clients": *clients,
		"denied": denied.Load(), "nats_sync": *sync, "projectors": *projectors,
	}
	if *asJSON {
		return json.NewEncoder(env.stdout).Encode(res)
	}
	fmt.Fprintf(env.stdout, "scan over HTTP, %d clients: %.0f/s (p50 %.2f ms, p99 %.2f ms)\nraw JetStream publish, %d publishers: %.0f/s\nratio %.2f (target ≥ 0.4)\n500-scan offline batch: %.0f ms (%.0f scans/s)\n",
		*clients, scanRate, res["scan_p50_ms"], res["scan_p99_ms"], *clients, rawRate, scanRate/rawRate, batchMS, res["batch_500_scans_per_s"])
	return nil
}

// scanBackend is the real backend started in-process for the scan
// benchmark, on embedded servers with loopback ports of their own, and an
// HTTP client for it.
type scanBackend struct {
	dir                 string
	base                string
	natsPort, mongoPort int
	hc                  *http.Client
	close               func()
}

func startScanBackend(ctx context.Context, env *environ, clients, wxPort int, sync string, projectors bool) (*scanBackend, error) {
	dir, err := os.MkdirTemp("", "onebook-bench-scan")
	if err != nil {
		return nil, err
	}
	ports, err := loopback.Ports(4)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if wxPort != 0 {
		ports[3] = wxPort
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	cfg, err := config.Load([]string{"--data", dir, "--addr", addr, "--nats-port", fmt.Sprint(ports[1]), "--mongo-port", fmt.Sprint(ports[2]),
		"--wxmock-port", fmt.Sprint(ports[3]), "--metrics-addr", "off", "--limit-client", "0", "--limit-account", "0", "--limit-signin", "0", "--nats-sync", sync, "--projectors", fmt.Sprint(projectors)}, func(string) string { return "" }, env.stderr)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	bctx, stop := context.WithCancel(ctx)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- app.Run(bctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(string) { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-done:
		stop()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("backend: %w", err)
	}
	return &scanBackend{dir: dir, base: "http://" + addr, natsPort: ports[1], mongoPort: ports[2],
		hc:    &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2, MaxConnsPerHost: clients * 2}, Timeout: 30 * time.Second},
		close: func() { stop(); <-done; os.RemoveAll(dir) }}, nil
}

// do sends body as JSON with token's session and decodes the answer into
// into, if not nil; it returns the status.
func (b *scanBackend) do(ctx context.Context, method, path, token string, body any, into any) (int, error) {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, method, b.base+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if into != nil {
		json.NewDecoder(resp.Body).Decode(into)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, nil
}

// scanBenchCommunity is where the benchmark's gate and residents are.
const scanBenchCommunity = "110105001001"

// session binds a new staff account of role in the benchmark's community
// (ops staff add, then the invite) and returns its session token.
func (b *scanBackend) session(ctx context.Context, env *environ, role string) (string, error) {
	var out bytes.Buffer
	senv := &environ{stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" }, log: env.log}
	if err := runStaff(ctx, senv, []string{"add", "--role", role, "--scope", scanBenchCommunity, "--data", b.dir,
		"--nats-url", fmt.Sprintf("nats://127.0.0.1:%d", b.natsPort), "--mongo-uri", fmt.Sprintf("mongodb://127.0.0.1:%d/", b.mongoPort)}); err != nil {
		return "", err
	}
	var s struct{ Token string }
	code, err := b.do(ctx, "POST", "/auth/staff/bind", "", map[string]string{"code": "bench-" + role, "invite_code": strings.TrimSpace(out.String())}, &s)
	if err != nil || code != 200 {
		return "", fmt.Errorf("bind %s: %d %v", role, code, err)
	}
	return s.Token, nil
}

// residentsAtGate sets the scene: a property manager registers a gate, a
// gate operator (whose session it returns) scans there, and n residents
// register one-person households and take their passes (the tokens).
func (b *scanBackend) residentsAtGate(ctx context.Context, env *environ, n int) (op, gate string, tokens []string, err error) {
	pm, err := b.session(ctx, env, "property_manager")
	if err != nil {
		return "", "", nil, err
	}
	if op, err = b.session(ctx, env, "gate_operator"); err != nil {
		return "", "", nil, err
	}
	var g struct{ ID string }
	if code, err := b.do(ctx, "POST", "/gates", pm, map[string]string{"community": scanBenchCommunity, "name": "东门"}, &g); err != nil || code != 201 {
		return "", "", nil, fmt.Errorf("gate: %d %v", code, err)
	}
	tokens = make([]string, n)
	for i := range tokens {
		if tokens[i], err = b.resident(ctx, i); err != nil {
			return "", "", nil, err
		}
	}
	return op, g.ID, tokens, nil
}

// resident signs resident i in, registers its household and returns its
// pass token.
func (b *scanBackend) resident(ctx context.Context, i int) (string, error) {
	var s struct{ Token string }
	if code, err := b.do(ctx, "POST", "/auth/wechat", "", map[string]string{"code": fmt.Sprintf("bench-res-%d", i)}, &s); err != nil || code != 200 {
		return "", fmt.Errorf("sign in: %d %v", code, err)
	}
	var reg struct {
		Household struct {
			Members []struct {
				PersonID string `json:"person_id"`
			}
		}
		Session struct{ Token string }
	}
	if code, err := b.do(ctx, "PUT", "/me/household", s.Token, map[string]any{"community": scanBenchCommunity, "building": "1", "unit": "1",
		"members": []map[string]string{{"name": "张三", "id_number": benchIDNumber(i), "phone": fmt.Sprintf("138%08d", i)}}}, &reg); err != nil || code != 200 {
		return "", fmt.Errorf("register: %d %v", code, err)
	}
	var pass struct{ Token string }
	if code, err := b.do(ctx, "GET", "/me/passes/"+reg.Household.Members[0].PersonID, reg.Session.Token, nil, &pass); err != nil || code != 200 {
		return "", fmt.Errorf("pass: %d %v", code, err)
	}
	return pass.Token, nil
}

// rawPublish is the baseline: n synchronous JetStream publishes of a
// scan's size by clients publishers, on the backend's own NATS server, to
// a stream configured as the ledger is; it returns publishes per second.
func (b *scanBackend) rawPublish(ctx context.Context, clients, n int) (float64, error) {
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", b.natsPort))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	rawCfg := ledger.Config{Stream: "RAWSCAN"}.StreamConfig()
	rawCfg.Subjects = []string{"rawscan.>"}
	if _, err := js.CreateOrUpdateStream(ctx, rawCfg); err != nil {
		return 0, err
	}
	payload := bytes.Repeat([]byte("x"), 420) // the size of a pass.scanned event
	return parallel(clients, n, func(i int) error {
		_, err := js.PublishMsg(ctx, &nats.Msg{Subject: fmt.Sprintf("rawscan.110105001001.gate.g%d", i%8), Data: payload})
		return err
	}, nil)
}

// offlineBatches uploads k offline batches of 500 scans and returns the
// mean time of one, in milliseconds.
func (b *scanBackend) offlineBatches(ctx context.Context, op, gate string, tokens []string, k int) (float64, error) {
	var took time.Duration
	for n := 0; n < k; n++ {
		items := make([]map[string]any, 500)
		for i := range items {
			items[i] = map[string]any{"scan_id": fmt.Sprintf("off%d-%d", n, i), "token": tokens[i%len(tokens)], "gate": gate, "direction": "in",
				"scanned_at": time.Now().UTC().Add(-time.Duration(500-i) * time.Second)}
		}
		start := time.Now()
		if code, err := b.do(ctx, "POST", "/scans/batch", op, map[string]any{"scans": items}, nil); err != nil || code != 200 {
			return 0, fmt.Errorf("batch: %d %v", code, err)
		}
		took += time.Since(start)
	}
	return float64(took.Milliseconds()) / float64(k), nil
}

// parallel runs fn(0..n-1) on workers goroutines and returns calls per second.
func parallel(workers, n int, fn func(i int) error, report func(uint64)) (float64, error) {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				if report != nil && i%500 == 0 {
					report(uint64(i))
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), first
}

// benchIDNumber makes the i-th valid GB 11643 number of the benchmark.
func benchIDNumber(i int) string {
	body := fmt.Sprintf("110105%s%03d", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format("20060102"), i%1000)
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for k, x := range w {
		sum += int(body[k]-'0') * x
	}
	return body + string("10X98765432"[sum%11])
}
