package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/orgs"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/miniapp-api/api"
)

// TraceResult is the trace part: the public trace of a donation of
// traceHops hops (donations.Service.Trace: every event of the donation read
// from the ledger and proven against the latest signed checkpoint) in a
// ledger of about TraceLeaves events, against a raw baseline of what a
// trace must do at least (one Store.Read and one Prover.ProveInclusion per
// event, without the service), and the same trace over HTTP
// (GET /public/donations/{id} through miniapp-api on loopback).
type TraceResult struct {
	Background  int    // background events (the proof part's pass workload)
	Donations   int    // donations created through the service
	Hops        int    // hops per donation
	Steps       int    // events per donation: the pledge, a dispatch and a receipt per hop
	TreeSize    uint64 // leaves of the checkpoint the proofs are against
	Setup       int    // events of the organisations and their staff, before everything else
	Spacing     float64
	Tiles       int // distinct level-0 tiles (256 leaves) holding donation events
	Level0Tiles uint64
	CacheTiles  int

	FillSeconds float64 // background and donations appended together
	FillRate    float64 // events/s of that
	SealSeconds float64 // sealing the whole ledger from scratch

	Trace, Raw, HTTP TraceLatency
	Verified         int // answers checked step by step (trace and HTTP, warm-up included)
	ProofsChecked    int // inclusion proofs checked with tlog.CheckRecord (raw baseline included)
}

// TraceLatency is the latency of one kind of call.
type TraceLatency struct {
	Samples       int
	P50, P99, Max time.Duration
	Seconds       float64 // total time of the timed calls
}

// Ratio is the trace's p50 over the raw baseline's.
func (t TraceResult) Ratio() float64 { return float64(t.Trace.P50) / float64(t.Raw.P50) }

// RatioP99 is the same for the p99s.
func (t TraceResult) RatioP99() float64 { return float64(t.Trace.P99) / float64(t.Raw.P99) }

// HTTPRatio is the HTTP trace's p50 over the raw baseline's.
func (t TraceResult) HTTPRatio() float64 { return float64(t.HTTP.P50) / float64(t.Raw.P50) }

const (
	traceSeed = 2028
	traceHops = 10
	// traceSteps is what a donation of traceHops hops holds: its pledge,
	// then a dispatch and a receipt per hop.
	traceSteps = 1 + 2*traceHops
	// traceAhead is how many donation steps the background may run ahead
	// of the stepper, so that steps stay spread over the whole ledger.
	traceAhead = 8
	// traceWarmup calls of each kind run untimed first.
	traceWarmup = 20
)

func (c Config) checkTrace() error {
	if c.TraceLeaves < 1 || c.TraceDonations < 1 || c.TraceSamples < 2*cycles {
		return fmt.Errorf("trace sizes must be positive (leaves %d, donations %d, samples %d ≥ %d)",
			c.TraceLeaves, c.TraceDonations, c.TraceSamples, 2*cycles)
	}
	return nil
}

