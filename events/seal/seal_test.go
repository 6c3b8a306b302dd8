package seal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/lease"
)

// TestSealKnownAnswer seals a stream holding the RFC 6962 test leaves and
// checks every checkpoint root and the served proofs against the vectors.
func TestSealKnownAnswer(t *testing.T) {
	ctx := context.Background()
	e := newEnvOn(t, newEnv(t).srv, "_KAT")
	publishRaw(t, e.js, []string{"raw_KAT.leaf"}, rfcLeafBytes(t))
	s := e.sealer(t, func(c *SealerConfig) { c.BatchSize = 3 })
	for n := 1; n <= 8; n++ {
		sc, err := s.SealTo(ctx, uint64(n))
		if err != nil {
			t.Fatal(err)
		}
		if sc.Size != uint64(n) || sc.Hash != hexHash(t, rfcRoots[n]) {
			t.Fatalf("checkpoint %d: size %d root %x, want %s", n, sc.Size, sc.Hash, rfcRoots[n])
		}
	}
	for _, v := range rfcInclusion {
		leaf, proof, err := e.prover.ProveInclusion(ctx, v.index, v.size)
		if err != nil {
			t.Fatal(err)
		}
		if leaf != tlog.RecordHash(rfcLeafBytes(t)[v.index]) || fmt.Sprint(proof) != fmt.Sprint(hashes(t, v.proof)) {
			t.Errorf("inclusion %d in %d: leaf %x proof %v", v.index, v.size, leaf, proof)
		}
	}
	for _, v := range rfcConsistency {
		proof, err := e.prover.ProveConsistency(ctx, v.old, v.new)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(proof) != fmt.Sprint(hashes(t, v.proof)) {
			t.Errorf("consistency %d→%d: %v", v.old, v.new, proof)
		}
	}
	for n := range uint64(9) {
		if h, err := e.prover.TreeHash(ctx, n); err != nil || h != hexHash(t, rfcRoots[n]) {
			t.Errorf("TreeHash(%d) = %x, %v", n, h, err)
		}
	}
	checkChain(t, e, true)
}

