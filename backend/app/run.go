package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/alerts"
	"github.com/onebook/onebook/backend/audit"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/communities"
	"github.com/onebook/onebook/backend/config"
	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/backend/tracing"
	"github.com/onebook/onebook/backend/webhook"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/lease"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/outbox"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/events/seal/witnesspush"
	"github.com/onebook/onebook/miniapp-api/api"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/mongostore"
)

// Ledger is the opened ledger: the event store and its seal.
type Ledger struct {
	Store       *ledger.Store
	Checkpoints *seal.Checkpoints
	Tiles       *seal.Tiles
	Prover      *seal.Prover
	Leases      jetstream.KeyValue
	Signer      *seal.SealerConfig // nil when opened read-only (no signing key)
}

// OpenLedger opens (creating if needed) the ledger stream, the checkpoint
// stream, the tile and lease buckets. verifierKey checks every checkpoint
// read back. The ledger of a cell (cfg.Cell) refuses what does not belong
// in it (admit).
func OpenLedger(ctx context.Context, js jetstream.JetStream, cfg config.Config, verifierKey string) (*Ledger, error) {
	st, err := ledger.Open(ctx, js, ledger.Config{Replicas: cfg.Replicas, DuplicateWindow: cfg.DedupWindow, Admit: admit(cfg.Cell),
		Sources: outbox.Sources(cfg.Sourced)})
	if err != nil {
		return nil, err
	}
	cps, err := seal.OpenCheckpoints(ctx, js, seal.CheckpointsConfig{Replicas: cfg.Replicas, VerifierKey: verifierKey})
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	tiles, err := seal.OpenTiles(ctx, js, seal.TilesConfig{Replicas: cfg.Replicas, CacheTiles: 4096}) // 32 MiB: every level-0 tile of 1M leaves
	if err != nil {
		return nil, fmt.Errorf("tiles: %w", err)
	}
	leases, err := lease.OpenBucket(ctx, js, lease.BucketConfig{Replicas: cfg.Replicas})
	if err != nil {
		return nil, fmt.Errorf("leases: %w", err)
	}
	return &Ledger{Store: st, Checkpoints: cps, Tiles: tiles, Prover: seal.NewProver(cps, tiles), Leases: leases}, nil
}

// App is a running backend.
type App struct {
	cfg        config.Config
	log        *slog.Logger
	servers    *Servers
	ledger     *Ledger
	sealer     *seal.Sealer
	docs       projections.DocStore
	projectors []*projections.Projector
	metrics    *api.Metrics
	limiter    *api.Limiter // shared by the cells of a process; nil: the API's own
	warm       *warmup
	snaps      *stateSnapshots
	signer     note.Signer      // the seal's: checkpoints and export manifests
	vkey       string           // its verifier key
	vault      *personal.Vault  // every sealed payload's keys
	reg        *events.Registry // the event types, sealing with the vault
}

// warmup is whether the in-memory decision states have caught up with the
// ledger as it was when the process started: until then a decision could
// miss an event (a pass not yet known would be a "forged" denial, recorded
// for good), so the replica is not ready and decisions answer 503.
type warmup struct {
	size   uint64        // the ledger's size at start
	states events.Fanout // every decision state, followed by one reader
	done   atomic.Bool
}

// Ready reports whether every state has applied the ledger's first size
// events; once true, it stays true.
func (w *warmup) Ready() bool {
	if w.done.Load() {
		return true
	}
	for _, s := range w.states {
		if s.Seq() < w.size {
			return false
		}
	}
	w.done.Store(true)
	return true
}

// Check is Ready as an error for the services (passes.Service.Warm).
func (w *warmup) Check() error {
	if w.Ready() {
		return nil
	}
	return events.Errorf(events.CodeUnavailable, "this replica is still reading the ledger since it started; retry in a moment")
}

