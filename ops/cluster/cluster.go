// Package cluster runs onebook on one machine the way it runs in production,
// and breaks it: three nats-server nodes in a JetStream cluster (in this
// process, each with its own store directory, fsync before every
// acknowledgement), one embedded FerretDB as the shared document store, a
// fake WeChat, two API replicas (projectors off) and one or two worker
// replicas (sealer, projectors, early warning), each replica a backend
// process of its own with ONEBOOK_REPLICAS=3. Faults: a node shut down
// gracefully or killed, restarted, cut off from its routes and healed; a
// replica killed and restarted.
//
// It serves `go run ./ops cluster` and the fault tests in ops. Everything
// listens on loopback.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/config"
	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/backend/wechat/wxmock"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/lease"
)

// The fake WeChat's credentials: the replicas run with WeChat credentials
// (not in development mode, whose in-process fake each replica would start
// for itself) against the one fake the cluster runs.
const (
	WeChatAppID  = "wxcluster0000onebook"
	WeChatSecret = "onebook-cluster-secret"
)

// Config configures a cluster.
type Config struct {
	// Dir holds everything: the nodes' stores (nats/n1, ...), FerretDB's
	// files, the replicas' shared keys (keys/) and their logs (logs/).
	Dir string
	// Command is the argv that runs one backend replica; the backend's
	// flags are appended (for the ops binary: ops cluster replica).
	Command []string
	// Env is added to the replicas' environment.
	Env []string
	// Workers is the number of worker replicas: 1, or 2 for a standby
	// that takes over when the first dies (default 1).
	Workers int
	// Flags are backend flags given to every replica, after the
	// cluster's own (e.g. --seal-interval 100ms).
	Flags []string
	Log   *slog.Logger
	// Partitions, if any, give the cluster a ledger per province: the
	// nodes have an account per cell (app.NATSAccounts, users' nkeys in
	// KeysDir()/nats-users) and the replicas run with ONEBOOK_PARTITIONS.
	// The worker-lease helpers (WaitLeases, LeaseHolder) are about the
	// single ledger's global account; Start does not wait for a
	// partitioned worker's leases. The ledger leader helpers take the
	// cell (Ledgers).
	Partitions []events.Region
	// APIs is the number of API replicas: 0 means 2, -1 none.
	APIs int
}

// Cluster is a running cluster.
type Cluster struct {
	Nodes   []*Node
	APIs    []*Replica // API replicas, projectors off
	Workers []*Replica // the first holds the worker leases once started

	dir    string
	log    *slog.Logger
	cells  config.Config // the partitions and the cells' credentials; no partitions: the single ledger
	mongo  *embedded.MongoServer
	stopWx context.CancelFunc
	wxURL  string
	nc     *nats.Conn
	js     jetstream.JetStream
}

