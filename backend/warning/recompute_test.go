package warning

import (
	"math"
	"math/rand/v2"
	"testing"
)

// checkRecompute compares RecomputeEARS with C1, C2 and C3 day by day.
func checkRecompute(t *testing.T, name string, counts []float64, minSigma float64) {
	t.Helper()
	out := make([]Stats, len(counts)+1)
	out[len(counts)] = Stats{C1: 42} // beyond counts: untouched
	RecomputeEARS(counts, minSigma, out)
	same := func(a, b float64) bool {
		if math.IsInf(b, 0) || a == b {
			return a == b
		}
		return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
	}
	for i := range counts {
		c1, ok1 := C1(counts, i, minSigma)
		c2, ok2 := C2(counts, i, minSigma)
		c3, ok3 := C3(counts, i, minSigma)
		got := out[i]
		if got.OK1 != ok1 || got.OK2 != ok2 || got.OK3 != ok3 || !same(got.C1, c1) || !same(got.C2, c2) || !same(got.C3, c3) {
			t.Fatalf("%s, minSigma %g, day %d: RecomputeEARS %+v; C1 %g %v, C2 %g %v, C3 %g %v",
				name, minSigma, i, got, c1, ok1, c2, ok2, c3, ok3)
		}
	}
	if out[len(counts)] != (Stats{C1: 42}) {
		t.Fatalf("%s: out beyond counts written", name)
	}
}

func TestRecomputeEARSKnown(t *testing.T) {
	out := make([]Stats, len(kat))
	RecomputeEARS(kat, 0, out)
	// TestKnownAnswers' values.
	for _, tt := range []struct {
		day  int
		want Stats
	}{
		{7, Stats{C1: -1 / sKAT, OK1: true}},
		{9, Stats{C1: 0, C2: 0, OK1: true, OK2: true}},
		{11, Stats{C1: 4 / sKAT, C2: 4 / sKAT, C3: 6/sKAT - 2, OK1: true, OK2: true, OK3: true}},
		// C1(12): days 5..11 = 3 3 2 4 3 5 7, Ȳ 27/7, S² = (826/49)/6.
		{12, Stats{C1: (8 - 27.0/7) / math.Sqrt(826.0/294), C2: 5 / sKAT, C3: 11/sKAT - 3, OK1: true, OK2: true, OK3: true}},
	} {
		g := out[tt.day]
		if g.OK1 != tt.want.OK1 || g.OK2 != tt.want.OK2 || g.OK3 != tt.want.OK3 ||
			!near(g.C1, tt.want.C1) || !near(g.C2, tt.want.C2) || !near(g.C3, tt.want.C3) {
			t.Errorf("day %d: %+v, want %+v", tt.day, g, tt.want)
		}
	}
	checkRecompute(t, "kat", kat, 0)
}

func TestRecomputeEARSPoisson(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	for _, mean := range []float64{0.05, 0.5, 3, 20, 200} {
		for range 20 {
			s := poissonSeries(rng, 400, mean)
			for _, ms := range []float64{0, 0.5, 1} {
				checkRecompute(t, "poisson", s, ms)
			}
		}
	}
	// Large whole counts: the rolling sums stay exact.
	s := poissonSeries(rng, 400, 30)
	for i := range s {
		s[i] = s[i]*1e5 + 1e6
	}
	checkRecompute(t, "large", s, 0)
}

func TestRecomputeEARSEdges(t *testing.T) {
	// Constant baselines: ±Inf with minSigma 0, finite with minSigma > 0,
	// 0 on days equal to the baseline.
	for _, last := range []float64{4, 5, 6, 50} {
		for _, ms := range []float64{0, 1} {
			checkRecompute(t, "constant", constant(last), ms)
		}
	}
	// A rise after a constant stretch, then constant again (windows going
	// from σ = 0 to σ > 0 and back), and all zeros with single cases.
	step := make([]float64, 40)
	for i := range step {
		switch {
		case i < 15:
			step[i] = 2
		case i < 18:
			step[i] = 9
		default:
			step[i] = 2
		}
	}
	zeros := make([]float64, 40)
	zeros[12], zeros[25], zeros[26] = 1, 1, 3
	for _, ms := range []float64{0, 0.5} {
		checkRecompute(t, "step", step, ms)
		checkRecompute(t, "zeros", zeros, ms)
	}
	// Short series: every length up to the first C3 day and one past it.
	for n := range 13 {
		checkRecompute(t, "short", kat[:n], 0)
	}
	checkRecompute(t, "empty", nil, 0)
	// A bad minSigma: nothing is ok, as for C1.
	for _, ms := range []float64{-1, math.NaN()} {
		out := make([]Stats, len(kat))
		for i := range out {
			out[i] = Stats{C1: 1, OK1: true}
		}
		RecomputeEARS(kat, ms, out)
		for i, s := range out {
			if s != (Stats{}) {
				t.Fatalf("minSigma %g day %d: %+v", ms, i, s)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("RecomputeEARS with a short out did not panic")
		}
	}()
	RecomputeEARS(kat, 0, make([]Stats, len(kat)-1))
}

// BenchmarkRecomputeEARS compares the one-pass recomputation of a year
// with calling C1, C2 and C3 for each day.
func BenchmarkRecomputeEARS(b *testing.B) {
	s := poissonSeries(rand.New(rand.NewPCG(1, 1)), 365, 3)
	out := make([]Stats, len(s))
	b.Run("RecomputeEARS", func(b *testing.B) {
		for b.Loop() {
			RecomputeEARS(s, 0, out)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(s)), "ns/day")
	})
	b.Run("C1C2C3", func(b *testing.B) {
		for b.Loop() {
			for i := range s {
				out[i].C1, out[i].OK1 = C1(s, i, 0)
				out[i].C2, out[i].OK2 = C2(s, i, 0)
				out[i].C3, out[i].OK3 = C3(s, i, 0)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(s)), "ns/day")
	})
}
