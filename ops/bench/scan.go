package bench

// The gate-scan benchmark of the entry/exit pass service (issue 4): scan
// requests over HTTP on loopback to the real backend, each authenticated
// with a gate operator's session, its pass token verified, decided,
// appended to the ledger and acknowledged, against raw synchronous
// JetStream publishes of the same size on the same NATS server, in the same
// run; the latency of the scans; and the rate of 500-scan offline batches.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/config"
	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/events"
	ledgerjs "github.com/onebook/onebook/events/jetstream"
	evpasses "github.com/onebook/onebook/events/passes"
)

// TargetScanRatio is the target: scans/s over HTTP at least this
// share of raw synchronous publishes/s with as many publishers.
const TargetScanRatio = 0.4

// ScanBatchSize is the size of an offline batch (passes.MaxBatch).
const ScanBatchSize = passes.MaxBatch

// ScanRawStream is the raw baseline's stream of the scan benchmark: the
// ledger stream's configuration (read from the running server) with
// subjects of its own.
const ScanRawStream = "RAWSCAN"

// scanCommunity is the community of the benchmark's gate and residents.
const scanCommunity = "110105001001"

// ScanConfig says how big the scan benchmark is and how the backend runs.
type ScanConfig struct {
	Clients   int // concurrent HTTP clients, and raw publishers
	Scans     int // timed scans, and timed raw publishes
	Residents int // residents, each with a pass; scans cycle over their tokens
	Batches   int // 500-scan offline batches, one after another

	// NATSSync is the embedded JetStream's sync policy, as the backend's
	// --nats-sync: "always" (the default) or an interval such as "2m".
	NATSSync string
	// Projectors runs the projectors in the benchmarked backend too. Off,
	// the backend is an API replica (--projectors=false); the pass state
	// follower and the sealer run either way.
	Projectors bool
	// WxmockPort is the port of the backend's in-process fake WeChat; 0
	// picks a free one. The WeChat client's HTTP settings are process-wide,
	// so a process that starts several backends must give them one port.
	WxmockPort int

	// AddStaff creates a staff account on the running backend's servers
	// and returns its one-time invite code. ops passes the `ops staff add`
	// command; nil calls passes.Service.AddStaff the way that command does.
	AddStaff func(ctx context.Context, s ScanServers, role auth.Role, scope string) (string, error)

	// CPUProfile, if set, receives a CPU profile of the first timed run of
	// scans (the two middle slices of the first raw-scan-scan-raw cycle),
	// whole process: backend, NATS server and the HTTP clients.
	CPUProfile io.Writer

	Progress io.Writer    // progress lines; nil: none
	Log      *slog.Logger // nil: slog.Default(); the backend logs warnings only
	TempDir  string       // parent of the temporary data directory; "": os.TempDir()
}

// ScanServers is where the benchmarked backend's servers are.
type ScanServers struct {
	DataDir  string // the backend's data directory (seal.key.pub is there)
	NATSURL  string
	MongoURI string
	HTTP     string // base URL of the API
}

// ScanDefaults returns the sizes of a full run.
func ScanDefaults() ScanConfig {
	return ScanConfig{Clients: 64, Scans: 20_000, Residents: 200, Batches: 3, NATSSync: "always"}
}

// ScanQuick returns small sizes, for tests and a quick look.
func ScanQuick() ScanConfig {
	return ScanConfig{Clients: 64, Scans: 1000, Residents: 20, Batches: 2, NATSSync: "always"}
}

func (c ScanConfig) check() error {
	if _, err := (Config{NATSSync: c.NATSSync}).syncOptions(); err != nil {
		return err
	}
	if c.Clients < 1 || c.Scans < c.Clients || c.Residents < 1 || c.Batches < 1 {
		return fmt.Errorf("sizes must be positive and scans at least clients (clients %d, scans %d, residents %d, batches %d)",
			c.Clients, c.Scans, c.Residents, c.Batches)
	}
	return nil
}