// traceWorld is the donation service on an embedded NATS, as the backend
// wires it (and backend/casestest for tests): the accounts service (for
// organisations and staff) with the real vault, the donation service with
// an organisation lookup, and the seal, which ops bench runs itself: the
// ledger is sealed once (SealTo) when it is full, not by a running sealer.
type traceWorld struct {
	env      *natsEnv
	seal     *sealEnv
	reg      *events.Registry
	accounts *accounts.Service
	dstate   *donations.State
	svc      *donations.Service

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (r *runner) startTraceWorld(ctx context.Context, rep *Report) (*traceWorld, error) {
	// Only reads are timed: spare the appends an fsync each.
	opts, err := r.cfg.syncOptions()
	if err != nil {
		return nil, err
	}
	if opts.SyncAlways {
		opts = embedded.NATSOptions{SyncInterval: fillSyncInterval}
		rep.note(fmt.Sprintf("trace: its embedded NATS syncs every %s, not always: the ledger is filled (not timed) and then only read", fillSyncInterval))
	}
	env, err := r.startNATSWith(ctx, "trace", opts)
	if err != nil {
		return nil, err
	}
	w := &traceWorld{env: env, reg: schemas.Registry().WithKeyring(benchKeyring())}
	if w.seal, err = openSeal(ctx, env.js); err != nil {
		env.close()
		return nil, err
	}
	key := func(s string) []byte { k := sha256.Sum256([]byte("onebook bench trace " + s)); return k[:] }
	vault, err := personal.OpenVault(ctx, env.js, personal.VaultConfig{MasterKey: key("master"), IndexKey: key("index")})
	if err != nil {
		env.close()
		return nil, fmt.Errorf("vault: %w", err)
	}
	// The registry keeps the bench's derived keyring (not the vault): the
	// background pass events were sealed with it, and the followers, which
	// decode every type the one registry knows, must open them.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	state := accounts.NewState()
	w.dstate = donations.NewState()
	w.wg.Go(func() {
		if err := ledger.Follow(wctx, env.js, env.store.Stream(), w.reg, events.Fanout{state, w.dstate}); err != nil {
			r.log.Error("trace: following the ledger", "err", err)
		}
	})
	w.accounts = &accounts.Service{Store: env.store, Reg: w.reg, State: state, Vault: accounts.PersonalVault(vault)}
	w.svc = &donations.Service{Store: env.store, Reg: w.reg, State: w.dstate,
		Pseudonym: func(a string) string { return vault.Pseudonym(personal.DomainDonations, a) },
		Org: func(id string) (donations.Org, bool) {
			o, ok := w.accounts.Org(id)
			return donations.Org{ID: o.ID, Kind: o.Kind, Name: o.Name, Region: o.Region, Approved: o.Approved}, ok
		}}
	return w, nil
}

func (w *traceWorld) close() {
	w.cancel()
	w.wg.Wait()
	w.env.close()
}

// traceOrgs is the chain of a donation: the donor, then the receiver of
// each hop, the last a hospital's ward.
var traceOrgs = []struct {
	kind, name string
	region     events.Region
}{
	{orgs.Donor, "北京基准测试公益基金会", "110105"},
	{orgs.Charity, "湖北省基准测试红十字会", "420106"},
	{orgs.Logistics, "基准测试医药物流(武汉)", "420112"},
	{orgs.Warehouse, "基准测试博览中心仓库", "420105"},
	{orgs.Logistics, "基准测试冷链运输", "420104"},
	{orgs.Warehouse, "武汉市基准测试物资储备库", "420103"},
	{orgs.Charity, "武汉市基准测试慈善总会", "420102"},
	{orgs.Logistics, "基准测试城市配送", "420111"},
	{orgs.Warehouse, "江岸区基准测试中转仓", "420102"},
	{orgs.Logistics, "基准测试同城急送", "420105"},
	{orgs.Hospital, "武汉市基准测试医院", "420105001"},
}

// traceLines are the items donated, in turn.
var traceLines = []donationevents.Line{
	{Item: "mask_n95", Spec: "N95"}, {Item: "protective_clothing", Spec: "170"},
	{Item: "gloves", Spec: "M"}, {Item: "goggles", Spec: "standard"}, {Item: "disinfectant", Spec: "84"},
}

// chain registers and approves the organisations of traceOrgs and binds
// an org_member for each.
func (w *traceWorld) chain(ctx context.Context) ([]accounts.Org, []auth.Principal, error) {
	var out []accounts.Org
	var members []auth.Principal
	for i, o := range traceOrgs {
		org, err := w.accounts.RegisterOrg(ctx, benchSystem, accounts.OrgInput{Kind: o.kind, Name: o.name, Region: o.region,
			Licence: licence(fmt.Sprintf("onebook-bench-trace-%d", i)), DocsHash: hex.EncodeToString(bytes.Repeat([]byte{byte(i + 1)}, 32)), Approve: true})
		if err != nil {
			return nil, nil, fmt.Errorf("register %s: %w", o.name, err)
		}
		ns, err := w.accounts.AddStaff(ctx, benchSystem, accounts.StaffInput{Role: string(auth.OrgMember), Label: "bench", Org: org.ID})
		if err != nil {
			return nil, nil, fmt.Errorf("add staff of %s: %w", o.name, err)
		}
		p, err := w.accounts.BindStaff(ctx, "wx-"+ns.ID, ns.InviteCode)
		if err != nil {
			return nil, nil, fmt.Errorf("bind staff of %s: %w", o.name, err)
		}
		out, members = append(out, org), append(members, p)
	}
	return out, members, nil
}

// donationSteps takes the steps of D donations through the service, step
// s being step s/D of donation s%D: its pledge (0), then the dispatch
// (odd) and the receipt (even) of each hop.
type donationSteps struct {
	svc     *donations.Service
	orgs    []accounts.Org
	members []auth.Principal
	ids     []string
}

func (d *donationSteps) lots(i int) []donationevents.Lot {
	l := traceLines[i%len(traceLines)]
	l.Quantity = int64(100 + i%900)
	return []donationevents.Lot{{Line: l, Batch: fmt.Sprintf("BENCH-%05d", i)}}
}

func (d *donationSteps) step(ctx context.Context, s int) error {
	n := len(d.ids)
	i, k := s%n, s/n
	switch {
	case k == 0:
		don, err := d.svc.Pledge(ctx, d.members[0], donations.PledgeInput{Lines: []donationevents.Line{d.lots(i)[0].Line}, Note: "基准测试"})
		if err != nil {
			return fmt.Errorf("pledge %d: %w", i, err)
		}
		d.ids[i] = don.ID
	case k%2 == 1:
		hop := (k + 1) / 2
		to := donationevents.Receiver{Org: d.orgs[hop].ID}
		if hop == traceHops {
			to.Unit = "呼吸科"
		}
		if _, err := d.svc.Dispatch(ctx, d.members[hop-1], d.ids[i], donations.DispatchInput{To: to, Lots: d.lots(i), Via: fmt.Sprintf("顺丰 SF%010d", s)}); err != nil {
			return fmt.Errorf("donation %d, dispatch of hop %d: %w", i, hop, err)
		}
	default:
		hop := k / 2
		photo := sha256.Sum256(fmt.Appendf(nil, "photo %d %d", i, hop))
		if _, err := d.svc.Confirm(ctx, d.members[hop], d.ids[i], hop, donations.ReceiveInput{Lots: d.lots(i), Condition: donationevents.Intact,
			PhotoHash: hex.EncodeToString(photo[:])}); err != nil {
			return fmt.Errorf("donation %d, receipt of hop %d: %w", i, hop, err)
		}
	}
	return nil
}

// traceFill appends background events 0..bg-1 of the mixed workload and
// the steps of the donations together, so that the donations' events are
// spread over the whole ledger: step s (of S) is taken once (s+1)·bg/(S+1)
// background events were handed to the publisher, and the background may
// not run more than traceAhead steps ahead of the stepper. The background
// is published as fill does (asynchronously, built on every CPU); the
// steps go one at a time through the service, each waiting, as the
// service does, until its state has seen it. It checks that the ledger
// grew by exactly bg + S events.
func (r *runner) traceFill(ctx context.Context, env *natsEnv, bg int, d *donationSteps) error {
	S := len(d.ids) * traceSteps
	before, err := env.ledgerSize(ctx)
	if err != nil {
		return err
	}
	var failed atomic.Uint64
	var lastErr atomic.Value
	js, err := asyncJS(env.nc, fillInFlight, &failed, &lastErr)
	if err != nil {
		return err
	}
	in := newInterleaving(bg, S)
	defer context.AfterFunc(ctx, func() { in.fail(ctx.Err()) })()
	var bgDone, stepsDone atomic.Uint64
	stopBG := track(r.progress, "trace: fill (background)", 0, uint64(bg), bgDone.Load)
	defer stopBG()
	stopSteps := track(r.progress, "trace: fill (donation steps)", 0, uint64(S), stepsDone.Load)
	defer stopSteps()

	var wg sync.WaitGroup
	var stepErr error
	wg.Go(func() {
		for s := range S {
			if in.awaitHanded(s) != nil {
				return
			}
			if err := d.step(ctx, s); err != nil {
				stepErr = err
				in.fail(err)
				return
			}
			stepsDone.Add(1)
			in.stepped()
		}
	})
	err = parallel(ctx, 0, bg, runtime.NumCPU(), &bgDone, func(ctx context.Context, i int) error {
		e, raw, err := buildCanonical(r.gen.mixed, i)
		if err != nil {
			return err
		}
		if err := in.awaitStepped(i); err != nil {
			return err
		}
		if err := publishAsync(ctx, js, i, e, raw); err != nil {
			return err
		}
		in.handed()
		return nil
	})
	if err != nil {
		in.fail(err)
	}
	wg.Wait()
	if stepErr != nil {
		return stepErr
	}
	if err != nil {
		return err
	}
	if err := awaitAsync(ctx, js, &failed, &lastErr, "trace: background"); err != nil {
		return err
	}
	after, err := env.ledgerSize(ctx)
	if err != nil {
		return err
	}
	if want := uint64(bg + S); after-before != want {
		return fmt.Errorf("trace: the ledger grew by %d events, not %d", after-before, want)
	}
	return nil
}

// interleaving spreads S donation steps evenly among bg background events:
// step s waits until the background events before it were handed to the
// publisher, and the background publishers stay at most traceAhead steps
// ahead of the stepper. Either side failing stops both.
type interleaving struct {
	bg, steps int
	mu        sync.Mutex
	cv        *sync.Cond
	nHanded   int   // background events handed to the publisher
	nStepped  int   // steps taken
	target    int   // handed count the stepper waits for
	stop      error // set when either side fails
}

func newInterleaving(bg, steps int) *interleaving {
	in := &interleaving{bg: bg, steps: steps, target: -1}
	in.cv = sync.NewCond(&in.mu)
	return in
}

// pos is how many background events come before step s.
func (in *interleaving) pos(s int) int { return (s + 1) * in.bg / (in.steps + 1) }

// awaitHanded waits until the background events before step s are handed.
func (in *interleaving) awaitHanded(s int) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.target = in.pos(s)
	for in.nHanded < in.target && in.stop == nil {
		in.cv.Wait()
	}
	return in.stop
}

