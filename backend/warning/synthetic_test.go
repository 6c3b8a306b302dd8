package warning

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/onebook/onebook/events/alertevents"
)

// poisson draws from Poisson(mean) by Knuth's method (The Art of Computer
// Programming vol. 2, 3.4.1): multiply uniforms until the product falls
// below e^-mean. Fine for the small means used here.
func poisson(r *rand.Rand, mean float64) float64 {
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func poissonSeries(r *rand.Rand, n int, mean float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = poisson(r, mean)
	}
	return s
}

type alarmFunc func([]float64, int, float64, float64) (bool, bool)

// engineC3 is C3 as the early-warning engine applies it (Apply with an
// ears_c3 rule: the documented rule C3(t) > z), for day t of s.
func engineC3(s []float64, t int, minSigma, z float64) (bool, bool) {
	r := Apply(alertevents.Rule{Method: alertevents.EARSC3, Z: z, MinSigma: minSigma}, s[:t+1])
	return r.Alarm, r.OK
}

// rate is the share of assessable days of the series that alarm.
func rate(series [][]float64, f alarmFunc, minSigma, z float64) (alarms, days int) {
	for _, s := range series {
		for t := range s {
			if a, ok := f(s, t, minSigma, z); ok {
				days++
				if a {
					alarms++
				}
			}
		}
	}
	return alarms, days
}

// t6Upper is P(T > x) for Student's t with 6 degrees of freedom, from the
// closed form for even degrees of freedom (Abramowitz and Stegun 26.7.3):
// with θ = atan(x/√6), P(T <= x) = 1/2 + 1/2·sin θ·(1 + cos²θ/2 + 3cos⁴θ/8).
func t6Upper(x float64) float64 {
	th := math.Atan(x / math.Sqrt(6))
	c2 := math.Cos(th) * math.Cos(th)
	return 0.5 - 0.5*math.Sin(th)*(1+c2/2+3*c2*c2/8)
}

// TestFalseAlarmRate runs the EARS rules over steady Poisson series and
// compares the share of alarming days with what the method predicts.
//
// For C1 and C2 the prediction under the method's own model (independent
// normal days): Y(t) - Ȳ has variance σ²(1 + 1/7) and is independent of S,
// so C = (Y - Ȳ)/S ~ √(8/7)·T₆ and P(C > z) = P(T₆ > z/√(8/7)). For
// z = 3.0902 that is about 0.0138, fourteen times the nominal alpha 0.001:
// seven baseline days estimate S poorly.
//
// For C3 (earsC's rule: σ > 0, L > z, Y > 0) no closed form is at hand, so
// the prediction is the same rule's rate on independent normal days with
// the same mean and variance, estimated by simulation. The same goes for
// the documented rule C3 > z that the engine applies (Apply): it counts the
// day's own excess too, so it alarms more often (and catches outbreaks a
// day sooner, see TestOutbreakDetection).
//
// The bounds are loose on purpose: a Poisson(20) day is skewed and
// discrete, and alarms on neighbouring days share baseline days, so the
// spread is wider than binomial. With about 73,000 assessed days and rates
// near 0.01-0.03, the binomial standard error is under 4% of the rate; the
// bounds allow 0.6 to 1.6 times the prediction.
func TestFalseAlarmRate(t *testing.T) {
	const (
		mean   = 20.0
		series = 200
		days   = 365
	)
	r := rand.New(rand.NewPCG(1, 2))
	pois := make([][]float64, series)
	norm := make([][]float64, series)
	for i := range pois {
		pois[i] = poissonSeries(r, days, mean)
		norm[i] = make([]float64, days)
		for j := range norm[i] {
			norm[i][j] = mean + math.Sqrt(mean)*r.NormFloat64()
		}
	}
	predicted12 := t6Upper(ZC1C2 / math.Sqrt(8.0/7))
	for _, tt := range []struct {
		name string
		f    alarmFunc
		z    float64
	}{{"C1", AlarmC1, ZC1C2}, {"C2", AlarmC2, ZC1C2}, {"C3", AlarmC3, ZC3}, {"C3 > z (the engine's rule)", engineC3, ZC3}} {
		a, n := rate(pois, tt.f, 0, tt.z)
		got := float64(a) / float64(n)
		pred := predicted12
		if strings.HasPrefix(tt.name, "C3") {
			na, nn := rate(norm, tt.f, 0, tt.z)
			pred = float64(na) / float64(nn)
		}
		t.Logf("%s on Poisson(%g), z %.4f: %d alarms in %d days, rate %.4f; predicted %.4f", tt.name, mean, tt.z, a, n, got, pred)
		if got < 0.6*pred || got > 1.6*pred {
			t.Errorf("%s false-alarm rate %.4f, predicted %.4f", tt.name, got, pred)
		}
	}
}

