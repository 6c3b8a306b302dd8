package warning

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onebook/onebook/events/alertevents"
)

func TestSpan(t *testing.T) {
	for _, tt := range []struct {
		r    alertevents.Rule
		want int
	}{
		{alertevents.Rule{Method: alertevents.Threshold, K: 1}, 1},
		{alertevents.Rule{Method: alertevents.Cluster, K: 3, Days: 5}, 5},
		{alertevents.Rule{Method: alertevents.Cluster, K: 3}, 1}, // invalid Days: Apply says not OK
		{alertevents.Rule{Method: alertevents.EARSC1}, 8},
		{alertevents.Rule{Method: alertevents.EARSC2}, 10},
		{alertevents.Rule{Method: alertevents.EARSC3}, 12},
		// CIDARS defaults: 3·364 + 1·7 + 7.
		{alertevents.Rule{Method: alertevents.Percentile}, 1106},
		// 1·364 + 2·2 + 2.
		{alertevents.Rule{Method: alertevents.Percentile, Period: 2, Years: 1, HalfWidth: 2, P: 0.8}, 370},
		// 5·364 + 4·31 + 31, the largest Validate allows.
		{alertevents.Rule{Method: alertevents.Percentile, Period: 31, Years: 5, HalfWidth: 4}, 1975},
		{alertevents.Rule{Method: "nope"}, 0},
	} {
		if got := Span(tt.r); got != tt.want {
			t.Errorf("Span(%+v) = %d, want %d", tt.r, got, tt.want)
		}
	}
}

func TestPercentileFor(t *testing.T) {
	if got := PercentileFor(alertevents.Rule{Method: alertevents.Percentile}); got != CIDARS {
		t.Errorf("defaults = %+v, want CIDARS %+v", got, CIDARS)
	}
	got := PercentileFor(alertevents.Rule{Method: alertevents.Percentile, Period: 2, Years: 1, HalfWidth: 2, P: 0.8})
	if want := (Percentile{Period: 2, Years: 1, HalfWidth: 2, YearLen: 364, P: 0.8}); got != want {
		t.Errorf("PercentileFor = %+v, want %+v", got, want)
	}
}

// constant is twelve days of 5 then last: a constant baseline for C1, C2
// and C3's C2 baselines.
func constant(last float64) []float64 {
	s := []float64{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}
	s[len(s)-1] = last
	return s
}

