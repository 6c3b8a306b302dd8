package warning

import (
	"math"
	"slices"
)

// FixedThreshold reports whether count reaches the fixed threshold k:
// count >= k. With k = 1 every case raises an alert, the rule for class A
// diseases and pneumonia of unknown cause.
func FixedThreshold(count, k float64) bool {
	return count >= k
}

// WindowSum returns the sum of counts over the days days ending with day t,
// days t-days+1 .. t. Days before the start of the series count as zero, so
// a short history never hides a cluster. ok is false when t is outside
// counts or days < 1.
func WindowSum(counts []float64, t, days int) (sum float64, ok bool) {
	if t < 0 || t >= len(counts) || days < 1 {
		return 0, false
	}
	for i := max(0, t-days+1); i <= t; i++ {
		sum += counts[i]
	}
	return sum, true
}

// Cluster reports the cluster rule for day t: at least n cases (of one
// symptom group in one district: one series) within the d days ending with
// day t, that is WindowSum(counts, t, d) >= n. It returns that sum too.
func Cluster(counts []float64, t, d int, n float64) (sum float64, alarm, ok bool) {
	sum, ok = WindowSum(counts, t, d)
	return sum, ok && sum >= n, ok
}

// Quantile returns the p-quantile (0 <= p <= 1) of xs by linear
// interpolation between order statistics, R's default quantile type 7
// (Hyndman and Fan, The American Statistician 50(4):361-365, 1996, def. 7):
// with x₍₁₎ <= … <= x₍ₙ₎ the sorted values, h = (n-1)p,
//
//	Q(p) = x₍⌊h⌋+1₎ + (h - ⌊h⌋)(x₍⌊h⌋+2₎ - x₍⌊h⌋+1₎).
//
// It is NaN for an empty xs or p outside [0, 1]. xs is not modified.
func Quantile(xs []float64, p float64) float64 {
	if len(xs) == 0 || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	h := float64(len(s)-1) * p
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// Percentile is the configuration of the moving percentile method of
// China's Infectious Disease Automated-alert and Response System (CIDARS;
// Yang W. et al., "A nationwide web-based automated system for outbreak
// early detection and rapid response in China", Western Pacific
// Surveillance and Response Journal 2(1), 2011).
//
// The current count is the sum of the Period days ending with day t. The
// historical values are the sums of the same Period-day windows in each of
// the Years previous years, for the same period and the HalfWidth periods
// on either side of it: the window ending on day
//
//	t - y·YearLen + j·Period,  y = 1..Years, j = -HalfWidth..HalfWidth,
//
// Years·(2·HalfWidth+1) values in all. The alert threshold is the P-quantile
// of those values (Quantile, R type 7), and the rule alarms when the current
// count is strictly greater than it.
//
// Published CIDARS descriptions differ in the width: 3 years × the current
// and two adjacent weeks (HalfWidth 1, 9 values) as in onebook's issue,
// "the same, the previous two and the following two periods" (HalfWidth 2,
// 15 values), or 5 weeks × 5 years; P is chosen per disease, commonly P50
// or P80. All are parameters here.
type Percentile struct {
	Period    int     // days in a period, 7
	Years     int     // previous years, 3
	HalfWidth int     // periods on each side of the same period, 1
	YearLen   int     // days in a year; 364 (52 weeks) keeps weekdays aligned
	P         float64 // quantile, e.g. 0.5 (P50) or 0.8 (P80)
}

// CIDARS is the moving percentile configuration onebook uses by default:
// 7-day periods, 3 years, the same week and one week each side (9 values),
// 52-week years, P50.
var CIDARS = Percentile{Period: 7, Years: 3, HalfWidth: 1, YearLen: 364, P: 0.5}

func (c Percentile) valid() bool {
	return c.Period >= 1 && c.Years >= 1 && c.HalfWidth >= 0 &&
		c.HalfWidth*c.Period < c.YearLen && c.P >= 0 && c.P <= 1
}

// History returns the Years·(2·HalfWidth+1) historical period counts for
// day t, oldest year first. ok is false when the configuration is invalid
// or the earliest window starts before the series.
func (c Percentile) History(counts []float64, t int) (hist []float64, ok bool) {
	if !c.valid() || t >= len(counts) ||
		t-c.Years*c.YearLen-c.HalfWidth*c.Period-c.Period+1 < 0 {
		return nil, false
	}
	hist = make([]float64, 0, c.Years*(2*c.HalfWidth+1))
	for y := c.Years; y >= 1; y-- {
		for j := -c.HalfWidth; j <= c.HalfWidth; j++ {
			s, _ := WindowSum(counts, t-y*c.YearLen+j*c.Period, c.Period)
			hist = append(hist, s)
		}
	}
	return hist, true
}

// Evaluate applies the moving percentile method to day t: it returns the
// current period's count, the threshold (the P-quantile of History) and
// whether current > threshold.
func (c Percentile) Evaluate(counts []float64, t int) (current, threshold float64, alarm, ok bool) {
	hist, ok := c.History(counts, t)
	if !ok {
		return 0, 0, false, false
	}
	current, _ = WindowSum(counts, t, c.Period)
	threshold = Quantile(hist, c.P)
	return current, threshold, current > threshold, true
}
