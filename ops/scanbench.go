package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	dir, err := os.MkdirTemp("", "onebook-bench-scan")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ports := make([]int, 4)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	if *wxPort != 0 {
		ports[3] = *wxPort
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	cfg, err := config.Load([]string{"--data", dir, "--addr", addr, "--nats-port", fmt.Sprint(ports[1]), "--mongo-port", fmt.Sprint(ports[2]),
		"--wxmock-port", fmt.Sprint(ports[3]), "--metrics-addr", "off", "--limit-client", "0", "--limit-account", "0", "--limit-signin", "0", "--nats-sync", *sync, "--projectors", fmt.Sprint(*projectors)}, func(string) string { return "" }, env.stderr)
	if err != nil {
		return err
	}
	bctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- app.Run(bctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(string) { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-done:
		return fmt.Errorf("backend: %w", err)
	}
	defer func() { stop(); <-done }()
	base := "http://" + addr
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients * 2, MaxConnsPerHost: *clients * 2}, Timeout: 30 * time.Second}
	post := func(method, path, token string, body any, into any) (int, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
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

	// Set up: a property manager, a gate, a gate operator, residents with passes.
	const community = "110105001001"
	session := func(role string) (string, error) {
		var out bytes.Buffer
		senv := &environ{stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" }, log: env.log}
		if err := runStaff(ctx, senv, []string{"add", "--role", role, "--scope", community, "--data", dir,
			"--nats-url", fmt.Sprintf("nats://127.0.0.1:%d", ports[1]), "--mongo-uri", fmt.Sprintf("mongodb://127.0.0.1:%d/", ports[2])}); err != nil {
			return "", err
		}
		var s struct{ Token string }
		code, err := post("POST", "/auth/staff/bind", "", map[string]string{"code": "bench-" + role, "invite_code": strings.TrimSpace(out.String())}, &s)
		if err != nil || code != 200 {
			return "", fmt.Errorf("bind %s: %d %v", role, code, err)
		}
		return s.Token, nil
	}
	pm, err := session("property_manager")
	if err != nil {
		return err
	}
	op, err := session("gate_operator")
	if err != nil {
		return err
	}
	var gate struct{ ID string }
	if code, err := post("POST", "/gates", pm, map[string]string{"community": community, "name": "东门"}, &gate); err != nil || code != 201 {
		return fmt.Errorf("gate: %d %v", code, err)
	}
	tokens := make([]string, *residents)
	for i := range tokens {
		var s struct{ Token string }
		if code, err := post("POST", "/auth/wechat", "", map[string]string{"code": fmt.Sprintf("bench-res-%d", i)}, &s); err != nil || code != 200 {
			return fmt.Errorf("sign in: %d %v", code, err)
		}
		var reg struct {
			Household struct {
				Members []struct {
					PersonID string `json:"person_id"`
				}
			}
			Session struct{ Token string }
		}
		id := benchIDNumber(i)
		if code, err := post("PUT", "/me/household", s.Token, map[string]any{"community": community, "building": "1", "unit": "1",
			"members": []map[string]string{{"name": "张三", "id_number": id, "phone": fmt.Sprintf("138%08d", i)}}}, &reg); err != nil || code != 200 {
			return fmt.Errorf("register: %d %v", code, err)
		}
		var pass struct{ Token string }
		if code, err := post("GET", "/me/passes/"+reg.Household.Members[0].PersonID, reg.Session.Token, nil, &pass); err != nil || code != 200 {
			return fmt.Errorf("pass: %d %v", code, err)
		}
		tokens[i] = pass.Token
	}
	fmt.Fprintf(env.stderr, "bench-scan: %d residents with passes; %d scans by %d clients\n", len(tokens), *scans, *clients)

	// Raw baseline on the same NATS server.
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", ports[1]))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	rawCfg := ledger.Config{Stream: "RAWSCAN"}.StreamConfig()
	rawCfg.Subjects = []string{"rawscan.>"}
	if _, err := js.CreateOrUpdateStream(ctx, rawCfg); err != nil {
		return err
	}
	payload := bytes.Repeat([]byte("x"), 420) // the size of a pass.scanned event
	rawRate, err := parallel(*clients, *scans, func(i int) error {
		_, err := js.PublishMsg(ctx, &nats.Msg{Subject: fmt.Sprintf("rawscan.110105001001.gate.g%d", i%8), Data: payload})
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("raw publish: %w", err)
	}
	// Scans over HTTP.
	lat := make([]time.Duration, *scans)
	var denied atomic.Int64
	scanRate, err := parallel(*clients, *scans, func(i int) error {
		start := time.Now()
		code, err := post("POST", "/scans", op, map[string]any{"scan_id": fmt.Sprintf("b%d", i), "token": tokens[i%len(tokens)], "gate": gate.ID,
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
	// Offline batches of 500.
	var batchTime time.Duration
	const batches = 3
	for k := 0; k < batches; k++ {
		items := make([]map[string]any, 500)
		for i := range items {
			items[i] = map[string]any{"scan_id": fmt.Sprintf("off%d-%d", k, i), "token": tokens[i%len(tokens)], "gate": gate.ID, "direction": "in",
				"scanned_at": time.Now().UTC().Add(-time.Duration(500-i) * time.Second)}
		}
		start := time.Now()
		if code, err := post("POST", "/scans/batch", op, map[string]any{"scans": items}, nil); err != nil || code != 200 {
			return fmt.Errorf("batch: %d %v", code, err)
		}
		batchTime += time.Since(start)
	}
	batchMS := float64(batchTime.Milliseconds()) / batches
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
