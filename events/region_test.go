package events

import "testing"

func TestParseRegion(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"11", true}, {"1101", true}, {"110105", true}, {"110105001", true}, {"110105001001", true},
		{"", false}, {"1", false}, {"11010", false}, {"11010500100", false}, {"1101a5", false}, {"00", false},
	}
	for _, tt := range tests {
		_, err := ParseRegion(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseRegion(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestRegionCoversAndParent(t *testing.T) {
	tests := []struct {
		scope, r Region
		covers   bool
	}{
		{"11", "110105001001", true},
		{"110105", "110105001001", true},
		{"110105", "110106001001", false},
		{"110105001001", "110105001001", true},
		{"110105001001", "110105", false},
		{"", "11", false},
	}
	for _, tt := range tests {
		if got := tt.scope.Covers(tt.r); got != tt.covers {
			t.Errorf("%q.Covers(%q) = %v", tt.scope, tt.r, got)
		}
	}
	for r, want := range map[Region]Region{"110105001001": "110105001", "110105001": "110105", "110105": "1101", "1101": "11", "11": ""} {
		if got := r.Parent(); got != want {
			t.Errorf("%q.Parent() = %q, want %q", r, got, want)
		}
	}
}
