package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nkeys"

	"github.com/onebook/onebook/backend/config"
	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/backend/national"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/nationevents"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/miniapp-api/api"
)

// cell is one ledger of the process and everything that runs on it: the
// single ledger of a default deployment (code ""), or, with
// ONEBOOK_PARTITIONS, a province's (code "31") or the nation's
// (events.National).
//
// A province cell is the whole backend of a single ledger (App: ledger,
// seal and sealer, vault, states, services, projectors), opened on a NATS
// connection of its own account (P31), with its own data folder, seal key,
// origin and database (config.Config.ForCell), and its API mounted under
// /p/31/. Its ledger refuses events of other provinces (admit).
//
// The national cell (NATION) has a ledger, a seal and a sealer, and serves
// the public audit surface (api.NewLog) under /national/; it has no
// services and holds no raw event. Where the parts of issue 17 plug in:
//
//   - nation (the log of logs): the recorder of the provinces' signed
//     checkpoints runs in startNation on c.app (its ledger, sealer and
//     signer), and its event type goes into nationalTypes.
//   - agg (aggregates): each province's publisher runs in startCell, after
//     the services (c.svcs) are built; the OUTBOX streams and the national
//     LEDGER's sources go in startCell and startNation, the exports and
//     imports they need in NATSAccounts; the national views fold in
//     startNation.
type cell struct {
	code    events.Region
	cfg     config.Config // ForCell's, or the process's for the single ledger
	servers *Servers
	app     *App
	svcs    *services // nil for the national cell
	http    *fiber.App
	metrics *api.Metrics // shared by the cells of a process; nil: the App's own
	limiter *api.Limiter // shared by the cells of a process: a client's limit is counted once
}

// nationalTypes are the event types the national ledger admits
// (partition.National): what the national cell records of the provinces'
// logs (their checkpoints and forks), the national alerts it raises and
// clears on their figures, and the exports made of its views — each public
// by design, none a raw event. The figures themselves arrive by sourcing
// from the provinces' OUTBOX streams, not through this rule.
func nationalTypes() []string {
	return nationevents.Types()
}

// admit is the routing rule of the ledger of cell (partition), nil for the
// single ledger.
func admit(cell events.Region) func(events.Event) error {
	switch cell {
	case "":
		return nil
	case partition.Nation:
		return partition.National(nationalTypes())
	}
	return partition.Province(cell)
}