// awaitStepped waits until background event i may go: the stepper is no
// more than traceAhead steps behind it.
func (in *interleaving) awaitStepped(i int) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	for in.nStepped+traceAhead < in.steps && i >= in.pos(in.nStepped+traceAhead) && in.stop == nil {
		in.cv.Wait()
	}
	return in.stop
}

func (in *interleaving) stepped() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.nStepped++
	in.cv.Broadcast()
}

func (in *interleaving) handed() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.nHanded++
	if in.nHanded >= in.target {
		in.cv.Broadcast()
	}
}

// fail stops both sides with err (the first error wins).
func (in *interleaving) fail(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.stop == nil {
		in.stop = err
	}
	in.cv.Broadcast()
}

// benchTrace runs the trace part.
func (r *runner) benchTrace(ctx context.Context, rep *Report) (TraceResult, error) {
	c := r.cfg
	res := TraceResult{Background: c.TraceLeaves, Donations: c.TraceDonations, Hops: traceHops, Steps: traceSteps, CacheTiles: proofCacheTiles}
	w, err := r.startTraceWorld(ctx, rep)
	if err != nil {
		return res, err
	}
	defer func() {
		w.close()
		_ = os.RemoveAll(subdir(r.dir, "trace")) // a million events: free the disk now
	}()
	chainOrgs, members, err := w.chain(ctx)
	if err != nil {
		return res, err
	}
	setup, err := w.env.ledgerSize(ctx)
	if err != nil {
		return res, err
	}
	res.Setup = int(setup)
	steps := &donationSteps{svc: w.svc, orgs: chainOrgs, members: members, ids: make([]string, c.TraceDonations)}
	r.log.Info("bench: trace: filling the ledger", "background", c.TraceLeaves, "donations", c.TraceDonations, "steps", c.TraceDonations*traceSteps)
	size, err := r.traceFillAll(ctx, w, steps, &res)
	if err != nil {
		return res, err
	}
	prover, sc, cp, err := r.traceSeal(ctx, w, size, &res)
	if err != nil {
		return res, err
	}
	seqs, err := traceSpread(w, steps.ids, &res)
	if err != nil {
		return res, err
	}
	m := &traceMeasure{w: w, prover: prover, cp: cp, note: string(sc.Note), seqs: seqs, res: &res}
	if err := m.startHTTP(ctx, r.quiet); err != nil {
		return res, err
	}
	defer m.stopHTTP()
	if err := m.run(ctx, r, c.TraceSamples, steps.ids); err != nil {
		return res, err
	}
	rep.note(fmt.Sprintf("trace: %d donations of %d hops (%d events each: pledge, then dispatched and received per hop, donor → %d organisations → a hospital ward) created through donations.Service (Pledge, Dispatch, Confirm by each organisation's bound org_member) while %d background pass events were appended, step s of all %d taken after (s+1)/(S+1) of the background (the background at most %d steps ahead), so a donation's events lie %.0f leaves apart on average and the donations' %d events in %d of the %d level-0 tiles; fill %.1f s (%s events/s, not timed in the figures), the whole ledger of %d events sealed from scratch in %.1f s; %d organisations and their staff (%d events) came first",
		res.Donations, res.Hops, res.Steps, res.Hops-1, res.Background, res.Donations*res.Steps, traceAhead, res.Spacing,
		res.Donations*res.Steps, res.Tiles, res.Level0Tiles, res.FillSeconds, rate(res.FillRate), res.TreeSize, res.SealSeconds, len(traceOrgs), res.Setup))
	return res, nil
}

