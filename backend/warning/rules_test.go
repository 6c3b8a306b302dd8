package warning

import (
	"math"
	"testing"
)

func TestFixedThreshold(t *testing.T) {
	if FixedThreshold(0, 1) || !FixedThreshold(1, 1) || !FixedThreshold(3, 2) || FixedThreshold(4, 5) {
		t.Fatal("FixedThreshold is not count >= k")
	}
}

func TestCluster(t *testing.T) {
	c := []float64{1, 0, 2, 0, 0, 3, 1}
	// Days 4..6: 0 + 3 + 1 = 4 >= 4.
	if s, a, ok := Cluster(c, 6, 3, 4); s != 4 || !a || !ok {
		t.Errorf("Cluster(6, 3 days, 4) = %g, %v, %v", s, a, ok)
	}
	// Days 3..5: 0 + 0 + 3 = 3 < 4.
	if s, a, ok := Cluster(c, 5, 3, 4); s != 3 || a || !ok {
		t.Errorf("Cluster(5, 3 days, 4) = %g, %v, %v", s, a, ok)
	}
	// A window reaching before day 0 counts the missing days as 0: days 0..1 = 1.
	if s, a, ok := Cluster(c, 1, 5, 1); s != 1 || !a || !ok {
		t.Errorf("Cluster(1, 5 days, 1) = %g, %v, %v", s, a, ok)
	}
	for _, bad := range [][2]int{{-1, 3}, {7, 3}, {3, 0}} {
		if _, a, ok := Cluster(c, bad[0], bad[1], 1); a || ok {
			t.Errorf("Cluster(%d, %d) ok", bad[0], bad[1])
		}
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{7, 1, 3, 9, 5} // sorted 1 3 5 7 9
	for _, tt := range []struct{ p, want float64 }{
		{0, 1}, {1, 9}, {0.5, 5},
		{0.8, 7.4}, // h = 4·0.8 = 3.2: 7 + 0.2·(9-7)
		{0.25, 3},  // h = 1
		{0.1, 1.8}, // h = 0.4: 1 + 0.4·2
	} {
		if got := Quantile(xs, tt.p); !near(got, tt.want) {
			t.Errorf("Quantile(%g) = %g, want %g", tt.p, got, tt.want)
		}
	}
	if xs[0] != 7 {
		t.Error("Quantile sorted its argument")
	}
	// Type 7, as R's quantile(c(62, 70, 75, 66, 71, 80, 68, 73, 69), 0.8) by hand:
	// sorted 62 66 68 69 70 71 73 75 80, h = 8·0.8 = 6.4, 73 + 0.4·(75-73).
	if got := Quantile([]float64{62, 70, 75, 66, 71, 80, 68, 73, 69}, 0.8); !near(got, 73.8) {
		t.Errorf("Quantile P80 of nine = %g, want 73.8", got)
	}
	if !math.IsNaN(Quantile(nil, 0.5)) || !math.IsNaN(Quantile(xs, 1.5)) || !math.IsNaN(Quantile(xs, math.NaN())) {
		t.Error("Quantile of bad input is not NaN")
	}
}

// TestPercentileKnown builds a series whose only non-zero days are the last
// day of each historical window, so each historical sum is that day's count.
func TestPercentileKnown(t *testing.T) {
	c := CIDARS
	c.P = 0.8
	n := 3*364 + 7 + 7 // the earliest window starts on day 0
	counts := make([]float64, n)
	day := n - 1
	vals := []float64{62, 70, 75, 66, 71, 80, 68, 73, 69} // P80 = 73.8
	k := 0
	for y := 3; y >= 1; y-- {
		for j := -1; j <= 1; j++ {
			counts[day-y*364+j*7] = vals[k]
			k++
		}
	}
	hist, ok := c.History(counts, day)
	if !ok || len(hist) != 9 {
		t.Fatalf("History = %v, %v", hist, ok)
	}
	for i := range vals {
		if hist[i] != vals[i] {
			t.Fatalf("History = %v, want %v", hist, vals)
		}
	}
	// Current week: 73 on day t, 1 on day t-6: 74 > 73.8.
	counts[day], counts[day-6] = 73, 1
	cur, thr, alarm, ok := c.Evaluate(counts, day)
	if !ok || cur != 74 || !near(thr, 73.8) || !alarm {
		t.Errorf("Evaluate = %g, %g, %v, %v; want 74, 73.8, true", cur, thr, alarm, ok)
	}
	counts[day-6] = 0 // 73 <= 73.8
	if _, _, alarm, _ := c.Evaluate(counts, day); alarm {
		t.Error("73 > 73.8")
	}
	// One day less history: the earliest window (3 years and 1 week back) is cut.
	if _, ok := c.History(counts[1:], day-1); ok {
		t.Error("History ok without enough history")
	}
	bad := c
	bad.HalfWidth = 52
	if _, ok := bad.History(counts, day); ok {
		t.Error("History ok with HalfWidth 52")
	}
}
