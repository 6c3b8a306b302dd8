package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/ops/loopback"
)

// Name is the JetStream cluster's name.
const Name = "onebook"

// ledgerAccount is the NATS account the ledger of cell lives in: for the
// single ledger (cell ""), the global account, since its replicas connect
// without credentials; with a ledger per province, the cell's own
// (partition.Account: P31, NATION).
func ledgerAccount(cell events.Region) string {
	if cell == "" {
		return "$G"
	}
	return partition.Account(cell)
}

// Node is one nats-server of the cluster, running in this process. Its
// ports and store directory stay the same across restarts.
type Node struct {
	Name string

	base     server.Options     // as started: every route, no route authorization
	accounts []embedded.Account // a ledger per province: an account per cell; none: the global account
	log      *slog.Logger

	mu  sync.Mutex
	srv *server.Server // nil while down
	cut bool           // partitioned: no routes in or out
}

// startNodes starts n nodes on loopback, each with its own store directory
// under dir, routed to each other, JetStream syncing every write to disk
// before acknowledging it (sync_interval: always).
//
// With accounts (a ledger per province), every node has them, and a client
// must be one of their users.
func startNodes(ctx context.Context, dir string, n int, accounts []embedded.Account, log *slog.Logger) ([]*Node, error) {
	clientPorts, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	clusterPorts, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	var routes []string
	for _, p := range clusterPorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	nodes := make([]*Node, n)
	for i := range nodes {
		name := fmt.Sprintf("n%d", i+1)
		nodes[i] = &Node{Name: name, log: log.With("node", name), accounts: accounts, base: server.Options{
			ServerName: name,
			Host:       "127.0.0.1",
			Port:       clientPorts[i],
			JetStream:  true,
			StoreDir:   filepath.Join(dir, name),
			SyncAlways: true, // replication alone does not survive a correlated power loss
			Cluster:    server.ClusterOpts{Name: Name, Host: "127.0.0.1", Port: clusterPorts[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
			NoSigs:     true,
		}}
	}
	// Start them together: each waits for the others to form the cluster.
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = nd.Start(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, nd := range nodes {
			nd.Kill()
		}
		return nil, err
	}
	// A JetStream request sent before the cluster has a meta leader can
	// go unanswered: wait for one, and for every node to follow it.
	for !metaReady(nodes) {
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			for _, nd := range nodes {
				nd.Kill()
			}
			return nil, fmt.Errorf("the JetStream cluster elected no meta leader: %w", err)
		}
	}
	return nodes, nil
}

// metaReady reports whether one of nodes leads the JetStream meta group and
// every running node is current with it.
func metaReady(nodes []*Node) bool {
	leader := false
	for _, n := range nodes {
		srv := n.Server()
		if srv == nil {
			continue
		}
		if !srv.JetStreamIsCurrent() {
			return false
		}
		leader = leader || srv.JetStreamIsLeader()
	}
	return leader
}

// Start starts the node (again) on its ports and store directory, with all
// its routes, and returns once it accepts client connections.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil {
		return fmt.Errorf("node %s is running", n.Name)
	}
	opts, err := n.options()
	if err != nil {
		return err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	srv.SetLoggerV2(natsLog{n.log}, false, false, false)
	go srv.Start()
	deadline := time.Now().Add(30 * time.Second)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		if ctx.Err() != nil || time.Now().After(deadline) {
			srv.Shutdown()
			srv.WaitForShutdown()
			return fmt.Errorf("node %s: not ready for connections", n.Name)
		}
	}
	n.srv, n.cut = srv, false
	n.log.Info("nats node started", "url", srv.ClientURL())
	return nil
}

// options are the node's server options as started: base, with fresh
// accounts (a server binds the accounts it is given, so each start and
// reload parses them anew).
func (n *Node) options() (*server.Options, error) {
	opts := n.base
	if len(n.accounts) > 0 {
		acc, err := embedded.AccountOptions(n.accounts)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		opts.Accounts, opts.Nkeys = acc.Accounts, acc.Nkeys
	}
	return &opts, nil
}