// traceFillAll fills the trace world's ledger (the background and the
// donations' steps, interleaved), records how long that took in res, and
// waits for the donation state to reach the ledger's size, which it returns.
func (r *runner) traceFillAll(ctx context.Context, w *traceWorld, steps *donationSteps, res *TraceResult) (uint64, error) {
	c := r.cfg
	start := time.Now()
	if err := r.traceFill(ctx, w.env, c.TraceLeaves, steps); err != nil {
		return 0, err
	}
	res.FillSeconds = time.Since(start).Seconds()
	res.FillRate = float64(c.TraceLeaves+c.TraceDonations*traceSteps) / res.FillSeconds
	size, err := w.env.ledgerSize(ctx)
	if err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	err = w.dstate.WaitFor(wctx, size)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("trace: the donation state did not catch up with the ledger: %w", err)
	}
	return size, nil
}

// traceSeal seals the whole trace ledger of size leaves, gives the
// donation service a prover over its tiles, and checks the latest
// checkpoint as an outsider would, once: its signature against the
// verifier key.
func (r *runner) traceSeal(ctx context.Context, w *traceWorld, size uint64, res *TraceResult) (*seal.Prover, seal.SignedCheckpoint, seal.Checkpoint, error) {
	// Seal with the runner's seal helper, pointed at this part's server
	// for the while.
	savedNATS, savedSeal := r.nats, r.seal
	r.nats, r.seal = w.env, w.seal
	took, _, err := r.sealTo(ctx, "trace: seal (not timed)", size)
	r.nats, r.seal = savedNATS, savedSeal
	if err != nil {
		return nil, seal.SignedCheckpoint{}, seal.Checkpoint{}, err
	}
	res.SealSeconds = took.Seconds()

	tiles, err := seal.OpenTiles(ctx, w.env.js, seal.TilesConfig{CacheTiles: proofCacheTiles})
	if err != nil {
		return nil, seal.SignedCheckpoint{}, seal.Checkpoint{}, err
	}
	prover := seal.NewProver(w.seal.cps, tiles)
	w.svc.Prover = prover
	sc, err := prover.Checkpoint(ctx)
	if err != nil {
		return nil, sc, seal.Checkpoint{}, err
	}
	if sc.Size != size {
		return nil, sc, seal.Checkpoint{}, fmt.Errorf("trace: the latest checkpoint has %d leaves, the ledger %d", sc.Size, size)
	}
	v, err := note.NewVerifier(w.seal.vkey)
	if err != nil {
		return nil, sc, seal.Checkpoint{}, err
	}
	cp, _, err := seal.OpenCheckpoint(sc.Note, note.VerifierList(v), Origin)
	if err != nil {
		return nil, sc, seal.Checkpoint{}, err
	}
	res.TreeSize, res.Level0Tiles = cp.Size, (cp.Size+255)/256
	return prover, sc, cp, nil
}

