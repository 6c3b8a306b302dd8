package main

import (
	"strings"
	"testing"
)

func TestQuorumProblem(t *testing.T) {
	ws := []WitnessStatus{{Name: "a", CosignedLatest: true}, {Name: "b"}, {Name: "c", CosignedLatest: true}}
	tests := []struct {
		k       int
		ok      bool
		missing string
	}{
		{0, true, ""},
		{1, true, ""},
		{2, true, ""},
		{3, false, "missing: b"},
		{4, false, "missing: b"},
	}
	for _, tt := range tests {
		p := quorumProblem(ws, tt.k, 7)
		if (p == "") != tt.ok || !strings.Contains(p, tt.missing) {
			t.Errorf("k=%d: %q", tt.k, p)
		}
	}
	if p := quorumProblem(nil, 1, 7); !strings.Contains(p, "0 of the 1") {
		t.Errorf("no witnesses: %q", p)
	}
}