// open opens what every part of the backend shares: the ledger and its
// seal (with the signing key), the vault whose keys seal and open every
// sealed payload (for the services, the projectors and the in-memory
// states alike), the projectors, and the snapshots of the states.
func open(ctx context.Context, cfg config.Config, log *slog.Logger, servers *Servers) (*App, error) {
	a, err := openSealed(ctx, cfg, log, servers)
	if err != nil {
		return nil, err
	}
	led := a.ledger
	a.docs = mongostore.New(servers.DB, 30*time.Second)
	if a.vault, err = OpenVault(ctx, servers.JS, cfg.DataDir, cfg.Replicas, true); err != nil {
		return nil, err
	}
	a.reg = schemas.Registry().WithKeyring(a.vault)
	for _, p := range CellProjections(cfg.Cell) {
		a.projectors = append(a.projectors, &projections.Projector{
			P: p, Store: a.docs, JS: servers.JS, Stream: led.Store.Stream(), Reg: a.reg, Log: log.With("component", "projector"),
		})
	}
	startSize, err := led.Store.Size(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger size at start: %w", err)
	}
	a.warm = &warmup{size: startSize}
	snapStore, err := OpenSnapshots(ctx, servers.JS, cfg.DataDir, cfg.Replicas, true)
	if err != nil {
		return nil, err
	}
	a.snaps = newStateSnapshots(snapStore, led.Store, a.reg, log.With("component", "snapshots"), cfg.SnapshotEvery, cfg.SnapshotInterval)
	a.snaps.ready = a.warm.Ready
	return a, nil
}

// openSealed opens the ledger and its seal, with the signing key (created
// on first start): what every cell has, the national one included.
func openSealed(ctx context.Context, cfg config.Config, log *slog.Logger, servers *Servers) (*App, error) {
	skey, err := LoadOrCreateKey(cfg.SealKeyFile, cfg.Origin, log)
	if err != nil {
		return nil, err
	}
	signer, vkey, err := seal.LoadSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("seal key %s: %w", cfg.SealKeyFile, err)
	}
	led, err := OpenLedger(ctx, servers.JS, cfg, vkey)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	sealer, err := seal.NewSealer(servers.JS, seal.SealerConfig{
		Ledger: led.Store.Stream(), Signer: signer, Tiles: led.Tiles, Checkpoints: led.Checkpoints,
		Leases: led.Leases, Holder: fmt.Sprintf("%s:%d", host, os.Getpid()), Interval: cfg.SealInterval, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	return &App{cfg: cfg, log: log, servers: servers, ledger: led, sealer: sealer, signer: signer, vkey: vkey, metrics: api.NewMetrics()}, nil
}

// services are the backend's services, wired to each other.
type services struct {
	accState *accounts.State
	passes   *passes.State
	svc      *passes.Service
	sessions *auth.Sessions
	tokens   *passTokens
	acc      *accounts.Service
	wx       wechatAdapter
	notes    *notifier
	warn     *alerts.Service
	cases    *cases.Service
	cosigs   *seal.Cosignatures
	dons     *donations.Service
	ident    identity
	tracer   *tracing.Service
}

// services builds the services over their in-memory decision states
// (with wx, the process's WeChat client),
// each restored from its latest snapshot, and starts the one reader that
// applies the ledger to all of them, so that each event is parsed and
// unsealed once, not once per state.
func (a *App) services(ctx, bg context.Context, wg *sync.WaitGroup, wx wechatAdapter) (*services, error) {
	s := &services{accState: accounts.NewState(), passes: passes.NewState()}
	a.snaps.restore(ctx, SnapshotAccounts, s.accState, a.warm.size)
	a.snaps.restore(ctx, SnapshotPasses, s.passes, a.warm.size)
	a.warm.states = append(a.warm.states, s.accState, s.passes)
	var err error
	if s.svc, s.sessions, s.tokens, err = a.passService(s.passes, s.accState, a.reg, a.vault); err != nil {
		return nil, err
	}
	s.acc = &accounts.Service{Store: a.ledger.Store, Reg: a.reg, State: s.accState, Vault: s.svc.Vault, Passes: s.svc}
	s.wx = wx
	s.notes, err = openNotifier(ctx, a.servers.JS, a.cfg.Replicas, s.wx.c, s.wx.templates, a.log.With("component", "notify"),
		func(account string) string { return a.vault.Pseudonym(personal.DomainDonations, account) })
	if err != nil {
		return nil, err
	}
	s.svc.Notify, s.acc.Notify = s.notes.Notify, s.notes.Notify
	s.acc.Erased = a.rebuildPersonal
	s.svc.Warm = a.warm.Check
	s.sessions.Valid = s.acc.SessionValid
	s.warn, s.cases = a.caseServices(bg, s.acc, s.notes, a.reg)
	s.cosigs, err = seal.OpenCosignatures(ctx, a.servers.JS, a.ledger.Checkpoints, seal.CosignaturesConfig{Replicas: a.cfg.Replicas, Witnesses: a.cfg.Witnesses, Logger: a.log})
	if err != nil {
		return nil, fmt.Errorf("cosignatures: %w", err)
	}
	s.dons = a.donationService(bg, s.acc, s.notes, a.reg, a.vault, s.cosigs)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ledger.Follow(bg, a.servers.JS, a.ledger.Store.Stream(), a.reg, a.warm.states); err != nil {
			a.log.Error("the decision states stopped following the ledger", "err", err)
		}
	}()
	s.ident = identity{accounts: s.accState, passes: s.passes, vault: s.svc.Vault}
	s.tracer = &tracing.Service{Store: a.ledger.Store, Reg: a.reg, Docs: a.docs, Identity: s.ident, Cases: s.cases,
		Gates: func(id string) (events.Region, bool) {
			g, ok := s.svc.Gate(context.Background(), id)
			return g.Community, ok
		}}
	return s, nil
}

