package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/miniapp-api/api"
	"github.com/onebook/onebook/ops/cluster"
)

// The fault scenarios, in the order they run on one cluster. The worker
// kill comes first: it needs the worker to hold every worker lease, and a
// node fault that stalls the lease bucket longer than the lease time can
// hand the seal's or the early-warning engine's lease to an API replica.
var faultNames = []string{"worker-kill", "leader-shutdown", "leader-kill", "node-restart", "partition"}

// faultConfig configures runFaults.
type faultConfig struct {
	Faults    []string // names from faultNames
	Clients   int      // concurrent HTTP clients, spread over both API replicas
	Scans     int      // scans per fault, at least
	Residents int      // residents with passes
	Timeout   time.Duration
	Progress  io.Writer
	Dir       string // the cluster's data and the replicas' logs, kept; "": a temporary directory, removed
}

// faultResult is what one fault scenario saw.
type faultResult struct {
	Fault  string `json:"fault"`
	Target string `json:"target"` // the node or replica it hit
	Scans  int    `json:"scans"`  // distinct scans posted
	Acked  int    `json:"acked"`  // answered 200, or 409 duplicate on a retry
	// Statuses counts every answer by status (and "transport error").
	Statuses map[string]int `json:"statuses"`
	// Failover is from the fault to the first acknowledged append of a
	// scan posted after it (leader faults, partition); for the worker,
	// to the first new checkpoint.
	Failover   time.Duration `json:"failover_ns"`
	FailoverOf string        `json:"failover_of"`
	// Election is from a leader's loss to a new leader of the ledger
	// stream, as the nodes report it.
	Election time.Duration `json:"election_ns,omitempty"`
	// Takeover is from a worker's death to every worker lease held by a
	// live replica.
	Takeover time.Duration `json:"takeover_ns,omitempty"`
	// CatchUp is from a node's return to its holding the whole ledger.
	CatchUp time.Duration `json:"catch_up_ns,omitempty"`
	// Projections is from the end of the load to every projection
	// having folded the whole ledger.
	Projections time.Duration `json:"projections_ns"`
	// Cell is the province whose ledger took the load ("": the single
	// ledger), and Ledger what its ledger holds of the load.
	Cell     events.Region `json:"cell,omitempty"`
	Ledger   ledgerCount   `json:"ledger"`
	Problems []string      `json:"problems,omitempty"`
}

// faultRig is a running cluster with what the load needs: a property
// manager's session, a gate and residents' pass tokens, in the single
// ledger or, on a cluster with a ledger per province, in one province's
// cell (each province then has a rig of its own).
type faultRig struct {
	c      *cluster.Cluster
	env    *environ
	hc     *http.Client
	pm     string
	gate   string
	tokens []string
	cfg    faultConfig

	cell      events.Region       // the province of the rig's cell; "": the single ledger
	community string              // where the gate and the residents are
	js        jetstream.JetStream // the cell's ledger (its account)
	data      string              // the cell's data folder: the keys that open its sealed events
}

const faultCommunity = "110105001001"

// base is where the rig's cell's API is mounted on a replica: "" for the
// single ledger, "/p/31" for province 31's.
func (g *faultRig) base() string {
	if g.cell == "" {
		return ""
	}
	return partition.Prefix(g.cell)
}

// conn are the ops flags that reach the rig's cell: the cluster's servers,
// the replicas' data folder and, with partitions, --cell.
func (g *faultRig) conn() []string {
	args := []string{"--nats-url", g.c.NATSURL(), "--mongo-uri", g.c.MongoURI(), "--data", g.c.KeysDir()}
	if g.cell != "" {
		args = append(args, "--cell", string(g.cell))
	}
	return args
}

// apis are the replicas the load goes through: the API replicas, or the
// workers if there are none.
func (g *faultRig) apis() []*cluster.Replica {
	if len(g.c.APIs) > 0 {
		return g.c.APIs
	}
	return g.c.Workers
}

