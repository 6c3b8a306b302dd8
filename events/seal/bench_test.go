package seal

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// sealedLedger returns an env with n events published and sealed.
func sealedLedger(b *testing.B, n int) *env {
	e := newEnv(b)
	data, subjects := canonicalEvents(b, 0, n)
	publishRaw(b, e.js, subjects, data)
	if _, err := e.sealer(b, nil).SealTo(context.Background(), uint64(n)); err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkInclusionProof measures ProveInclusion for random (index, size)
// pairs in a 100k-leaf tree, with the tile cache warm.
func BenchmarkInclusionProof(b *testing.B) {
	const n = 100_000
	e := sealedLedger(b, n)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	for b.Loop() {
		size := 1 + rng.Uint64N(n)
		if _, _, err := e.prover.ProveInclusion(ctx, rng.Uint64N(size), size); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsistencyProof measures ProveConsistency for random pairs of
// sizes in a 100k-leaf tree, with the tile cache warm.
func BenchmarkConsistencyProof(b *testing.B) {
	const n = 100_000
	e := sealedLedger(b, n)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	for b.Loop() {
		size := 1 + rng.Uint64N(n)
		if _, err := e.prover.ProveConsistency(ctx, 1+rng.Uint64N(size), size); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeal measures sealing an already filled ledger from scratch:
// reading, hashing, writing tiles and checkpoints.
func BenchmarkSeal(b *testing.B) {
	const n = 50_000
	e := newEnv(b)
	data, subjects := canonicalEvents(b, 0, n)
	publishRaw(b, e.js, subjects, data)
	ctx := context.Background()
	var total time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		tiles, err := OpenTiles(ctx, e.js, TilesConfig{Bucket: fmt.Sprintf("bench_tiles_%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		cps, err := OpenCheckpoints(ctx, e.js, CheckpointsConfig{Stream: fmt.Sprintf("BENCH_SEAL_%d", i), Subject: fmt.Sprintf("bench%d.checkpoint", i), VerifierKey: e.vkey})
		if err != nil {
			b.Fatal(err)
		}
		s := e.sealer(b, func(c *SealerConfig) { c.Tiles, c.Checkpoints, c.Interval = tiles, cps, 500*time.Millisecond })
		b.StartTimer()
		start := time.Now()
		if _, err := s.SealTo(ctx, n); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(n*i)/total.Seconds(), "events/s")
}
