package warning

import (
	"math"
	"testing"
)

// kat is the hand-worked series of the known-answer tests. Days 0..9 repeat
// the pattern 2 4 3 5 1 3 3, so every 7-day window inside them holds the
// same values {1, 2, 3, 3, 3, 4, 5}:
//
//	sum 21, mean Ȳ = 3
//	deviations -2 -1 0 0 0 1 2, squares 4 1 0 0 0 1 4, sum 10
//	S² = 10/6 = 5/3, S = √(5/3) = 1.2909944487358056
//
// Days 10, 11, 12 rise to 5, 7, 8.
var kat = []float64{2, 4, 3, 5, 1, 3, 3, 2, 4, 3, 5, 7, 8}

const (
	sKAT = 1.2909944487358056 // √(5/3)
	eps  = 1e-12
)

func near(a, b float64) bool {
	return math.Abs(a-b) <= eps*math.Max(1, math.Abs(b))
}

func TestZ(t *testing.T) {
	// R: qnorm(0.999) = 3.090232306167813, qnorm(0.975) = 1.959963984540054.
	if !near(ZC1C2, 3.090232306167813) || !near(ZC3, 1.959963984540054) {
		t.Fatalf("ZC1C2 = %.15g, ZC3 = %.15g", ZC1C2, ZC3)
	}
	if z := Z(0.5); math.Abs(z) > eps {
		t.Fatalf("Z(0.5) = %g", z)
	}
}

func TestKnownAnswers(t *testing.T) {
	tests := []struct {
		name string
		f    func([]float64, int, float64) (float64, bool)
		t    int
		want float64
	}{
		// C1(7): days 0..6, Ȳ 3, S √(5/3); Y(7) = 2: (2-3)/S = -0.7745966692414834.
		{"C1", C1, 7, -1 / sKAT},
		// C1(10): days 3..9 = 5 1 3 3 2 4 3, Ȳ 3, S √(5/3); Y = 5: 2/S = 1.5491933384829668.
		{"C1", C1, 10, 2 / sKAT},
		// C1(11): days 4..10 = 1 3 3 2 4 3 5, same values; Y = 7: 4/S = 3.0983866769659336.
		{"C1", C1, 11, 4 / sKAT},
		// C2(9): days 0..6 (guard band 7, 8); Y = 3: 0.
		{"C2", C2, 9, 0},
		// C2(10): days 1..7; Y = 5: 2/S = 1.5491933384829668.
		{"C2", C2, 10, 2 / sKAT},
		// C2(11): days 2..8; Y = 7: 4/S = 3.0983866769659336.
		{"C2", C2, 11, 4 / sKAT},
		// C2(12): days 3..9; Y = 8: 5/S = 3.872983346207417.
		{"C2", C2, 12, 5 / sKAT},
		// C3(11) = max(0, C2(9)-1) + max(0, C2(10)-1) + max(0, C2(11)-1)
		//        = 0 + 0.5491933384829668 + 2.0983866769659336 = 2.6475800154489004.
		{"C3", C3, 11, 6/sKAT - 2},
		// C3(12) = 0.5491933384829668 + 2.0983866769659336 + 2.872983346207417
		//        = 11/S - 3 = 5.520563361656318.
		{"C3", C3, 12, 11/sKAT - 3},
	}
	for _, tt := range tests {
		got, ok := tt.f(kat, tt.t, 0)
		if !ok || !near(got, tt.want) {
			t.Errorf("%s(kat, %d) = %.16g, %v; want %.16g", tt.name, tt.t, got, ok, tt.want)
		}
	}
}

func TestKnownUpperbounds(t *testing.T) {
	z1, z3 := ZC1C2, ZC3
	tests := []struct {
		name      string
		f         func([]float64, int, float64, float64) (float64, bool)
		alarm     func([]float64, int, float64, float64) (bool, bool)
		t         int
		z         float64
		want      float64
		wantAlarm bool
	}{
		// U1(10) = 3 + 3.090232306167813·1.2909944487358056 = 6.989472752566693; Y 5: no alarm.
		{"C1", UpperC1, AlarmC1, 10, z1, 3 + z1*sKAT, false},
		// U1(11): the same bound; Y 7 > 6.989…: alarm, C1(11) = 3.0984 > 3.0902.
		{"C1", UpperC1, AlarmC1, 11, z1, 3 + z1*sKAT, true},
		// U2(11) = 6.989472752566693; Y 7: alarm.
		{"C2", UpperC2, AlarmC2, 11, z1, 3 + z1*sKAT, true},
		// U3(11): L = max(0, C2(9)-1) + max(0, C2(10)-1) = 0 + 0.5491933384829668;
		// U = 7 + S·(1.959963984540054 - 0.5491933384829668) = 8.821297072499124;
		// Y 7: no alarm, although C3(11) = 2.6476 >= 1.96 (see UpperC3).
		{"C3", UpperC3, AlarmC3, 11, z3, 7 + sKAT*(z3-(2/sKAT-1)), false},
		// U3(12): L = 0.5491933384829668 + 2.0983866769659336 = 2.6475800154489004;
		// U = 8 + S·(1.959963984540054 - 2.6475800154489004) = 7.112291521234931; Y 8: alarm.
		{"C3", UpperC3, AlarmC3, 12, z3, 8 + sKAT*(z3-(6/sKAT-2)), true},
	}
	for _, tt := range tests {
		got, ok := tt.f(kat, tt.t, 0, tt.z)
		if !ok || !near(got, tt.want) {
			t.Errorf("Upper%s(kat, %d) = %.16g, %v; want %.16g", tt.name, tt.t, got, ok, tt.want)
		}
		if a, ok := tt.alarm(kat, tt.t, 0, tt.z); !ok || a != tt.wantAlarm {
			t.Errorf("Alarm%s(kat, %d) = %v, %v; want %v", tt.name, tt.t, a, ok, tt.wantAlarm)
		}
	}
}

