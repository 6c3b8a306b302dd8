package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events/seal"
)

// ProofResult is the proof benchmark: inclusion proofs for random leaves
// against the latest checkpoint, served by a fresh Prover (cold tile cache)
// from the stored tiles.
type ProofResult struct {
	Leaves      uint64 // tree size of the latest checkpoint
	Samples     int
	P50, P99    time.Duration
	Max         time.Duration
	Verified    int // proofs checked with seal.VerifyInclusion (all of them)
	LeavesRead  int // of those, leaf hashes also compared with the stored event
	CacheTiles  int
	Level0Tiles uint64
}

// proofCacheTiles is the tile cache of the prover measured: the default of
// seal.TilesConfig, as the backend runs it.
const proofCacheTiles = 1024

// benchProof times samples inclusion proofs of random leaves in the tree of
// the latest checkpoint. Every proof is then checked with VerifyInclusion
// against the signed checkpoint, and for a few of them the proven leaf hash
// is compared with the hash of the event's stored bytes, so that it is known
// the proofs are right, not only fast.
func (r *runner) benchProof(ctx context.Context, samples int) (ProofResult, error) {
	tiles, err := seal.OpenTiles(ctx, r.nats.js, seal.TilesConfig{CacheTiles: proofCacheTiles})
	if err != nil {
		return ProofResult{}, err
	}
	prover := seal.NewProver(r.seal.cps, tiles)
	sc, err := prover.Checkpoint(ctx) // fetch and verify it once, outside the timing
	if err != nil {
		return ProofResult{}, fmt.Errorf("latest checkpoint: %w", err)
	}
	size := sc.Size
	res := ProofResult{Leaves: size, Samples: samples, CacheTiles: proofCacheTiles, Level0Tiles: (size + 255) / 256}
	rng := rand.New(rand.NewPCG(size, 0x9e3779b9))
	lat := make([]time.Duration, 0, samples)
	checkLeafEvery := max(samples/64, 1)
	for i := range samples {
		idx := rng.Uint64N(size)
		start := time.Now()
		leaf, proof, err := prover.ProveInclusion(ctx, idx, size)
		lat = append(lat, time.Since(start))
		if err != nil {
			return res, fmt.Errorf("inclusion proof of leaf %d in %d: %w", idx, size, err)
		}
		if err := seal.VerifyInclusion(sc.Checkpoint, idx, leaf, proof); err != nil {
			return res, fmt.Errorf("inclusion proof of leaf %d in %d does not verify: %w", idx, size, err)
		}
		res.Verified++
		if i%checkLeafEvery == 0 {
			rec, err := r.nats.store.Read(ctx, idx+1)
			if err != nil {
				return res, err
			}
			if tlog.RecordHash(rec.Raw) != leaf {
				return res, fmt.Errorf("leaf %d: the proof's leaf hash is not the hash of the stored event", idx)
			}
			res.LeavesRead++
		}
	}
	slices.Sort(lat)
	res.P50, res.P99, res.Max = quantile(lat, 0.50), quantile(lat, 0.99), lat[len(lat)-1]
	return res, nil
}

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