// demo fills the demo district: households and passes first, on an empty
// ledger; then the default early-warning rules, which the demo's cases
// need (its ledger is new, so seeding them is quick); then cases and
// donations.
func (a *App) demo(ctx context.Context, s *services) error {
	place := DemoPlaceOf(a.cfg.Cell)
	if err := Demo(ctx, place, s.acc, s.svc, a.log); err != nil {
		return fmt.Errorf("demo data: %w", err)
	}
	if err := s.warn.SeedRules(ctx); err != nil {
		return fmt.Errorf("early-warning rules: %w", err)
	}
	if err := DemoCases(ctx, place, s.acc, s.cases, s.warn, a.log); err != nil {
		return fmt.Errorf("case demo data: %w", err)
	}
	if err := DemoDonations(ctx, place, s.acc, s.dons, a.log); err != nil {
		return fmt.Errorf("donation demo data: %w", err)
	}
	return nil
}

// background starts the work that runs beside the requests until bg ends:
// seeding the default rules once the engine has caught up, and the leased
// tasks (one replica at a time): raising alerts, snapshots, sealing, the
// projectors (unless this replica is API-only) and pushing checkpoints to
// witnesses.
func (a *App) background(bg context.Context, wg *sync.WaitGroup, s *services) {
	run := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	run(func() { a.seedRules(bg, s.warn) })                      // not before listening: on a large ledger it waits for the warm-up
	run(func() { a.runLeased(bg, "alerts.raiser", s.warn.Run) }) // after the demo, which raises its alerts on its own clock
	run(func() { a.runLeased(bg, "snapshots", a.snaps.run) })
	run(func() {
		if err := a.sealer.Run(bg); err != nil {
			a.log.Error("sealer stopped", "err", err)
		}
	})
	if a.cfg.Projectors {
		for _, pr := range a.projectors {
			run(func() { a.runProjector(bg, pr) })
		}
	}
	if len(a.cfg.WitnessPush) > 0 {
		targets := make([]witnesspush.Target, len(a.cfg.WitnessPush))
		for i, t := range a.cfg.WitnessPush {
			targets[i] = witnesspush.Target{Key: t.Key, URL: t.URL}
		}
		run(func() {
			a.runLeased(bg, "seal.witnesspush", func(ctx context.Context) error {
				return witnesspush.Run(ctx, witnesspush.Config{Witnesses: targets, Log: a.ledger.Prover, Store: s.cosigs, Logger: a.log})
			})
		})
	}
}