// Run starts everything and serves until ctx is cancelled, then shuts down
// in the order that loses nothing acknowledged: stop taking requests and let
// those in flight finish (their appends are acknowledged by JetStream before
// they answer), stop the projectors and the sealer, then close the stores.
// ready, if not nil, is called once the HTTP listener is bound.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, ready func(addr string)) error {
	servers, err := Connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer servers.Close(context.WithoutCancel(ctx))
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	var cells []*cell
	defer func() {
		// On every return: stop the background work and wait for it, then
		// close the cells' own connections (servers, the process's, last).
		stopBG()
		wg.Wait()
		for _, c := range cells {
			if c.servers != servers {
				c.servers.Close(context.WithoutCancel(ctx))
			}
		}
	}()
	if cfg.Development() {
		log.Warn("development mode: WECHAT_APPID is not set, so a fake WeChat API runs in-process, signs in any code "+
			"(the demo's sign-in codes too) and the API listens on loopback only; set WECHAT_APPID and WECHAT_SECRET for production", "addr", cfg.Addr)
	}
	wx, err := startWeChat(bg, cfg, log)
	if err != nil {
		return err
	}
	var app *fiber.App
	cells, app, err = startCells(ctx, bg, &wg, cfg, log, servers, wx)
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(cfg.MetricsAddr, cells[0].app.metrics, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	ln, err := listen(cfg.Addr)
	if err != nil {
		return err
	}
	for _, c := range cells {
		log.Info("onebook HTTP API listening", "addr", ln.Addr().String(), "prefix", prefix(c.code), "origin", c.cfg.Origin, "verifier_key", c.app.vkey)
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	err = serveHTTP(ctx, app, ln, 20*time.Second, log)
	stopBG()
	wg.Wait()
	for _, c := range cells {
		log.Info("stopped", "prefix", prefix(c.code), "sealed", c.app.sealer.Status().Size)
	}
	return err
}

// prefix is where cell's API is mounted; "/" for the single ledger.
func prefix(cell events.Region) string {
	if cell == "" {
		return "/"
	}
	return partition.Prefix(cell) + "/"
}

// startCells starts the single ledger, or every cell of cfg.Partitions,
// and returns the HTTP app serving them: the single ledger's own, or
// api.Mount of the cells'. The cells returned have servers to close even
// when err is not nil.
func startCells(ctx, bg context.Context, wg *sync.WaitGroup, cfg config.Config, log *slog.Logger, servers *Servers, wx wechatAdapter) ([]*cell, *fiber.App, error) {
	if len(cfg.Partitions) == 0 {
		c := &cell{cfg: cfg, servers: servers}
		if err := c.start(ctx, bg, wg, log, wx); err != nil {
			return nil, nil, err
		}
		return []*cell{c}, c.http, nil
	}
	var (
		cells   []*cell
		mounted []api.Cell
		metrics = api.NewMetrics() // one registry for the process's one /metrics
		limiter = api.NewLimiter(apiLimits(cfg))
	)
	for _, cc := range cfg.Cells() {
		cs, err := servers.Cell(ctx, cc, log)
		if err != nil {
			return cells, nil, err
		}
		c := &cell{code: cc.Cell, cfg: cc, servers: cs, metrics: metrics, limiter: limiter}
		cells = append(cells, c)
		clog := log.With("cell", partition.Name(cc.Cell))
		if c.code == partition.Nation {
			err = c.startNation(ctx, bg, wg, clog, cells[:len(cells)-1])
		} else {
			err = c.start(ctx, bg, wg, clog, wx)
		}
		if err != nil {
			return cells, nil, fmt.Errorf("cell %s: %w", partition.Name(cc.Cell), err)
		}
		mounted = append(mounted, api.Cell{Name: partition.Name(c.code), Prefix: partition.Prefix(c.code), App: c.http, Health: c.app})
	}
	return cells, api.Mount(mounted), nil
}

// start opens the cell's ledger and runs the whole backend on it: the
// services over their states, the demo if asked, the background work
// (sealer, projectors, early warning, snapshots) and the HTTP API.
func (c *cell) start(ctx, bg context.Context, wg *sync.WaitGroup, log *slog.Logger, wx wechatAdapter) error {
	a, err := open(ctx, c.cfg, log, c.servers)
	if err != nil {
		return err
	}
	c.setApp(a)
	if c.svcs, err = a.services(ctx, bg, wg, wx); err != nil {
		return err
	}
	if c.cfg.Demo {
		if err := a.demo(ctx, c.svcs); err != nil {
			return err
		}
	}
	a.background(bg, wg, c.svcs)
	if c.code != "" {
		if err := c.startReporting(ctx, bg, wg); err != nil {
			return err
		}
	}
	c.http, err = a.http(ctx, c.svcs)
	return err
}

// setApp makes a the cell's App, with the cell's shared metrics and
// limiter if any.
func (c *cell) setApp(a *App) {
	if c.metrics != nil {
		a.metrics = c.metrics
	}
	a.limiter = c.limiter
	c.app = a
}

// startNation opens the national cell: its ledger (which admits only
// nationalTypes), its seal and sealer, and the public audit surface.
func (c *cell) startNation(ctx, bg context.Context, wg *sync.WaitGroup, log *slog.Logger, provinces []*cell) error {
	a, err := openSealed(ctx, c.cfg, log, c.servers)
	if err != nil {
		return err
	}
	c.setApp(a)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.sealer.Run(bg); err != nil {
			log.Error("sealer stopped", "err", err)
		}
	}()
	if err := c.recordProvinces(bg, wg, log, provinces); err != nil {
		return err
	}
	led := a.ledger
	st := c.startNationalViews(bg, wg)
	c.recordAlerts(bg, wg, st)
	views := &national.Service{State: st}
	c.http = api.NewLog(api.Config{National: views, Tiles: led.Prover, Ledger: led.Prover, Events: events.PublicReader(led.Store, schemas.Registry()), Health: a,
		Metrics: a.metrics, MetricsToken: c.cfg.MetricsToken, RequestTimeout: c.cfg.RequestTimeout, ExportTimeout: c.cfg.ExportTimeout,
		Log: log.With("component", "http"), TrustedProxies: c.cfg.TrustedProxies,
		Limits: apiLimits(c.cfg), Limiter: a.limiter})
	return nil
}

// NATSAccounts are the NATS accounts of a partitioned deployment: one per
// cell (partition.Account), each with JetStream and one nkey user, whose
// seed is the cell's credentials file NATSCredsDir/<name>.nkey (created on
// first start; the embedded server runs with these accounts). With an
// external NATS server the operator configures the same accounts
// (embedded.AccountsConfig writes them) and hands each cell its file.
func NATSAccounts(cfg config.Config) ([]embedded.Account, error) {
	var out []embedded.Account
	for _, cc := range cfg.Cells() {
		pub, err := loadOrCreateNKey(filepath.Join(cfg.NATSCredsDir, partition.Name(cc.Cell)+".nkey"))
		if err != nil {
			return nil, fmt.Errorf("NATS user of cell %s: %w", partition.Name(cc.Cell), err)
		}
		out = append(out, embedded.Account{Name: partition.Account(cc.Cell), Users: []string{pub}})
	}
	return withOutbox(out, cfg.Partitions), nil
}

// loadOrCreateNKey returns the public key of the nkey user whose seed is
// in path, creating the seed on first start.
func loadOrCreateNKey(path string) (string, error) {
	seed, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return "", err
		}
		if seed, err = kp.Seed(); err != nil {
			return "", err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, seed, 0o600); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return kp.PublicKey()
}

// CellAuth is how the cell of cfg (config.Config.ForCell) authenticates:
// as the user in its credentials file in NATSCredsDir, <name>.creds (a
// user JWT, for a server in operator mode) if there is one, else
// <name>.nkey (an nkey seed); with the process's TLS settings.
func CellAuth(cfg config.Config) (NATSAuth, error) {
	a := NATSAuth{CA: cfg.NATSCA, Cert: cfg.NATSCert, Key: cfg.NATSKey}
	base := filepath.Join(cfg.NATSCredsDir, partition.Name(cfg.Cell))
	if _, err := os.Stat(base + ".creds"); err == nil {
		a.Creds = base + ".creds"
		return a, nil
	}
	if _, err := os.Stat(base + ".nkey"); err != nil {
		return a, fmt.Errorf("credentials of cell %s: neither %s.creds nor %s.nkey (ONEBOOK_NATS_CREDS_DIR): %w", partition.Name(cfg.Cell), base, base, err)
	}
	a.NKey = base + ".nkey"
	return a, nil
}