// ScanReport is what the scan benchmark measured.
type ScanReport struct {
	Clients, Scans, Residents int
	EventBytes                float64 // mean canonical size of the pass.scanned events, and of the raw messages

	ScanRate      float64 // allowed scans/s over HTTP, acknowledged
	RawRate       float64 // raw synchronous publishes/s
	P50, P99, Max time.Duration

	Batches         int
	BatchMS         float64 // mean wall time of one 500-scan batch request
	BatchRate       float64 // mean over the batches of 500 / wall time
	BatchMinMS      float64
	BatchMaxMS      float64
	Acked           int // scans acknowledged as allowed: warm-up, timed and batched
	LedgerScans     int // pass.scanned events at the benchmark's gate in the ledger
	LedgerConfirmed int // acknowledged scans found in the ledger at their acknowledged sequence

	NATSSync   string
	Projectors bool
	CPUs       int
	LoadStart  float64
	LoadEnd    float64
	GoVersion  string
	Notes      []string
}

// Ratio is scans/s over raw publishes/s.
func (r *ScanReport) Ratio() float64 { return r.ScanRate / r.RawRate }

// Metrics returns the flat numeric keys of the JSON output.
func (r *ScanReport) Metrics() map[string]float64 {
	return map[string]float64{
		"scan_rate":             r.ScanRate,
		"raw_publish_rate":      r.RawRate,
		"scan_ratio":            r.Ratio(),
		"scan_p50_ms":           ms(r.P50),
		"scan_p99_ms":           ms(r.P99),
		"scan_max_ms":           ms(r.Max),
		"batch_500_scans_per_s": r.BatchRate,
		"batch_500_ms":          r.BatchMS,
		"batch_500_min_ms":      r.BatchMinMS,
		"batch_500_max_ms":      r.BatchMaxMS,
		"scan_event_bytes":      r.EventBytes,
		"scans":                 float64(r.Scans),
		"clients":               float64(r.Clients),
		"residents":             float64(r.Residents),
		"batches":               float64(r.Batches),
		"acked_scans":           float64(r.Acked),
		"ledger_scans":          float64(r.LedgerScans),
		"ledger_confirmed":      float64(r.LedgerConfirmed),
	}
}

// MarshalJSON writes one object: the flat metrics, the notes and the run's
// settings.
func (r *ScanReport) MarshalJSON() ([]byte, error) {
	out := map[string]any{}
	for k, v := range r.Metrics() {
		out[k] = v
	}
	out["target_scan_ratio"] = TargetScanRatio
	out["met"] = r.Ratio() >= TargetScanRatio
	out["notes"] = r.Notes
	out["settings"] = map[string]any{"nats_sync": r.NATSSync, "projectors": r.Projectors, "cpus": r.CPUs, "go": r.GoVersion,
		"loadavg_start": r.LoadStart, "loadavg_end": r.LoadEnd}
	return json.Marshal(out)
}