// http builds the HTTP API over the services.
func (a *App) http(ctx context.Context, s *services) (*fiber.App, error) {
	idem, err := openIdempotency(ctx, a.servers.JS, a.cfg.Replicas)
	if err != nil {
		return nil, err
	}
	led, cfg := a.ledger, a.cfg
	return api.New(api.Config{Idempotency: idem, Tiles: led.Prover, Ledger: led.Prover, Events: events.PublicReader(led.Store, a.reg), Health: a, Metrics: a.metrics, MetricsToken: cfg.MetricsToken,
		RequestTimeout: cfg.RequestTimeout, ExportTimeout: cfg.ExportTimeout, Log: a.log.With("component", "http"), Cosignatures: s.cosigs,
		Limits: apiLimits(cfg), Limiter: a.limiter, TrustedProxies: cfg.TrustedProxies,
		Sessions: s.sessions, Accounts: s.acc, Passes: s.svc, WeChat: s.wx, PassKeys: s.tokens, Contacts: s.notes, Subscriptions: s.notes, Tracing: s.tracer, Cases: s.cases, Alerts: s.warn, Donations: s.dons,
		Exports: &exporter{led: led, cosigs: s.cosigs, js: a.servers.JS, reg: a.reg, signer: a.signer, views: ExportViews(a.cfg.Cell)},
		Views:   api.Views{Docs: a.docs},
		Audit: &audit.Service{Docs: a.docs, StaffScope: s.acc.StaffScope,
			Card: func(id string) (events.Region, events.Region, bool) {
				c, ok := s.cases.State.Card(id)
				return c.HospitalRegion, c.Card.Residence, ok
			}},
		Communities: &communities.Service{Docs: a.docs, MaskedNames: s.ident.maskedNames(led.Store, a.reg),
			Gates: func(c events.Region) []string {
				var ids []string
				for _, g := range s.passes.Gates(c) {
					ids = append(ids, g.ID)
				}
				return ids
			}}}), nil
}

// apiLimits are the API's limits per client and per account of cfg.
func apiLimits(cfg config.Config) api.Limits {
	return api.Limits{SignIn: cfg.LimitSignIn, Client: cfg.LimitClient, Account: cfg.LimitAccount}
}

// serveMetrics serves /metrics, and nothing else, on a listener of its own
// (loopback by default), so that the public listener need not. stop closes
// it.
func serveMetrics(addr string, m *api.Metrics, log *slog.Logger) (stop func(), err error) {
	ln, err := listen(addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// passService builds the pass service and its keys: the vault of personal
// data (master and blind-index keys), the pass token signer and the session
// key, each kept in the data directory and created on first start. Backend
// replicas must share them (mount them from a secret store).
func (a *App) passService(state *passes.State, accState *accounts.State, reg *events.Registry, vault *personal.Vault) (*passes.Service, *auth.Sessions, *passTokens, error) {
	dir := a.cfg.DataDir
	signer, err := loadPassSigner(filepath.Join(dir, "pass.key"))
	if err != nil {
		return nil, nil, nil, err
	}
	ids, err := vault.IDPermutation(personal.DomainQR)
	if err != nil {
		return nil, nil, nil, err
	}
	tokens, err := newPassTokens(signer, ids, state, a.cfg.PassTTL)
	if err != nil {
		return nil, nil, nil, err
	}
	skey, err := auth.LoadOrCreateKey(filepath.Join(dir, "session.key"), 32)
	if err != nil {
		return nil, nil, nil, err
	}
	sessions, err := auth.NewSessions(skey, a.cfg.SessionTTL, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	if a.cfg.Cell != "" {
		// A token names its cell and is refused by every other, even one
		// given the same session key.
		sessions.Audience = partition.Name(a.cfg.Cell)
	}
	svc := &passes.Service{Store: a.ledger.Store, Reg: reg, State: state, Accounts: accState, Vault: accounts.PersonalVault(vault), Tokens: tokens, Risk: a.cfg.RiskRegions, PassTTL: a.cfg.PassTTL}
	return svc, sessions, tokens, nil
}

// OpenVault opens the vault of personal data and of every sealed event's
// subject keys, with the master and blind-index keys kept in the data
// directory dir; create makes them on first start (the backend does, the
// operators' tools do not).
func OpenVault(ctx context.Context, js jetstream.JetStream, dir string, replicas int, create bool) (*personal.Vault, error) {
	master, index := filepath.Join(dir, "master.key"), filepath.Join(dir, "index.key")
	if !create {
		for _, f := range []string{master, index} {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("the keys that open sealed events: %w (give --data, the backend's data directory)", err)
			}
		}
	}
	mk, err := personal.LoadOrCreateMasterKey(master)
	if err != nil {
		return nil, err
	}
	ik, err := auth.LoadOrCreateKey(index, 32)
	if err != nil {
		return nil, err
	}
	return personal.OpenVault(ctx, js, personal.VaultConfig{Replicas: replicas, MasterKey: mk, IndexKey: ik})
}

// runProjector runs pr while holding its lease, so that of several backend
// replicas exactly one folds each projection.
func (a *App) runProjector(ctx context.Context, pr *projections.Projector) {
	host, _ := os.Hostname()
	holder := fmt.Sprintf("%s:%d", host, os.Getpid())
	for ctx.Err() == nil {
		l, err := lease.Acquire(ctx, a.ledger.Leases, "projector."+pr.P.Name(), holder, 0)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("projector lease", "projection", pr.P.Name(), "err", err)
				time.Sleep(time.Second)
			}
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.Lost():
				a.log.Warn("projector lease lost; stopping", "projection", pr.P.Name())
				cancel()
			case <-pctx.Done():
			}
		}()
		err = pr.Run(pctx)
		cancel()
		_ = l.Release(context.WithoutCancel(ctx))
		if errors.Is(err, projections.ErrHalted) {
			return // reported in /readyz; needs a fix and a rebuild
		}
	}
}