func TestNotEnoughHistory(t *testing.T) {
	for _, tt := range []struct {
		name  string
		f     func([]float64, int, float64) (float64, bool)
		first int
	}{{"C1", C1, 7}, {"C2", C2, 9}, {"C3", C3, 11}} {
		for i := -1; i < tt.first; i++ {
			if s, ok := tt.f(kat, i, 0); ok || s != 0 {
				t.Errorf("%s(kat, %d) = %g, %v; want 0, false", tt.name, i, s, ok)
			}
		}
		if _, ok := tt.f(kat, tt.first, 0); !ok {
			t.Errorf("%s(kat, %d) not ok", tt.name, tt.first)
		}
		if _, ok := tt.f(kat, len(kat), 0); ok {
			t.Errorf("%s(kat, len) ok", tt.name)
		}
		if _, ok := tt.f(kat, tt.first, -1); ok {
			t.Errorf("%s with minSigma -1 ok", tt.name)
		}
	}
	for i := range 11 {
		if _, ok := UpperC3(kat, i, 0, ZC3); ok {
			t.Errorf("UpperC3(kat, %d) ok", i)
		}
		if a, ok := AlarmC3(kat, i, 0, ZC3); ok || a {
			t.Errorf("AlarmC3(kat, %d) = %v, %v", i, a, ok)
		}
	}
}

// TestConstantBaseline: with minSigma 0 a constant baseline has S = 0.
// The statistic is +Inf above it, -Inf below it and 0 on it; the bound is
// the constant itself, so any excess alarms. minSigma bounds S from below.
func TestConstantBaseline(t *testing.T) {
	c := func(last float64) []float64 {
		s := []float64{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}
		s[len(s)-1] = last
		return s
	}
	for _, tt := range []struct {
		y, want float64
		alarm   bool
	}{{5, 0, false}, {6, math.Inf(1), true}, {4, math.Inf(-1), false}} {
		s := c(tt.y)
		if got, ok := C1(s, 11, 0); !ok || got != tt.want {
			t.Errorf("C1 constant, Y %g = %g, %v; want %g", tt.y, got, ok, tt.want)
		}
		if got, ok := C2(s, 11, 0); !ok || got != tt.want {
			t.Errorf("C2 constant, Y %g = %g, %v; want %g", tt.y, got, ok, tt.want)
		}
		if u, _ := UpperC1(s, 11, 0, ZC1C2); u != 5 {
			t.Errorf("U1 constant = %g, want 5", u)
		}
		if a, _ := AlarmC1(s, 11, 0, ZC1C2); a != tt.alarm {
			t.Errorf("AlarmC1 constant, Y %g = %v", tt.y, a)
		}
		// C3's lag days equal the baseline: R's C2 is 0/0 = NaN there, the
		// bound NaN and the alarm NA; here no alarm, and the C3 statistic
		// counts only day t's excess.
		if u, ok := UpperC3(s, 11, 0, ZC3); !ok || !math.IsNaN(u) {
			t.Errorf("U3 constant = %g, %v; want NaN", u, ok)
		}
		if a, _ := AlarmC3(s, 11, 0, ZC3); a {
			t.Errorf("AlarmC3 constant, Y %g alarms", tt.y)
		}
		if got, _ := C3(s, 11, 0); got != math.Max(0, tt.want-1) {
			t.Errorf("C3 constant, Y %g = %g", tt.y, got)
		}
	}
	// minSigma 1 (Burkom's suggestion for sparse data): Y 9 on a baseline of
	// 5s: C1 = (9-5)/1 = 4, U1 = 5 + 3.090232306167813 = 8.090232306167813.
	s := c(9)
	if got, _ := C1(s, 11, 1); got != 4 {
		t.Errorf("C1 minSigma 1 = %g, want 4", got)
	}
	if u, _ := UpperC1(s, 11, 1, ZC1C2); !near(u, 5+ZC1C2) {
		t.Errorf("U1 minSigma 1 = %g", u)
	}
	// All zeros then one case: minSigma 0 alarms on the single case, minSigma
	// 0.5 needs more than 0.5·3.09 = 1.55 cases.
	z := make([]float64, 12)
	z[11] = 1
	if a, _ := AlarmC1(z, 11, 0, ZC1C2); !a {
		t.Error("AlarmC1 zeros then 1, minSigma 0: no alarm")
	}
	if a, _ := AlarmC1(z, 11, 0.5, ZC1C2); a {
		t.Error("AlarmC1 zeros then 1, minSigma 0.5: alarm")
	}
	z[11] = 2
	if a, _ := AlarmC1(z, 11, 0.5, ZC1C2); !a {
		t.Error("AlarmC1 zeros then 2, minSigma 0.5: no alarm")
	}
}