// WriteTable prints the table, what each row measured and the notes.
func (r *ScanReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	met := "yes"
	if r.Ratio() < TargetScanRatio {
		met = "NO"
	}
	fmt.Fprintln(tw, "benchmark\traw baseline\tmeasured\tratio\ttarget\tmet")
	fmt.Fprintf(tw, "scan%d\tjs.PublishMsg %s/s\tPOST /scans %s/s\t%.2f\t≥ %.1f\t%s\n", r.Clients, rate(r.RawRate), rate(r.ScanRate), r.Ratio(), TargetScanRatio, met)
	fmt.Fprintf(tw, "scan latency\t-\tp50 %.1f ms, p99 %.1f ms, max %.1f ms\t-\treported\t-\n", ms(r.P50), ms(r.P99), ms(r.Max))
	fmt.Fprintf(tw, "batch%d\t-\t%s scans/s, %.0f ms per batch (%.0f-%.0f)\t-\treported\t-\n", ScanBatchSize, rate(r.BatchRate), r.BatchMS, r.BatchMinMS, r.BatchMaxMS)
	if err := tw.Flush(); err != nil {
		return err
	}
	mode := "an API replica (--projectors=false): the pass state follower and the sealer run, the projectors do not"
	if r.Projectors {
		mode = "the whole backend in one process, projectors and embedded FerretDB included (--projectors)"
	}
	fmt.Fprintf(w, "\nscan%d:  %d scans by %d concurrent HTTP clients (keep-alive), each a unique scan id, tokens cycling over %d residents, directions alternating; every one allowed, appended and acknowledged; against %d raw js.PublishMsg of %.0f-byte messages (the scans' event size) by %d publishers to stream %s (the ledger's settings) on the same NATS server, alternating raw-scan-scan-raw\n",
		r.Clients, r.Scans, r.Clients, r.Residents, r.Scans, r.EventBytes, r.Clients, ScanRawStream)
	fmt.Fprintf(w, "batch%d: %d POST /scans/batch of %d offline scans each (original times kept), one after another; rate is the mean of 500/wall time\n", ScanBatchSize, r.Batches, ScanBatchSize)
	fmt.Fprintf(w, "ledger:  %d scans acknowledged, %d pass.scanned events at the gate, %d acknowledged scans found at their acknowledged sequence\n", r.Acked, r.LedgerScans, r.LedgerConfirmed)
	fmt.Fprintf(w, "\nbackend: %s; embedded NATS (sync %s) and FerretDB on loopback. %d CPUs (load average %.1f at the start, %.1f at the end), %s.\n",
		mode, r.NATSSync, r.CPUs, r.LoadStart, r.LoadEnd, r.GoVersion)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	return nil
}

// RunScan starts the real backend in-process on embedded servers in a
// temporary directory, sets up a property manager, a gate, a gate operator
// and residents with passes, and measures. A missed target is reported, not
// an error; an error means the benchmark could not run or a scan was not
// what it should be (denied, refused, missing from the ledger).
func RunScan(ctx context.Context, cfg ScanConfig) (*ScanReport, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	rep := &ScanReport{Clients: cfg.Clients, Scans: cfg.Scans, Residents: cfg.Residents, Batches: cfg.Batches,
		NATSSync: cfg.NATSSync, Projectors: cfg.Projectors, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadStart: loadAverage()}
	if cfg.NATSSync == "always" || cfg.NATSSync == "" {
		rep.NATSSync = "always"
		rep.Notes = append(rep.Notes, "JetStream fsyncs before every acknowledgement on both sides (the backend's default): both rates are bound by the disk's fsync latency; --nats-sync 2m gives the CPU-bound figures")
	}
	dir, err := os.MkdirTemp(cfg.TempDir, "onebook-bench-scan-*")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("remove temporary directory", "dir", dir, "err", err)
		}
	}()
	b, err := startScanBackend(ctx, cfg, dir, slog.New(levelHandler{slog.LevelWarn, log.Handler()}))
	if err != nil {
		return nil, err
	}
	defer b.stop()
	s := &scanRun{cfg: cfg, b: b, rep: rep, progress: cfg.Progress, acked: map[string]uint64{}}
	if s.progress == nil {
		s.progress = io.Discard
	}
	if err := s.run(ctx); err != nil {
		return rep, err
	}
	rep.LoadEnd = loadAverage()
	if peak := max(rep.LoadStart, rep.LoadEnd); peak > float64(rep.CPUs) {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the machine was busy with other work: 1-minute load average %.1f at the start, %.1f at the end, on %d CPUs; rates and latencies are noisier than on an idle machine",
			rep.LoadStart, rep.LoadEnd, rep.CPUs))
	}
	return rep, nil
}

// scanBackend is the backend under test, running in this process.
type scanBackend struct {
	srv  ScanServers
	cfg  config.Config
	stop func()
}