// TestSealLedgerProofs seals real events appended through the ledger store
// in several steps across tile boundaries, and checks proofs for many
// (index, size) pairs and consistency between every pair of checkpoints.
func TestSealLedgerProofs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.sealer(t, func(c *SealerConfig) { c.BatchSize = 100 })

	if _, err := e.prover.Checkpoint(ctx); events.ErrorCode(err) != events.CodeNotFound {
		t.Fatalf("checkpoint before any: %v", err)
	}
	// An empty ledger gets a checkpoint of size 0.
	if sc, err := s.SealTo(ctx, 0); err != nil || sc.Size != 0 || sc.Hash != emptyHash {
		t.Fatalf("empty seal: %+v %v", sc, err)
	}
	var raws [][]byte
	for _, size := range []int{1, 7, 256, 300, 513, 700} {
		raws = append(raws, e.appendEvents(t, len(raws), size-len(raws))...)
		sc, err := s.SealTo(ctx, uint64(size))
		if err != nil {
			t.Fatal(err)
		}
		if want := newMemTree(raws).root(int64(size)); sc.Size != uint64(size) || sc.Hash != want {
			t.Fatalf("seal to %d: got size %d root %x, want %x", size, sc.Size, sc.Hash, want)
		}
	}
	ref := newMemTree(raws)
	if st := s.Status(); st.Size != 700 || st.Root != ref.root(700) || st.Active || st.Published < 7 {
		t.Fatalf("status %+v", st)
	}

	// The leaf hash the prover serves is the hash of the stored bytes.
	rec, err := e.store.Read(ctx, 300)
	if err != nil {
		t.Fatal(err)
	}
	if leaf, _, err := e.prover.ProveInclusion(ctx, rec.LeafIndex(), 700); err != nil || leaf != tlog.RecordHash(rec.Raw) {
		t.Fatalf("leaf of sequence 300: %x %v", leaf, err)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []uint64{1, 2, 3, 7, 8, 255, 256, 257, 300, 511, 512, 513, 699, 700} {
		cp := Checkpoint{Origin: testOrigin, Size: size, Hash: ref.root(int64(size))}
		if h, err := e.prover.TreeHash(ctx, size); err != nil || h != cp.Hash {
			t.Fatalf("TreeHash(%d) = %x, %v; want %x", size, h, err, cp.Hash)
		}
		for _, index := range []uint64{0, size / 2, size - 1, size - min(size, 2), rng.Uint64N(size)} {
			leaf, proof, err := e.prover.ProveInclusion(ctx, index, size)
			if err != nil {
				t.Fatalf("ProveInclusion(%d, %d): %v", index, size, err)
			}
			if leaf != tlog.RecordHash(raws[index]) {
				t.Fatalf("leaf %d: %x", index, leaf)
			}
			if err := VerifyInclusion(cp, index, leaf, proof); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", index, size, err)
			}
			// The same proof does not show another event there.
			if err := VerifyInclusion(cp, index, tlog.RecordHash(raws[(index+1)%700]), proof); err == nil {
				t.Fatalf("inclusion of the wrong leaf at %d in %d verified", index, size)
			}
		}
	}
	cps := checkChain(t, e, true)
	if len(cps) < 7 || cps[0].Size != 0 || cps[len(cps)-1].Size != 700 {
		t.Fatalf("%d checkpoints, first %d, last %d", len(cps), cps[0].Size, cps[len(cps)-1].Size)
	}
	// Proofs from an old checkpoint size are served from the latest tiles.
	proof, err := e.prover.ProveConsistency(ctx, 300, 513)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyConsistency(Checkpoint{testOrigin, 300, ref.root(300)}, Checkpoint{testOrigin, 513, ref.root(513)}, proof); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		err  error
		code events.Code
	}{
		{"index = size", func() error { _, _, err := e.prover.ProveInclusion(ctx, 700, 700); return err }(), events.CodeInvalid},
		{"size 0", func() error { _, _, err := e.prover.ProveInclusion(ctx, 0, 0); return err }(), events.CodeInvalid},
		{"size beyond checkpoint", func() error { _, _, err := e.prover.ProveInclusion(ctx, 0, 701); return err }(), events.CodeNotFound},
		{"old > new", func() error { _, err := e.prover.ProveConsistency(ctx, 5, 3); return err }(), events.CodeInvalid},
		{"new beyond checkpoint", func() error { _, err := e.prover.ProveConsistency(ctx, 1, 701); return err }(), events.CodeNotFound},
		{"tree hash beyond checkpoint", func() error { _, err := e.prover.TreeHash(ctx, 701); return err }(), events.CodeNotFound},
	} {
		if got := events.ErrorCode(tc.err); got != tc.code {
			t.Errorf("%s: %v, want code %s", tc.name, tc.err, tc.code)
		}
	}
	note, size, root, err := e.prover.Latest(ctx)
	if err != nil || size != 700 || root != ref.root(700) {
		t.Fatalf("Latest: %d %x %v", size, root, err)
	}
	if _, _, err := OpenCheckpoint(note, nil, testOrigin); err == nil {
		t.Fatal("note opened without verifiers")
	}
}

// TestForkDetected builds two ledgers that agree except for one event and
// checks that no proof reconciles their checkpoints.
func TestForkDetected(t *testing.T) {
	ctx := context.Background()
	srv := newEnv(t).srv
	data, _ := canonicalEvents(t, 0, 20)
	for _, tc := range []struct {
		name     string
		changed  int
		prefixOK bool // the change is past the old size, so B20 extends A10
	}{
		{"first event", 0, false},
		{"middle event", 5, false},
		{"last event of old tree", 9, false},
		{"event after old tree", 15, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sfx := fmt.Sprintf("_F%d", tc.changed)
			a, b := newEnvOn(t, srv, sfx+"A"), newEnvOn(t, srv, sfx+"B")
			forked := append([][]byte(nil), data...)
			forked[tc.changed] = append([]byte(nil), data[tc.changed]...)
			forked[tc.changed][len(forked[tc.changed])-2] ^= 1 // inside the payload
			publishRaw(t, a.js, []string{"raw" + sfx + "A.x"}, data)
			publishRaw(t, b.js, []string{"raw" + sfx + "B.x"}, forked)
			sa, sb := a.sealer(t, nil), b.sealer(t, nil)
			a10, err := sa.SealTo(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			a20, err := sa.SealTo(ctx, 20)
			if err != nil {
				t.Fatal(err)
			}
			b20, err := sb.SealTo(ctx, 20)
			if err != nil {
				t.Fatal(err)
			}
			pa, _ := a.prover.ProveConsistency(ctx, 10, 20)
			pb, _ := b.prover.ProveConsistency(ctx, 10, 20)
			if err := VerifyConsistency(a10.Checkpoint, a20.Checkpoint, pa); err != nil {
				t.Fatalf("honest history: %v", err)
			}
			if err := VerifyConsistency(a10.Checkpoint, b20.Checkpoint, pa); err == nil {
				t.Error("A's proof reconciles A10 with B20")
			}
			err = VerifyConsistency(a10.Checkpoint, b20.Checkpoint, pb)
			if tc.prefixOK != (err == nil) {
				t.Errorf("A10 → B20 with B's proof: %v, want ok=%v", err, tc.prefixOK)
			}
			if err := VerifyConsistency(a20.Checkpoint, b20.Checkpoint, nil); err == nil {
				t.Error("two different trees of size 20 reconciled")
			}
			// The original event is not in B, and B's event is not in A.
			_, proof, _ := b.prover.ProveInclusion(ctx, uint64(tc.changed), 20)
			if err := VerifyInclusion(b20.Checkpoint, uint64(tc.changed), tlog.RecordHash(data[tc.changed]), proof); err == nil {
				t.Error("original event verified in the forked ledger")
			}
			_, proof, _ = a.prover.ProveInclusion(ctx, uint64(tc.changed), 20)
			if err := VerifyInclusion(a20.Checkpoint, uint64(tc.changed), tlog.RecordHash(forked[tc.changed]), proof); err == nil {
				t.Error("forked event verified in the original ledger")
			}
		})
	}
}

