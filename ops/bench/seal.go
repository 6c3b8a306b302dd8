package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/onebook/onebook/events/seal"
)

// SealResult is the seal benchmark: sealing the filled ledger from scratch,
// against the append rate of the same run.
type SealResult struct {
	Events      uint64
	Rate        float64 // events/s sealed
	AppendRate  float64 // events/s appended (AppendResult.Rate)
	Checkpoints int     // checkpoints published on the way
}

// Ratio is the seal rate over the append rate.
func (r SealResult) Ratio() float64 { return r.Rate / r.AppendRate }

// sealTo seals the ledger up to size with a fresh sealer (resuming from the
// latest checkpoint, if any) and returns how long it took.
func (r *runner) sealTo(ctx context.Context, label string, size uint64) (time.Duration, seal.Status, error) {
	s, err := r.seal.sealer(r.nats.js, r.quiet)
	if err != nil {
		return 0, seal.Status{}, err
	}
	var base uint64
	if latest, err := r.seal.cps.Latest(ctx); err == nil {
		base = latest.Size
	}
	stop := track(r.progress, label+" (at last checkpoint)", base, size, func() uint64 { return max(s.Status().Size, base) })
	start := time.Now()
	cp, err := s.SealTo(ctx, size)
	took := time.Since(start)
	stop()
	if err != nil {
		return took, s.Status(), fmt.Errorf("%s: %w", label, err)
	}
	if cp.Size < size {
		return took, s.Status(), fmt.Errorf("%s: sealed to %d, wanted %d", label, cp.Size, size)
	}
	return took, s.Status(), nil
}

// benchSeal seals the whole ledger, which nothing has sealed yet.
func (r *runner) benchSeal(ctx context.Context, appendRate float64) (SealResult, error) {
	size, err := r.nats.ledgerSize(ctx)
	if err != nil {
		return SealResult{}, err
	}
	took, st, err := r.sealTo(ctx, "seal", size)
	if err != nil {
		return SealResult{}, err
	}
	return SealResult{Events: size, Rate: float64(size) / took.Seconds(), AppendRate: appendRate, Checkpoints: st.Published}, nil
}
