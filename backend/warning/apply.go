package warning

import (
	"math"

	"github.com/onebook/onebook/events/alertevents"
)

// YearLen is the year length of the percentile method when it is applied
// to a rule: 52 weeks, so that the historical windows fall on the same
// weekdays (alertevents.Rule has no field for it).
const YearLen = 364

// MaxStatistic bounds the Statistic of a Result: an EARS statistic over a
// constant baseline with minSigma 0 is ±Inf (see C1), which JSON cannot
// carry; Apply reports it as ±MaxStatistic.
const MaxStatistic = 1e9

// PercentileFor returns the moving percentile configuration of a
// percentile rule: its Period, Years, HalfWidth and P, each zero field
// taking CIDARS's value (alertevents.Rule: "zero: CIDARS defaults"), and the
// year length YearLen. Because zero means "default", a rule cannot ask for
// HalfWidth 0 or P 0.
func PercentileFor(r alertevents.Rule) Percentile {
	c := Percentile{Period: r.Period, Years: r.Years, HalfWidth: r.HalfWidth, YearLen: YearLen, P: r.P}
	if c.Period == 0 {
		c.Period = CIDARS.Period
	}
	if c.Years == 0 {
		c.Years = CIDARS.Years
	}
	if c.HalfWidth == 0 {
		c.HalfWidth = CIDARS.HalfWidth
	}
	if c.P == 0 {
		c.P = CIDARS.P
	}
	return c
}

// Span returns how many days of counts, ending with day t itself, rule r
// needs to evaluate day t: 1 for a threshold rule, Days for a cluster rule,
// 8, 10 and 12 for EARS C1, C2 and C3 (C3 looks back to C2's baseline of
// day t-2), and Years·YearLen + HalfWidth·Period + Period for a percentile
// rule (PercentileFor's values). It is 0 for an unknown method, and at
// least 1 otherwise.
//
// Span does not depend on the length of the history: an engine keeping
// daily counts per series evaluates a new day from the last Span days only.
func Span(r alertevents.Rule) int {
	switch r.Method {
	case alertevents.Threshold:
		return 1
	case alertevents.Cluster:
		return max(1, r.Days)
	case alertevents.EARSC1:
		return Baseline + 1
	case alertevents.EARSC2:
		return Baseline + 3
	case alertevents.EARSC3:
		return Baseline + 5
	case alertevents.Percentile:
		c := PercentileFor(r)
		return max(1, c.Years*c.YearLen+c.HalfWidth*c.Period+c.Period)
	}
	return 0
}

// Result is the outcome of a rule on one day of one series, the figures
// an alert carries (alertevents.Raised's Observed, Statistic and Threshold).
type Result struct {
	Alarm     bool    `json:"alarm"`
	OK        bool    `json:"ok"`        // false: not enough history, or a parameter out of range
	Observed  float64 `json:"observed"`  // the day's count, or the window's for cluster and percentile
	Statistic float64 `json:"statistic"` // the EARS C value; otherwise = Observed
	Threshold float64 `json:"threshold"` // the bound compared with
}