var errCrash = errors.New("simulated crash")

// TestCrashBetweenTilesAndCheckpoint stops a sealer after it wrote tiles
// but before it published the checkpoint; a new sealer must end with the
// root of a clean computation.
func TestCrashBetweenTilesAndCheckpoint(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	raws := e.appendEvents(t, 0, 600)
	s1 := e.sealer(t, func(c *SealerConfig) { c.BatchSize = 128; c.Interval = time.Nanosecond })
	calls := 0
	s1.afterTiles = func() error {
		if calls++; calls == 3 {
			return errCrash
		}
		return nil
	}
	if _, err := s1.SealTo(ctx, 600); !errors.Is(err, errCrash) {
		t.Fatalf("want crash, got %v", err)
	}
	sc, err := e.prover.Checkpoint(ctx)
	if err != nil || sc.Size != 256 {
		t.Fatalf("checkpoint after crash: size %d, %v", sc.Size, err)
	}
	// A proof at the last checkpoint still works with the tiles of the
	// unpublished, larger tree in place.
	leaf, proof, err := e.prover.ProveInclusion(ctx, 200, 256)
	if err != nil || VerifyInclusion(sc.Checkpoint, 200, leaf, proof) != nil {
		t.Fatalf("proof after crash: %v", err)
	}
	s2 := e.sealer(t, func(c *SealerConfig) { c.BatchSize = 100 })
	sc, err = s2.SealTo(ctx, 600)
	if err != nil {
		t.Fatal(err)
	}
	if want := newMemTree(raws).root(600); sc.Hash != want {
		t.Fatalf("root after restart %x, clean computation %x", sc.Hash, want)
	}
	checkChain(t, e, true)
}

// TestRunCancelAndRestart kills a running sealer while events keep
// arriving and restarts it; it must end with the clean root.
func TestRunCancelAndRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	const total = 3000
	var (
		mu   sync.Mutex
		raws [][]byte
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			rec, err := e.store.Append(ctx, testEvent(i), events.ExpectAny())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			raws = append(raws, rec.Raw)
			mu.Unlock()
		}
	}()
	for round := range 3 {
		s := e.sealer(t, func(c *SealerConfig) { c.BatchSize = 64; c.Interval = 5 * time.Millisecond })
		rctx, cancel := context.WithCancel(ctx)
		stopped := make(chan error, 1)
		go func() { stopped <- s.Run(rctx) }()
		target := uint64(500 * (round + 1))
		waitFor(t, 30*time.Second, fmt.Sprintf("round %d to seal %d", round, target), func() bool { return s.Status().Size >= target })
		cancel()
		if err := <-stopped; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	<-done
	s := e.sealer(t, nil)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.Run(rctx)
	waitFor(t, 30*time.Second, "final seal", func() bool { return s.Status().Size == total })
	mu.Lock()
	want := newMemTree(raws).root(total)
	mu.Unlock()
	if got := s.Status().Root; got != want {
		t.Fatalf("root after restarts %x, clean computation %x", got, want)
	}
	cps := checkChain(t, e, false)
	t.Logf("%d checkpoints over %d events", len(cps), total)
}