// ClientURL is the node's client URL, whether it runs or not.
func (n *Node) ClientURL() string {
	return fmt.Sprintf("nats://%s:%d", n.base.Host, n.base.Port)
}

// Server is the running server, nil while the node is down.
func (n *Node) Server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// Running reports whether the node is up.
func (n *Node) Running() bool { return n.Server() != nil }

// ledgers are the cells whose ledgers the node may hold: the single
// ledger (""), or one per account it was given (a ledger per province).
func (n *Node) ledgers() []events.Region {
	if len(n.accounts) == 0 {
		return []events.Region{""}
	}
	var out []events.Region
	for _, a := range n.accounts {
		out = append(out, cellOfAccount(a.Name))
	}
	return out
}

// cellOfAccount is the cell whose account is name (partition.Account).
func cellOfAccount(name string) events.Region {
	if name == partition.Account(partition.Nation) {
		return partition.Nation
	}
	return events.Region(strings.TrimPrefix(name, "P"))
}

// Shutdown stops the node the way an operator does before maintenance:
// it first hands the leadership of every ledger stream it leads (one per
// cell with a ledger per province) to another node and waits until one
// leads it, then shuts down, which steps down every other Raft group it
// leads. Clients see a new leader within a round trip.
func (n *Node) Shutdown(ctx context.Context, others []*Node) error {
	srv := n.Server()
	if srv == nil {
		return fmt.Errorf("node %s is down", n.Name)
	}
	for _, cell := range n.ledgers() {
		if !n.LeadsLedger(cell) {
			continue
		}
		if err := srv.JetStreamStepdownStream(ledgerAccount(cell), LedgerStream); err != nil {
			return fmt.Errorf("node %s: step down as the leader of the ledger of %q: %w", n.Name, cell, err)
		}
		for leaderOf(others, cell) == nil {
			if err := sleep(ctx, 20*time.Millisecond); err != nil {
				return fmt.Errorf("node %s stepped down, but no other node leads the ledger of %q: %w", n.Name, cell, err)
			}
		}
	}
	n.stop()
	return nil
}

// Kill stops the node the way a crash or a pulled cable does: it is first
// cut off from its routes, so that nothing it says while shutting down
// (the leadership it hands over, a last heartbeat) reaches the others, who
// learn of its end only by its silence and elect new leaders after their
// election timeouts. Its files are as a crash leaves them: every
// acknowledged write was synced before it was acknowledged.
func (n *Node) Kill() {
	if n.Server() == nil {
		return
	}
	if err := n.Partition(); err != nil {
		n.log.Warn("kill: could not cut the routes first", "err", err)
	}
	n.stop()
}

func (n *Node) stop() {
	n.mu.Lock()
	srv := n.srv
	n.srv, n.cut = nil, false
	n.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		n.log.Info("nats node stopped")
	}
}

// Partition cuts the node off from the others while it keeps running and
// serving its clients: its configuration is reloaded without routes (so
// the routes it dialled close and are not dialled again) and with route
// authorization the others do not have (so the routes they dialled are
// closed as unauthorized, and so is every new attempt). It returns once
// the node has no route left.
func (n *Node) Partition() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv == nil {
		return fmt.Errorf("node %s is down", n.Name)
	}
	var secret [16]byte
	_, _ = rand.Read(secret[:])
	opts, err := n.options()
	if err != nil {
		return err
	}
	opts.Routes = nil
	opts.Cluster.Username, opts.Cluster.Password = "partitioned", hex.EncodeToString(secret[:])
	if err := n.srv.ReloadOptions(opts); err != nil {
		return fmt.Errorf("node %s: partition: %w", n.Name, err)
	}
	n.cut = true
	for deadline := time.Now().Add(5 * time.Second); n.srv.NumRoutes() > 0; {
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s: partition: %d routes still open", n.Name, n.srv.NumRoutes())
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.log.Info("nats node cut off from its routes")
	return nil
}

