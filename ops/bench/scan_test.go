package bench

import (
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/onebook/onebook/backend/personal"
)

// TestBenchIDNumbers checks the residents' identity numbers against the
// backend's own GB 11643 validation and a known valid number.
func TestBenchIDNumbers(t *testing.T) {
	seen := map[string]bool{}
	for i := range 5000 {
		id := BenchIDNumber(i)
		if _, err := personal.ParseIDNumber(id); err != nil {
			t.Fatalf("BenchIDNumber(%d) = %s: %v", i, id, err)
		}
		if seen[id] {
			t.Fatalf("BenchIDNumber(%d) = %s twice", i, id)
		}
		seen[id] = true
	}
	// A changed check character must be refused: the numbers are valid
	// because of their check character, not in spite of it.
	id := BenchIDNumber(7)
	wrong := id[:17] + map[bool]string{true: "0", false: "1"}[id[17] != '0']
	if _, err := personal.ParseIDNumber(wrong); err == nil {
		t.Errorf("%s (from %s) was accepted", wrong, id)
	}
}

// TestScanQuick runs the scan benchmark at quick sizes against the real
// backend and checks that every figure is reported and positive, and that
// the ledger holds every acknowledged scan. It never judges the figures:
// they depend on the machine.
func TestScanQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the backend on embedded NATS and FerretDB")
	}
	cfg := ScanQuick()
	cfg.TempDir = t.TempDir()
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if testing.Verbose() {
		cfg.Progress = os.Stderr
	}
	rep, err := RunScan(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scan_rate", "raw_publish_rate", "scan_ratio", "scan_p50_ms", "scan_p99_ms", "batch_500_scans_per_s", "batch_500_ms"} {
		v, ok := out[k].(float64)
		if !ok || !(v > 0) {
			t.Errorf("%s = %v, want a positive number", k, out[k])
		}
	}
	// Warm-up, timed scans and batches: every one acknowledged as allowed
	// and found in the ledger, once, at its acknowledged sequence.
	want := 2*cfg.Clients + cfg.Scans + cfg.Batches*ScanBatchSize
	if rep.Acked != want || rep.LedgerConfirmed != want || rep.LedgerScans != want {
		t.Errorf("acknowledged %d, in the ledger %d at their sequence, %d scans at the gate; want %d each", rep.Acked, rep.LedgerConfirmed, rep.LedgerScans, want)
	}
	if rep.EventBytes < 100 {
		t.Errorf("raw messages of %.0f bytes: not the size of a scan event", rep.EventBytes)
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
}
