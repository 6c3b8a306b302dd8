package warning

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onebook/onebook/events/alertevents"
)

// FuzzApply applies rules that validate (alertevents.Rule.Validate), built from
// arbitrary parameters, to random windows of daily counts: Apply never panics; without OK the result is
// all zero; with OK its figures are numbers and the statistic is within
// ±MaxStatistic; a window of at least Span(r) days is enough (a rule that
// validates can always be applied) and gives the same result as its last
// Span(r) days.
func FuzzApply(f *testing.F) {
	// method, k, z, min_sigma, p, days, period, years, half_width; then
	// the window: days, seed, scale, share of empty days (of 256).
	f.Add(uint8(0), 1.0, 0.0, 0.0, 0.0, int8(0), int8(0), int8(0), int8(0), uint16(40), uint64(1), uint16(3), uint8(128))
	f.Add(uint8(1), 5.0, 0.0, 0.0, 0.0, int8(3), int8(0), int8(0), int8(0), uint16(40), uint64(2), uint16(3), uint8(128))
	f.Add(uint8(2), 0.0, 0.0, 1.0, 0.0, int8(0), int8(0), int8(0), int8(0), uint16(8), uint64(3), uint16(5), uint8(0))
	f.Add(uint8(3), 0.0, 0.001, 0.0, 0.0, int8(0), int8(0), int8(0), int8(0), uint16(12), uint64(4), uint16(0), uint8(255))
	f.Add(uint8(4), 0.0, 1e6, 0.0, 0.0, int8(0), int8(0), int8(0), int8(0), uint16(300), uint64(5), uint16(50), uint8(20))
	f.Add(uint8(5), 0.0, 0.0, 0.0, 0.5, int8(0), int8(7), int8(3), int8(1), uint16(1200), uint64(6), uint16(4), uint8(100))
	f.Add(uint8(5), 0.0, 0.0, 0.0, 1.0, int8(0), int8(31), int8(5), int8(4), uint16(2000), uint64(7), uint16(9), uint8(10))
	f.Fuzz(func(t *testing.T, method uint8, k, z, minSigma, p float64, days, period, years, halfWidth int8,
		n uint16, seed uint64, scale uint16, sparse uint8) {
		methods := alertevents.Methods()
		r := alertevents.Rule{Method: methods[int(method)%len(methods)], Target: alertevents.TargetGroup, Codes: []string{"respiratory"}, Level: 6,
			K: k, Z: z, MinSigma: minSigma, P: p, Days: int(days), Period: int(period), Years: int(years), HalfWidth: int(halfWidth)}
		if r.Validate() != nil {
			return
		}
		span := Span(r)
		if span < 1 {
			t.Fatalf("Span %d for a valid rule %+v", span, r)
		}
		// A window of up to 2,500 days: counts from 0 to scale, zero on
		// about sparse/256 of the days, with an occasional spike.
		rng := rand.New(rand.NewPCG(seed, uint64(scale)<<8|uint64(sparse)))
		counts := make([]float64, int(n)%2500)
		for i := range counts {
			switch {
			case rng.IntN(256) < int(sparse):
			case rng.IntN(100) == 0:
				counts[i] = float64(scale) * 10
			default:
				counts[i] = float64(rng.IntN(int(scale) + 1))
			}
		}
		res := Apply(r, counts)
		if !res.OK && res != (Result{}) {
			t.Fatalf("%+v on %d days: not OK but %+v", r, len(counts), res)
		}
		for _, v := range []float64{res.Observed, res.Statistic, res.Threshold} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%+v on %d days: %+v", r, len(counts), res)
			}
		}
		if math.Abs(res.Statistic) > MaxStatistic {
			t.Fatalf("statistic beyond ±MaxStatistic: %+v", res)
		}
		if len(counts) >= span {
			if !res.OK {
				t.Fatalf("%+v: %d days (span %d) not enough: %+v", r, len(counts), span, res)
			}
			if last := Apply(r, counts[len(counts)-span:]); last != res {
				t.Fatalf("%+v: whole window %+v, last %d days %+v", r, res, span, last)
			}
		}
	})
}