// traceSpread returns the ledger sequences of each donation's events,
// checking that each was delivered in traceSteps events, and records in
// res how many level-0 tiles they lie in and how far apart on average.
func traceSpread(w *traceWorld, ids []string, res *TraceResult) (map[string][]uint64, error) {
	seqs := make(map[string][]uint64, len(ids))
	tilesUsed := map[uint64]bool{}
	var gaps, ngaps float64
	for _, id := range ids {
		d, ok := w.dstate.Donation(id)
		if !ok || len(d.Seqs) != traceSteps || d.Status() != "delivered" {
			return nil, fmt.Errorf("trace: donation %s has %d events (%s), want %d, delivered", id, len(d.Seqs), d.Status(), traceSteps)
		}
		seqs[id] = d.Seqs
		for j, s := range d.Seqs {
			tilesUsed[(s-1)/256] = true
			if j > 0 {
				gaps += float64(s - d.Seqs[j-1])
				ngaps++
			}
		}
	}
	res.Tiles, res.Spacing = len(tilesUsed), gaps/ngaps
	return seqs, nil
}

// traceMeasure times the calls of the trace part.
type traceMeasure struct {
	w      *traceWorld
	prover *seal.Prover
	cp     seal.Checkpoint
	note   string
	seqs   map[string][]uint64
	res    *TraceResult

	app    interface{ Shutdown() error }
	url    string
	client *http.Client
	served chan error

	// the raw baseline's answers, checked after the timing
	raw    []events.Recorded
	leaves []tlog.Hash
	proofs []tlog.RecordProof
}

