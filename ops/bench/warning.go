package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/onebook/onebook/backend/warning"
	"github.com/onebook/onebook/events/alertevents"
)

// WarningResult is the early-warning part, pure computation with no
// servers: (1) recomputing EARS C1, C2 and C3 for every day of every
// (district, symptom group) series with warning.RecomputeEARS, against a
// raw pass summing the same counts; (2) the cost of one evaluation as the
// engine makes it for each new report (window of Span days from a sparse
// day → count map, then warning.Apply) with a short and a long history.
type WarningResult struct {
	Districts, Groups, Days int
	Cells                   int     // Districts × Groups × Days
	Rate                    float64 // cells/s through RecomputeEARS, one goroutine
	RawRate                 float64 // cells/s summing the counts, one goroutine
	Apply                   []WarningApply
}

// Ratio is the recompute rate over the raw rate.
func (r WarningResult) Ratio() float64 { return r.Rate / r.RawRate }

// WarningApply is the mean time of one evaluation of a rule with a short
// and a long history in the series' map.
type WarningApply struct {
	Method      string
	Span        int // days in the window
	Samples     int // evaluations timed per history length
	Series      int // distinct series (maps) evaluated in turn
	ShortDays   int // history of the short case
	LongDays    int // and of the long one
	ShortNS     float64
	LongNS      float64
	AlarmsShort int // alarms raised, so the work cannot be dropped
	AlarmsLong  int
}

// Ratio is the long history's time over the short one's: 1 when the cost
// does not depend on the history.
func (a WarningApply) Ratio() float64 { return a.LongNS / a.ShortNS }

const (
	warningSeed      = 2026
	warningShortDays = 30
	warningLongDays  = 3 * 365
	warningSeries    = 64 // maps per history length in the apply part
)

// warningRules are the rules whose single evaluation is timed.
var warningRules = []alertevents.Rule{{Method: alertevents.EARSC3}, {Method: alertevents.Percentile}}

func (c Config) checkWarning() error {
	if c.WarningDistricts < 1 || c.WarningGroups < 1 || c.WarningDays < 1 || c.WarningSamples < 4*cycles {
		return fmt.Errorf("warning sizes must be positive (districts %d, groups %d, days %d, samples %d ≥ %d)",
			c.WarningDistricts, c.WarningGroups, c.WarningDays, c.WarningSamples, 4*cycles)
	}
	return nil
}

// benchWarning runs the warning part.
func (r *runner) benchWarning(ctx context.Context) (WarningResult, error) {
	c := r.cfg
	res := WarningResult{Districts: c.WarningDistricts, Groups: c.WarningGroups, Days: c.WarningDays}
	res.Cells = res.Districts * res.Groups * res.Days
	nSeries := res.Districts * res.Groups
	series, err := r.warningCounts(ctx, nSeries, res.Days)
	if err != nil {
		return res, err
	}

	out := make([]warning.Stats, res.Days)
	var sink float64
	var recTime, rawTime time.Duration
	for _, kind := range abba(cycles, "raw", "recompute") {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var done atomic.Uint64
		stop := track(r.progress, "warning: "+kind+" (series)", 0, uint64(nSeries), done.Load)
		start := time.Now()
		if kind == "raw" {
			var sum float64
			for _, s := range series {
				for _, x := range s {
					sum += x
				}
				done.Add(1)
			}
			rawTime += time.Since(start)
			sink += sum
		} else {
			var last float64
			for _, s := range series {
				warning.RecomputeEARS(s, 0, out)
				last += out[len(out)-1].C3
				done.Add(1)
			}
			recTime += time.Since(start)
			sink += last
		}
		stop()
	}
	if math.IsNaN(sink) {
		return res, errors.New("warning: NaN in the counts")
	}
	runs := 2 * cycles // each kind runs twice per cycle
	res.RawRate = float64(runs*res.Cells) / rawTime.Seconds()
	res.Rate = float64(runs*res.Cells) / recTime.Seconds()

	for _, rule := range warningRules {
		a, err := r.warningApply(ctx, rule, c.WarningSamples)
		if err != nil {
			return res, err
		}
		res.Apply = append(res.Apply, a)
	}
	return res, nil
}

// warningCounts builds n series of days Poisson counts, on every CPU. Each
// series has its own generator seeded with its index and a mean drawn
// log-uniformly from 0.05 to 10 cases a day, so the counts are the same in
// every run. The series share one allocation.
func (r *runner) warningCounts(ctx context.Context, n, days int) ([][]float64, error) {
	fmt.Fprintf(r.progressOrDiscard(), "warning: building %d series × %d days (%.1f MiB)\n", n, days, float64(n*days*8)/(1<<20))
	slab := make([]float64, n*days)
	series := make([][]float64, n)
	var done atomic.Uint64
	stop := track(r.progress, "warning: counts (series)", 0, uint64(n), done.Load)
	defer stop()
	err := parallel(ctx, 0, n, runtime.GOMAXPROCS(0), &done, func(_ context.Context, i int) error {
		s := slab[i*days : (i+1)*days : (i+1)*days]
		rng := rand.New(rand.NewPCG(warningSeed, uint64(i)))
		mean := math.Exp(math.Log(0.05) + rng.Float64()*math.Log(10/0.05))
		for d := range s {
			s[d] = poisson(rng, mean)
		}
		series[i] = s
		return nil
	})
	return series, err
}