// TestTwoSealers starts two sealers on one ledger with a lease: one seals,
// the other waits; when the active one stops, the other takes over. The
// checkpoint history stays linear throughout.
func TestTwoSealers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	leases, err := lease.OpenBucket(ctx, e.js, lease.BucketConfig{TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var sealers [2]*Sealer
	var cancels [2]context.CancelFunc
	var wg sync.WaitGroup
	for i := range sealers {
		sealers[i] = e.sealer(t, func(c *SealerConfig) {
			c.Leases, c.Holder, c.Interval = leases, fmt.Sprintf("sealer-%d", i), 5*time.Millisecond
		})
		var rctx context.Context
		rctx, cancels[i] = context.WithCancel(ctx)
		wg.Add(1)
		go func() { defer wg.Done(); _ = sealers[i].Run(rctx) }()
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	}()
	raws := e.appendEvents(t, 0, 500)
	waitFor(t, 30*time.Second, "seal of 500", func() bool {
		sc, err := e.prover.Checkpoint(ctx)
		return err == nil && sc.Size == 500
	})
	active := -1
	for i, s := range sealers {
		if st := s.Status(); st.Published > 0 {
			if active >= 0 {
				t.Fatalf("both sealers published checkpoints: %+v, %+v", sealers[0].Status(), sealers[1].Status())
			}
			active = i
		}
	}
	if active < 0 || !sealers[active].Status().Active || sealers[1-active].Status().Active {
		t.Fatalf("active %d: %+v, %+v", active, sealers[0].Status(), sealers[1].Status())
	}
	holder, err := lease.Holder(ctx, leases, "seal.LEDGER")
	if err != nil || holder != fmt.Sprintf("sealer-%d", active) {
		t.Fatalf("lease holder %q, %v; active sealer %d", holder, err, active)
	}

	// The active one stops (releasing the lease); the other takes over.
	cancels[active]()
	raws = append(raws, e.appendEvents(t, 500, 300)...)
	waitFor(t, 30*time.Second, "take-over and seal of 800", func() bool {
		sc, err := e.prover.Checkpoint(ctx)
		return err == nil && sc.Size == 800
	})
	other := sealers[1-active].Status()
	if other.Published == 0 || other.Root != newMemTree(raws).root(800) {
		t.Fatalf("standby after take-over: %+v", other)
	}
	checkChain(t, e, false)
}

// TestFencing runs two sealers without a lease at once: the checkpoint
// fence alone keeps the history linear.
func TestFencing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	data, subjects := canonicalEvents(t, 0, 2000)
	publishRaw(t, e.js, subjects, data)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		s := e.sealer(t, func(c *SealerConfig) { c.BatchSize = 64; c.Interval = time.Nanosecond })
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = s.SealTo(ctx, 2000) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, errFenced) {
			t.Fatalf("unexpected error: %v", err)
		}
	}
	t.Logf("fenced: %v", errs)
	sc, err := e.sealer(t, nil).SealTo(ctx, 2000)
	if err != nil || sc.Hash != newMemTree(data).root(2000) {
		t.Fatalf("final: %v", err)
	}
	checkChain(t, e, false)
}

// TestResumeRebuildsTiles starts a sealer on an empty tile bucket next to
// existing checkpoints: it rebuilds the tiles from the ledger, checks them
// against the signed root and carries on.
func TestResumeRebuildsTiles(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	raws := e.appendEvents(t, 0, 300)
	if _, err := e.sealer(t, nil).SealTo(ctx, 300); err != nil {
		t.Fatal(err)
	}
	fresh, err := OpenTiles(ctx, e.js, TilesConfig{Bucket: "ledger_tiles_new"})
	if err != nil {
		t.Fatal(err)
	}
	raws = append(raws, e.appendEvents(t, 300, 50)...)
	sc, err := e.sealer(t, func(c *SealerConfig) { c.Tiles = fresh; c.BatchSize = 64 }).SealTo(ctx, 350)
	if err != nil || sc.Hash != newMemTree(raws).root(350) {
		t.Fatalf("after rebuild: %x %v", sc.Hash, err)
	}
	p := NewProver(e.cps, fresh)
	leaf, proof, err := p.ProveInclusion(ctx, 123, 300)
	if err != nil || VerifyInclusion(Checkpoint{testOrigin, 300, newMemTree(raws).root(300)}, 123, leaf, proof) != nil {
		t.Fatalf("proof from rebuilt tiles: %v", err)
	}
}