// startHTTP serves miniapp-api with only the donation service on loopback.
func (m *traceMeasure) startHTTP(ctx context.Context, log *slog.Logger) error {
	app := api.New(api.Config{Donations: m.w.svc, Log: log})
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	m.served = make(chan error, 1)
	go func() { m.served <- app.Listener(ln) }()
	m.app = app
	m.url = "http://" + ln.Addr().String() + "/public/donations/"
	m.client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	return nil
}

func (m *traceMeasure) stopHTTP() {
	if m.app == nil {
		return
	}
	m.client.CloseIdleConnections()
	_ = m.app.Shutdown()
	<-m.served
}

// rawOnce is the raw baseline: every event of the donation read from the
// ledger and proven in the tree of the checkpoint, nothing else.
func (m *traceMeasure) rawOnce(ctx context.Context, id string) error {
	m.raw, m.leaves, m.proofs = m.raw[:0], m.leaves[:0], m.proofs[:0]
	for _, seq := range m.seqs[id] {
		rec, err := m.w.env.store.Read(ctx, seq)
		if err != nil {
			return err
		}
		leaf, proof, err := m.prover.ProveInclusion(ctx, seq-1, m.cp.Size)
		if err != nil {
			return err
		}
		m.raw, m.leaves, m.proofs = append(m.raw, rec), append(m.leaves, leaf), append(m.proofs, proof)
	}
	return nil
}

// checkRaw checks the raw baseline's last answers.
func (m *traceMeasure) checkRaw(id string) error {
	for j, rec := range m.raw {
		idx := m.seqs[id][j] - 1
		if tlog.RecordHash(rec.Raw) != m.leaves[j] {
			return fmt.Errorf("raw: leaf %d: the proven leaf hash is not the hash of the stored event", idx)
		}
		if err := tlog.CheckRecord(m.proofs[j], int64(m.cp.Size), m.cp.Hash, int64(idx), m.leaves[j]); err != nil {
			return fmt.Errorf("raw: leaf %d: %w", idx, err)
		}
		m.res.ProofsChecked++
	}
	return nil
}

// traceTypes are the event types of a donation's steps, in order.
var traceTypes = func() []string {
	out := []string{donationevents.TypePledged}
	for range traceHops {
		out = append(out, donationevents.TypeDispatched, donationevents.TypeReceived)
	}
	return out
}()