// Health implements api.Health. The answer is public: each failing check
// marks its component degraded and logs why, so that no error text (hosts,
// ports, files) reaches the answer.
func (a *App) Health(ctx context.Context) api.HealthStatus {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c := api.Components{NATS: api.OK, Ledger: api.OK, Seal: api.OK, Store: api.OK}
	fail := func(comp *api.Component, name string, err error) {
		*comp = api.Degraded
		a.log.Warn("health check failed", "component", name, "err", err)
	}
	var st api.HealthStatus
	if !a.servers.NC.IsConnected() {
		fail(&c.NATS, "nats", fmt.Errorf("not connected (%s)", a.servers.NC.Status()))
	}
	size, err := a.ledger.Store.Size(ctx)
	if err != nil {
		fail(&c.Ledger, "ledger", err)
	}
	st.Ledger.Size = size
	if cp, err := a.ledger.Prover.Checkpoint(ctx); err == nil {
		st.Ledger.SealedSize = cp.Size
		st.Ledger.RootHash = b64(cp.Hash)
	} else if events.ErrorCode(err) != events.CodeNotFound {
		fail(&c.Seal, "seal", err)
	}
	if st.Ledger.SealedSize < size {
		st.Ledger.SealLag = size - st.Ledger.SealedSize
	}
	if err := a.servers.Mongo.Ping(ctx, nil); err != nil {
		fail(&c.Store, "store", err)
	}
	for _, pr := range a.projectors {
		s := pr.Status()
		ps := api.ProjectionStatus{Name: pr.P.Name(), Version: pr.P.Version(), Seq: s.Seq, Lag: s.Pending, Status: api.OK, CaughtUp: s.CaughtUp()}
		if s.Err != "" {
			ps.Status = api.Degraded // the projector logged why
		}
		if !s.Running {
			// Another replica may hold the lease: report the stored checkpoint.
			if cp, err := a.docs.Checkpoint(ctx, pr.P.Name()); err == nil {
				ps.Seq = cp.Seq
			}
		}
		st.Projections = append(st.Projections, ps)
	}
	st.Components = c
	if a.snaps != nil {
		st.States = a.snaps.status()
	}
	st.Ready = c.NATS == api.OK && c.Ledger == api.OK && c.Store == api.OK && (a.warm == nil || a.warm.Ready())
	return st
}

// caseServices builds case reporting and early warning: their states follow
// the ledger in memory like the pass service's.
func (a *App) caseServices(bg context.Context, svc *accounts.Service, notes *notifier, reg *events.Registry) (*alerts.Service, *cases.Service) {
	cstate, engine := cases.NewState(), alerts.NewEngine()
	a.snaps.restore(bg, SnapshotCases, cstate, a.warm.size)
	a.snaps.restore(bg, SnapshotAlerts, engine, a.warm.size)
	a.warm.states = append(a.warm.states, cstate, engine)
	warn := &alerts.Service{Store: a.ledger.Store, Reg: reg, Engine: engine, Log: a.log.With("component", "early-warning"), Notify: notes.Send,
		Responsible: func(r events.Region) []alerts.Recipient {
			var out []alerts.Recipient
			for _, s := range svc.State.StaffIn(auth.CDCReviewer, r) {
				out = append(out, alerts.Recipient{Subject: s.ID, Scope: s.Scope})
			}
			return out
		}}
	if a.cfg.AlertWebhook != "" {
		warn.Webhook = webhook.Poster{URL: a.cfg.AlertWebhook}.Post
	}
	warn.Init()
	caseSvc := &cases.Service{Store: a.ledger.Store, Reg: reg, State: cstate, Vault: svc.Vault, Views: a.docs, Filed: func(string) { warn.Wake() },
		Org: func(id string) (cases.Hospital, bool) {
			o, ok := svc.Org(id)
			return cases.Hospital{ID: o.ID, Kind: o.Kind, Region: o.Region, Approved: o.Approved}, ok
		}}
	return warn, caseSvc
}