// TestResumeDetectsChangedLedger points a sealer at checkpoints of one
// ledger and the events of another of the same length: it refuses.
func TestResumeDetectsChangedLedger(t *testing.T) {
	ctx := context.Background()
	a := newEnv(t)
	a.appendEvents(t, 0, 50)
	if _, err := a.sealer(t, nil).SealTo(ctx, 50); err != nil {
		t.Fatal(err)
	}
	b := newEnvOn(t, a.srv, "_CHANGED")
	data, _ := canonicalEvents(t, 1000, 60)
	publishRaw(t, b.js, []string{"raw_CHANGED.x"}, data)
	s := b.sealer(t, func(c *SealerConfig) { c.Checkpoints, c.Signer = a.cps, a.signer })
	_, err := s.SealTo(ctx, 60)
	if events.ErrorCode(err) != events.CodeInternal {
		t.Fatalf("sealing another ledger onto these checkpoints: %v", err)
	}
	t.Log(err)
}

func TestTilesPartialPrefix(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	data := func(w int, salt byte) []byte {
		d := make([]byte, w*tlog.HashSize)
		for i := range d {
			d[i] = byte(i) ^ salt
		}
		return d
	}
	tile := func(w int) tlog.Tile { return tlog.Tile{H: TileHeight, L: 0, N: 3, W: w} }
	if err := e.tiles.write(ctx, 0, []tlog.Tile{tile(10)}, [][]byte{data(10, 0)}); err != nil {
		t.Fatal(err)
	}
	// A stale writer with narrower data does not shrink the tile.
	if err := e.tiles.write(ctx, 0, []tlog.Tile{tile(5)}, [][]byte{data(5, 0)}); err != nil {
		t.Fatal(err)
	}
	cold, _ := newTiles(e.tiles.kv, 16)
	got, err := cold.Read(ctx, []tlog.Tile{tile(10), tile(4)})
	if err != nil || string(got[0]) != string(data(10, 0)) || string(got[1]) != string(data(4, 0)) {
		t.Fatalf("read partial: %v", err)
	}
	// Different hashes at the same position are a conflict, never stored.
	if err := e.tiles.write(ctx, 0, []tlog.Tile{tile(12)}, [][]byte{data(12, 1)}); events.ErrorCode(err) != events.CodeInternal {
		t.Fatalf("conflicting partial tile: %v", err)
	}
	// The position fills up: the partial key goes, reads fall back to the
	// full tile.
	oldSize := int64(3<<TileHeight + 10)
	if err := e.tiles.write(ctx, oldSize, []tlog.Tile{tile(256)}, [][]byte{data(256, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tiles.kv.Get(ctx, partialKey(tile(10))); err == nil {
		t.Fatal("superseded partial tile still stored")
	}
	cold, _ = newTiles(e.tiles.kv, 16)
	got, err = cold.Read(ctx, []tlog.Tile{tile(20)})
	if err != nil || string(got[0]) != string(data(20, 0)) {
		t.Fatalf("read after fill: %v", err)
	}
	if err := e.tiles.write(ctx, 0, []tlog.Tile{tile(256)}, [][]byte{data(256, 2)}); events.ErrorCode(err) != events.CodeInternal {
		t.Fatalf("conflicting full tile: %v", err)
	}
	if _, err := cold.Read(ctx, []tlog.Tile{{H: TileHeight, L: 1, N: 0, W: 3}}); events.ErrorCode(err) != events.CodeInternal {
		t.Fatalf("missing tile: %v", err)
	}
}

// TestLargeTree seals 100k events and measures sealing and proofs. Times
// are logged, never asserted.
func TestLargeTree(t *testing.T) {
	if testing.Short() {
		t.Skip("large tree")
	}
	ctx := context.Background()
	e := newEnv(t)
	const n = 100_000
	data, subjects := canonicalEvents(t, 0, n)
	start := time.Now()
	publishRaw(t, e.js, subjects, data)
	t.Logf("published %d events in %v", n, time.Since(start))

	start = time.Now()
	sc, err := e.sealer(t, nil).SealTo(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	t.Logf("sealed %d events in %v: %.0f events/s", n, el, n/el.Seconds())
	ref := newMemTree(data)
	if sc.Hash != ref.root(n) {
		t.Fatalf("root %x, want %x", sc.Hash, ref.root(n))
	}

	rng := rand.New(rand.NewPCG(3, 4))
	for _, label := range []string{"cold cache", "warm cache"} {
		p := e.prover
		if label == "cold cache" {
			tiles, _ := newTiles(e.tiles.kv, 1024)
			p = NewProver(e.cps, tiles)
		}
		const k = 300
		start = time.Now()
		for range k {
			size := 1 + rng.Uint64N(n)
			index := rng.Uint64N(size)
			leaf, proof, err := p.ProveInclusion(ctx, index, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(Checkpoint{testOrigin, size, ref.root(int64(size))}, index, leaf, proof); err != nil {
				t.Fatalf("inclusion %d in %d: %v", index, size, err)
			}
		}
		incl := time.Since(start) / k
		start = time.Now()
		for range k {
			size := 1 + rng.Uint64N(n)
			old := 1 + rng.Uint64N(size)
			proof, err := p.ProveConsistency(ctx, old, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(Checkpoint{testOrigin, old, ref.root(int64(old))}, Checkpoint{testOrigin, size, ref.root(int64(size))}, proof); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: inclusion proof %v, consistency proof %v (mean of %d, incl. verification of reference roots)", label, incl, time.Since(start)/k, k)
	}

	// Tile reads per proof, with a cache too small to help: O(log n), a
	// few per tile level (3 levels at this size).
	counter := &countingKV{KeyValue: e.tiles.kv}
	tiles, _ := newTiles(counter, 1)
	p := NewProver(e.cps, tiles)
	maxReads, sum := int64(0), int64(0)
	const k = 200
	for range k {
		size := 1 + rng.Uint64N(n)
		before := counter.gets.Load()
		if _, _, err := p.ProveInclusion(ctx, rng.Uint64N(size), size); err != nil {
			t.Fatal(err)
		}
		reads := counter.gets.Load() - before
		sum += reads
		maxReads = max(maxReads, reads)
	}
	t.Logf("tile reads per inclusion proof (cache of 1 tile): mean %.1f, max %d", float64(sum)/k, maxReads)
	if maxReads > 16 {
		t.Fatalf("an inclusion proof read %d tiles", maxReads)
	}
}

type countingKV struct {
	jetstream.KeyValue
	gets atomic.Int64
}

func (c *countingKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	c.gets.Add(1)
	return c.KeyValue.Get(ctx, key)
}

// TestServerRestart restarts the NATS server under a running sealer; it
// carries on and ends with the clean root.
func TestServerRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.sealer(t, nil)
	rctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = s.Run(rctx) }()
	defer func() { cancel(); <-stopped }()

	raws := e.appendEvents(t, 0, 500)
	waitFor(t, 30*time.Second, "seal of 500", func() bool { return s.Status().Size == 500 })
	e.srv.Restart()
	for i := 500; i < 1000; i++ {
		ev := testEvent(i)
		for attempt := 0; ; attempt++ {
			rec, err := e.store.Append(ctx, ev, events.ExpectAny())
			if err == nil || errors.Is(err, events.ErrDuplicate) {
				raws = append(raws, rec.Raw)
				break
			}
			if attempt > 100 {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(t, 60*time.Second, "seal of 1000 after restart", func() bool { return s.Status().Size == 1000 })
	if got, want := s.Status().Root, newMemTree(raws).root(1000); got != want {
		t.Fatalf("root after server restart %x, clean computation %x", got, want)
	}
	checkChain(t, e, false)
}

// TestLiveSealLag publishes events as fast as the server takes them while
// a sealer runs, and logs how far behind the seal stays. Logged, never
// asserted.
func TestLiveSealLag(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	ctx := context.Background()
	e := newEnv(t)
	s := e.sealer(t, func(c *SealerConfig) { c.Interval = 500 * time.Millisecond })
	rctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = s.Run(rctx) }()
	defer func() { cancel(); <-stopped }()

	const n, chunk = 50_000, 5_000
	data, subjects := canonicalEvents(t, 0, n)
	start := time.Now()
	var maxLag uint64
	for i := 0; i < n; i += chunk {
		publishRaw(t, e.js, subjects[i:i+chunk], data[i:i+chunk])
		maxLag = max(maxLag, uint64(i+chunk)-s.Status().Size)
	}
	published := time.Since(start)
	waitFor(t, 60*time.Second, "seal to catch up", func() bool { return s.Status().Size == n })
	t.Logf("published %d events in %v (%.0f/s); sealed all %v after the last publish; max lag seen %d events; %d checkpoints",
		n, published, n/published.Seconds(), time.Since(start)-published, maxLag, s.Status().Published)
	if s.Status().Root != newMemTree(data).root(n) {
		t.Fatal("root differs from the clean computation")
	}
}
