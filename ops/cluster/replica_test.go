package cluster

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLogLines(t *testing.T) {
	dir := t.TempDir()
	log := "a projector 1\nb\nc projector 2\nd projector 3\n"
	if err := os.WriteFile(filepath.Join(dir, "w1.log"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Replica{Name: "w1", logDir: dir}
	for _, tt := range []struct {
		n    int
		want []string
	}{
		{2, []string{"c projector 2", "d projector 3"}},
		{5, []string{"a projector 1", "c projector 2", "d projector 3"}},
		{0, []string{}},
	} {
		if got := r.LogLines("projector", tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("LogLines(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	if got := (&Replica{Name: "none", logDir: dir}).LogLines("projector", 3); len(got) != 0 {
		t.Errorf("missing log: %q", got)
	}
}