// Heal gives a partitioned node its routes back.
func (n *Node) Heal() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv == nil {
		return fmt.Errorf("node %s is down", n.Name)
	}
	opts, err := n.options()
	if err != nil {
		return err
	}
	if err := n.srv.ReloadOptions(opts); err != nil {
		return fmt.Errorf("node %s: heal: %w", n.Name, err)
	}
	n.cut = false
	n.log.Info("nats node routes restored")
	return nil
}

// Partitioned reports whether the node is cut off.
func (n *Node) Partitioned() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cut
}

// LeadsLedger reports whether the node leads the Raft group of the ledger
// stream of cell ("" for the single ledger).
func (n *Node) LeadsLedger(cell events.Region) bool {
	srv := n.Server()
	return srv != nil && srv.JetStreamIsStreamLeader(ledgerAccount(cell), LedgerStream)
}

// CurrentOnLedger reports whether the node holds the Raft group of cell's
// ledger and is caught up with its leader (or leads it).
func (n *Node) CurrentOnLedger(cell events.Region) bool {
	srv := n.Server()
	return srv != nil && srv.JetStreamIsStreamCurrent(ledgerAccount(cell), LedgerStream)
}

// LedgerLastSeq is the last sequence of cell's ledger stream in the node's
// own store (a follower's may trail its leader's); false if the node is
// down or holds no copy of the stream.
func (n *Node) LedgerLastSeq(cell events.Region) (uint64, bool) {
	srv := n.Server()
	if srv == nil {
		return 0, false
	}
	acc := ledgerAccount(cell)
	jsz, err := srv.Jsz(&server.JSzOptions{Account: acc, Streams: true})
	if err != nil {
		return 0, false
	}
	for _, a := range jsz.AccountDetails {
		if a.Name != acc && a.Id != acc {
			continue
		}
		for _, st := range a.Streams {
			if st.Name == LedgerStream {
				return st.State.LastSeq, true
			}
		}
	}
	return 0, false
}

// waitCaughtUp waits until n is current on the ledger of every cell of
// cells and holds every event the others among nodes held when the wait
// began. Not "its leader's": a node healed from a partition can still
// believe for a moment that it leads, with the events the majority took
// without it missing.
func waitCaughtUp(ctx context.Context, n *Node, nodes []*Node, cells []events.Region) error {
	for _, cell := range cells {
		var target uint64
		known := false
		for {
			if !known {
				for _, o := range nodes {
					if o == n || o.Partitioned() {
						continue
					}
					if last, ok := o.LedgerLastSeq(cell); ok {
						target, known = max(target, last), true
					}
				}
			}
			if last, ok := n.LedgerLastSeq(cell); ok && known && last >= target && n.CurrentOnLedger(cell) {
				break
			}
			if err := sleep(ctx, 20*time.Millisecond); err != nil {
				last, _ := n.LedgerLastSeq(cell)
				return fmt.Errorf("node %s did not catch up with the ledger of %q (it holds %d of %d): %w", n.Name, cell, last, target, err)
			}
		}
	}
	return nil
}

// leaderOf returns the node among nodes that leads cell's ledger stream
// and is not cut off, or nil.
func leaderOf(nodes []*Node, cell events.Region) *Node {
	for _, n := range nodes {
		if !n.Partitioned() && n.LeadsLedger(cell) {
			return n
		}
	}
	return nil
}

// freePorts returns n loopback ports that were free a moment ago, below
// the kernel's ephemeral range: nodes restart on their ports, and an
// outgoing connection of any process may take a port of that range
// meanwhile (package loopback).
func freePorts(n int) ([]int, error) { return loopback.Ports(n) }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// natsLog passes a node's warnings and errors to slog; its notices go to
// Debug.
type natsLog struct{ log *slog.Logger }

func (l natsLog) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLog) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLog) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLog) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLog) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLog) Tracef(format string, v ...any)  {}