// Apply evaluates rule r on the last day of counts, day t = len(counts)-1,
// where counts, the window, holds the counts of the days up to and
// including t, oldest first: at least the last Span(r) days (more are
// allowed and ignored). A shorter window means that the series does not go back far enough: Result
// has OK false, except for the threshold and cluster rules, which count
// days before the window as zero. An empty window, or a rule whose
// parameters are out of range (k <= 0, a negative min_sigma or z, an
// invalid percentile configuration), also gives OK false. Without OK,
// Alarm is false and the figures are zero.
//
// Per method:
//
//   - threshold: Observed = Statistic = Y(t), Threshold = K, alarm when
//     Y(t) >= K (FixedThreshold).
//   - cluster: Observed = Statistic = the sum of the Days days ending with
//     t (WindowSum), Threshold = K, alarm when the sum >= K (Cluster).
//   - ears_c1, ears_c2: Statistic = C1(t) or C2(t), Threshold = earsC's
//     upper bound UpperC1 or UpperC2 with z = r.Z (ZC1C2 when 0) and
//     minSigma = r.MinSigma, Observed = Y(t), alarm when Y(t) > Threshold,
//     exactly AlarmC1 and AlarmC2. Over a constant baseline with minSigma 0
//     the bound is the baseline itself, so any excess alarms (C = +Inf),
//     as earsC does; min_sigma is the rule's control for sparse series.
//   - ears_c3: Statistic = C3(t), Threshold = z = r.Z (ZC3 when 0),
//     Observed = Y(t), alarm when C3(t) > z. See below.
//   - percentile: Percentile.Evaluate with PercentileFor(r): Observed =
//     Statistic = the current period's count, Threshold = the P-quantile of
//     the historical periods, alarm when current > threshold.
//
// # EARS C3
//
// Apply uses the rule surveillance's help page (man/earsC.Rd) documents,
// alarm iff C3(t) > z, not the bound its code computes (UpperC3, kept
// code-faithful in AlarmC3). The code's bound Y(t) + σ₂(z - L) puts day t's
// own count on both sides of the comparison, so day t enters only through
// Y(t) > 0: the code-faithful alarm raises on any day with at least one
// case after two days whose summed excess L exceeds z, however low that
// day is, and never because of day t's own excess (on the series
// 2 4 3 5 1 3 3 2 4 3 5 7 day 11 has C3 = 2.65 > 1.96 and no code-faithful
// alarm). The documented rule counts day t's excess as the C3 sum
// intends. Like the code, it still alarms whenever L > z (C3 >= L), also
// on a day with no case; unlike the code, a σ₂ of 0 (a constant C2
// baseline with minSigma 0) gives an infinite excess and an alarm rather
// than R's NA.
//
// # Non-finite statistics
//
// C1, C2 and C3 use the package's 0/0 convention (a day equal to a
// constant baseline has statistic 0, see stat), so the statistic is never
// NaN; it is ±Inf when day t differs from a constant baseline and minSigma
// is 0. Result.Statistic is then clamped to ±MaxStatistic so that it can
// be encoded as JSON; Alarm is decided on the unclamped value.
func Apply(r alertevents.Rule, counts []float64) Result {
	t := len(counts) - 1
	if t < 0 {
		return Result{}
	}
	y := counts[t]
	switch r.Method {
	case alertevents.Threshold:
		if !(r.K > 0) {
			return Result{}
		}
		return Result{Alarm: FixedThreshold(y, r.K), OK: true, Observed: y, Statistic: y, Threshold: r.K}
	case alertevents.Cluster:
		if !(r.K > 0) {
			return Result{}
		}
		sum, alarm, ok := Cluster(counts, t, r.Days, r.K)
		if !ok {
			return Result{}
		}
		return Result{Alarm: alarm, OK: true, Observed: sum, Statistic: sum, Threshold: r.K}
	case alertevents.EARSC1, alertevents.EARSC2:
		lag := 1
		if r.Method == alertevents.EARSC2 {
			lag = 3
		}
		z, ok := zOf(r.Z, ZC1C2)
		if !ok {
			return Result{}
		}
		mean, sigma, ok := window(counts, t, lag, r.MinSigma)
		if !ok {
			return Result{}
		}
		// As cStat and upper12: one pass over the baseline for both.
		upper := mean + z*sigma
		return Result{Alarm: y > upper, OK: true, Observed: y, Statistic: clampStat(stat(y, mean, sigma)), Threshold: upper}
	case alertevents.EARSC3:
		z, ok := zOf(r.Z, ZC3)
		if !ok {
			return Result{}
		}
		c3, ok := C3(counts, t, r.MinSigma)
		if !ok {
			return Result{}
		}
		return Result{Alarm: c3 > z, OK: true, Observed: y, Statistic: clampStat(c3), Threshold: z}
	case alertevents.Percentile:
		current, threshold, alarm, ok := PercentileFor(r).Evaluate(counts, t)
		if !ok {
			return Result{}
		}
		return Result{Alarm: alarm, OK: true, Observed: current, Statistic: current, Threshold: threshold}
	}
	return Result{}
}

// zOf is the rule's z, or def when it is 0; ok is false for a negative or
// non-finite z.
func zOf(z, def float64) (float64, bool) {
	if z == 0 {
		return def, true
	}
	return z, z > 0 && !math.IsInf(z, 1)
}

// clampStat bounds a statistic to ±MaxStatistic (NaN, which the EARS
// functions do not return, becomes 0).
func clampStat(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return 0
	case x > MaxStatistic:
		return MaxStatistic
	case x < -MaxStatistic:
		return -MaxStatistic
	}
	return x
}
