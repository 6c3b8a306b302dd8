package loopback

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEphemeralStart(t *testing.T) {
	tests := []struct {
		text string
		want int
		ok   bool
	}{
		{"32768\t60999\n", 32768, true},
		{"1024 65535", 1024, true},
		{"", 0, false},
		{"60999 32768", 0, false},
		{"0 100", 0, false},
		{"x y", 0, false},
	}
	for _, tt := range tests {
		f := filepath.Join(t.TempDir(), "range")
		if err := os.WriteFile(f, []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ephemeralStart(f)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%q: %d, %v; want %d, ok %v", tt.text, got, err, tt.want, tt.ok)
		}
	}
}

func TestPortsAreFreeDistinctAndBelowTheEphemeralRange(t *testing.T) {
	ps, err := Ports(20)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi, ranged := belowEphemeral()
	seen := map[int]bool{}
	for _, p := range ps {
		if seen[p] {
			t.Errorf("port %d twice", p)
		}
		seen[p] = true
		if ranged && (p < lo || p >= hi) {
			t.Errorf("port %d outside [%d, %d)", p, lo, hi)
		}
	}
}
