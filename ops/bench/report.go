package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets of the ledger core (issue 3): a ratio at least this, or for the
// proof latency, a p99 below it.
const (
	TargetAppend     = 0.5
	TargetSeal       = 5.0
	TargetVerify     = 0.5
	TargetProject    = 0.8
	TargetProofP99MS = 2.0
	// TargetGroup is group commit's (issue 14): an upload as one batch
	// this many times faster than one append after another.
	TargetGroup = 5.0
)

// Report is what a run measured; nil parts were not run.
type Report struct {
	Append  *AppendResult
	Seal    *SealResult
	Verify  *VerifyResult
	Proof   *ProofResult
	Fsck    *FsckResult
	Project *ProjectResult
	Warning *WarningResult
	Alert   *AlertResult
	Trace   *TraceResult
	Export  *ExportResult

	Snapshot *SnapshotResult
	Witness  *WitnessResult
	Group    *GroupResult

	Partitions *PartitionsResult

	Notes     []string // how the run was made, where that matters for reading it
	CPUs      int
	LoadStart float64 // 1-minute load average when the run started
	LoadEnd   float64 // and when it ended
	GoVersion string
	Config    Config
	Selected  map[string]bool
}

// Row is one line of the table: a measurement against its baseline and
// target.
type Row struct {
	Name     string  `json:"name"`
	Workload string  `json:"workload"`
	Baseline string  `json:"baseline"` // what the raw baseline is, with its rate
	Measured string  `json:"measured"`
	Ratio    float64 `json:"ratio,omitempty"`
	Target   string  `json:"target"`
	Met      bool    `json:"met"`
}

