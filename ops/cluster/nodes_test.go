package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestNodeFaults checks the harness's own faults on three bare nodes and an
// R3 stream named like the ledger: each fault moves the leadership to
// another node, the majority keeps acknowledging publishes, and the node
// that comes back (restarted or reconnected) holds every message.
func TestNodeFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a bound on a hang, not a figure
	defer cancel()
	nodes, err := startNodes(ctx, t.TempDir(), 3, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, n := range nodes {
			n.Kill()
		}
	}()
	// connect connects to every node but skip: a client on a node cut off
	// from its routes would wait for ever (it is not disconnected), where
	// a backend replica's would, too; the test is about the majority.
	connect := func(skip *Node) jetstream.JetStream {
		t.Helper()
		var urls []string
		for _, n := range nodes {
			if n != skip {
				urls = append(urls, n.ClientURL())
			}
		}
		nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		return js
	}
	js := connect(nil)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: LedgerStream, Subjects: []string{"t.>"}, Replicas: 3, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
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
			if l := leaderOf(nodes); l != nil && l != not {
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
		if err := waitCaughtUp(ctx, old, nodes); err != nil {
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
