package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/onebook/onebook/events"
)

// GroupResult is group commit: an offline upload of GroupScans gate scans
// appended as one atomic batch (Store.AppendBatch, one acknowledgement
// and, with fsync on, one sync), against the same scans appended one by
// one, each acknowledged before the next (Store.Append, as uploads were
// recorded before group commit). Both on the same server in the same run,
// GroupReps times each, alternating.
type GroupResult struct {
	Scans    int
	Batch    []time.Duration // one AppendBatch per repetition
	OneByOne []time.Duration // Scans Appends per repetition
}

// Ratio is the one-by-one time over the batch time, each the median of
// its repetitions.
func (g GroupResult) Ratio() float64 {
	return median(g.OneByOne).Seconds() / median(g.Batch).Seconds()
}

// rate is scans per second at the median time d.
func (g GroupResult) rate(d time.Duration) float64 { return float64(g.Scans) / d.Seconds() }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return quantile(s, 0.5)
}

func (g GroupResult) metrics(m map[string]float64) {
	m["group_scans"] = float64(g.Scans)
	m["group_reps"] = float64(len(g.Batch))
	m["group_batch_ms"] = ms(median(g.Batch))
	m["group_one_by_one_ms"] = ms(median(g.OneByOne))
	m["group_batch_rate"] = g.rate(median(g.Batch))
	m["group_one_by_one_rate"] = g.rate(median(g.OneByOne))
	m["group_ratio"] = g.Ratio()
}

func (g GroupResult) row() Row {
	span := func(ds []time.Duration) string {
		return fmt.Sprintf("%.0f–%.0f ms", ms(slices.Min(ds)), ms(slices.Max(ds)))
	}
	return Row{
		Name: "group",
		Workload: fmt.Sprintf("an offline upload of %d pass.scanned events, %d repetitions each way, alternating (batch %s, one by one %s)",
			g.Scans, len(g.Batch), span(g.Batch), span(g.OneByOne)),
		Baseline: fmt.Sprintf("%d × Store.Append, one after another, median %.0f ms (%s/s)", g.Scans, ms(median(g.OneByOne)), rate(g.rate(median(g.OneByOne)))),
		Measured: fmt.Sprintf("one Store.AppendBatch, median %.1f ms (%s/s)", ms(median(g.Batch)), rate(g.rate(median(g.Batch)))),
		Ratio:    g.Ratio(), Target: fmt.Sprintf("≥ %.0f (speed-up)", TargetGroup), Met: g.Ratio() >= TargetGroup,
	}
}

// benchGroup times reps atomic batches of scans gate scans against reps
// times as many single appends, on a server of its own with the run's
// sync policy, in the pattern batch, one-by-one, one-by-one, batch. Every
// repetition appends fresh events (new ids, the same kinds and sizes):
// the same ids would be duplicates.
func (r *runner) benchGroup(ctx context.Context, scans, reps int) (GroupResult, error) {
	env, err := r.startNATS(ctx, "group")
	if err != nil {
		return GroupResult{}, err
	}
	defer env.close()
	res := GroupResult{Scans: scans}
	var next uint64
	upload := func() ([]events.Pending, error) {
		b := make([]events.Pending, scans)
		for i := range b {
			e, err := r.gen.scanned(next)
			if err != nil {
				return nil, err
			}
			next++
			b[i] = events.Pending{Event: e, Expect: events.ExpectAny()}
		}
		return b, nil
	}
	batch := func() error {
		b, err := upload()
		if err != nil {
			return err
		}
		start := time.Now()
		recs, err := env.store.AppendBatch(ctx, b)
		res.Batch = append(res.Batch, time.Since(start))
		if err != nil {
			return fmt.Errorf("batch: %w", err)
		}
		if len(recs) != scans || recs[scans-1].Seq-recs[0].Seq != uint64(scans-1) {
			return fmt.Errorf("batch of %d recorded as %d events", scans, len(recs))
		}
		return nil
	}
	oneByOne := func() error {
		b, err := upload()
		if err != nil {
			return err
		}
		start := time.Now()
		for _, p := range b {
			if _, err := env.store.Append(ctx, p.Event, p.Expect); err != nil {
				return fmt.Errorf("one by one: %w", err)
			}
		}
		res.OneByOne = append(res.OneByOne, time.Since(start))
		return nil
	}
	for i := range reps {
		steps := []func() error{batch, oneByOne}
		if i%2 == 1 {
			steps = []func() error{oneByOne, batch}
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return res, err
			}
		}
		fmt.Fprintf(r.progressOrDiscard(), "group commit: %d of %d repetitions\n", i+1, reps)
	}
	size, err := env.store.Size(ctx)
	if err != nil {
		return res, err
	}
	if want := uint64(2 * scans * reps); size != want {
		return res, fmt.Errorf("the ledger holds %d events after the group commit part, want %d", size, want)
	}
	return res, nil
}
