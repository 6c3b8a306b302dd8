package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// childEnv makes the test binary act as the verify child, or with a first
// argument export-child as the export child (see TestMain).
const childEnv = "ONEBOOK_BENCH_VERIFY_CHILD"

// TestMain lets the suite re-execute this test binary as the verify child,
// as ops bench re-executes itself.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		child := VerifyChild
		args := os.Args[1:]
		if len(args) > 0 && args[0] == "export-child" {
			child, args = ExportChild, args[1:]
		}
		if err := child(context.Background(), args, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "verify child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// wantKeys are the keys the JSON output must carry, each positive.
var wantKeys = []string{
	"append_ratio", "append_rate", "append_raw_rate",
	"seal_ratio", "seal_rate",
	"verify_ratio", "verify_rate", "verify_raw_rate", "verify_peak_rss_mib", "verify_events",
	"proof_p50_ms", "proof_p99_ms", "proof_verified",
	"project_ratio", "project_rate", "project_raw_rate",
	"warning_recompute_ratio", "warning_apply_ears_c3_ratio", "warning_apply_percentile_ratio",
	"alert_seq_p50_ms", "alert_seq_p99_ms", "alert_seq_raw_p50_ms", "alert_seq_ratio",
	"alert_conc_p50_ms", "alert_conc_p99_ms", "alert_conc_raw_p50_ms", "alert_conc_ratio",
	"alert_history_30d_ns", "alert_history_1095d_ns", "alert_history_2190d_ns", "alert_history_ratio", "alert_history_beyond_ratio",
	"trace_p50_ms", "trace_p99_ms", "trace_raw_p50_ms", "trace_raw_p99_ms", "trace_ratio",
	"trace_http_p50_ms", "trace_http_p99_ms", "trace_http_ratio", "trace_fill_seconds", "trace_seal_seconds",
	"export_rate", "export_peak_rss_mib", "export_bundle_mib", "export_raw_read_rate", "export_raw_csv_rate",
	"export_read_ratio", "export_csv_ratio", "export_verify_rate", "export_verify_peak_rss_mib",
	"export_xlsx_rate", "export_xlsx_peak_rss_mib", "export_xlsx_verify_rate", "export_fill_seconds", "export_seal_seconds",
	"snapshot_ready_without_s", "snapshot_ready_with_s", "snapshot_restore_s", "snapshot_speedup", "snapshot_bytes",
	"witness_append_rate", "witness_seal_rate", "witness_seal_rate_with", "witness_seal_ratio_with", "witness_round_p50_ms",
	"witness_cosigned_poll250ms_p50_ms", "witness_cosigned_poll20ms_p50_ms", "witness_cosigned_poll250ms_covered",
	"group_scans", "group_reps", "group_batch_ms", "group_one_by_one_ms", "group_batch_rate", "group_one_by_one_rate", "group_ratio",
	"partitions_events", "partitions_batch", "partitions_stored_bytes", "partitions_event_bytes", "partitions_tile_bytes",
	"partitions_1_rate", "partitions_1_raw_rate", "partitions_1_ratio", "partitions_2_rate", "partitions_2_raw_rate", "partitions_2_ratio",
	"partitions_4_rate", "partitions_4_raw_rate", "partitions_4_ratio", "partitions_4_scaling", "partitions_4_raw_scaling",
	"partitions_seal_alone_rate", "partitions_seal_parallel_rate", "partitions_seal_scaling", "partitions_fsync_ms", "partitions_s2_ratio",
}

// TestSuiteQuick runs every benchmark at tiny sizes and checks that the
// JSON report has every key with a positive value. It does not check that
// targets are met: that depends on the machine.
func TestSuiteQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts embedded NATS and FerretDB")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Events: 300, ProofLeaves: 1200, ProjectEvents: 200, ProofSamples: 50, Concurrency: 16,
		WarningDistricts: 10, WarningGroups: 5, WarningDays: 365, WarningSamples: 200,
		AlertReports: 40, AlertConcurrency: 4, AlertSamples: 100,
		TraceLeaves: 3000, TraceDonations: 6, TraceSamples: 40,
		ExportRows: 3000, SnapshotEvents: 2000, WitnessCheckpoints: 4, GroupScans: 100, GroupReps: 2,
		PartitionEvents: 400, PartitionBatch: 20, PartitionClients: 8,
		ChildCommand: []string{exe}, ChildEnv: []string{childEnv + "=1"}, ExportChildCommand: []string{exe, "export-child"},
		Log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		TempDir: t.TempDir()}
	rep, got, b := runReported(t, cfg, wantKeys)
	if got["verify_events"] != float64(cfg.ProofLeaves) || got["proof_verified"] != float64(cfg.ProofSamples) {
		t.Errorf("verify_events %v, proof_verified %v; want %d, %d", got["verify_events"], got["proof_verified"], cfg.ProofLeaves, cfg.ProofSamples)
	}
	if got["alert_seq_reports"] != float64(cfg.AlertReports) || got["alert_conc_reports"] != float64(cfg.AlertReports) {
		t.Errorf("alert_seq_reports %v, alert_conc_reports %v; want %d", got["alert_seq_reports"], got["alert_conc_reports"], cfg.AlertReports)
	}
	// Every trace of the trace part is whole and proven: 21 steps, each
	// proof checked (ProofsChecked counts the raw baseline's too).
	tr := rep.Trace
	if tr == nil || tr.Trace.Samples != cfg.TraceSamples || tr.Raw.Samples != cfg.TraceSamples/2 || tr.HTTP.Samples != cfg.TraceSamples/2 {
		t.Fatalf("trace samples: %+v", tr)
	}
	warm := min(traceWarmup, cfg.TraceDonations)
	answers := tr.Trace.Samples + tr.HTTP.Samples + 2*warm // the raw baseline's are not traces
	if proofs := 21 * (answers + tr.Raw.Samples + warm); tr.Verified != answers || tr.ProofsChecked != proofs || tr.Steps != 21 {
		t.Errorf("trace: %d answers verified, %d proofs checked, %d steps; want %d, %d, 21", tr.Verified, tr.ProofsChecked, tr.Steps, answers, proofs)
	}
	if want := uint64(cfg.TraceLeaves + 21*cfg.TraceDonations + tr.Setup); tr.TreeSize != want {
		t.Errorf("trace: tree of %d leaves, want %d", tr.TreeSize, want)
	}
	// The export part's CSV bundles (two of each ledger, clear and
	// sealed) hold every scan (and the XLSX one a tenth), each verified in
	// full.
	csv := ExportRun{Runs: 2, Rows: 2 * int64(cfg.ExportRows), Entries: 2 * int64(cfg.ExportRows)}
	same := func(r ExportRun) bool { return r.Runs == csv.Runs && r.Rows == csv.Rows && r.Entries == csv.Entries }
	if x := rep.Export; x == nil || x.Clear == nil || !same(x.Clear.CSV) || !same(x.Clear.Verify) || !same(x.CSV) || !same(x.Verify) ||
		x.XLSX.Rows != int64(cfg.ExportRows/10) || x.XLSXVerify.Rows != int64(cfg.ExportRows/10) || x.RawReadMsgs != uint64(cfg.ExportRows+x.Gates) {
		t.Errorf("export: %+v", x)
	}
	if rows, _ := got["results"].([]any); len(rows) != 32 { // the export part's sealed ÷ clear rows, fsck, snapshot, the witness part's 4, group and the partitions part's 4 included
		t.Errorf("results has %d rows, want 32: %s", len(rows), b)
	}
	if w := rep.Witness; w == nil || len(w.Latency) != 2 || w.Latency[0].Covered == 0 || w.Latency[1].Covered == 0 || w.Rounds == 0 {
		t.Errorf("witness: %+v", w)
	}
	if got["group_scans"] != float64(cfg.GroupScans) || got["group_reps"] != float64(cfg.GroupReps) {
		t.Errorf("group_scans %v, group_reps %v; want %d, %d", got["group_scans"], got["group_reps"], cfg.GroupScans, cfg.GroupReps)
	}
	if got["snapshot_events"] != float64(cfg.SnapshotEvents) {
		t.Errorf("snapshot_events %v, want %d", got["snapshot_events"], cfg.SnapshotEvents)
	}
	// The temporary directory is removed.
	left, err := os.ReadDir(cfg.TempDir)
	if err != nil || len(left) != 0 {
		t.Errorf("temporary directory not cleaned up: %v %v", left, err)
	}
}

