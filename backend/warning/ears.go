package warning

import "math"

// The EARS methods follow the R package surveillance, function earsC
// (file R/earsC.R and its help page man/earsC.Rd; M. Salmon and H. Burkom,
// after Fricker, Hegler and Dunfee, Statistics in Medicine 27:3407-3429,
// 2008, and Salmon, Schumacher and Höhle, Journal of Statistical Software
// 70(10), 2016). The definitions used here, with surveillance's names:
//
//	baseline  = 7 (control$baseline, the earsC default)
//	Ȳ, S      = mean and sample standard deviation (R's mean and sd,
//	            divisor n-1) of the baseline days
//	σ         = max(S, minSigma) (earsC's pmax(sd, minSigma))
//	C1 days   = t-7 .. t-1 (outer(range, baseline:1, "-"): no guard band)
//	C2 days   = t-9 .. t-3 (outer(range, (baseline+2):3, "-"): two-day guard band)
//	C1(t), C2(t) = (Y(t) - Ȳ) / σ over their days
//	C3(t)     = Σ_{i=t-2}^{t} max(0, C2(i) - 1)   (man/earsC.Rd)
//
// The first day each method can assess is the one with index baseline,
// baseline+2 and baseline+4 (0-based; earsC's default range starts at
// baseline+1, +3, +5 in R's 1-based indexing).

// Baseline is the number of baseline days, earsC's default control$baseline.
const Baseline = 7

// Default significance levels of earsC. When control$alpha is NULL, earsC
// takes 0.001 for C1 and C2 and 0.025 for C3 ("the choices made at the
// CDC", man/earsC.Rd). Note that earsC's formal default control list sets
// alpha = 0.001, so the 0.025 for C3 applies only when a control list
// without alpha is passed, e.g. earsC(sts, control = list(method = "C3")).
const (
	AlphaC1C2 = 0.001
	AlphaC3   = 0.025
)

// Default thresholds: ZC1C2 = Z(AlphaC1C2) = qnorm(0.999) ≈ 3.0902 and
// ZC3 = Z(AlphaC3) = qnorm(0.975) ≈ 1.9600.
var (
	ZC1C2 = Z(AlphaC1C2)
	ZC3   = Z(AlphaC3)
)

// Z returns the upper alpha quantile of the standard normal distribution,
// R's qnorm(1 - alpha), the zAlpha of earsC.
func Z(alpha float64) float64 {
	// qnorm(p) = √2 · erf⁻¹(2p - 1) with p = 1 - alpha.
	return math.Sqrt2 * math.Erfinv(1-2*alpha)
}

// meanSD returns the mean and the sample standard deviation (divisor n-1,
// R's sd) of xs, computed in two passes for accuracy.
func meanSD(xs []float64) (mean, sd float64) {
	n := float64(len(xs))
	for _, x := range xs {
		mean += x
	}
	mean /= n
	var ss float64
	for _, x := range xs {
		d := x - mean
		ss += d * d
	}
	return mean, math.Sqrt(ss / (n - 1))
}

// window returns the mean and σ = max(S, minSigma) of the Baseline days
// ending lag days before t (lag 1 for C1, 3 for C2), or ok == false when
// those days are not all in counts.
func window(counts []float64, t, lag int, minSigma float64) (mean, sigma float64, ok bool) {
	lo, hi := t-lag-Baseline+1, t-lag+1
	if lo < 0 || t >= len(counts) || minSigma < 0 || math.IsNaN(minSigma) {
		return 0, 0, false
	}
	mean, sd := meanSD(counts[lo:hi])
	return mean, math.Max(sd, minSigma), true
}

// zscore is (y - mean) / sigma with R's arithmetic: ±Inf when sigma is 0
// and y differs from the mean, NaN when both are equal.
func zscore(y, mean, sigma float64) float64 {
	return (y - mean) / sigma
}

// stat is zscore with the package's convention for 0/0: a day equal to a
// constant baseline has statistic 0 (no excess), not R's NaN.
func stat(y, mean, sigma float64) float64 {
	if y == mean {
		return 0
	}
	return zscore(y, mean, sigma)
}

// C1 returns the EARS C1 statistic of day t,
//
//	C1(t) = (Y(t) - Ȳ) / max(S, minSigma)
//
// with Ȳ and S the mean and sample standard deviation of days t-7..t-1.
// It needs t >= 7. With a constant baseline and minSigma 0 the divisor is 0:
// the statistic is then +Inf above the baseline, -Inf below it, and 0 equal
// to it (R gives NaN for that 0/0; either way no alarm is raised).
func C1(counts []float64, t int, minSigma float64) (stat float64, ok bool) {
	return cStat(counts, t, 1, minSigma)
}

// C2 returns the EARS C2 statistic of day t: as C1 but over days t-9..t-3,
// leaving a two-day guard band (t-2, t-1) between baseline and day t.
// It needs t >= 9.
func C2(counts []float64, t int, minSigma float64) (stat float64, ok bool) {
	return cStat(counts, t, 3, minSigma)
}