// Start starts the nodes, the store, the fake WeChat and the replicas: the
// first worker alone (it creates the streams, buckets and keys, and takes
// every worker lease), then the others.
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if cfg.Dir == "" || len(cfg.Command) == 0 {
		return nil, errors.New("cluster: Dir and Command are required")
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	switch cfg.APIs {
	case 0:
		cfg.APIs = 2
	case -1:
		cfg.APIs = 0
	}
	c = &Cluster{dir: cfg.Dir, log: cfg.Log}
	// The replicas' settings that name the cells: the defaults (origin,
	// database), their data folder and the cells' credentials.
	if c.cells, err = config.Load(nil, func(string) string { return "" }, io.Discard); err != nil {
		return nil, err
	}
	c.cells.DataDir, c.cells.Partitions, c.cells.NATSCredsDir = c.KeysDir(), cfg.Partitions, filepath.Join(c.KeysDir(), "nats-users")
	started := c
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	for _, d := range []string{"keys", "logs"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	var accounts []embedded.Account
	if len(cfg.Partitions) > 0 {
		if accounts, err = app.NATSAccounts(c.cells); err != nil {
			return nil, err
		}
	}
	if c.Nodes, err = startNodes(ctx, filepath.Join(cfg.Dir, "nats"), 3, accounts, cfg.Log); err != nil {
		return nil, err
	}
	if c.mongo, err = embedded.StartMongo(ctx, embedded.MongoOptions{Dir: filepath.Join(cfg.Dir, "ferretdb"), Logger: cfg.Log}); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	wctx, stopWx := context.WithCancel(context.WithoutCancel(ctx))
	c.stopWx, c.wxURL = stopWx, "http://"+ln.Addr().String()
	go wxmock.New(WeChatAppID, WeChatSecret).Serve(wctx, ln)
	if len(cfg.Partitions) == 0 {
		if c.nc, err = nats.Connect(c.NATSURL(), nats.Name("onebook-cluster"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond)); err != nil {
			return nil, err
		}
		if c.js, err = jetstream.New(c.nc); err != nil {
			return nil, err
		}
	}

	if err := c.makeReplicas(cfg); err != nil {
		return nil, err
	}
	if err := c.startReplicas(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// makeReplicas lays out the replicas of cfg (workers, then APIs), each on
// a free loopback port, all with the same settings but their role.
func (c *Cluster) makeReplicas(cfg Config) error {
	ports, err := freePorts(cfg.APIs + cfg.Workers)
	if err != nil {
		return err
	}
	common := []string{"--data", c.KeysDir(), "--nats-url", c.NATSURL(), "--mongo-uri", c.MongoURI(), "--replicas", "3",
		"--wechat-appid", WeChatAppID, "--wechat-secret", WeChatSecret, "--wechat-api-base", c.wxURL,
		"--metrics-addr", "off", "--limit-signin", "0", "--limit-client", "0", "--limit-account", "0"}
	if len(cfg.Partitions) > 0 {
		var codes []string
		for _, p := range cfg.Partitions {
			codes = append(codes, string(p))
		}
		common = append(common, "--partitions", strings.Join(codes, ","), "--nats-creds-dir", c.cells.NATSCredsDir)
	}
	replica := func(name string, role Role, port int) *Replica {
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		args := append(append([]string{}, common...), "--addr", addr, "--projectors", fmt.Sprint(role == Worker))
		return &Replica{Name: name, Role: role, Addr: addr, env: cfg.Env, logDir: filepath.Join(cfg.Dir, "logs"),
			argv: append(append(append([]string{}, cfg.Command...), args...), cfg.Flags...)}
	}
	for i := range cfg.Workers {
		c.Workers = append(c.Workers, replica(fmt.Sprintf("worker-%d", i+1), Worker, ports[cfg.APIs+i]))
	}
	for i := range cfg.APIs {
		c.APIs = append(c.APIs, replica(fmt.Sprintf("api-%d", i+1), API, ports[i]))
	}
	return nil
}

// startReplicas starts the first worker and waits until it holds the
// leases, then starts the API replicas and the other workers together,
// all within 3 minutes.
func (c *Cluster) startReplicas(ctx context.Context) (err error) {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := c.Workers[0].Start(sctx); err != nil {
		return err
	}
	if len(c.cells.Partitions) == 0 {
		if err := c.WaitLeases(sctx, c.Workers[0]); err != nil {
			return err
		}
	}
	rest := append(append([]*Replica{}, c.APIs...), c.Workers[1:]...)
	errs := make(chan error, len(rest))
	for _, r := range rest {
		go func() { errs <- r.Start(sctx) }()
	}
	for range rest {
		err = errors.Join(err, <-errs)
	}
	return err
}

// Close stops the replicas (cleanly), the fake WeChat, the store and the
// nodes.
func (c *Cluster) Close() {
	for _, r := range append(append([]*Replica{}, c.APIs...), c.Workers...) {
		r.Stop()
	}
	if c.nc != nil {
		c.nc.Close()
	}
	if c.stopWx != nil {
		c.stopWx()
	}
	if c.mongo != nil {
		_ = c.mongo.Shutdown(context.Background())
	}
	for _, n := range c.Nodes {
		n.stop()
	}
}

// NATSURL is the comma-separated client URLs of the nodes, as the replicas'
// NATS_URL.
func (c *Cluster) NATSURL() string {
	var urls []string
	for _, n := range c.Nodes {
		urls = append(urls, n.ClientURL())
	}
	return strings.Join(urls, ",")
}

// MongoURI is the shared document store's URI.
func (c *Cluster) MongoURI() string { return c.mongo.URI() }

// KeysDir is the replicas' shared data directory: the seal key (and
// seal.key.pub), the pass, session, master, index and snapshot keys.
func (c *Cluster) KeysDir() string { return filepath.Join(c.dir, "keys") }

// LogDir holds each replica's log, NAME.log.
func (c *Cluster) LogDir() string { return filepath.Join(c.dir, "logs") }

// WeChatURL is the fake WeChat's base URL.
func (c *Cluster) WeChatURL() string { return c.wxURL }

// JetStream is the cluster's own client connection (it follows the nodes
// through faults); nil with partitions (see CellJetStream).
func (c *Cluster) JetStream() jetstream.JetStream { return c.js }

// CellConfig is the configuration of one cell of a partitioned cluster,
// as its replicas derive it (config.Config.ForCell): its data folder under
// KeysDir, its database and its NATS user.
func (c *Cluster) CellConfig(cell events.Region) config.Config { return c.cells.ForCell(cell) }

// CellJetStream connects to the cluster as cell's user, in its account;
// the caller closes the connection.
func (c *Cluster) CellJetStream(cell events.Region) (*nats.Conn, jetstream.JetStream, error) {
	auth, err := app.CellAuth(c.CellConfig(cell))
	if err != nil {
		return nil, nil, err
	}
	nc, err := auth.Connect(c.NATSURL(), nats.Name("onebook-cluster "+string(cell)), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// Ledgers are the cells of the cluster's ledgers, as the leader helpers
// name them: the single ledger (""), or, with partitions, every
// province's and the nation's.
func (c *Cluster) Ledgers() []events.Region {
	if len(c.cells.Partitions) == 0 {
		return []events.Region{""}
	}
	var out []events.Region
	for _, cc := range c.cells.Cells() {
		out = append(out, cc.Cell)
	}
	return out
}

// LedgerLeader is the node leading the ledger stream of cell ("" for the
// single ledger, "31" for a province's), nil during an election. A
// partitioned node that still believes it leads is not it.
func (c *Cluster) LedgerLeader(cell events.Region) *Node { return leaderOf(c.Nodes, cell) }

// WaitLedgerLeader waits until a node other than not leads cell's ledger.
func (c *Cluster) WaitLedgerLeader(ctx context.Context, cell events.Region, not *Node) (*Node, error) {
	for {
		if l := c.LedgerLeader(cell); l != nil && l != not {
			return l, nil
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return nil, fmt.Errorf("no node leads the ledger of %q: %w", cell, err)
		}
	}
}

// Shutdown shuts n down gracefully (see Node.Shutdown).
func (c *Cluster) Shutdown(ctx context.Context, n *Node) error {
	var others []*Node
	for _, o := range c.Nodes {
		if o != n {
			others = append(others, o)
		}
	}
	return n.Shutdown(ctx, others)
}

// WaitCaughtUp waits until n, back after a restart or a partition, is
// current on every ledger (Ledgers) and holds what its leader held when
// the wait began.
func (c *Cluster) WaitCaughtUp(ctx context.Context, n *Node) error {
	return waitCaughtUp(ctx, n, c.Nodes, c.Ledgers())
}

// NodeOf is the node r's NATS connection is on, nil if none.
func (c *Cluster) NodeOf(r *Replica) *Node {
	name := "onebook " + r.Holder()
	for _, n := range c.Nodes {
		srv := n.Server()
		if srv == nil {
			continue
		}
		cz, err := srv.Connz(&server.ConnzOptions{Limit: 1024})
		if err != nil {
			continue
		}
		for _, ci := range cz.Conns {
			if ci.Name == name {
				return n
			}
		}
	}
	return nil
}

// WorkerLeases are the lease keys a worker holds: the sealer's, the
// early-warning engine's, the snapshot writer's and one per projection.
func WorkerLeases() []string {
	keys := []string{"seal." + LedgerStream, "alerts.raiser", "snapshots"}
	for _, p := range app.Projections() {
		keys = append(keys, "projector."+p.Name())
	}
	return keys
}

// LeaseHolder is the replica holding the lease key, nil if nobody does or
// the holder is none of the cluster's running replicas.
func (c *Cluster) LeaseHolder(ctx context.Context, key string) (*Replica, error) {
	kv, err := c.js.KeyValue(ctx, "leases")
	if err != nil {
		return nil, fmt.Errorf("lease bucket: %w", err)
	}
	h, err := lease.Holder(ctx, kv, key)
	if err != nil || h == "" {
		return nil, err
	}
	for _, r := range append(append([]*Replica{}, c.Workers...), c.APIs...) {
		if r.Holder() == h {
			return r, nil
		}
	}
	return nil, nil
}

// WaitLeases waits until r holds every worker lease.
func (c *Cluster) WaitLeases(ctx context.Context, r *Replica) error {
	for _, key := range WorkerLeases() {
		for {
			h, err := c.LeaseHolder(ctx, key)
			if err == nil && h == r {
				break
			}
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return fmt.Errorf("%s does not hold the lease %s: %w", r.Name, key, err)
			}
		}
	}
	return nil
}