// TestOnlySubset runs a subset and checks that only its keys appear, and
// that an unknown name is refused.
func TestOnlySubset(t *testing.T) {
	if testing.Short() {
		t.Skip("starts embedded NATS")
	}
	cfg := Config{Events: 200, ProofLeaves: 400, ProjectEvents: 1, ProofSamples: 20, Concurrency: 8, Only: []string{Proof},
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), TempDir: t.TempDir()}
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Metrics()
	if m["proof_p99_ms"] <= 0 || m["proof_leaves"] != 400 {
		t.Errorf("proof metrics: %v", m)
	}
	for k := range m {
		if !strings.HasPrefix(k, "proof_") {
			t.Errorf("--only proof reported %s", k)
		}
	}
	cfg.Only = []string{"nope"}
	if _, err := Run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "unknown benchmark") {
		t.Errorf("unknown benchmark: err = %v", err)
	}
}

func TestQuantile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if q := quantile(d, 0.5); q != 50 {
		t.Errorf("p50 = %d", q)
	}
	if q := quantile(d, 0.99); q != 99 {
		t.Errorf("p99 = %d", q)
	}
	if q := quantile(d[:1], 0.99); q != 1 {
		t.Errorf("p99 of one = %d", q)
	}
}

// TestGroupPart runs the group commit part alone at a small size: both
// ways record every scan (benchGroup checks the ledger's size) and the
// report carries its figures.
func TestGroupPart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts embedded NATS")
	}
	cfg := Config{Events: 2, ProofLeaves: 2, ProjectEvents: 1, ProofSamples: 1, Concurrency: 1, Only: []string{Group}, GroupScans: 50, GroupReps: 2,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), TempDir: t.TempDir()}
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := rep.Group
	if g == nil || g.Scans != 50 || len(g.Batch) != 2 || len(g.OneByOne) != 2 || !(g.Ratio() > 0) {
		t.Fatalf("group result: %+v", g)
	}
	m := rep.Metrics()
	for k := range m {
		if !strings.HasPrefix(k, "group_") {
			t.Errorf("--only group reported %s", k)
		}
	}
	if rows := rep.Rows(); len(rows) != 1 || rows[0].Name != "group" {
		t.Errorf("rows: %+v", rows)
	}
}

