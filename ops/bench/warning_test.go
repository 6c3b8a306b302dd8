package bench

import (
	"log/slog"
	"os"
	"strings"
	"testing"
)

// warningKeys are the warning part's JSON keys, each positive.
var warningKeys = []string{
	"warning_recompute_ratio", "warning_recompute_rate", "warning_raw_rate", "warning_cells",
	"warning_apply_ears_c3_short_ns", "warning_apply_ears_c3_long_ns", "warning_apply_ears_c3_ratio",
	"warning_apply_percentile_short_ns", "warning_apply_percentile_long_ns", "warning_apply_percentile_ratio",
}

// TestWarningQuick runs the warning part alone at tiny sizes (no servers)
// and checks that it reports positive numbers, and only its own. It does
// not judge the figures: they depend on the machine.
func TestWarningQuick(t *testing.T) {
	cfg := Quick()
	cfg.Only = []string{Warning}
	cfg.WarningDistricts, cfg.WarningGroups, cfg.WarningDays, cfg.WarningSamples = 20, 5, 365, 400
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.TempDir = t.TempDir()
	rep, got, b := runReported(t, cfg, warningKeys)
	if got["warning_cells"] != float64(20*5*365) {
		t.Errorf("warning_cells = %v, want %d", got["warning_cells"], 20*5*365)
	}
	for k := range rep.Metrics() {
		if !strings.HasPrefix(k, "warning_") {
			t.Errorf("--only warning reported %s", k)
		}
	}
	if rows, _ := got["results"].([]any); len(rows) != 3 {
		t.Errorf("results has %d rows, want 3: %s", len(rows), b)
	}
	w := rep.Warning
	if len(w.Apply) != 2 || w.Apply[0].Samples != 400 || w.Apply[0].Span != 12 || w.Apply[1].Span != 1106 {
		t.Errorf("apply parts: %+v", w.Apply)
	}
	for _, n := range rep.Notes {
		if strings.Contains(n, "JetStream") {
			t.Errorf("a run without servers notes %q", n)
		}
	}

	cfg.WarningSamples = 0
	if _, err := Run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "warning sizes") {
		t.Errorf("zero samples: err = %v", err)
	}
}