// poisson draws from Poisson(mean) by Knuth's method: multiply uniforms
// until the product falls below e^-mean. Fine for small means.
func poisson(rng *rand.Rand, mean float64) float64 {
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// windowFrom fills buf with the span days ending with day t from a sparse
// day → count map (absent days are 0), as the engine does for a new report.
func windowFrom(m map[int]float64, t, span int, buf []float64) []float64 {
	buf = buf[:span]
	for i := range buf {
		buf[i] = m[t-span+1+i]
	}
	return buf
}

// warningApply times samples evaluations of rule with warningShortDays and
// with warningLongDays of history in each series' map, alternating
// short-long-long-short cycles times after a warm-up. The maps hold Poisson(2) days (zero
// days absent); the day evaluated is the last of the history.
func (r *runner) warningApply(ctx context.Context, rule alertevents.Rule, samples int) (WarningApply, error) {
	span := warning.Span(rule)
	a := WarningApply{Method: rule.Method, Span: span, Series: warningSeries, ShortDays: warningShortDays, LongDays: warningLongDays}
	const t = 4000 // the day evaluated; the history ends on it
	maps := func(hist int) []map[int]float64 {
		rng := rand.New(rand.NewPCG(warningSeed, uint64(hist)))
		ms := make([]map[int]float64, warningSeries)
		for i := range ms {
			ms[i] = map[int]float64{}
			for d := t - hist + 1; d <= t; d++ {
				if c := poisson(rng, 2); c > 0 {
					ms[i][d] = c
				}
			}
		}
		return ms
	}
	short, long := maps(warningShortDays), maps(warningLongDays)
	buf := make([]float64, span)
	per := samples / (2 * cycles) // each history runs twice per cycle
	a.Samples = per * 2 * cycles
	// One untimed evaluation of every series of both sets first, so that
	// neither side pays for the first touch of its maps.
	for _, ms := range [][]map[int]float64{short, long} {
		for _, m := range ms {
			warning.Apply(rule, windowFrom(m, t, span, buf))
		}
	}
	var shortTime, longTime time.Duration
	fmt.Fprintf(r.progressOrDiscard(), "warning: apply %s, %d evaluations per history (%d and %d days)\n", rule.Method, a.Samples, warningShortDays, warningLongDays)
	for _, kind := range abba(cycles, "short", "long") {
		if err := ctx.Err(); err != nil {
			return a, err
		}
		ms, alarms := short, &a.AlarmsShort
		if kind == "long" {
			ms, alarms = long, &a.AlarmsLong
		}
		start := time.Now()
		for i := range per {
			if warning.Apply(rule, windowFrom(ms[i%warningSeries], t, span, buf)).Alarm {
				*alarms++
			}
		}
		took := time.Since(start)
		if kind == "short" {
			shortTime += took
		} else {
			longTime += took
		}
	}
	a.ShortNS = float64(shortTime.Nanoseconds()) / float64(a.Samples)
	a.LongNS = float64(longTime.Nanoseconds()) / float64(a.Samples)
	return a, nil
}

// metrics adds the warning part's keys to m.
func (w *WarningResult) metrics(m map[string]float64) {
	m["warning_recompute_ratio"] = w.Ratio()
	m["warning_recompute_rate"] = w.Rate
	m["warning_raw_rate"] = w.RawRate
	m["warning_cells"] = float64(w.Cells)
	for _, a := range w.Apply {
		p := "warning_apply_" + a.Method
		m[p+"_short_ns"] = a.ShortNS
		m[p+"_long_ns"] = a.LongNS
		m[p+"_ratio"] = a.Ratio()
	}
}

// rows returns the warning part's table rows. Its figures are
// informational: nothing passes or fails on them.
func (w *WarningResult) rows() []Row {
	rows := []Row{{
		Name: "warning recompute",
		Workload: fmt.Sprintf("EARS C1, C2 and C3 of every day (warning.RecomputeEARS, min_sigma 0) of %d districts × %d symptom groups × %d days = %d cells of Poisson counts (means 0.05 to 10 a day, fixed seed, dense []float64 per series), one goroutine, against summing the same counts",
			w.Districts, w.Groups, w.Days, w.Cells),
		Baseline: fmt.Sprintf("sum of counts %s cells/s", rate(w.RawRate)),
		Measured: fmt.Sprintf("RecomputeEARS %s cells/s", rate(w.Rate)),
		Ratio:    w.Ratio(), Target: "informational", Met: true,
	}}
	for _, a := range w.Apply {
		rows = append(rows, Row{
			Name: "warning " + a.Method,
			Workload: fmt.Sprintf("one evaluation per new report: the window of Span = %d days from a sparse day → count map, then warning.Apply; %d evaluations over %d series with %d vs %d days of history; ratio = mean time with %d days ÷ with %d",
				a.Span, a.Samples, a.Series, a.ShortDays, a.LongDays, a.LongDays, a.ShortDays),
			Baseline: fmt.Sprintf("history %d d: %.0f ns", a.ShortDays, a.ShortNS),
			Measured: fmt.Sprintf("history %d d: %.0f ns", a.LongDays, a.LongNS),
			Ratio:    a.Ratio(), Target: "≈ 1 (informational)", Met: true,
		})
	}
	return rows
}