// checkTrace checks a trace as an outsider would: against the checkpoint
// verified once, each step's bytes hash to its leaf and the leaf is proven
// in the checkpoint's tree (tlog.CheckRecord); and it is the whole
// donation: every event, in order, all sealed.
func (m *traceMeasure) checkTrace(id string, t donations.Trace) error {
	seqs := m.seqs[id]
	switch {
	case t.Donation.ID != id:
		return fmt.Errorf("trace of %s is of donation %q", id, t.Donation.ID)
	case t.Checkpoint != m.note || t.TreeSize != m.cp.Size:
		return fmt.Errorf("trace of %s: checkpoint of size %d, not the latest (%d)", id, t.TreeSize, m.cp.Size)
	case len(t.Steps) != len(seqs) || len(t.Steps) != traceSteps || len(t.Donation.Hops) != traceHops || t.Status != "delivered":
		return fmt.Errorf("trace of %s: %d steps, %d hops, %s; want %d, %d, delivered", id, len(t.Steps), len(t.Donation.Hops), t.Status, traceSteps, traceHops)
	}
	for j, s := range t.Steps {
		if !s.Sealed || s.Index != seqs[j]-1 || s.Type != traceTypes[j] {
			return fmt.Errorf("trace of %s: step %d is leaf %d, %s, sealed %v; want leaf %d, %s, sealed", id, j, s.Index, s.Type, s.Sealed, seqs[j]-1, traceTypes[j])
		}
		e, err := events.Parse(s.Event)
		if err != nil || e.Aggregate.ID != id || e.Type != s.Type {
			return fmt.Errorf("trace of %s: step %d is not an event of the donation (%v)", id, j, err)
		}
		leaf := tlog.RecordHash(s.Event)
		if base64.StdEncoding.EncodeToString(leaf[:]) != s.LeafHash {
			return fmt.Errorf("trace of %s: step %d: its bytes do not hash to its leaf", id, j)
		}
		proof := make(tlog.RecordProof, len(s.Proof))
		for k, p := range s.Proof {
			b, err := base64.StdEncoding.DecodeString(p)
			if err != nil || len(b) != tlog.HashSize {
				return fmt.Errorf("trace of %s: step %d: proof hash %q", id, j, p)
			}
			copy(proof[k][:], b)
		}
		if err := tlog.CheckRecord(proof, int64(t.TreeSize), m.cp.Hash, int64(s.Index), leaf); err != nil {
			return fmt.Errorf("trace of %s: step %d: %w", id, j, err)
		}
		m.res.ProofsChecked++
	}
	m.res.Verified++
	return nil
}

// once makes one call of a kind for donation id, returns how long it took
// and checks the answer after the timing.
func (m *traceMeasure) once(ctx context.Context, kind, id string) (time.Duration, error) {
	switch kind {
	case "raw":
		start := time.Now()
		err := m.rawOnce(ctx, id)
		took := time.Since(start)
		if err != nil {
			return took, err
		}
		return took, m.checkRaw(id)
	case "trace":
		start := time.Now()
		t, err := m.w.svc.Trace(ctx, id)
		took := time.Since(start)
		if err != nil {
			return took, fmt.Errorf("trace of %s: %w", id, err)
		}
		return took, m.checkTrace(id, t)
	default:
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url+id, nil)
		if err != nil {
			return 0, err
		}
		resp, err := m.client.Do(req)
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if err != nil {
			return took, err
		}
		if resp.StatusCode != http.StatusOK {
			return took, fmt.Errorf("GET /public/donations/%s: %s: %.200s", id, resp.Status, body)
		}
		var t donations.Trace
		if err := json.Unmarshal(body, &t); err != nil {
			return took, fmt.Errorf("GET /public/donations/%s: %w", id, err)
		}
		return took, m.checkTrace(id, t)
	}
}