// runFaults starts a cluster with a standby worker, registers residents and
// runs each fault scenario of cfg under load, checking after each what the
// clients were told against the ledger, and ops verify.
func runFaults(ctx context.Context, env *environ, cfg faultConfig) ([]faultResult, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	start := time.Now()
	c, cleanup, err := startCluster(ctx, env, cluster.Config{Dir: cfg.Dir, Workers: 2, Flags: []string{"--seal-interval", "100ms", "--log-level", "warn"}})
	if err != nil {
		return nil, err
	}
	defer cleanup()
	fmt.Fprintf(cfg.Progress, "cluster faults: cluster up in %v\n", time.Since(start).Round(time.Millisecond))
	rig := &faultRig{c: c, env: env, cfg: cfg, community: faultCommunity, js: c.JetStream(), data: c.KeysDir(),
		hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients * 2}, Timeout: 30 * time.Second}}
	start = time.Now()
	if err := rig.setup(ctx); err != nil {
		return nil, fmt.Errorf("set up: %w", err)
	}
	fmt.Fprintf(cfg.Progress, "cluster faults: %d residents with passes in %v\n", cfg.Residents, time.Since(start).Round(time.Millisecond))
	var out []faultResult
	for _, name := range cfg.Faults {
		fmt.Fprintf(cfg.Progress, "cluster faults: %s\n", name)
		r, err := rig.run(ctx, name)
		if err != nil {
			return out, fmt.Errorf("%s: %w (replica logs: %s)", name, err, c.LogDir())
		}
		out = append(out, r)
	}
	return out, nil
}

// call posts (or gets) JSON and decodes the answer into into.
func (g *faultRig) call(ctx context.Context, method, url, token string, body, into any) (int, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, err
	}
	if into != nil {
		_ = json.Unmarshal(b, into)
	}
	return resp.StatusCode, resp.Header, nil
}

