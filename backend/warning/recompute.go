package warning

import "math"

// Stats holds the EARS statistics of one day: C1, C2 and C3 as C1, C2 and
// C3 return them, each with its ok.
type Stats struct {
	C1, C2, C3    float64
	OK1, OK2, OK3 bool
}

// RecomputeEARS computes C1, C2 and C3 of every day of counts in one pass:
// out[i] receives day i's statistics, equal (to rounding) to C1(counts, i,
// minSigma), C2(counts, i, minSigma) and C3(counts, i, minSigma). Days
// without enough history (i < 7, 9, 11), and every day when minSigma is
// negative or NaN, have a zero statistic and ok false. out must be at
// least as long as counts; it panics otherwise.
//
// The cost is O(len(counts)): the mean and standard deviation of the
// 7-day window ending on each day come from a rolling sum and sum of
// squares, and C1(i) and C2(i) share them (C1 uses the window ending on
// day i-1, C2 the one ending on day i-3). For whole-number counts, as the
// package expects, the rolling sums are exact and S² = (7·Σx² − (Σx)²)/42
// is computed from exact integers (while 7·Σx² stays below 2⁵³, i.e. for
// daily counts below 10⁷), so a constant baseline has S = 0 exactly, as in
// the two-pass computation. Fractional counts accumulate rounding in the
// running sums.
func RecomputeEARS(counts []float64, minSigma float64, out []Stats) {
	out = out[:len(counts)] // panics when out is too short
	if minSigma < 0 || math.IsNaN(minSigma) {
		clear(out)
		return
	}
	// win[d%3] is the mean and σ of the window of days d-6..d, for the
	// three days before the current one.
	type meanSigma struct{ mean, sigma float64 }
	var win [3]meanSigma
	var sum, sq float64 // over days max(0, i-7) .. i-1 before day i's turn
	var e1, e2 float64  // max(0, C2 - 1) of the two previous days
	for i, y := range counts {
		s := Stats{}
		if i >= Baseline { // window ending on i-1
			w := win[(i-1)%3]
			s.C1, s.OK1 = stat(y, w.mean, w.sigma), true
		}
		if i >= Baseline+2 { // window ending on i-3
			w := win[i%3]
			s.C2, s.OK2 = stat(y, w.mean, w.sigma), true
		}
		if i >= Baseline+4 {
			// The order of C3's sum: days i-2, i-1, i.
			s.C3, s.OK3 = e2+e1+max(0, s.C2-1), true
		}
		out[i] = s
		e2, e1 = e1, max(0, s.C2-1)

		// The window ending on day i.
		sum += y
		sq += y * y
		if i >= Baseline {
			old := counts[i-Baseline]
			sum -= old
			sq -= old * old
		}
		if i >= Baseline-1 {
			const n = Baseline
			v := (n*sq - sum*sum) / (n * (n - 1))
			win[i%3] = meanSigma{sum / n, max(math.Sqrt(max(v, 0)), minSigma)}
		}
	}
}