// run warms up, then times samples traces of random donations, and half
// as many raw baselines and HTTP traces (for time: a full run's ledger
// takes most of it to fill), alternating raw, trace, http, http, trace,
// raw cycles times.
func (m *traceMeasure) run(ctx context.Context, r *runner, samples int, ids []string) error {
	kinds := []string{"raw", "trace", "http"}
	for _, k := range kinds {
		for j := range min(traceWarmup, len(ids)) {
			if _, err := m.once(ctx, k, ids[j]); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	per := map[string]int{"trace": samples / (2 * cycles)}
	per["raw"] = max(per["trace"]/2, 1)
	per["http"] = per["raw"]
	lat := map[string][]time.Duration{}
	total := map[string]time.Duration{}
	rng := rand.New(rand.NewPCG(traceSeed, uint64(len(ids))))
	order := slices.Clone(kinds)
	for _, k := range slices.Backward(kinds) {
		order = append(order, k)
	}
	runtime.GC()
	for c := range cycles {
		for _, k := range order {
			var done atomic.Uint64
			stop := track(r.progress, fmt.Sprintf("trace: %s calls (cycle %d/%d)", k, c+1, cycles), 0, uint64(per[k]), done.Load)
			for range per[k] {
				if err := ctx.Err(); err != nil {
					stop()
					return err
				}
				d, err := m.once(ctx, k, ids[rng.IntN(len(ids))])
				if err != nil {
					stop()
					return err
				}
				lat[k] = append(lat[k], d)
				total[k] += d
				done.Add(1)
			}
			stop()
		}
	}
	for k, dst := range map[string]*TraceLatency{"raw": &m.res.Raw, "trace": &m.res.Trace, "http": &m.res.HTTP} {
		l := lat[k]
		slices.Sort(l)
		*dst = TraceLatency{Samples: len(l), P50: quantile(l, 0.50), P99: quantile(l, 0.99), Max: l[len(l)-1], Seconds: total[k].Seconds()}
	}
	return nil
}

// metrics adds the trace part's keys to m.
func (t *TraceResult) metrics(m map[string]float64) {
	for p, l := range map[string]TraceLatency{"trace_": t.Trace, "trace_raw_": t.Raw, "trace_http_": t.HTTP} {
		m[p+"p50_ms"] = ms(l.P50)
		m[p+"p99_ms"] = ms(l.P99)
		m[p+"max_ms"] = ms(l.Max)
		m[p+"samples"] = float64(l.Samples)
	}
	m["trace_ratio"] = t.Ratio()
	m["trace_p99_ratio"] = t.RatioP99()
	m["trace_http_ratio"] = t.HTTPRatio()
	m["trace_leaves"] = float64(t.TreeSize)
	m["trace_background_events"] = float64(t.Background)
	m["trace_donations"] = float64(t.Donations)
	m["trace_steps"] = float64(t.Steps)
	m["trace_verified"] = float64(t.Verified)
	m["trace_proofs_checked"] = float64(t.ProofsChecked)
	m["trace_fill_seconds"] = t.FillSeconds
	m["trace_fill_rate"] = t.FillRate
	m["trace_seal_seconds"] = t.SealSeconds
}

// rows returns the trace part's table rows. Its figures are
// informational: nothing passes or fails on them.
func (t *TraceResult) rows() []Row {
	base := fmt.Sprintf("%d × (Store.Read + ProveInclusion): p50 %.2f ms, p99 %.2f ms", t.Steps, ms(t.Raw.P50), ms(t.Raw.P99))
	what := fmt.Sprintf("a donation of %d hops (%d events) in a ledger of %d events (%d donations, their events %.0f leaves apart, in %d of %d level-0 tiles; fresh prover, tile cache %d), a random donation per call, one call at a time",
		t.Hops, t.Steps, t.TreeSize, t.Donations, t.Spacing, t.Tiles, t.Level0Tiles, t.CacheTiles)
	check := fmt.Sprintf("every answer checked after its timing: %d steps in order, all sealed, each event's bytes hashing to its leaf, each inclusion proof verified with tlog.CheckRecord against the root of the signed checkpoint (its signature verified once); %d answers, %d proofs checked in all", t.Steps, t.Verified, t.ProofsChecked)
	return []Row{{
		Name: "trace",
		Workload: fmt.Sprintf("donations.Service.Trace of %s, %d calls (%.1f s); baseline %d raw calls of what a trace must do at least: Store.Read and Prover.ProveInclusion of each of its %d events, same prover, no service; %s; ratio = p50 ÷ raw p50 (p99 ratio %.2f)",
			what, t.Trace.Samples, t.Trace.Seconds, t.Raw.Samples, t.Steps, check, t.RatioP99()),
		Baseline: base,
		Measured: fmt.Sprintf("p50 %.2f ms, p99 %.2f ms, max %.2f ms", ms(t.Trace.P50), ms(t.Trace.P99), ms(t.Trace.Max)),
		Ratio:    t.Ratio(), Target: "informational", Met: true,
	}, {
		Name: "trace http",
		Workload: fmt.Sprintf("GET /public/donations/{id} through miniapp-api (only the donation service configured) on loopback, keep-alive, as trace: %d calls (%.1f s), timed until the body is read, decoded and checked after; ratio = p50 ÷ raw p50",
			t.HTTP.Samples, t.HTTP.Seconds),
		Baseline: base,
		Measured: fmt.Sprintf("p50 %.2f ms, p99 %.2f ms, max %.2f ms", ms(t.HTTP.P50), ms(t.HTTP.P99), ms(t.HTTP.Max)),
		Ratio:    t.HTTPRatio(), Target: "informational", Met: true,
	}}
}