// setup makes a property manager (ops staff add, then bound through the
// fake WeChat), a gate and residents with passes, through the first API
// replica, and waits until both API replicas' states have read it all.
func (g *faultRig) setup(ctx context.Context) error {
	api1 := g.apis()[0].URL() + g.base()
	var out bytes.Buffer
	senv := &environ{stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" }, log: g.env.log}
	if err := runStaff(ctx, senv, append([]string{"add", "--role", "property_manager", "--scope", g.community}, g.conn()...)); err != nil {
		return err
	}
	var s struct{ Token string }
	if code, _, err := g.call(ctx, "POST", api1+"/auth/staff/bind", "", map[string]string{"code": "cluster-pm" + string(g.cell), "invite_code": strings.TrimSpace(out.String())}, &s); err != nil || code != 200 {
		return fmt.Errorf("bind the property manager: %d %v", code, err)
	}
	g.pm = s.Token
	var gate struct{ ID string }
	if code, _, err := g.call(ctx, "POST", api1+"/gates", g.pm, map[string]string{"community": g.community, "name": "东门"}, &gate); err != nil || code != 201 {
		return fmt.Errorf("gate: %d %v", code, err)
	}
	g.gate = gate.ID
	for i := range g.cfg.Residents {
		var s struct{ Token string }
		if code, _, err := g.call(ctx, "POST", api1+"/auth/wechat", "", map[string]string{"code": fmt.Sprintf("cluster-res%s-%d", g.cell, i)}, &s); err != nil || code != 200 {
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
		if code, _, err := g.call(ctx, "PUT", api1+"/me/household", s.Token, map[string]any{"community": g.community, "building": "1", "unit": "1",
			"members": []map[string]string{{"name": "张三", "id_number": benchIDNumber(i), "phone": fmt.Sprintf("138%08d", i)}}}, &reg); err != nil || code != 200 || len(reg.Household.Members) == 0 {
			return fmt.Errorf("register: %d %v", code, err)
		}
		var pass struct{ Token string }
		if code, _, err := g.call(ctx, "GET", api1+"/me/passes/"+reg.Household.Members[0].PersonID, reg.Session.Token, nil, &pass); err != nil || code != 200 {
			return fmt.Errorf("pass: %d %v", code, err)
		}
		g.tokens = append(g.tokens, pass.Token)
	}
	size, err := g.ledgerSize(ctx)
	if err != nil {
		return err
	}
	for _, r := range g.apis() {
		if err := g.waitStates(ctx, r, size); err != nil {
			return err
		}
	}
	return nil
}

func (g *faultRig) ledgerSize(ctx context.Context) (uint64, error) {
	st, err := g.js.Stream(ctx, cluster.LedgerStream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// waitStates waits until every in-memory state of replica r has applied
// the ledger up to size.
func (g *faultRig) waitStates(ctx context.Context, r *cluster.Replica, size uint64) error {
	for {
		var st api.HealthStatus
		if _, _, err := g.call(ctx, "GET", r.URL()+g.base()+"/healthz", "", nil, &st); err == nil && len(st.States) > 0 {
			behind := false
			for _, s := range st.States {
				behind = behind || s.Seq < size
			}
			if !behind {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s's states did not reach %d: %w", r.Name, size, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitProjections waits, at most d, until the worker running each
// projection reports it caught up with the ledger (no lag).
func (g *faultRig) waitProjections(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var behind []string
	for {
		done := map[string]bool{}
		var names []string
		for _, w := range g.c.Workers {
			var st api.HealthStatus
			if !w.Running() {
				continue
			}
			if _, _, err := g.call(ctx, "GET", w.URL()+g.base()+"/healthz", "", nil, &st); err != nil {
				continue
			}
			names = names[:0]
			for _, p := range st.Projections {
				names = append(names, p.Name)
				done[p.Name] = done[p.Name] || p.CaughtUp && p.Lag == 0
			}
		}
		behind = behind[:0]
		for _, n := range names {
			if !done[n] {
				behind = append(behind, n)
			}
		}
		if len(names) > 0 && len(behind) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("projections not caught up with the ledger after %v: %s%s", d, strings.Join(behind, ", "), g.projectorsSay(behind))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// projectorsSay is what each worker says of the projections behind, in
// its health answer and in its log, for a failure to be read from the
// test's output alone (CI keeps no replica log).
func (g *faultRig) projectorsSay(behind []string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var b strings.Builder
	for _, w := range g.c.Workers {
		fmt.Fprintf(&b, "\n  worker %s (running %v):", w.Name, w.Running())
		var st api.HealthStatus
		if _, _, err := g.call(ctx, "GET", w.URL()+g.base()+"/healthz", "", nil, &st); err != nil {
			fmt.Fprintf(&b, " healthz: %v", err)
		}
		for _, p := range st.Projections {
			if slices.Contains(behind, p.Name) {
				fmt.Fprintf(&b, "\n    %s: seq %d, lag %d, %s, caught up %v", p.Name, p.Seq, p.Lag, p.Status, p.CaughtUp)
			}
		}
		for _, l := range w.LogLines("projector", 12) {
			fmt.Fprintf(&b, "\n    log: %s", tail(l, 400))
		}
	}
	return b.String()
}

// apisSay is what the clients of load l were answered, and the last
// warnings and errors of each API replica's log, for a fault after which
// no scan was acknowledged (CI keeps no replica logs).
func (g *faultRig) apisSay(l *scanLoad) string {
	var b strings.Builder
	l.mu.Lock()
	fmt.Fprintf(&b, "\n  clients were answered: %v; %d scans posted", l.statuses, l.posted.Load())
	for _, o := range l.odd[max(len(l.odd)-5, 0):] {
		fmt.Fprintf(&b, "\n  odd answer: %s", tail(o, 400))
	}
	l.mu.Unlock()
	for _, r := range g.c.APIs {
		fmt.Fprintf(&b, "\n  api %s (running %v):", r.Name, r.Running())
		var warned []string
		for _, line := range r.LogLines("level=", 1000) {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				warned = append(warned, line)
			}
		}
		for _, line := range warned[max(len(warned)-12, 0):] {
			fmt.Fprintf(&b, "\n    log: %s", tail(line, 400))
		}
	}
	return b.String()
}

// checkpoint is the latest signed checkpoint, as an API replica serves it,
// its signature checked with the cluster's verifier key.
func (g *faultRig) checkpoint(ctx context.Context) (seal.Checkpoint, error) {
	vkey, err := os.ReadFile(g.c.KeysDir() + "/seal.key.pub")
	if err != nil {
		return seal.Checkpoint{}, err
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		return seal.Checkpoint{}, err
	}
	var lastErr error
	for _, r := range g.c.APIs {
		req, _ := http.NewRequestWithContext(ctx, "GET", r.URL()+"/ledger/checkpoint", nil)
		resp, err := g.hc.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			lastErr = fmt.Errorf("GET /ledger/checkpoint: %d %v", resp.StatusCode, err)
			continue
		}
		cp, _, err := seal.OpenCheckpoint(b, note.VerifierList(verifier), verifier.Name())
		return cp, err
	}
	return seal.Checkpoint{}, lastErr
}

// consistent checks, through an API replica, a consistency proof from the
// tree of old to the tree of cur.
func (g *faultRig) consistent(ctx context.Context, old, cur seal.Checkpoint) error {
	var p api.ConsistencyProof
	code, _, err := g.call(ctx, "GET", fmt.Sprintf("%s/ledger/proof/consistency?old=%d&new=%d", g.c.APIs[0].URL(), old.Size, cur.Size), "", nil, &p)
	if err != nil || code != 200 {
		return fmt.Errorf("consistency proof %d→%d: %d %v", old.Size, cur.Size, code, err)
	}
	proof, err := decodeHashes(p.Proof)
	if err != nil {
		return err
	}
	return seal.VerifyConsistency(old, cur, proof)
}

// scanLoad is 64 (Clients) gate phones posting scans of valid passes
// through both API replicas. A 503 must carry Retry-After and is retried
// with the same scan id through the other replica (as a load balancer
// would), sooner than Retry-After asks; a 409 duplicate on a retry means
// an earlier attempt was recorded.
type scanLoad struct {
	g      *faultRig
	prefix string
	round  string // the prefix of every load of the round (one per province), "": this one's alone
	min    int    // scans to post at least
	stop   atomic.Bool
	next   atomic.Int64
	posted atomic.Int64 // distinct scans posted

	mu       sync.Mutex
	statuses map[string]int
	acked    map[string]uint64 // scan id → the sequence the answer named (0: not named)
	acks     []ackAt
	unacked  []string // gave up (ctx ended) before an answer said recorded
	odd      []string // answers that are none of 200, 409 duplicate, 503 with Retry-After
}

type ackAt struct{ sent, at time.Time }

func (l *scanLoad) run(ctx context.Context, clients int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(l.next.Add(1)) - 1
				if (l.stop.Load() && i >= l.min) || ctx.Err() != nil {
					return
				}
				l.scan(ctx, i)
			}
		}()
	}
	return &wg
}

func (l *scanLoad) count(status string) {
	l.mu.Lock()
	l.statuses[status]++
	l.mu.Unlock()
}

func (l *scanLoad) scan(ctx context.Context, i int) {
	g := l.g
	l.posted.Add(1)
	id := fmt.Sprintf("%s-%d", l.prefix, i)
	body := map[string]any{"scan_id": id, "token": g.tokens[i%len(g.tokens)], "gate": g.gate,
		"direction": []string{"in", "out"}[i%2], "scanned_at": time.Now().UTC()}
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			l.mu.Lock()
			l.unacked = append(l.unacked, id)
			l.mu.Unlock()
			return
		}
		apis := g.apis()
		r := apis[(i+attempt)%len(apis)]
		sent := time.Now()
		var res struct {
			Seq   uint64 `json:"seq"`
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		code, hdr, err := g.call(ctx, "POST", r.URL()+g.base()+"/scans", g.pm, body, &res)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				continue
			}
			l.count("transport error")
			l.note(fmt.Sprintf("%s via %s: %v", id, r.Name, err))
		case code == 200 || code == 409 && res.Error.Code == string(events.CodeDuplicate):
			l.count(fmt.Sprint(code))
			l.mu.Lock()
			l.acked[id] = res.Seq
			l.acks = append(l.acks, ackAt{sent: sent, at: time.Now()})
			l.mu.Unlock()
			return
		case code == 503:
			l.count("503")
			if hdr.Get("Retry-After") == "" {
				l.count("503 without Retry-After")
				l.note(fmt.Sprintf("%s via %s: 503 without Retry-After", id, r.Name))
			}
		default:
			l.count(fmt.Sprint(code))
			l.note(fmt.Sprintf("%s via %s: %d %s %s", id, r.Name, code, res.Error.Code, res.Error.Message))
			return // not retried: a client would not either
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (l *scanLoad) note(s string) {
	l.mu.Lock()
	if len(l.odd) < 20 {
		l.odd = append(l.odd, s)
	}
	l.mu.Unlock()
}

// firstAckAfter is how long after t the first scan posted at or after t
// was acknowledged; false if none was.
func (l *scanLoad) firstAckAfter(t time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for _, a := range l.acks {
		if !a.sent.Before(t) && (first.IsZero() || a.at.Before(first)) {
			first = a.at
		}
	}
	return first.Sub(t), !first.IsZero()
}

func (l *scanLoad) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// waitAcked waits until n more scans than now are acknowledged.
func (l *scanLoad) waitAcked(ctx context.Context, n int) error {
	target := l.ackedCount() + n
	for l.ackedCount() < target {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d scans acknowledged: %w", l.ackedCount(), target, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// run runs one fault scenario under load and checks its outcome.
func (g *faultRig) run(ctx context.Context, name string) (faultResult, error) {
	res := faultResult{Fault: name}
	from, err := g.ledgerSize(ctx)
	if err != nil {
		return res, err
	}
	l := &scanLoad{g: g, prefix: fmt.Sprintf("%s-%d", name, time.Now().UnixNano()), min: g.cfg.Scans,
		statuses: map[string]int{}, acked: map[string]uint64{}}
	lctx, stopLoad := context.WithTimeout(ctx, g.cfg.Timeout)
	defer stopLoad()
	wg := l.run(lctx, g.cfg.Clients)
	finish := func() { l.stop.Store(true); wg.Wait() }
	defer finish()
	// Faults strike a cluster under load.
	if err := l.waitAcked(ctx, g.cfg.Scans/4); err != nil {
		return res, err
	}
	var restart *cluster.Replica
	if err := g.strike(ctx, name, l, &res, &restart); err != nil {
		return res, err
	}
	finish()
	if err := g.outcome(ctx, name, l, lctx.Err() != nil, from, &res); err != nil {
		return res, err
	}
	if restart != nil {
		t := time.Now()
		if err := restart.Start(ctx); err != nil {
			return res, err
		}
		fmt.Fprintf(g.cfg.Progress, "cluster faults: %s started again in %v\n", restart.Name, time.Since(t).Round(time.Millisecond))
	}
	return res, nil
}

// strike strikes fault name at the cluster under load l, and records in
// res what it struck and how long the cluster took to recover; a worker
// to start again afterwards is left in restart.
func (g *faultRig) strike(ctx context.Context, name string, l *scanLoad, res *faultResult, restart **cluster.Replica) error {
	switch name {
	case "leader-shutdown", "leader-kill":
		return g.leaderLoss(ctx, name == "leader-kill", l, res)
	case "node-restart":
		return g.followerKill(ctx, l, res)
	case "partition":
		return g.partition(ctx, l, res)
	case "worker-kill":
		return g.workerKill(ctx, l, res, restart)
	default:
		return fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(faultNames, ", "))
	}
}

// leaderLoss stops the leader of the rig's ledger (kill: at once; else a
// clean shutdown), times the election and the first acknowledged append
// after it, and once a quarter of the scans more are acknowledged starts
// the node again and times its catch-up.
func (g *faultRig) leaderLoss(ctx context.Context, kill bool, l *scanLoad, res *faultResult) error {
	quarter := g.cfg.Scans / 4
	var err error
	n := g.c.LedgerLeader(g.cell)
	if n == nil {
		return errors.New("no node leads the ledger")
	}
	res.Target, res.FailoverOf = n.Name, "leader loss → first acknowledged append"
	t0 := time.Now()
	if kill {
		n.Kill()
	} else if err := g.c.Shutdown(ctx, n); err != nil {
		return err
	}
	if _, err := g.c.WaitLedgerLeader(ctx, g.cell, n); err != nil {
		return err
	}
	res.Election = time.Since(t0)
	if res.Failover, err = g.waitFirstAck(ctx, l, t0); err != nil {
		return err
	}
	if err := l.waitAcked(ctx, quarter); err != nil {
		return err
	}
	res.CatchUp, err = g.restartNode(ctx, n)
	return err
}

// followerKill kills a node that does not lead the rig's ledger, times
// the first acknowledged append after, and once a quarter of the scans
// more are acknowledged starts the node again and times its catch-up.
func (g *faultRig) followerKill(ctx context.Context, l *scanLoad, res *faultResult) error {
	quarter := g.cfg.Scans / 4
	var err error
	var n *cluster.Node
	for _, nd := range g.c.Nodes {
		if !nd.LeadsLedger(g.cell) {
			n = nd
		}
	}
	res.Target, res.FailoverOf = n.Name, "follower killed → first acknowledged append"
	t0 := time.Now()
	n.Kill()
	if res.Failover, err = g.waitFirstAck(ctx, l, t0); err != nil {
		return err
	}
	if err := l.waitAcked(ctx, quarter); err != nil { // the others go on without it
		return err
	}
	res.CatchUp, err = g.restartNode(ctx, n)
	return err
}

// partition cuts a node off the others (the election timed if it led the
// rig's ledger), times the first acknowledged append after, and once a
// quarter of the scans more are acknowledged heals it and times its
// catch-up.
func (g *faultRig) partition(ctx context.Context, l *scanLoad, res *faultResult) error {
	quarter := g.cfg.Scans / 4
	var err error
	n := g.partitionTarget()
	res.Target, res.FailoverOf = n.Name, "partition → first acknowledged append"
	t0 := time.Now()
	leader := n.LeadsLedger(g.cell)
	if err := n.Partition(); err != nil {
		return err
	}
	if leader {
		if _, err := g.c.WaitLedgerLeader(ctx, g.cell, n); err != nil {
			return err
		}
		res.Election = time.Since(t0)
	}
	if res.Failover, err = g.waitFirstAck(ctx, l, t0); err != nil {
		return err
	}
	if err := l.waitAcked(ctx, quarter); err != nil { // the majority goes on
		return err
	}
	t1 := time.Now()
	if err := n.Heal(); err != nil {
		return err
	}
	if err := g.c.WaitCaughtUp(ctx, n); err != nil {
		return err
	}
	res.CatchUp = time.Since(t1)
	return nil
}

// outcome checks what the clients of load l saw and what the ledger holds
// since sequence from, waits for the projections, runs ops verify, and
// records every problem in res.
func (g *faultRig) outcome(ctx context.Context, name string, l *scanLoad, outOfTime bool, from uint64, res *faultResult) error {
	if outOfTime {
		res.Problems = append(res.Problems, fmt.Sprintf("the load ran out of time (%v)", g.cfg.Timeout))
	}
	res.Scans, res.Acked, res.Statuses = int(l.posted.Load()), len(l.acked), l.statuses
	for k := range l.statuses {
		if k != "200" && k != "409" && k != "503" {
			res.Problems = append(res.Problems, fmt.Sprintf("clients saw %d × %s", l.statuses[k], k))
		}
	}
	res.Problems = append(res.Problems, l.odd...)
	// Read the outcome once every node holds the whole ledger.
	for _, n := range g.c.Nodes {
		if err := g.c.WaitCaughtUp(ctx, n); err != nil {
			return err
		}
	}
	count, probs, err := g.checkLedger(ctx, l, from)
	if err != nil {
		return err
	}
	res.Ledger = count
	res.Problems = append(res.Problems, probs...)
	// The projections catch up with the ledger; how long they take after
	// the load is a figure of its own (a projector whose consumer lost its
	// leader can take long), bounded so that a stuck one fails verify.
	t1 := time.Now()
	if err := g.waitProjections(ctx, 3*time.Minute); err != nil {
		res.Problems = append(res.Problems, err.Error())
	}
	res.Projections = time.Since(t1)
	fmt.Fprintf(g.cfg.Progress, "cluster faults: %s: fault over, %d scans; checking the ledger and running ops verify\n", name, res.Scans)
	var out bytes.Buffer
	venv := &environ{stdout: &out, stderr: &out, getenv: func(string) string { return "" }, log: slog.New(slog.DiscardHandler)}
	if err := runVerify(ctx, venv, append(g.conn(), "--proof-samples", "64", "--wait", "30s")); err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("ops verify: %v\n%s", err, tail(out.String(), 2000)))
	}
	fmt.Fprintf(g.cfg.Progress, "cluster faults: %s: checked\n", name)
	return nil
}

// waitFirstAck waits for the first acknowledgement of a scan posted after
// t0 and returns how long after t0 it came.
func (g *faultRig) waitFirstAck(ctx context.Context, l *scanLoad, t0 time.Time) (time.Duration, error) {
	for {
		if d, ok := l.firstAckAfter(t0); ok {
			return d, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no scan acknowledged since the fault: %w%s", ctx.Err(), g.apisSay(l))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// restartNode starts n again on its store and waits until it has caught
// up; it returns how long that took.
func (g *faultRig) restartNode(ctx context.Context, n *cluster.Node) (time.Duration, error) {
	t := time.Now()
	if err := n.Start(ctx); err != nil {
		return 0, err
	}
	if err := g.c.WaitCaughtUp(ctx, n); err != nil {
		return 0, err
	}
	return time.Since(t), nil
}

// partitionTarget is the node to cut off: one that at most one API replica
// is connected to (so that clients can go on through the other, on the
// majority side), the ledger's leader if it qualifies.
func (g *faultRig) partitionTarget() *cluster.Node {
	on := map[*cluster.Node]int{}
	for _, r := range g.c.APIs {
		on[g.c.NodeOf(r)]++
	}
	best := g.c.Nodes[0]
	for _, n := range g.c.Nodes {
		if on[n] < on[best] || on[n] <= 1 && n.LeadsLedger(g.cell) {
			best = n
		}
	}
	return best
}

// workerKill kills the worker holding the leases; the standby worker must
// take over sealing, the projections and the early-warning engine within
// the lease time, with a new checkpoint consistent with the last one.
//
// restart is set to the killed worker, for the caller to start again (as
// the standby) once the scenario is checked.
func (g *faultRig) workerKill(ctx context.Context, l *scanLoad, res *faultResult, restart **cluster.Replica) error {
	w, err := g.c.LeaseHolder(ctx, cluster.WorkerLeases()[len(cluster.WorkerLeases())-1]) // a projection's: only workers run them
	if err != nil || w == nil {
		return fmt.Errorf("no worker holds a projection's lease (%v)", err)
	}
	standby := false
	for _, r := range g.c.Workers {
		standby = standby || r != w && r.Running()
	}
	if !standby {
		return errors.New("no standby worker")
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := g.c.WaitLeases(wctx, w); err != nil {
		return fmt.Errorf("the worker to kill does not hold every worker lease: %w", err)
	}
	res.Target, res.FailoverOf = w.Name, "worker killed → first new checkpoint"
	w.Kill()
	t0 := time.Now()
	old, err := g.checkpoint(ctx) // the killed worker seals nothing more
	if err != nil {
		return fmt.Errorf("checkpoint before: %w", err)
	}
	var cur seal.Checkpoint
	for {
		if cur, err = g.checkpoint(ctx); err == nil && cur.Size > old.Size {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no checkpoint after %d since the worker died: %w", old.Size, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	res.Failover = time.Since(t0)
	if err := g.consistent(ctx, old, cur); err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("the new checkpoint (%d) is not consistent with the last before the kill (%d): %v", cur.Size, old.Size, err))
	}
	// Every worker lease goes to a live replica: the projections' to the
	// standby worker (the only other with projectors), the sealer's and
	// the early-warning engine's to whichever replica asked first.
	lctx, lcancel := context.WithTimeout(ctx, 60*time.Second)
	defer lcancel()
	for _, key := range cluster.WorkerLeases() {
		for {
			h, err := g.c.LeaseHolder(lctx, key)
			if err == nil && h != nil && h != w && h.Running() {
				break
			}
			if lctx.Err() != nil {
				res.Problems = append(res.Problems, fmt.Sprintf("no live replica took the lease %s after the worker died", key))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	res.Takeover = time.Since(t0)
	if err := l.waitAcked(ctx, g.cfg.Scans/4); err != nil {
		return err
	}
	*restart = w
	return nil
}

// readScans reads the scans of l's run from the rig's ledger (sequences
// from+1 to to), their scan ids opened with the cell's keys: the
// sequences of each of l's scans, and foreign called for each scan of
// another load of the round.
func (g *faultRig) readScans(ctx context.Context, l *scanLoad, from, to uint64, foreign func(id string, seq uint64)) (map[string][]uint64, error) {
	reg, err := (&conn{data: g.data}).sealedRegistry(ctx, g.js)
	if err != nil {
		return nil, err
	}
	seqs := map[string][]uint64{}
	err = ledger.ScanStream(ctx, g.js, cluster.LedgerStream, nil, from+1, to, func(r events.Recorded) error {
		e, err := events.Parse(r.Raw)
		if err != nil || e.Type != passevents.TypeScanned {
			return err
		}
		p, err := events.DecodeAs[passevents.Scanned](ctx, reg, e)
		if err != nil {
			return fmt.Errorf("scan at %d: %w", r.Seq, err)
		}
		switch {
		case strings.HasPrefix(p.ScanID, l.prefix+"-"):
			seqs[p.ScanID] = append(seqs[p.ScanID], r.Seq)
		case l.round != "" && strings.HasPrefix(p.ScanID, l.round+"-"):
			foreign(p.ScanID, r.Seq)
		}
		return nil
	})
	return seqs, err
}

// ledgerCount is what checkLedger found of one load in one ledger.
type ledgerCount struct {
	InLedger   int `json:"in_ledger"`  // distinct scans of the load in the ledger
	Lost       int `json:"lost"`       // acknowledged, and not in the ledger
	Moved      int `json:"moved"`      // acknowledged, and at another sequence than the answer named
	Duplicated int `json:"duplicated"` // in the ledger more than once
	Unsent     int `json:"unsent"`     // in the ledger, and sent by no client
	// Foreign counts the scans of another load of the same run (another
	// province's) found in this ledger.
	Foreign int `json:"foreign"`
}

// checkLedger reads every scan of l's run from the rig's ledger (from
// sequence from on) and compares them with what the clients were told:
// each acknowledged scan is there exactly once, at the sequence its answer
// named; no scan is there twice; nothing is there that no client sent,
// nor any scan of another load of the run (another province's).
func (g *faultRig) checkLedger(ctx context.Context, l *scanLoad, from uint64) (ledgerCount, []string, error) {
	var n ledgerCount
	to, err := g.ledgerSize(ctx)
	if err != nil {
		return n, nil, err
	}
	var probs []string
	add := func(format string, args ...any) {
		if len(probs) < 20 {
			probs = append(probs, fmt.Sprintf(format, args...))
		}
	}
	seqs, err := g.readScans(ctx, l, from, to, func(id string, seq uint64) {
		n.Foreign++
		add("scan %s of another province's load is in this ledger at %d", id, seq)
	})
	if err != nil {
		return n, nil, err
	}
	n.InLedger = len(seqs)
	stream, err := g.js.Stream(ctx, cluster.LedgerStream)
	if err != nil {
		return n, nil, err
	}
	ids := make([]string, 0, len(l.acked))
	for id := range l.acked {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := seqs[id]
		switch {
		case len(s) == 0:
			// Say what the ledger holds at the sequence the answer named
			// (none for a 409 duplicate): another event there means an
			// acknowledged append was lost.
			n.Lost++
			what := "nothing"
			if l.acked[id] == 0 {
				what = "no sequence named"
			} else if m, err := stream.GetMsg(ctx, l.acked[id]); err != nil {
				what = err.Error()
			} else if e, err := events.Parse(m.Data); err == nil {
				what = fmt.Sprintf("event %s (%s)", e.ID, e.Type)
			}
			add("acknowledged scan %s (answered with sequence %d, ledger read %d..%d) is not in the ledger; at %d: %s", id, l.acked[id], from+1, to, l.acked[id], what)
		case l.acked[id] != 0 && s[0] != l.acked[id]:
			n.Moved++
			add("acknowledged scan %s was answered with sequence %d but is at %d", id, l.acked[id], s[0])
		}
	}
	sent := map[string]bool{}
	for _, id := range l.unacked {
		sent[id] = true
	}
	for id, s := range seqs {
		if _, ok := l.acked[id]; !ok && !sent[id] {
			n.Unsent++
			add("scan %s is in the ledger (%v) but no client sent it", id, s)
		}
		if len(s) > 1 {
			n.Duplicated++
			add("scan %s is in the ledger %d times", id, len(s))
		}
	}
	if len(l.unacked) > 0 {
		in := 0
		for _, id := range l.unacked {
			if len(seqs[id]) > 0 {
				in++
			}
		}
		add("%d scans never acknowledged before the load's deadline (%d of them in the ledger)", len(l.unacked), in)
	}
	return n, probs, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// runClusterFaults is "ops cluster faults": it runs the fault scenarios on
// a fresh cluster and prints, per fault, what the clients saw and the
// failover time; it fails if any scenario found a problem.
func runClusterFaults(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("cluster faults", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	only := fs.String("only", strings.Join(faultNames, ","), "comma-separated faults to run, in this order")
	clients := fs.Int("clients", 64, "concurrent HTTP clients posting scans through both API replicas")
	scans := fs.Int("scans", 4000, "scans per fault, at least")
	residents := fs.Int("residents", 40, "residents with passes")
	timeout := fs.Duration("timeout", 15*time.Minute, "bound of the whole run")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	parts := fs.String("partitions", "", "a ledger per province (e.g. 11,31,44,51): faults "+strings.Join(cellFaultNames, ", ")+
		" at one province's ledger under every province's load, --scans per province")
	dir := fs.String("dir", "", "directory of the cluster's data and the replicas' logs, kept after the run; default a temporary one, removed")
	struck := fs.String("struck", "", "with --partitions, the province whose ledger is struck (default the second)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := faultConfig{Faults: strings.Split(*only, ","), Clients: *clients, Scans: *scans, Residents: *residents, Timeout: *timeout, Progress: env.stderr, Dir: *dir}
	var (
		res []faultResult
		err error
	)
	write := writeFaults
	if *parts == "" {
		res, err = runFaults(ctx, env, cfg)
	} else {
		provinces, perr := partition.Parse(*parts)
		if perr != nil {
			return perr
		}
		if !flagSet(fs, "only") {
			cfg.Faults = cellFaultNames
		}
		target := events.Region(*struck)
		if target == "" {
			target = provinces[1%len(provinces)]
		}
		write = writeCellFaults
		res, err = runCellFaults(ctx, env, cfg, provinces, target)
	}
	if *asJSON {
		if jerr := json.NewEncoder(env.stdout).Encode(res); jerr != nil {
			return jerr
		}
	} else {
		write(env.stdout, res)
	}
	if err != nil {
		return err
	}
	for _, r := range res {
		if len(r.Problems) > 0 {
			return failed{fmt.Sprintf("%s: %d problems", r.Fault, len(r.Problems))}
		}
	}
	return nil
}

// answers is the count of each answer the clients got, by status in
// order, as the fault tables print it: "200×96 503×4".
func (r faultResult) answers() string {
	keys := make([]string, 0, len(r.Statuses))
	for k := range r.Statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ans []string
	for _, k := range keys {
		ans = append(ans, fmt.Sprintf("%s×%d", k, r.Statuses[k]))
	}
	return strings.Join(ans, " ")
}

// writeFaults prints, per fault, what the clients sent and were told, the
// times of the failover and the catch-up, and the problems found.
func writeFaults(w io.Writer, res []faultResult) {
	fmt.Fprintf(w, "%-16s %-9s %6s %6s %-34s %-52s %9s %9s %9s %11s %s\n", "fault", "target", "scans", "acked", "answers", "failover", "election", "takeover", "catch-up", "projections", "problems")
	for _, r := range res {
		dur := func(d time.Duration) string {
			if d == 0 {
				return "–"
			}
			return d.Round(time.Millisecond).String()
		}
		fmt.Fprintf(w, "%-16s %-9s %6d %6d %-34s %-52s %9s %9s %9s %11s %d\n", r.Fault, r.Target, r.Scans, r.Acked, r.answers(),
			fmt.Sprintf("%s: %s", r.FailoverOf, dur(r.Failover)), dur(r.Election), dur(r.Takeover), dur(r.CatchUp), dur(r.Projections), len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(w, "    problem: %s\n", p)
		}
	}
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
