package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/partition"
)

// TestNodeFaults checks the harness's own faults on three bare nodes and an
// R3 stream named like the ledger: each fault moves the leadership to
// another node, the majority keeps acknowledging publishes, and the node
// that comes back (restarted or reconnected) holds every message. It runs
// for the single ledger (the global account) and for a ledger per province
// (accounts P11 and P31, each with its own LEDGER, faults on 31's while 11's
// holds a different count), so that the leader helpers are seen to look at
// the cell's own account.
func TestNodeFaults(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cells []events.Region // nil: the single ledger
	}{{"single ledger", nil}, {"a ledger per province", []events.Region{"11", "31"}}} {
		t.Run(tt.name, func(t *testing.T) { nodeFaults(t, tt.cells) })
	}
}

func nodeFaults(t *testing.T, cells []events.Region) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a bound on a hang, not a figure
	defer cancel()
	// With cells, an account per cell with one nkey user each; the faults
	// strike the last cell's ledger, the others hold a few messages.
	var (
		accounts []embedded.Account
		users    []nkeys.KeyPair
	)
	for _, c := range cells {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := kp.PublicKey()
		accounts = append(accounts, embedded.Account{Name: partition.Account(c), Users: []string{pub}})
		users = append(users, kp)
	}
	cell, user := events.Region(""), nkeys.KeyPair(nil)
	if len(cells) > 0 {
		cell, user = cells[len(cells)-1], users[len(users)-1]
	}
	nodes, err := startNodes(ctx, t.TempDir(), 3, accounts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, n := range nodes {
			n.Kill()
		}
	}()
	ledgers := []events.Region{""}
	if len(cells) > 0 {
		ledgers = cells
	}
	// connect connects, as user if any, to every node but skip: a client
	// on a node cut off from its routes would wait for ever (it is not
	// disconnected), where a backend replica's would, too; the test is
	// about the majority.
	connectAs := func(user nkeys.KeyPair, skip *Node) jetstream.JetStream {
		t.Helper()
		var urls []string
		for _, n := range nodes {
			if n != skip {
				urls = append(urls, n.ClientURL())
			}
		}
		opts := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}
		if user != nil {
			pub, _ := user.PublicKey()
			opts = append(opts, nats.Nkey(pub, user.Sign))
		}
		nc, err := nats.Connect(strings.Join(urls, ","), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		return js
	}
	connect := func(skip *Node) jetstream.JetStream { return connectAs(user, skip) }
	// The other cells' ledgers: k+1 messages in the k-th.
	for k, u := range users[:max(len(users)-1, 0)] {
		js := connectAs(u, nil)
		createStream(t, ctx, js)
		for i := range k + 1 {
			if _, err := js.Publish(ctx, "t.x", []byte("x"), jetstream.WithMsgID(fmt.Sprintf("o%d", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	js := connect(nil)
	createStream(t, ctx, js)
	var sent uint64
	publish := func(js jetstream.JetStream) {
		t.Helper()
		sent++
		// Retried like the backend's appends: same id, until acknowledged.
		for {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := js.Publish(pctx, "t.x", []byte("x"), jetstream.WithMsgID(fmt.Sprintf("m%d", sent)))
			cancel()
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("publish %d: %v", sent, err)
			}
		}
	}
	waitLeader := func(not *Node) *Node {
		t.Helper()
		for {
			if l := leaderOf(nodes, cell); l != nil && l != not {
				return l
			}
			if err := sleep(ctx, 20*time.Millisecond); err != nil {
				t.Fatalf("no new leader of the stream: %v", err)
			}
		}
	}
	for range 10 {
		publish(js)
	}
	faults := []struct {
		name  string
		fault func(n *Node)
		back  func(n *Node)
	}{
		{"shutdown", func(n *Node) {
			if err := n.Shutdown(ctx, nodes); err != nil {
				t.Fatal(err)
			}
		}, func(n *Node) {
			if err := n.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}},
		{"kill", func(n *Node) { n.Kill() }, func(n *Node) {
			if err := n.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}},
		{"partition", func(n *Node) {
			if err := n.Partition(); err != nil {
				t.Fatal(err)
			}
		}, func(n *Node) {
			if err := n.Heal(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, f := range faults {
		old := waitLeader(nil)
		start := time.Now()
		majority := connect(old)
		f.fault(old)
		l := waitLeader(old)
		for range 10 {
			publish(majority)
		}
		t.Logf("%s of the leader %s: %s leads, 10 publishes acknowledged %v after the fault", f.name, old.Name, l.Name, time.Since(start).Round(time.Millisecond))
		f.back(old)
		if err := waitCaughtUp(ctx, old, nodes, ledgers); err != nil {
			t.Fatal(err)
		}
		// Asked of the majority: a node just back may answer from its own
		// stale view for a moment. Nothing acknowledged may be missing once
		// the leader's view settles.
		for {
			st, err := majority.Stream(ctx, LedgerStream)
			if err == nil && st.CachedInfo().State.Msgs == sent {
				break
			}
			if ctx.Err() != nil {
				msgs := uint64(0)
				if err == nil {
					msgs = st.CachedInfo().State.Msgs
				}
				t.Fatalf("after %s: %d messages (%v), want %d", f.name, msgs, err, sent)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Every node holds every cell's ledger, with its own count: the
	// helpers read the cell's account, not another's.
	for _, n := range nodes {
		for k, c := range ledgers {
			want := uint64(k + 1)
			if c == cell {
				want = sent
			}
			if last, ok := n.LedgerLastSeq(c); !ok || last != want {
				t.Errorf("%s: the ledger of %q ends at %d (%v), want %d", n.Name, c, last, ok, want)
			}
		}
	}
	// Routes come back after a heal in their own time (the route dialer's
	// retry), bounded by the test's two minutes.
	for _, n := range nodes {
		for n.Server().NumRoutes() == 0 {
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				t.Fatalf("%s has no routes after the faults: %v", n.Name, err)
			}
		}
	}
}

// createStream creates the test's R3 stream, again while the meta leader
// has not yet heard from every peer ("no suitable peers for placement,
// peer offline", seen on a CI-like run right after the nodes started).
func createStream(t *testing.T, ctx context.Context, js jetstream.JetStream) {
	t.Helper()
	for {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: LedgerStream, Subjects: []string{"t.>"}, Replicas: 3, Storage: jetstream.FileStorage})
		var apiErr *jetstream.APIError
		if err == nil || !errors.As(err, &apiErr) || apiErr.ErrorCode != 10005 {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			t.Fatalf("stream never placed: %v", apiErr)
		}
	}
}