func cStat(counts []float64, t, lag int, minSigma float64) (float64, bool) {
	mean, sigma, ok := window(counts, t, lag, minSigma)
	if !ok {
		return 0, false
	}
	return stat(counts[t], mean, sigma), true
}

// C3 returns the EARS C3 statistic of day t as man/earsC.Rd defines it,
//
//	C3(t) = Σ_{i=t-2}^{t} max(0, C2(i) - 1),
//
// the sum over day t and the two days before it. It needs t >= 11 (C2 of
// day t-2 looks back to day t-11). Note that earsC's alarm for C3 is not
// "C3(t) > z": see UpperC3.
func C3(counts []float64, t int, minSigma float64) (stat float64, ok bool) {
	if t-2-2-Baseline < 0 {
		return 0, false
	}
	for i := t - 2; i <= t; i++ {
		c2, ok := C2(counts, i, minSigma)
		if !ok {
			return 0, false
		}
		stat += math.Max(0, c2-1)
	}
	return stat, true
}

// UpperC1 returns earsC's upperbound for day t under C1,
//
//	U1(t) = Ȳ + z · max(S, minSigma)   (days t-7..t-1),
//
// the largest count of day t that raises no alarm; z is the threshold,
// ZC1C2 by default.
func UpperC1(counts []float64, t int, minSigma, z float64) (upper float64, ok bool) {
	return upper12(counts, t, 1, minSigma, z)
}

// UpperC2 returns earsC's upperbound for day t under C2: as UpperC1 over
// days t-9..t-3.
func UpperC2(counts []float64, t int, minSigma, z float64) (upper float64, ok bool) {
	return upper12(counts, t, 3, minSigma, z)
}

func upper12(counts []float64, t, lag int, minSigma, z float64) (float64, bool) {
	mean, sigma, ok := window(counts, t, lag, minSigma)
	if !ok {
		return 0, false
	}
	return mean + z*sigma, true
}

// UpperC3 returns earsC's upperbound for day t under C3, as R/earsC.R
// computes it:
//
//	L     = max(0, C2(t-2) - 1) + max(0, C2(t-1) - 1)
//	U3(t) = max(0, Y(t) + σ₂(t) · (z - L))
//
// with σ₂(t) = max(S, minSigma) of C2's baseline for day t and z the
// threshold, ZC3 by default. The lag terms use R's arithmetic (NaN for a
// 0/0 statistic), so that a NaN upperbound, which R turns into an NA alarm,
// raises no alarm here either.
//
// This is the code of earsC, and it differs from its help page, which gives
// U3(t) = Ȳ₂(t) + S₂(t) · (z - L). Because the code adds Y(t) itself,
// Y(t) > U3(t) holds exactly when σ₂(t) > 0, L > z and Y(t) > 0: earsC's C3
// alarm depends on the two previous days' excesses and on day t having any
// case at all, not on the size of day t's excess. AlarmC3 reproduces that;
// a caller wanting the textbook rule compares C3(t) with a threshold itself.
func UpperC3(counts []float64, t int, minSigma, z float64) (upper float64, ok bool) {
	if t-2-2-Baseline < 0 || t >= len(counts) {
		return 0, false
	}
	var lags float64
	for i := t - 2; i < t; i++ {
		mean, sigma, ok := window(counts, i, 3, minSigma)
		if !ok {
			return 0, false
		}
		lags += rmax0(zscore(counts[i], mean, sigma) - 1)
	}
	_, sigma, ok := window(counts, t, 3, minSigma)
	if !ok {
		return 0, false
	}
	return rmax0(counts[t] + sigma*(z-lags)), true
}

// rmax0 is R's pmax(0, x): NaN stays NaN.
func rmax0(x float64) float64 {
	if math.IsNaN(x) {
		return x
	}
	return math.Max(0, x)
}

// AlarmC1 reports whether earsC raises a C1 alarm on day t: Y(t) > U1(t)
// (strictly greater, as sts@alarm is computed in earsC). Use z = ZC1C2 for
// earsC's default.
func AlarmC1(counts []float64, t int, minSigma, z float64) (alarm, ok bool) {
	u, ok := UpperC1(counts, t, minSigma, z)
	return ok && counts[t] > u, ok
}

// AlarmC2 reports whether earsC raises a C2 alarm on day t: Y(t) > U2(t).
// Use z = ZC1C2 for earsC's default.
func AlarmC2(counts []float64, t int, minSigma, z float64) (alarm, ok bool) {
	u, ok := UpperC2(counts, t, minSigma, z)
	return ok && counts[t] > u, ok
}

// AlarmC3 reports whether earsC raises a C3 alarm on day t: Y(t) > U3(t),
// see UpperC3 for what that means. Use z = ZC3 for earsC's default.
func AlarmC3(counts []float64, t int, minSigma, z float64) (alarm, ok bool) {
	u, ok := UpperC3(counts, t, minSigma, z)
	return ok && counts[t] > u, ok
}