func freeLoopbackPorts(n int) ([]int, error) {
	ports := make([]int, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// startScanBackend runs backend/app.Run on loopback ports of its own and
// waits until /readyz answers 200.
func startScanBackend(ctx context.Context, cfg ScanConfig, dir string, log *slog.Logger) (*scanBackend, error) {
	ports, err := freeLoopbackPorts(4) // HTTP, NATS, FerretDB, fake WeChat
	if err != nil {
		return nil, err
	}
	if cfg.WxmockPort != 0 {
		ports[3] = cfg.WxmockPort
	}
	sync := cfg.NATSSync
	if sync == "" {
		sync = "always"
	}
	data := filepath.Join(dir, "data")
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	bcfg, err := config.Load([]string{"--data", data, "--addr", addr, "--nats-port", fmt.Sprint(ports[1]), "--mongo-port", fmt.Sprint(ports[2]),
		"--wxmock-port", fmt.Sprint(ports[3]), "--nats-sync", sync, "--projectors", fmt.Sprint(cfg.Projectors)},
		func(string) string { return "" }, io.Discard)
	if err != nil {
		return nil, err
	}
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- app.Run(bctx, bcfg, log, func(string) { close(ready) }) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			log.Warn("backend stopped", "err", err)
		}
	}
	select {
	case <-ready:
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("backend: %w", err)
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
	b := &scanBackend{cfg: bcfg, stop: stop, srv: ScanServers{DataDir: data, HTTP: "http://" + addr,
		NATSURL: fmt.Sprintf("nats://127.0.0.1:%d", ports[1]), MongoURI: fmt.Sprintf("mongodb://127.0.0.1:%d/", ports[2])}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(b.srv.HTTP + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return b, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, fmt.Errorf("backend not ready at %s/readyz: %v", b.srv.HTTP, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scanRun is one run of the scan benchmark.
type scanRun struct {
	cfg      ScanConfig
	b        *scanBackend
	rep      *ScanReport
	progress io.Writer
	hc       *http.Client
	nc       *nats.Conn
	js       jetstream.JetStream

	operator string // gate operator's session token
	gate     passes.Gate
	tokens   []string // one pass token per resident
	runID    string   // makes scan ids and WeChat codes unique to the run

	setUpDone time.Time // every pass is valid from then on

	ackMu    sync.Mutex
	acked    map[string]uint64 // scan id → ledger sequence, of every allowed scan
	rawMsgs  []*nats.Msg       // the raw baseline's messages, cycled
	scanNext atomic.Int64      // scan ids of HTTP scans
}

func (s *scanRun) run(ctx context.Context) error {
	s.runID = fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff)
	s.hc = &http.Client{
		Transport: &http.Transport{MaxIdleConns: 2 * s.cfg.Clients, MaxIdleConnsPerHost: 2 * s.cfg.Clients, IdleConnTimeout: time.Minute, DisableCompression: true},
		Timeout:   2 * time.Minute,
	}
	defer s.hc.CloseIdleConnections()
	var err error
	if s.nc, err = nats.Connect(s.b.srv.NATSURL, nats.Name("onebook-bench-scan"), nats.Timeout(5*time.Second)); err != nil {
		return fmt.Errorf("connect NATS: %w", err)
	}
	defer s.nc.Close()
	if s.js, err = jetstream.New(s.nc); err != nil {
		return err
	}
	if err := s.setUp(ctx); err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	s.setUpDone = time.Now()
	if err := s.warmUp(ctx); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := s.measureScans(ctx); err != nil {
		return err
	}
	if err := s.measureBatches(ctx); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if err := s.checkLedger(ctx); err != nil {
		return fmt.Errorf("ledger check: %w", err)
	}
	return nil
}

// call sends a JSON request and decodes a JSON answer into out (if not nil)
// when the status is want; any other status is an error naming the body.
func (s *scanRun) call(ctx context.Context, method, path, token string, body any, want int, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.b.srv.HTTP+path, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s (want %d)", method, path, resp.StatusCode, bytes.TrimSpace(b), want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w in %s", method, path, err, b)
		}
	}
	return nil
}

// staffSession creates a staff account, binds it through the fake WeChat
// and returns its session token.
func (s *scanRun) staffSession(ctx context.Context, role auth.Role) (string, error) {
	add := s.cfg.AddStaff
	if add == nil {
		add = addStaffDirect
	}
	invite, err := add(ctx, s.b.srv, role, scanCommunity)
	if err != nil {
		return "", fmt.Errorf("add %s: %w", role, err)
	}
	var sess struct{ Token string }
	err = s.call(ctx, "POST", "/auth/staff/bind", "", map[string]string{"code": fmt.Sprintf("bench-scan-%s-%s", s.runID, role), "invite_code": invite}, 200, &sess)
	return sess.Token, err
}

// addStaffDirect does what `ops staff add` does: follow the ledger into a
// fresh decision state and let the pass service record the account.
func addStaffDirect(ctx context.Context, srv ScanServers, role auth.Role, scope string) (string, error) {
	nc, err := nats.Connect(srv.NATSURL, nats.Name("onebook-bench-scan-staff"), nats.Timeout(5*time.Second))
	if err != nil {
		return "", err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "", err
	}
	st, err := js.Stream(ctx, "LEDGER")
	if err != nil {
		return "", err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return "", err
	}
	store, err := ledgerjs.Open(ctx, js, ledgerjs.Config{Replicas: info.Config.Replicas, DuplicateWindow: info.Config.Duplicates})
	if err != nil {
		return "", err
	}
	reg, state := app.Registry(), passes.NewState()
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	go passes.Follow(fctx, js, store.Stream(), reg, state)
	svc := &passes.Service{Store: store, Reg: reg, State: state}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ns, err := svc.AddStaff(actx, auth.Principal{Subject: "ops", Role: auth.System}, passes.StaffInput{Role: string(role), Scope: events.Region(scope), Label: "bench"})
	if err != nil {
		return "", err
	}
	return ns.InviteCode, nil
}

// setUp creates the property manager, the gate, the gate operator and the
// residents with their passes, all through the API (staff accounts through
// the staff command's path).
func (s *scanRun) setUp(ctx context.Context) error {
	fmt.Fprintf(s.progress, "bench scan: backend at %s (NATS %s); setting up staff, a gate and %d residents\n", s.b.srv.HTTP, s.b.srv.NATSURL, s.cfg.Residents)
	pm, err := s.staffSession(ctx, auth.PropertyManager)
	if err != nil {
		return err
	}
	if s.operator, err = s.staffSession(ctx, auth.GateOperator); err != nil {
		return err
	}
	if err := s.call(ctx, "POST", "/gates", pm, map[string]string{"community": scanCommunity, "name": "东门"}, 201, &s.gate); err != nil {
		return err
	}
	if s.gate.ID == "" {
		return errors.New("the gate has no id")
	}
	s.tokens = make([]string, s.cfg.Residents)
	var done atomic.Uint64
	stop := track(s.progress, "bench scan: residents", 0, uint64(s.cfg.Residents), done.Load)
	defer stop()
	return parallel(ctx, 0, s.cfg.Residents, min(8, s.cfg.Clients), &done, func(ctx context.Context, i int) error {
		var signIn struct{ Token string }
		if err := s.call(ctx, "POST", "/auth/wechat", "", map[string]string{"code": fmt.Sprintf("bench-scan-%s-res-%d", s.runID, i)}, 200, &signIn); err != nil {
			return err
		}
		var reg struct {
			Household struct {
				Members []struct {
					PersonID string `json:"person_id"`
				}
			}
			Session struct{ Token string }
		}
		if err := s.call(ctx, "PUT", "/me/household", signIn.Token, map[string]any{"community": scanCommunity, "building": fmt.Sprint(1 + i%12), "unit": fmt.Sprintf("%d-%d", 1+i%4, 101+i%20),
			"members": []map[string]string{{"name": benchName(i), "id_number": BenchIDNumber(i), "phone": fmt.Sprintf("139%08d", i)}}}, 200, &reg); err != nil {
			return err
		}
		if len(reg.Household.Members) != 1 {
			return fmt.Errorf("resident %d: household of %d members", i, len(reg.Household.Members))
		}
		var pass struct{ Token string }
		if err := s.call(ctx, "GET", "/me/passes/"+reg.Household.Members[0].PersonID, reg.Session.Token, nil, 200, &pass); err != nil {
			return err
		}
		s.tokens[i] = pass.Token
		return nil
	})
}

// benchName is the i-th resident's name.
func benchName(i int) string {
	family := []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"}
	given := []string{"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛"}
	return family[i%len(family)] + given[i/len(family)%len(given)] + given[(i/7+3)%len(given)]
}

// BenchIDNumber is the i-th resident's GB 11643 identity number: region
// 110105, a birth date from 1950-01-01 on, sequence i%1000 and the ISO
// 7064 MOD 11-2 check character.
func BenchIDNumber(i int) string {
	body := fmt.Sprintf("110105%s%03d", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format("20060102"), i%1000)
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for k, w := range weights {
		sum += int(body[k]-'0') * w
	}
	return body + string("10X98765432"[sum%11])
}

// scanOnce posts scan i: a unique scan id, resident i's token, direction
// by parity, scanned now. It returns the request's latency; anything but
// an acknowledged allow is an error.
func (s *scanRun) scanOnce(ctx context.Context, i int) (time.Duration, error) {
	in := passes.ScanInput{ScanID: fmt.Sprintf("bs-%s-%d", s.runID, s.scanNext.Add(1)), Token: s.tokens[i%len(s.tokens)], Gate: s.gate.ID,
		Direction: []string{evpasses.In, evpasses.Out}[i%2]}
	start := time.Now()
	in.ScannedAt = start.UTC()
	var out struct{ Scan passes.ScanResult }
	err := s.call(ctx, "POST", "/scans", s.operator, in, 200, &out)
	lat := time.Since(start)
	if err != nil {
		return lat, err
	}
	if out.Scan.Decision != evpasses.Allow || out.Scan.Seq == 0 || out.Scan.ScanID != in.ScanID {
		return lat, fmt.Errorf("scan %s: answered %+v", in.ScanID, out.Scan)
	}
	s.ack(in.ScanID, out.Scan.Seq)
	return lat, nil
}

func (s *scanRun) ack(id string, seq uint64) {
	s.ackMu.Lock()
	s.acked[id] = seq
	s.ackMu.Unlock()
}

// warmUp opens the clients' connections and warms both paths: a few
// rounds of scans and of raw publishes, untimed. The raw baseline's
// messages are the canonical bytes of the warm-up scans' events.
func (s *scanRun) warmUp(ctx context.Context) error {
	n := 2 * s.cfg.Clients
	err := parallel(ctx, 0, n, s.cfg.Clients, nil, func(ctx context.Context, i int) error {
		_, err := s.scanOnce(ctx, i)
		return err
	})
	if err != nil {
		return err
	}
	var seqs []uint64 // of the warm-up scans: all acknowledged so far
	for _, seq := range s.acked {
		seqs = append(seqs, seq)
	}
	// The raw stream: the ledger's configuration as the server has it.
	led, err := s.js.Stream(ctx, "LEDGER")
	if err != nil {
		return err
	}
	info, err := led.Info(ctx)
	if err != nil {
		return err
	}
	rawCfg := info.Config
	rawCfg.Name, rawCfg.Subjects, rawCfg.Description = ScanRawStream, []string{"rawscan.>"}, "onebook bench scan: raw publish baseline"
	if _, err := s.js.CreateStream(ctx, rawCfg); err != nil {
		return fmt.Errorf("raw stream: %w", err)
	}
	total := 0
	for _, seq := range seqs {
		m, err := led.GetMsg(ctx, seq)
		if err != nil {
			return fmt.Errorf("read scan event %d: %w", seq, err)
		}
		e, err := events.Parse(m.Data)
		if err != nil || e.Type != evpasses.TypeScanned {
			return fmt.Errorf("event %d is not a scan (%s): %v", seq, e.Type, err)
		}
		s.rawMsgs = append(s.rawMsgs, &nats.Msg{Subject: "rawscan." + strings.TrimPrefix(m.Subject, events.SubjectPrefix+"."), Data: m.Data})
		total += len(m.Data)
	}
	s.rep.EventBytes = float64(total) / float64(len(seqs))
	return parallel(ctx, 0, n, s.cfg.Clients, nil, s.rawOnce)
}

// rawOnce is one raw synchronous publish of a scan event's bytes.
func (s *scanRun) rawOnce(ctx context.Context, i int) error {
	if _, err := s.js.PublishMsg(ctx, s.rawMsgs[i%len(s.rawMsgs)]); err != nil {
		return fmt.Errorf("raw publish %d: %w", i, err)
	}
	return nil
}

// measureScans times Scans scans over HTTP and as many raw publishes, with
// Clients goroutines each, alternating raw-scan-scan-raw (cycles times) so
// that drift of the server and bursts of other load weigh on both alike.
func (s *scanRun) measureScans(ctx context.Context) error {
	n := s.cfg.Scans
	lat := make([]time.Duration, n)
	scan := func(ctx context.Context, i int) error {
		d, err := s.scanOnce(ctx, i)
		lat[i] = d
		return err
	}
	type step struct {
		name     string
		fn       func(context.Context, int) error
		from, to int
		acc      *time.Duration
	}
	var rawTime, scanTime time.Duration
	var steps []step
	for c := range cycles {
		lo, hi := n*c/cycles, n*(c+1)/cycles
		mid := lo + (hi-lo)/2
		steps = append(steps,
			step{"bench scan: raw publish", s.rawOnce, lo, mid, &rawTime},
			step{"bench scan: scans", scan, lo, mid, &scanTime},
			step{"bench scan: scans", scan, mid, hi, &scanTime},
			step{"bench scan: raw publish", s.rawOnce, mid, hi, &rawTime})
	}
	for k, st := range steps {
		if s.cfg.CPUProfile != nil && k == 1 {
			if err := pprof.StartCPUProfile(s.cfg.CPUProfile); err != nil {
				return err
			}
		}
		var done atomic.Uint64
		stop := track(s.progress, st.name, uint64(st.from), uint64(n), func() uint64 { return uint64(st.from) + done.Load() })
		start := time.Now()
		err := parallel(ctx, st.from, st.to, s.cfg.Clients, &done, st.fn)
		*st.acc += time.Since(start)
		stop()
		if s.cfg.CPUProfile != nil && k == 2 {
			pprof.StopCPUProfile()
		}
		if err != nil {
			if s.cfg.CPUProfile != nil && k == 1 {
				pprof.StopCPUProfile()
			}
			return err
		}
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = s.js.DeleteStream(dctx, ScanRawStream) // only a baseline: free its disk
	slices.Sort(lat)
	s.rep.ScanRate = float64(n) / scanTime.Seconds()
	s.rep.RawRate = float64(n) / rawTime.Seconds()
	s.rep.P50, s.rep.P99, s.rep.Max = quantile(lat, 0.50), quantile(lat, 0.99), lat[n-1]
	fmt.Fprintf(s.progress, "bench scan: %s scans/s over HTTP, %s raw publishes/s: ratio %.2f; p50 %.1f ms, p99 %.1f ms\n",
		rate(s.rep.ScanRate), rate(s.rep.RawRate), s.rep.Ratio(), ms(s.rep.P50), ms(s.rep.P99))
	return nil
}

// measureBatches times Batches offline batches of 500 scans, one after
// another. The scans keep their original times, as a phone that was
// offline does: spread between the end of the set-up (the passes are valid
// from then on) and now.
func (s *scanRun) measureBatches(ctx context.Context) error {
	var sumMS, sumRate float64
	for k := range s.cfg.Batches {
		now := time.Now().UTC()
		items := make([]passes.ScanInput, ScanBatchSize)
		for i := range items {
			at := s.setUpDone.Add(now.Sub(s.setUpDone) * time.Duration(i) / ScanBatchSize)
			items[i] = passes.ScanInput{ScanID: fmt.Sprintf("bo-%s-%d-%d", s.runID, k, i), Token: s.tokens[(k*ScanBatchSize+i)%len(s.tokens)], Gate: s.gate.ID,
				Direction: []string{evpasses.In, evpasses.Out}[i%2], ScannedAt: at.UTC()}
		}
		var out struct{ Results []passes.BatchResult }
		start := time.Now()
		err := s.call(ctx, "POST", "/scans/batch", s.operator, map[string]any{"scans": items}, 200, &out)
		d := time.Since(start)
		if err != nil {
			return err
		}
		if len(out.Results) != len(items) {
			return fmt.Errorf("%d results for %d scans", len(out.Results), len(items))
		}
		for i, r := range out.Results {
			if r.ScanID != items[i].ScanID || r.Decision != evpasses.Allow || r.Seq == 0 {
				return fmt.Errorf("batch %d item %d: %+v", k, i, r)
			}
			s.ack(r.ScanID, r.Seq)
		}
		msd := ms(d)
		sumMS += msd
		sumRate += ScanBatchSize / d.Seconds()
		if k == 0 || msd < s.rep.BatchMinMS {
			s.rep.BatchMinMS = msd
		}
		s.rep.BatchMaxMS = max(s.rep.BatchMaxMS, msd)
		fmt.Fprintf(s.progress, "bench scan: batch %d/%d of %d scans: %.0f ms\n", k+1, s.cfg.Batches, ScanBatchSize, msd)
	}
	s.rep.BatchMS = sumMS / float64(s.cfg.Batches)
	s.rep.BatchRate = sumRate / float64(s.cfg.Batches)
	return nil
}

// checkLedger reads every event of the benchmark's gate from the ledger
// and checks that each acknowledged scan is there, once, at the sequence it
// was acknowledged with, as an allowed pass.scanned event.
func (s *scanRun) checkLedger(ctx context.Context) error {
	s.rep.Acked = len(s.acked)
	reg := app.Registry()
	probe := events.Event{Region: events.Region(scanCommunity), Aggregate: events.Aggregate{Kind: evpasses.KindGate, ID: s.gate.ID}}
	subject := probe.Subject()
	seen := map[string]bool{}
	err := ledgerjs.ScanStream(ctx, s.js, "LEDGER", []string{subject}, 1, ^uint64(0)>>1, func(r events.Recorded) error {
		e, err := events.Parse(r.Raw)
		if err != nil {
			return fmt.Errorf("event %d: %w", r.Seq, err)
		}
		if e.Type != evpasses.TypeScanned {
			return nil
		}
		p, err := reg.Decode(e)
		if err != nil {
			return fmt.Errorf("event %d: %w", r.Seq, err)
		}
		sc, ok := p.(evpasses.Scanned)
		if !ok {
			return fmt.Errorf("event %d: payload %T", r.Seq, p)
		}
		s.rep.LedgerScans++
		if seen[sc.ScanID] {
			return fmt.Errorf("scan %s is in the ledger twice (again at %d)", sc.ScanID, r.Seq)
		}
		seen[sc.ScanID] = true
		if seq, ok := s.acked[sc.ScanID]; ok && seq == r.Seq && sc.Decision == evpasses.Allow {
			s.rep.LedgerConfirmed++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if s.rep.LedgerConfirmed != s.rep.Acked {
		return fmt.Errorf("%d scans were acknowledged but only %d are in the ledger at their sequence", s.rep.Acked, s.rep.LedgerConfirmed)
	}
	fmt.Fprintf(s.progress, "bench scan: all %d acknowledged scans are in the ledger\n", s.rep.Acked)
	return nil
}
