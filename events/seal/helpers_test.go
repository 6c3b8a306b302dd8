package seal

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/ledger/natstest"
)

const testOrigin = "onebook.test/ledger"

// env is one ledger with its seal on an embedded NATS server.
type env struct {
	srv    *natstest.Server
	js     jetstream.JetStream
	store  *ledger.Store
	ledger string
	skey   string
	vkey   string
	signer note.Signer
	tiles  *Tiles
	cps    *Checkpoints
	prover *Prover
}

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("SEAL_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("test", t.Name())
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := natstest.Start(t)
	return newEnvOn(t, srv, "")
}

// newEnvOn opens a ledger, tiles and checkpoints named with suffix on srv,
// so that one server can hold independent seals.
func newEnvOn(t testing.TB, srv *natstest.Server, suffix string) *env {
	t.Helper()
	ctx := context.Background()
	_, js := srv.Connect()
	e := &env{srv: srv, js: js, ledger: "LEDGER" + suffix}
	var err error
	if suffix == "" {
		e.store, err = ledger.Open(ctx, js, ledger.Config{})
	} else {
		// A second ledger needs subjects of its own.
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: e.ledger, Subjects: []string{"raw" + suffix + ".>"}, DenyDelete: true, DenyPurge: true})
	}
	if err != nil {
		t.Fatal(err)
	}
	e.skey, e.vkey, err = GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if e.signer, _, err = LoadSigner(e.skey); err != nil {
		t.Fatal(err)
	}
	if e.tiles, err = OpenTiles(ctx, js, TilesConfig{Bucket: "ledger_tiles" + suffix}); err != nil {
		t.Fatal(err)
	}
	if e.cps, err = OpenCheckpoints(ctx, js, CheckpointsConfig{Stream: "LEDGER_SEAL" + suffix, Subject: "seal" + suffix + ".checkpoint", VerifierKey: e.vkey}); err != nil {
		t.Fatal(err)
	}
	e.prover = NewProver(e.cps, e.tiles)
	return e
}

func (e *env) sealer(t testing.TB, mod func(*SealerConfig)) *Sealer {
	t.Helper()
	cfg := SealerConfig{Ledger: e.ledger, Signer: e.signer, Tiles: e.tiles, Checkpoints: e.cps, Logger: testLogger(t), Interval: 20 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewSealer(e.js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testEvent is a gate scan with a distinct payload per n.
func testEvent(n int) events.Event {
	return events.Event{
		ID:        events.NewID(),
		Type:      "pass.scanned",
		Version:   1,
		Aggregate: events.Aggregate{Kind: "pass", ID: fmt.Sprintf("p%d", n%97)},
		Region:    "110105",
		Actor:     events.Actor{Role: "gate_operator", ID: "op1"},
		Time:      time.Date(2020, 2, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second),
		Payload:   []byte(fmt.Sprintf(`{"gate":"g1","n":%d}`, n)),
	}
}

// appendEvents appends events from..from+n-1 through the ledger store and
// returns their canonical bytes.
func (e *env) appendEvents(t testing.TB, from, n int) [][]byte {
	t.Helper()
	out := make([][]byte, 0, n)
	for i := range n {
		rec, err := e.store.Append(context.Background(), testEvent(from+i), events.ExpectAny())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.Raw)
	}
	return out
}

// publishRaw publishes data to a stream asynchronously, much faster than
// Append for large test ledgers; subjects[i] is data[i]'s subject, or
// subjects[0] for all if there is one. It waits for acknowledgements every
// thousand messages, staying under the client's limit of pending ones.
func publishRaw(t testing.TB, js jetstream.JetStream, subjects []string, data [][]byte) {
	t.Helper()
	const window = 1000
	for lo := 0; lo < len(data); lo += window {
		hi := min(lo+window, len(data))
		futures := make([]jetstream.PubAckFuture, 0, hi-lo)
		for i := lo; i < hi; i++ {
			subj := subjects[0]
			if len(subjects) > 1 {
				subj = subjects[i]
			}
			f, err := js.PublishMsgAsync(&nats.Msg{Subject: subj, Data: data[i]})
			if err != nil {
				t.Fatal(err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				t.Fatal(err)
			case <-time.After(60 * time.Second):
				t.Fatal("publish not acknowledged")
			}
		}
	}
}

// canonicalEvents returns the canonical bytes of n test events and their
// ledger subjects.
func canonicalEvents(t testing.TB, from, n int) (data [][]byte, subjects []string) {
	t.Helper()
	data, subjects = make([][]byte, n), make([]string, n)
	for i := range n {
		ev := testEvent(from + i)
		b, err := ev.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		data[i], subjects[i] = b, ev.Subject()
	}
	return data, subjects
}

// checkChain checks that the stored checkpoints form one history: sizes
// never decrease, and every checkpoint is consistent with every earlier
// one (all pairs if all, else consecutive ones), by proofs from p.
func checkChain(t testing.TB, e *env, all bool) []SignedCheckpoint {
	t.Helper()
	ctx := context.Background()
	var cps []SignedCheckpoint
	for sc, err := range e.cps.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, sc)
	}
	for j := range cps {
		for i := range j {
			if !all && i != j-1 {
				continue
			}
			a, b := cps[i], cps[j]
			if a.Size > b.Size {
				t.Fatalf("checkpoint %d (size %d) after checkpoint %d (size %d)", b.Seq, b.Size, a.Seq, a.Size)
			}
			proof, err := e.prover.ProveConsistency(ctx, a.Size, b.Size)
			if err != nil {
				t.Fatalf("consistency %d→%d: %v", a.Size, b.Size, err)
			}
			if err := VerifyConsistency(a.Checkpoint, b.Checkpoint, proof); err != nil {
				t.Fatalf("checkpoints %d (size %d) and %d (size %d): %v", a.Seq, a.Size, b.Seq, b.Size, err)
			}
		}
	}
	return cps
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// memTree is the clean reference computation: the whole tree in memory.
type memTree struct {
	n      int64
	hashes []tlog.Hash
}

func newMemTree(leaves [][]byte) *memTree {
	m := &memTree{}
	for _, d := range leaves {
		m.add(d)
	}
	return m
}

func (m *memTree) root(n int64) tlog.Hash {
	h, err := tlog.TreeHash(n, m)
	if err != nil {
		panic(err)
	}
	return h
}

func (m *memTree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memTree) add(data []byte) {
	hs, err := tlog.StoredHashes(m.n, data, m)
	if err != nil {
		panic(err)
	}
	m.hashes = append(m.hashes, hs...)
	m.n++
}