// seedRules publishes the default early-warning rules once the engine has
// caught up with the ledger, trying again while the ledger is unavailable.
// It never delays start-up: on a fresh ledger the rules appear at once,
// and on an old one they are already there.
func (a *App) seedRules(ctx context.Context, warn *alerts.Service) {
	for {
		err := warn.SeedRules(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		a.log.Warn("early-warning rules not seeded yet; trying again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

// runLeased runs f while holding the lease name, so that of several backend
// replicas exactly one runs it; it starts again when the lease is regained.
func (a *App) runLeased(ctx context.Context, name string, f func(context.Context) error) {
	host, _ := os.Hostname()
	holder := fmt.Sprintf("%s:%d", host, os.Getpid())
	for ctx.Err() == nil {
		l, err := lease.Acquire(ctx, a.ledger.Leases, name, holder, 0)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("lease", "name", name, "err", err)
				time.Sleep(time.Second)
			}
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.Lost():
				a.log.Warn("lease lost; stopping", "name", name)
				cancel()
			case <-lctx.Done():
			}
		}()
		if err := f(lctx); err != nil && ctx.Err() == nil {
			a.log.Warn("leased task stopped", "name", name, "err", err)
		}
		cancel()
		_ = l.Release(context.WithoutCancel(ctx))
	}
}

// donationService builds the donation service; its state follows the
// ledger in memory.
func (a *App) donationService(bg context.Context, svc *accounts.Service, notes *notifier, reg *events.Registry, vault *personal.Vault, cosigs *seal.Cosignatures) *donations.Service {
	st := donations.NewState()
	a.snaps.restore(bg, SnapshotDonations, st, a.warm.size)
	a.warm.states = append(a.warm.states, st)
	return &donations.Service{Store: a.ledger.Store, Reg: reg, State: st, Prover: witnessedProver{a.ledger.Prover, cosigs}, Notify: notes.Send,
		Pseudonym: func(account string) string { return vault.Pseudonym(personal.DomainDonations, account) },
		Org: func(id string) (donations.Org, bool) {
			o, ok := svc.Org(id)
			return donations.Org{ID: o.ID, Kind: o.Kind, Name: o.Name, Region: o.Region, Approved: o.Approved}, ok
		}}
}

// rebuildPersonal asks every projection whose documents hold what persons'
// keys sealed to rebuild from the ledger, as ops rebuild does for a
// running backend: the projector finds its checkpoint reset, drops its
// documents and folds the ledger again, now without what an erasure's
// destroyed keys sealed. An erasure costs a refold of those views; the
// ledger and every other view are untouched.
//
// It also discards every snapshot of the in-memory states: those taken
// before the erasure hold copies of the erased persons' sealed blobs and
// blind indexes, and a replica restoring one would hold them again. The
// ledger's copies are unreadable once the keys are destroyed; snapshots,
// being copies outside the ledger, are deleted instead, and any snapshot
// covering less of the ledger than the erasure is refused from now on
// (snapshots.Store.Discard). The next snapshots come from states that have
// applied the erasure.
func (a *App) rebuildPersonal(ctx context.Context) error {
	size, err := a.ledger.Store.Size(ctx)
	if err != nil {
		return fmt.Errorf("ledger size after an erasure: %w", err)
	}
	if err := a.snaps.discard(ctx, size); err != nil {
		return err
	}
	for _, p := range CellProjections(a.cfg.Cell) {
		if !projections.Personal(p) {
			continue
		}
		cp := projections.Checkpoint{Name: p.Name(), Updated: time.Now().UTC().Format(time.RFC3339Nano)}
		if err := a.docs.SetCheckpoint(ctx, cp); err != nil {
			return fmt.Errorf("rebuild %s after an erasure: %w", p.Name(), err)
		}
		for _, pr := range a.projectors {
			if pr.P.Name() == p.Name() {
				pr.Reset()
			}
		}
	}
	return nil
}