// TestPercentileFalseAlarmRate: on a steady series the current period and
// the nine historical ones are exchangeable, so for continuous values
// current > median of nine (P50, the 5th of 9) has probability 5/10. Ties
// between weekly Poisson(70) sums make the strict rule fire slightly less.
// For P80, h = 6.4 lies between the 7th and 8th of nine: the probability is
// between P(rank 9 or 10 of 10) = 0.2 and P(rank 8..10) = 0.3.
func TestPercentileFalseAlarmRate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var s [][]float64
	for range 20 {
		s = append(s, poissonSeries(r, 4*364, 10))
	}
	for _, tt := range []struct {
		p, lo, hi float64
	}{{0.5, 0.42, 0.52}, {0.8, 0.18, 0.32}} {
		c := CIDARS
		c.P = tt.p
		a, n := 0, 0
		for _, x := range s {
			for t := 3*364 + 14; t < len(x); t += 7 {
				_, _, alarm, ok := c.Evaluate(x, t)
				if ok {
					n++
					if alarm {
						a++
					}
				}
			}
		}
		got := float64(a) / float64(n)
		t.Logf("moving percentile P%.0f on Poisson(10) days: %d alarms in %d weeks, rate %.3f", 100*tt.p, a, n, got)
		if got < tt.lo || got > tt.hi {
			t.Errorf("P%.0f rate %.3f outside [%g, %g]", 100*tt.p, got, tt.lo, tt.hi)
		}
	}
}

// TestOutbreakDetection injects outbreaks into steady Poisson(10) series:
// from day s on, 7 days with Poisson(15) extra cases each (2.5 times the
// baseline). It measures the delay from s to the first alarm.
//
// Expected: for C1 and C2 the bound on day s is about 10 + 3.09·√10 ≈ 19.8
// cases, and Y(s) ~ Poisson(25) exceeds that with probability about 0.85,
// so most outbreaks alarm on their first day; C2's guard band keeps the
// first outbreak days out of its baseline, so it keeps alarming later
// while C1's baseline absorbs the outbreak. earsC's C3 rule needs the two
// previous days' excesses (L > 1.96), so an alarm on day s itself is a
// baseline false alarm (rate about 0.04, see TestFalseAlarmRate); it
// typically alarms on day s+1 or s+2.
//
// The shares asserted sit a few binomial standard errors (about 0.016 for
// 300 outbreaks) below the measured ones.
func TestOutbreakDetection(t *testing.T) {
	const (
		outbreaks = 300
		extra     = 15.0
		length    = 7
	)
	r := rand.New(rand.NewPCG(5, 6))
	for _, tt := range []struct {
		name     string
		f        alarmFunc
		z        float64
		maxDelay int     // days after s by which ...
		share    float64 // ... at least this share must have alarmed
	}{
		{"C1", AlarmC1, ZC1C2, 2, 0.85},
		{"C2", AlarmC2, ZC1C2, 2, 0.9},
		{"C3", AlarmC3, ZC3, 3, 0.9},
		{"C3 > z (the engine's rule)", engineC3, ZC3, 3, 0.9},
	} {
		var delays []int
		missed := 0
		for range outbreaks {
			s := poissonSeries(r, 60, 10)
			start := 40
			for d := start; d < start+length; d++ {
				s[d] += poisson(r, extra)
			}
			delay := -1
			for d := start; d < start+length; d++ {
				if a, _ := tt.f(s, d, 0, tt.z); a {
					delay = d - start
					break
				}
			}
			if delay < 0 {
				missed++
				continue
			}
			delays = append(delays, delay)
		}
		slices.Sort(delays)
		within := 0
		for _, d := range delays {
			if d <= tt.maxDelay {
				within++
			}
		}
		hist := make([]int, length)
		for _, d := range delays {
			hist[d]++
		}
		median := -1
		if len(delays) > 0 {
			median = delays[len(delays)/2]
		}
		t.Logf("%s: %d outbreaks, missed %d, median delay %d days (among detected), delays 0..6: %v, within %d days: %.3f",
			tt.name, outbreaks, missed, median, hist, tt.maxDelay, float64(within)/outbreaks)
		if float64(within)/outbreaks < tt.share {
			t.Errorf("%s: %.3f of outbreaks caught within %d days, want >= %g", tt.name, float64(within)/outbreaks, tt.maxDelay, tt.share)
		}
	}
}

// BenchmarkC3 evaluates earsC's C3 alarm for every day of one district ×
// symptom group × 365 days.
func BenchmarkC3(b *testing.B) {
	s := poissonSeries(rand.New(rand.NewPCG(7, 8)), 365, 10)
	n := 0
	for b.Loop() {
		for t := range s {
			if a, _ := AlarmC3(s, t, 0, ZC3); a {
				n++
			}
		}
	}
	_ = n
}

// TestAlarmEquivalences checks on random series the rewritings documented
// in ears.go: AlarmC1 is C1(t) > z when S > 0, and earsC's C3 alarm is
// exactly σ₂(t) > 0 ∧ L > z ∧ Y(t) > 0.
func TestAlarmEquivalences(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 200 {
		s := poissonSeries(r, 60, 0.5+5*r.Float64())
		for d := 11; d < len(s); d++ {
			c1, _ := C1(s, d, 0.5)
			if a, _ := AlarmC1(s, d, 0.5, ZC1C2); a != (c1 > ZC1C2) {
				t.Fatalf("AlarmC1 %v, C1 %g, series %v day %d", a, c1, s, d)
			}
			var lags float64
			for i := d - 2; i < d; i++ {
				c2, _ := C2(s, i, 0.5)
				lags += math.Max(0, c2-1)
			}
			_, sigma, _ := window(s, d, 3, 0.5)
			want := sigma > 0 && lags > ZC3 && s[d] > 0
			if a, _ := AlarmC3(s, d, 0.5, ZC3); a != want {
				t.Fatalf("AlarmC3 %v, L %g, σ %g, Y %g, series %v day %d", a, lags, sigma, s[d], s, d)
			}
		}
	}
}