// runReported runs cfg, logs its table, and returns the report and its
// JSON, both decoded and as bytes, after checking that every key of want
// is a positive number there.
func runReported(t *testing.T, cfg Config, want []string) (*Report, map[string]any, []byte) {
	t.Helper()
	if testing.Verbose() {
		cfg.Progress = os.Stderr
	}
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + table.String())
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range want {
		v, ok := got[k].(float64)
		if !ok || !(v > 0) {
			t.Errorf("JSON key %q = %v, want a positive number", k, got[k])
		}
	}
	return rep, got, b
}

// TestPartitionsPart runs the partitions part alone at a tiny size, both
// ways (single appends and atomic batches): every configuration is
// measured against its baseline, each partition's ledger holds exactly
// what was appended to it (benchPartitions checks), every log is sealed
// to its end, and only the part's keys are reported.
func TestPartitionsPart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts embedded NATS")
	}
	for _, batch := range []int{1, 10} {
		t.Run(fmt.Sprintf("batch%d", batch), func(t *testing.T) {
			cfg := Config{Events: 2, ProofLeaves: 2, ProjectEvents: 1, ProofSamples: 1, Concurrency: 1, Only: []string{Partitions},
				PartitionEvents: 160, PartitionBatch: batch, PartitionClients: 8,
				Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), TempDir: t.TempDir()}
			rep, err := Run(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			p := rep.Partitions
			if p == nil || p.Events != 160 || p.Batch != batch || len(p.Runs) != 3 {
				t.Fatalf("partitions result: %+v", p)
			}
			for i, r := range p.Runs {
				if r.Partitions != partitionCounts()[i] || !(r.Rate > 0) || !(r.RawRate > 0) || r.P50 <= 0 || r.P99 < r.P50 || r.RawP50 <= 0 {
					t.Errorf("run %d: %+v", i, r)
				}
			}
			// 160 events in each configuration: P11 has a share of all
			// three (160 + 80 + 40), P31 of two (80 + 40), the others 40.
			s := p.Seal
			if s == nil || s.AloneEvents != 140 || !slices.Equal(s.Events, []uint64{140, 120, 40, 40}) || !(s.Rate > 0) {
				t.Errorf("seal: %+v", s)
			}
			if !(p.StoredBytes > p.AvgBytes) || !(p.TileBytes >= 32) || !(p.Fsync > 0) || !(p.S2 > 0 && p.S2 < 1) {
				t.Errorf("stored %.0f B per event of %.0f B canonical, %.1f B of tiles, fsync %v, s2 %.2f", p.StoredBytes, p.AvgBytes, p.TileBytes, p.Fsync, p.S2)
			}
			for k := range rep.Metrics() {
				if !strings.HasPrefix(k, "partitions_") {
					t.Errorf("--only partitions reported %s", k)
				}
			}
			if rows := rep.Rows(); len(rows) != 4 || rows[0].Name != "partitions1" || rows[3].Name != "partitions seal" {
				t.Errorf("rows: %+v", rows)
			}
		})
	}
}