// Metrics returns the flat keys of the JSON output: every ratio, rate and
// size measured.
func (r *Report) Metrics() map[string]float64 {
	m := map[string]float64{}
	if a := r.Append; a != nil {
		m["append_ratio"] = a.Ratio()
		m["append_rate"] = a.Rate
		m["append_raw_rate"] = a.RawRate
		m["append_events"] = float64(a.Events)
		m["append_concurrency"] = float64(a.Concurrency)
		m["event_bytes_avg"] = a.AvgBytes
	}
	if s := r.Seal; s != nil {
		m["seal_ratio"] = s.Ratio()
		m["seal_rate"] = s.Rate
		m["seal_append_rate"] = s.AppendRate
		m["seal_events"] = float64(s.Events)
	}
	if v := r.Verify; v != nil {
		m["verify_ratio"] = v.Ratio()
		m["verify_rate"] = v.Rate
		m["verify_raw_rate"] = v.RawRate
		m["verify_throughput_events"] = float64(v.Events)
		m["verify_peak_rss_mib"] = v.PeakRSSMiB
		m["verify_rusage_maxrss_mib"] = v.RusageMaxRSSMiB
		m["verify_events"] = float64(v.RSSEvents)
		m["verify_process_rate"] = v.ChildRate
	}
	if p := r.Proof; p != nil {
		m["proof_p50_ms"] = ms(p.P50)
		m["proof_p99_ms"] = ms(p.P99)
		m["proof_max_ms"] = ms(p.Max)
		m["proof_samples"] = float64(p.Samples)
		m["proof_leaves"] = float64(p.Leaves)
		m["proof_verified"] = float64(p.Verified)
	}
	if p := r.Project; p != nil {
		m["project_ratio"] = p.Ratio()
		m["project_rate"] = p.Rate
		m["project_raw_rate"] = p.RawRate
		m["project_events"] = float64(p.Events)
	}
	if w := r.Warning; w != nil {
		w.metrics(m)
	}
	if a := r.Alert; a != nil {
		a.metrics(m)
	}
	if t := r.Trace; t != nil {
		t.metrics(m)
	}
	if x := r.Export; x != nil {
		x.metrics(m)
	}
	if x := r.Fsck; x != nil {
		x.metrics(m)
	}
	if x := r.Snapshot; x != nil {
		x.metrics(m)
	}
	if x := r.Witness; x != nil {
		x.metrics(m)
	}
	if x := r.Group; x != nil {
		x.metrics(m)
	}
	if x := r.Partitions; x != nil {
		x.metrics(m)
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Rows returns the table.
func (r *Report) Rows() []Row {
	var rows []Row
	if x := r.Append; x != nil {
		rows = append(rows, x.row())
	}
	if x := r.Seal; x != nil {
		rows = append(rows, x.row())
	}
	if x := r.Verify; x != nil {
		rows = append(rows, x.rows()...)
	}
	if x := r.Proof; x != nil {
		rows = append(rows, x.row())
	}
	if x := r.Project; x != nil {
		rows = append(rows, x.row())
	}
	if w := r.Warning; w != nil {
		rows = append(rows, w.rows()...)
	}
	if a := r.Alert; a != nil {
		rows = append(rows, a.rows()...)
	}
	if t := r.Trace; t != nil {
		rows = append(rows, t.rows()...)
	}
	if x := r.Export; x != nil {
		rows = append(rows, x.rows()...)
	}
	if x := r.Fsck; x != nil {
		rows = append(rows, x.rows()...)
	}
	if x := r.Snapshot; x != nil {
		rows = append(rows, x.row())
	}
	if x := r.Witness; x != nil {
		rows = append(rows, x.rows()...)
	}
	if x := r.Group; x != nil {
		rows = append(rows, x.row())
	}
	if x := r.Partitions; x != nil {
		rows = append(rows, x.rows()...)
	}
	return rows
}

// row is the append part's row.
func (a *AppendResult) row() Row {
	return Row{
		Name:     fmt.Sprintf("append%d", a.Concurrency),
		Workload: fmt.Sprintf("%d pass.scanned/pass.issued events (avg %.0f B canonical), %d concurrent publishers, ExpectAny", a.Events, a.AvgBytes, a.Concurrency),
		Baseline: fmt.Sprintf("js.PublishMsg %s/s", rate(a.RawRate)),
		Measured: fmt.Sprintf("Store.Append %s/s", rate(a.Rate)),
		Ratio:    a.Ratio(), Target: fmt.Sprintf("≥ %.1f", TargetAppend), Met: a.Ratio() >= TargetAppend,
	}
}

// row is the seal part's row.
func (s *SealResult) row() Row {
	return Row{
		Name:     "seal",
		Workload: fmt.Sprintf("seal %d events from scratch (SealTo; %d checkpoints)", s.Events, s.Checkpoints),
		Baseline: fmt.Sprintf("append %s/s", rate(s.AppendRate)),
		Measured: fmt.Sprintf("seal %s/s", rate(s.Rate)),
		Ratio:    s.Ratio(), Target: fmt.Sprintf("≥ %.0f", TargetSeal), Met: s.Ratio() >= TargetSeal,
	}
}

// rows are the verify part's rows: the rate, and the peak RSS when measured.
func (v *VerifyResult) rows() []Row {
	var rows []Row
	rows = append(rows, Row{
		Name:     "verify",
		Workload: fmt.Sprintf("ledger-only verify of %d events against %d stored checkpoints", v.Events, v.Checkpoints),
		Baseline: fmt.Sprintf("ScanStream %s/s", rate(v.RawRate)),
		Measured: fmt.Sprintf("verify.Ledger %s/s", rate(v.Rate)),
		Ratio:    v.Ratio(), Target: fmt.Sprintf("≥ %.1f", TargetVerify), Met: v.Ratio() >= TargetVerify,
	})
	if v.RSSEvents > 0 {
		rows = append(rows, Row{
			Name:     "verify RSS",
			Workload: fmt.Sprintf("ledger-only verify of %d events in a separate process (%.1f s, %s events/s, start-up included)", v.RSSEvents, v.ChildSeconds, rate(v.ChildRate)),
			Baseline: "-",
			Measured: fmt.Sprintf("peak RSS %.1f MiB (ru_maxrss %.0f MiB: the parent's, see notes)", v.PeakRSSMiB, v.RusageMaxRSSMiB),
			Target:   "bounded (informational)", Met: true,
		})
	}
	return rows
}

// row is the proof part's row.
func (p *ProofResult) row() Row {
	return Row{
		Name: "proof",
		Workload: fmt.Sprintf("%d inclusion proofs of random leaves in %d leaves (%d level-0 tiles; fresh prover, tile cache %d); all verified, %d leaf hashes checked against the stored events",
			p.Samples, p.Leaves, p.Level0Tiles, p.CacheTiles, p.LeavesRead),
		Baseline: "-",
		Measured: fmt.Sprintf("p50 %.3f ms, p99 %.3f ms, max %.3f ms", ms(p.P50), ms(p.P99), ms(p.Max)),
		Target:   fmt.Sprintf("p99 < %.0f ms", TargetProofP99MS), Met: ms(p.P99) < TargetProofP99MS,
	}
}

// row is the projection part's row.
func (p *ProjectResult) row() Row {
	return Row{
		Name: "project",
		Workload: fmt.Sprintf("passes projection over %d pass.issued events for %d distinct passes (one new document each), batch %d, into embedded FerretDB (SQLite); N is set apart from --events (--project-events) because FerretDB writes far slower than JetStream",
			p.Events, p.Docs, p.Batch),
		Baseline: fmt.Sprintf("Store.Put of the same documents %s/s", rate(p.RawRate)),
		Measured: fmt.Sprintf("Projector %s/s", rate(p.Rate)),
		Ratio:    p.Ratio(), Target: fmt.Sprintf("≥ %.1f", TargetProject), Met: p.Ratio() >= TargetProject,
	}
}

func rate(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e4:
		return fmt.Sprintf("%.1fk", x/1e3)
	default:
		return fmt.Sprintf("%.0f", x)
	}
}

// WriteTable prints the table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\traw baseline\tmeasured\tratio\ttarget\tmet")
	for _, row := range r.Rows() {
		ratio := "-"
		if row.Ratio != 0 {
			ratio = fmt.Sprintf("%.2f", row.Ratio)
		}
		met := "yes"
		if !row.Met {
			met = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", row.Name, row.Baseline, row.Measured, ratio, row.Target, met)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, row := range r.Rows() {
		fmt.Fprintf(w, "%-10s %s\n", row.Name+":", row.Workload)
	}
	where := "; embedded NATS and FerretDB on loopback, file storage in a temporary directory"
	if !(r.Selected[Append] || r.Selected[Seal] || r.Selected[Verify] || r.Selected[Proof] || r.Selected[Fsck] || r.Selected[Project] || r.Selected[Alert] || r.Selected[Trace] || r.Selected[Export] || r.Selected[Snapshot] || r.Selected[Witness] || r.Selected[Group] || r.Selected[Partitions]) {
		where = "; no servers (warning only)"
	}
	fmt.Fprintf(w, "\n%d CPUs (load average %.1f at the start, %.1f at the end), %s%s.\n",
		r.CPUs, r.LoadStart, r.LoadEnd, r.GoVersion, where)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	return nil
}

// MarshalJSON writes one object: the flat metrics, the table rows and the
// run's settings.
func (r *Report) MarshalJSON() ([]byte, error) {
	out := map[string]any{}
	for k, v := range r.Metrics() {
		out[k] = v
	}
	out["results"] = r.Rows()
	out["notes"] = r.Notes
	var sel []string
	for _, n := range Names {
		if r.Selected[n] {
			sel = append(sel, n)
		}
	}
	out["settings"] = map[string]any{
		"benchmarks": strings.Join(sel, ","), "events": r.Config.Events, "proof_leaves": r.Config.ProofLeaves,
		"project_events": r.Config.ProjectEvents, "proof_samples": r.Config.ProofSamples, "concurrency": r.Config.Concurrency,
		"warning_districts": r.Config.WarningDistricts, "warning_groups": r.Config.WarningGroups,
		"warning_days": r.Config.WarningDays, "warning_samples": r.Config.WarningSamples,
		"alert_reports": r.Config.AlertReports, "alert_concurrency": r.Config.AlertConcurrency, "alert_samples": r.Config.AlertSamples,
		"trace_leaves": r.Config.TraceLeaves, "trace_donations": r.Config.TraceDonations, "trace_samples": r.Config.TraceSamples,
		"export_rows": r.Config.ExportRows, "witness_checkpoints": r.Config.WitnessCheckpoints, "group_scans": r.Config.GroupScans, "group_reps": r.Config.GroupReps,
		"partition_events": r.Config.PartitionEvents, "partition_batch": r.Config.PartitionBatch, "partition_clients": r.Config.PartitionClients,
		"cpus": r.CPUs, "go": r.GoVersion, "loadavg_start": r.LoadStart, "loadavg_end": r.LoadEnd,
	}
	return json.Marshal(out)
}