func TestApply(t *testing.T) {
	c1 := alertevents.Rule{Method: alertevents.EARSC1}
	c2 := alertevents.Rule{Method: alertevents.EARSC2}
	c3 := alertevents.Rule{Method: alertevents.EARSC3}
	with := func(r alertevents.Rule, f func(*alertevents.Rule)) alertevents.Rule { f(&r); return r }
	z1, z3 := ZC1C2, ZC3
	no := Result{}
	tests := []struct {
		name   string
		r      alertevents.Rule
		counts []float64
		want   Result
	}{
		// Threshold: day t's count against K; only day t is looked at.
		{"threshold reached", alertevents.Rule{Method: alertevents.Threshold, K: 3}, []float64{9, 9, 3}, Result{true, true, 3, 3, 3}},
		{"threshold below", alertevents.Rule{Method: alertevents.Threshold, K: 3}, []float64{9, 2}, Result{false, true, 2, 2, 3}},
		{"threshold one day", alertevents.Rule{Method: alertevents.Threshold, K: 1}, []float64{1}, Result{true, true, 1, 1, 1}},
		{"threshold empty", alertevents.Rule{Method: alertevents.Threshold, K: 1}, nil, no},
		{"threshold k 0", alertevents.Rule{Method: alertevents.Threshold}, []float64{1}, no},

		// Cluster, 3 days, 4 cases: days 4..6 = 0 + 3 + 1 = 4.
		{"cluster reached", alertevents.Rule{Method: alertevents.Cluster, K: 4, Days: 3}, []float64{1, 0, 2, 0, 0, 3, 1}, Result{true, true, 4, 4, 4}},
		// Days 3..5 = 0 + 0 + 3.
		{"cluster below", alertevents.Rule{Method: alertevents.Cluster, K: 4, Days: 3}, []float64{1, 0, 2, 0, 0, 3}, Result{false, true, 3, 3, 4}},
		// Two days where three are asked: the missing day counts as 0, 3 + 1 = 4.
		{"cluster short window", alertevents.Rule{Method: alertevents.Cluster, K: 4, Days: 3}, []float64{3, 1}, Result{true, true, 4, 4, 4}},
		{"cluster days 0", alertevents.Rule{Method: alertevents.Cluster, K: 4}, []float64{3, 1}, no},

		// C1 on kat day 11 (Y 7, baseline days 4..10: Ȳ 3, S √(5/3)):
		// C1 = 4/S = 3.0984, U1 = 3 + 3.0902·S = 6.9895, 7 > U1.
		{"C1 alarm", c1, kat[:12], Result{true, true, 7, 4 / sKAT, 3 + z1*sKAT}},
		{"C1 exactly Span days", c1, kat[4:12], Result{true, true, 7, 4 / sKAT, 3 + z1*sKAT}},
		{"C1 one day short", c1, kat[5:12], no},
		// z 4: U1 = 3 + 4·S = 8.1640, 7 < U1; the statistic is unchanged.
		{"C1 z 4", with(c1, func(r *alertevents.Rule) { r.Z = 4 }), kat[:12], Result{false, true, 7, 4 / sKAT, 3 + 4*sKAT}},
		// Day 10: Y 5, C1 = 2/S = 1.5492.
		{"C1 no alarm", c1, kat[:11], Result{false, true, 5, 2 / sKAT, 3 + z1*sKAT}},
		{"C1 negative min_sigma", with(c1, func(r *alertevents.Rule) { r.MinSigma = -1 }), kat[:12], no},
		{"C1 negative z", with(c1, func(r *alertevents.Rule) { r.Z = -1 }), kat[:12], no},

		// C2 on kat day 11 (baseline days 2..8, the same values): 4/S, U2 = U1.
		{"C2 alarm", c2, kat[:12], Result{true, true, 7, 4 / sKAT, 3 + z1*sKAT}},
		{"C2 exactly Span days", c2, kat[2:12], Result{true, true, 7, 4 / sKAT, 3 + z1*sKAT}},
		{"C2 one day short", c2, kat[3:12], no},
		// Day 12: Y 8, C2 = 5/S = 3.8730; z 4 puts U2 at 8.1640 > 8.
		{"C2 z 4", with(c2, func(r *alertevents.Rule) { r.Z = 4 }), kat, Result{false, true, 8, 5 / sKAT, 3 + 4*sKAT}},

		// C3 on kat day 11: 0 + 0.5492 + 2.0984 = 2.6476 > 1.9600: alarm,
		// where AlarmC3 raises none (TestApplyC3Documented).
		{"C3 alarm", c3, kat[:12], Result{true, true, 7, 6/sKAT - 2, z3}},
		// Day 12: 0.5492 + 2.0984 + 2.8730 = 5.5206.
		{"C3 day 12", c3, kat, Result{true, true, 8, 11/sKAT - 3, z3}},
		{"C3 exactly Span days", c3, kat[1:], Result{true, true, 8, 11/sKAT - 3, z3}},
		{"C3 one day short", c3, kat[2:], no},
		// z 3 > 2.6476: no alarm on day 11.
		{"C3 z 3", with(c3, func(r *alertevents.Rule) { r.Z = 3 }), kat[:12], Result{false, true, 7, 6/sKAT - 2, 3}},
		// Day 10: C2 of day 8 would need day -1.
		{"C3 day 10", c3, kat[:11], no},
		{"C3 z NaN", with(c3, func(r *alertevents.Rule) { r.Z = math.NaN() }), kat, no},

		// Constant baseline, min_sigma 0: σ = 0, C = ±Inf reported as
		// ±MaxStatistic; the bound is the baseline, any excess alarms.
		{"C1 constant above", c1, constant(6), Result{true, true, 6, MaxStatistic, 5}},
		{"C1 constant equal", c1, constant(5), Result{false, true, 5, 0, 5}},
		{"C1 constant below", c1, constant(4), Result{false, true, 4, -MaxStatistic, 5}},
		// min_sigma 1: C1 = (9-5)/1 = 4, U1 = 5 + 3.0902.
		{"C1 constant min_sigma 1", with(c1, func(r *alertevents.Rule) { r.MinSigma = 1 }), constant(9), Result{true, true, 9, 4, 5 + z1}},
		// C3: C2(9) = C2(10) = 0 (equal to the baseline), C2(11) = +Inf.
		{"C3 constant above", c3, constant(6), Result{true, true, 6, MaxStatistic, z3}},
		{"C3 constant equal", c3, constant(5), Result{false, true, 5, 0, z3}},
		// min_sigma 1, Y 9: C2(11) = 4, C3 = 3.
		{"C3 constant min_sigma 1", with(c3, func(r *alertevents.Rule) { r.MinSigma = 1 }), constant(9), Result{true, true, 9, 3, z3}},

		{"unknown method", alertevents.Rule{Method: "nope", K: 1}, kat, no},
	}
	for _, tt := range tests {
		got := Apply(tt.r, tt.counts)
		if got.Alarm != tt.want.Alarm || got.OK != tt.want.OK || !near(got.Observed, tt.want.Observed) ||
			!near(got.Statistic, tt.want.Statistic) || !near(got.Threshold, tt.want.Threshold) {
			t.Errorf("%s: Apply = %+v, want %+v", tt.name, got, tt.want)
		}
		if _, err := json.Marshal(got); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// TestApplyC3Documented: Apply's C3 alarm is C3(t) > z (man/earsC.Rd);
// AlarmC3 keeps earsC's code (Y(t) > Y(t) + σ₂(z - L)), which looks at day
// t only through Y(t) > 0.
func TestApplyC3Documented(t *testing.T) {
	r := alertevents.Rule{Method: alertevents.EARSC3}
	day := func(y float64) []float64 { return append(kat[:12:12], y) }
	for _, tt := range []struct {
		name          string
		counts        []float64
		apply, alarm3 bool
	}{
		// Day 11: L = 0.5492 < z, today's excess 2.0984 makes C3 2.6476 > z:
		// the documented rule alarms, the code's bound (8.8213 > 7) does not.
		{"rise", kat[:12], true, false},
		// Day 12 = 8: both alarm.
		{"rise continues", kat, true, true},
		// Day 12 = 0 after days 10 and 11 (L = 2.6476 > z): C3 = L > z, the
		// documented rule alarms; the code's bound is max(0, 0 + S(z-L)) = 0
		// and 0 > 0 is false.
		{"no case after two excess days", day(0), true, false},
		// Day 12 = 1, far below the baseline mean 3: both alarm, the code's
		// bound being 1 + S(z-L) = 0.1123.
		{"one case after two excess days", day(1), true, true},
	} {
		res := Apply(r, tt.counts)
		a3, ok := AlarmC3(tt.counts, len(tt.counts)-1, 0, ZC3)
		c3, _ := C3(tt.counts, len(tt.counts)-1, 0)
		if !res.OK || !ok || res.Alarm != tt.apply || a3 != tt.alarm3 || res.Statistic != c3 {
			t.Errorf("%s: Apply %+v, AlarmC3 %v, %v, C3 %g; want Apply alarm %v, AlarmC3 %v",
				tt.name, res, a3, ok, c3, tt.apply, tt.alarm3)
		}
	}
}

// TestApplyPercentile builds the historical windows by hand.
func TestApplyPercentile(t *testing.T) {
	// CIDARS defaults, P80: the nine historical windows hold one non-zero
	// day each (their last), sorted 62 66 68 69 70 71 73 75 80, P80 = 73.8.
	r := alertevents.Rule{Method: alertevents.Percentile, P: 0.8}
	counts := make([]float64, Span(r)) // 1106: the earliest window starts on day 0
	day := len(counts) - 1
	vals := []float64{62, 70, 75, 66, 71, 80, 68, 73, 69}
	k := 0
	for y := 3; y >= 1; y-- {
		for j := -1; j <= 1; j++ {
			counts[day-y*364+j*7] = vals[k]
			k++
		}
	}
	counts[day], counts[day-6] = 73, 1 // this week: 74
	if got, want := Apply(r, counts), (Result{true, true, 74, 74, 73.8}); !sameResult(got, want) {
		t.Errorf("P80 = %+v, want %+v", got, want)
	}
	counts[day-6] = 0 // 73 <= 73.8
	if got, want := Apply(r, counts), (Result{false, true, 73, 73, 73.8}); !sameResult(got, want) {
		t.Errorf("P80 at 73 = %+v, want %+v", got, want)
	}
	if got := Apply(r, counts[1:]); got != (Result{}) {
		t.Errorf("one day short = %+v", got)
	}
	// P 0: the default P50, 70.
	r.P = 0
	if got, want := Apply(r, counts), (Result{true, true, 73, 73, 70}); !sameResult(got, want) {
		t.Errorf("P50 = %+v, want %+v", got, want)
	}

	// Period 2, one year, two periods each side: windows of 2 days ending
	// on t-364-4, t-364-2, t-364, t-364+2, t-364+4, holding 4 1 3 5 2
	// (median 3); this period t-1, t: 2 + 2 = 4 > 3.
	r = alertevents.Rule{Method: alertevents.Percentile, Period: 2, Years: 1, HalfWidth: 2}
	counts = make([]float64, Span(r)) // 370
	day = len(counts) - 1
	for j, v := range []float64{4, 1, 3, 5, 2} {
		counts[day-364+(j-2)*2] = v
	}
	counts[day-1], counts[day] = 2, 2
	if got, want := Apply(r, counts), (Result{true, true, 4, 4, 3}); !sameResult(got, want) {
		t.Errorf("period 2 = %+v, want %+v", got, want)
	}
	counts[day-1] = 1 // 3 is not > 3
	if got, want := Apply(r, counts), (Result{false, true, 3, 3, 3}); !sameResult(got, want) {
		t.Errorf("period 2 at 3 = %+v, want %+v", got, want)
	}
	if got := Apply(r, counts[1:]); got.OK {
		t.Errorf("one day short = %+v", got)
	}
	r.Period = -1
	if got := Apply(r, counts); got.OK {
		t.Errorf("period -1 = %+v", got)
	}
}

func sameResult(a, b Result) bool {
	return a.Alarm == b.Alarm && a.OK == b.OK && near(a.Observed, b.Observed) &&
		near(a.Statistic, b.Statistic) && near(a.Threshold, b.Threshold)
}

// rules is one rule per method, as BenchmarkApply runs them.
var rules = []alertevents.Rule{
	{Method: alertevents.Threshold, K: 5},
	{Method: alertevents.Cluster, K: 20, Days: 7},
	{Method: alertevents.EARSC1},
	{Method: alertevents.EARSC2, MinSigma: 0.5},
	{Method: alertevents.EARSC3},
	{Method: alertevents.Percentile},
}

// TestApplySpan checks on Poisson series that the last Span(r) days give
// the same result as the whole history, that one day less is not enough
// for EARS and percentile, and that the EARS results are those of the
// package's functions.
func TestApplySpan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, mean := range []float64{0.3, 3, 20} {
		s := poissonSeries(rng, 3*364+60, mean)
		for _, r := range rules {
			span := Span(r)
			for day := len(s) - 40; day < len(s); day++ {
				all := Apply(r, s[:day+1])
				last := Apply(r, s[day+1-span:day+1])
				if all != last || !all.OK {
					t.Fatalf("%s mean %g day %d: whole history %+v, last %d days %+v", r.Method, mean, day, all, span, last)
				}
				if r.Method != alertevents.Threshold && r.Method != alertevents.Cluster {
					if short := Apply(r, s[day+2-span:day+1]); short.OK {
						t.Fatalf("%s: %d days OK", r.Method, span-1)
					}
				}
				var (
					stat, upper float64
					alarm       bool
				)
				switch r.Method {
				case alertevents.EARSC1:
					stat, _ = C1(s, day, r.MinSigma)
					upper, _ = UpperC1(s, day, r.MinSigma, ZC1C2)
					alarm, _ = AlarmC1(s, day, r.MinSigma, ZC1C2)
				case alertevents.EARSC2:
					stat, _ = C2(s, day, r.MinSigma)
					upper, _ = UpperC2(s, day, r.MinSigma, ZC1C2)
					alarm, _ = AlarmC2(s, day, r.MinSigma, ZC1C2)
				case alertevents.EARSC3:
					stat, _ = C3(s, day, r.MinSigma)
					upper, alarm = ZC3, stat > ZC3
				default:
					continue
				}
				if st := clampStat(stat); all.Statistic != st || all.Threshold != upper || all.Alarm != alarm || all.Observed != s[day] {
					t.Fatalf("%s day %d: Apply %+v; package: statistic %g, bound %g, alarm %v", r.Method, day, all, st, upper, alarm)
				}
			}
		}
	}
}

// BenchmarkApply is one evaluation per method on a window of Span days.
func BenchmarkApply(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range rules {
		w := poissonSeries(rng, Span(r), 3)
		b.Run(r.Method, func(b *testing.B) {
			var n int
			for b.Loop() {
				if Apply(r, w).Alarm {
					n++
				}
			}
			_ = n
		})
	}
}

// windowFrom fills buf with the span days ending with day t from a sparse
// day → count map (absent days are 0), as an engine keeping per-series
// counts does for each new report.
func windowFrom(m map[int]float64, t, span int, buf []float64) []float64 {
	buf = buf[:span]
	for i := range buf {
		buf[i] = m[t-span+1+i]
	}
	return buf
}

// BenchmarkApplyHistory is what the engine does per new report: build the
// window of Span days from the series' sparse map of day → count and
// Apply the rule. The map holds 30 days, a year or three years of history
// (Poisson(2) days, zero days absent); the cost depends on Span, not on
// the history.
func BenchmarkApplyHistory(b *testing.B) {
	const series = 64 // distinct maps, visited in turn, as many series would be
	for _, r := range []alertevents.Rule{{Method: alertevents.EARSC3}, {Method: alertevents.Percentile}} {
		for _, hist := range []int{30, 365, 3 * 365} {
			rng := rand.New(rand.NewPCG(3, uint64(hist)))
			maps := make([]map[int]float64, series)
			for i := range maps {
				maps[i] = map[int]float64{}
				for d := range hist {
					if c := poisson(rng, 2); c > 0 {
						maps[i][d] = c
					}
				}
			}
			span := Span(r)
			buf := make([]float64, span)
			b.Run(fmt.Sprintf("%s/history=%dd", r.Method, hist), func(b *testing.B) {
				var n, i int
				for b.Loop() {
					if Apply(r, windowFrom(maps[i%series], hist-1, span, buf)).Alarm {
						n++
					}
					i++
				}
				_ = n
			})
		}
	}
}
