// Package bench measures the ledger core against raw baselines taken in the
// same run with the same payloads: appends against raw JetStream publishes,
// sealing against appending, the ledger-only verify pass against a raw read
// of the stream, projection against raw bulk writes of the same documents,
// and inclusion-proof latency; and, with no servers, the early-warning
// statistics (EARS recomputation against a raw pass over the same counts,
// and the cost of one rule evaluation against the length of the history);
// and the latency from a report card to its alert on the running services
// against a raw publish-to-receive round trip, with the engine's cost of
// one new report against the length of its history; and the public trace
// of a donation of ten hops with a proof per step in a ledger of a million
// events, against the raw reads and proofs it is made of; and an export
// bundle of a million gate scans, written and verified each in a process
// of its own (rows/s and peak RSS), against a raw read of the same ledger
// and encoding/csv writing as many rows.
// It starts its own embedded NATS and FerretDB on loopback, in a temporary
// directory it removes afterwards, so numbers are reproducible and nothing
// else is touched.
//
// `go run ./ops bench` is the command; Run is what it calls.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/schemas"
)

// Benchmark names, in the order they run.
const (
	Append  = "append"
	Seal    = "seal"
	Verify  = "verify"
	Proof   = "proof"
	Fsck    = "fsck"
	Project = "project"
	Warning = "warning"
	Alert   = "alert"
	Trace   = "trace"
	Export  = "export"
	// Snapshot is start-to-ready of the decision states with and without
	// their snapshots.
	Snapshot = "snapshot"
	// Group is group commit: an offline upload of scans as one atomic
	// batch against the same scans appended one by one.
	Group = "group"
	// Partitions is aggregate append throughput of the ledger split
	// into 1, 2 and 4 partitions (issue 17), each in a NATS account of
	// its own, with the sealer per partition.
	Partitions = "partitions"
)

// cycles is how often a measurement and its baseline alternate in the
// pattern baseline-measured-measured-baseline, so that a slow drift or a
// burst of other load on the machine falls on both alike.
const cycles = 2

// Names lists every benchmark.
var Names = []string{Append, Seal, Verify, Proof, Fsck, Project, Warning, Alert, Trace, Export, Snapshot, Witness, Group, Partitions}

// Config says what to run and how big. Memory stays bounded: the append
// part holds its Events prepared events (about 1 KiB each with their
// canonical bytes), the warning part its counts (8 bytes a cell: 418 MiB
// for the default 3,000 × 50 × 365), every other part streams.
type Config struct {
	Events        int      // events of the throughput parts (append, seal, verify)
	ProofLeaves   int      // ledger size for the verify RSS and proof parts
	ProjectEvents int      // pass.issued events of the projection part
	ProofSamples  int      // inclusion proofs timed
	Concurrency   int      // concurrent appenders and publishers
	Only          []string // benchmarks to run; empty: all (see Names)

	// The warning part: daily counts of WarningDistricts × WarningGroups
	// series of WarningDays days, and WarningSamples single evaluations
	// timed per rule and history length.
	WarningDistricts int
	WarningGroups    int
	WarningDays      int
	WarningSamples   int

	// The alert part: AlertReports reports timed from filing to alert
	// with one reporter and as many with AlertConcurrency reporters (each
	// in a district of its own, alternating with as many raw round trips),
	// and AlertSamples new cards timed in the engine per history length.
	AlertReports     int
	AlertConcurrency int
	AlertSamples     int

	// The trace part: TraceLeaves background events in the ledger, with
	// the events of TraceDonations donations of ten hops spread among
	// them, and TraceSamples traces of random donations timed (and half
	// as many raw baselines and HTTP traces).
	TraceLeaves    int
	TraceDonations int
	TraceSamples   int

	// The export part: a bundle of the scans view of ExportRows rows
	// (pass.scanned events) as CSV, and of ExportRows/10 as XLSX.
	ExportRows int

	// The snapshot part: a ledger of SnapshotEvents events that the
	// decision states read at start, with and without snapshots.
	SnapshotEvents int

	// The witness part: Events events sealed from scratch with and
	// without three witnesses, and WitnessCheckpoints checkpoints timed to
	// their cosignatures under append load (per pusher poll interval).
	WitnessCheckpoints int

	// The group commit part: an upload of GroupScans scans as one atomic
	// batch and one by one, GroupReps times each.
	GroupScans int
	GroupReps  int

	// The partitions part: PartitionEvents events in each configuration
	// (1, 2 and 4 partitions), appended PartitionBatch at a time by
	// PartitionClients clients spread evenly over the partitions.
	PartitionEvents  int
	PartitionBatch   int
	PartitionClients int

	// NATSSync is the embedded JetStream's sync policy, as the backend's
	// ONEBOOK_NATS_SYNC: "always" (fsync before acknowledging, the
	// backend's default) or a sync interval such as "2m". "" is "always".
	NATSSync string

	// ChildCommand is the argv that runs VerifyChild in a process of its
	// own (flags are appended), e.g. [ops-binary bench verify-child];
	// ChildEnv is added to its environment.
	ChildCommand []string
	ChildEnv     []string
	// ExportChildCommand is the argv that runs ExportChild in a process
	// of its own (its mode and flags are appended), e.g. [ops-binary
	// bench export-child]; ChildEnv is added to its environment too.
	ExportChildCommand []string
	// ChildCPUProfile, if set, has each export child write a CPU profile
	// of its export or verification to ChildCPUProfile plus
	// ".export-<clear|sealed>-<write|verify>-<csv|xlsx>".
	ChildCPUProfile string

	Progress io.Writer    // progress lines while phases run; nil: none
	Log      *slog.Logger // nil: slog.Default()
	TempDir  string       // parent of the temporary data directory; "": os.TempDir()
}

// Defaults returns the sizes of a full run.
func Defaults() Config {
	return Config{Events: 100_000, ProofLeaves: 1_000_000, ProjectEvents: 20_000, ProofSamples: 4000, Concurrency: 64,
		WarningDistricts: 3000, WarningGroups: 50, WarningDays: 365, WarningSamples: 100_000,
		AlertReports: 2000, AlertConcurrency: 8, AlertSamples: 2000,
		TraceLeaves: 1_000_000, TraceDonations: 200, TraceSamples: 2000,
		ExportRows: 1_000_000, SnapshotEvents: 1_000_000, WitnessCheckpoints: 100, GroupScans: 500, GroupReps: 7,
		PartitionEvents: 48_000, PartitionBatch: 100, PartitionClients: 48}
}

// Quick returns small sizes, for tests and a quick look.
func Quick() Config {
	return Config{Events: 2000, ProofLeaves: 5000, ProjectEvents: 500, ProofSamples: 200, Concurrency: 64,
		WarningDistricts: 100, WarningGroups: 10, WarningDays: 365, WarningSamples: 4000,
		AlertReports: 100, AlertConcurrency: 8, AlertSamples: 400,
		TraceLeaves: 20_000, TraceDonations: 20, TraceSamples: 200,
		ExportRows: 5000, SnapshotEvents: 5000, WitnessCheckpoints: 6, GroupScans: 500, GroupReps: 3,
		PartitionEvents: 4800, PartitionBatch: 100, PartitionClients: 48}
}

// selected returns the benchmarks to run.
func (c Config) selected() (map[string]bool, error) {
	sel := map[string]bool{}
	if len(c.Only) == 0 {
		for _, n := range Names {
			sel[n] = true
		}
		return sel, nil
	}
	for _, n := range c.Only {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.Contains(Names, n) {
			return nil, fmt.Errorf("unknown benchmark %q (have %s)", n, strings.Join(Names, ", "))
		}
		sel[n] = true
	}
	if len(sel) == 0 {
		return nil, errors.New("no benchmark selected")
	}
	return sel, nil
}

func (c Config) check() error {
	if _, err := c.syncOptions(); err != nil {
		return err
	}
	if c.Events < 2 || c.ProofLeaves < 2 || c.ProjectEvents < 1 || c.ProofSamples < 1 || c.Concurrency < 1 {
		return fmt.Errorf("sizes must be positive (events %d, proof leaves %d, project events %d, proof samples %d, concurrency %d)",
			c.Events, c.ProofLeaves, c.ProjectEvents, c.ProofSamples, c.Concurrency)
	}
	return nil
}

// syncOptions returns the NATS options for NATSSync.
func (c Config) syncOptions() (embedded.NATSOptions, error) {
	if c.NATSSync == "" || c.NATSSync == "always" {
		return embedded.NATSOptions{SyncAlways: true}, nil
	}
	d, err := time.ParseDuration(c.NATSSync)
	if err != nil || d <= 0 {
		return embedded.NATSOptions{}, fmt.Errorf("nats sync must be \"always\" or a positive duration, got %q", c.NATSSync)
	}
	return embedded.NATSOptions{SyncInterval: d}, nil
}

func (r *Report) note(s string) { r.Notes = append(r.Notes, s) }

// noteLoad records the load average at the end of the run and says so when
// the machine was busier than its CPUs: ratios are taken in the same run,
// alternating, but latencies and rates are then noisier.
func (r *Report) noteLoad() {
	r.LoadEnd = loadAverage()
	if peak := max(r.LoadStart, r.LoadEnd); peak > float64(r.CPUs) {
		r.note(fmt.Sprintf("the machine was busy with other work: 1-minute load average %.1f at the start, %.1f at the end, on %d CPUs; rates and latencies are noisier than on an idle machine",
			r.LoadStart, r.LoadEnd, r.CPUs))
	}
}

// loadAverage is the 1-minute load average (/proc/loadavg), 0 if unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// runner holds what the phases share.
type runner struct {
	cfg      Config
	log      *slog.Logger
	quiet    *slog.Logger // for the servers and components under test: warnings only
	progress io.Writer
	dir      string
	reg      *events.Registry
	gen      *generator
	nats     *natsEnv
	seal     *sealEnv
}

func (r *runner) progressOrDiscard() io.Writer {
	if r.progress == nil {
		return io.Discard
	}
	return r.progress
}

// Run runs the selected benchmarks and reports what they measured. Targets
// missed are reported, not errors; an error means a benchmark could not be
// run or found something wrong (a proof that does not verify, a projection
// that differs from the ledger).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	sel, err := cfg.selected()
	if err != nil {
		return nil, err
	}
	for _, p := range parts() {
		if sel[p.name] && p.check != nil {
			if err := p.check(cfg); err != nil {
				return nil, err
			}
		}
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	r := &runner{cfg: cfg, log: log, progress: cfg.Progress, reg: schemas.Registry().WithKeyring(benchKeyring())}
	r.quiet = slog.New(levelHandler{slog.LevelWarn, log.Handler()})
	r.gen = newGenerator(r.reg)
	r.dir, err = os.MkdirTemp(cfg.TempDir, "onebook-bench-*")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	defer func() {
		if err := os.RemoveAll(r.dir); err != nil {
			log.Warn("remove temporary directory", "dir", r.dir, "err", err)
		}
	}()
	rep := &Report{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Config: cfg, Selected: sel}
	// The note on syncing concerns the parts on servers (warning has none;
	// trace notes its own).
	if opts, _ := cfg.syncOptions(); sel[Append] || sel[Seal] || sel[Verify] || sel[Proof] || sel[Fsck] || sel[Project] || sel[Alert] || sel[Witness] || sel[Group] || sel[Partitions] {
		if opts.SyncAlways {
			rep.note("embedded JetStream syncs always (fsync before every acknowledgement), the backend's default (ONEBOOK_NATS_SYNC=always): the append rates are bound by the disk's fsync latency; --nats-sync 2m gives the CPU-bound figures")
		} else {
			rep.note(fmt.Sprintf("embedded JetStream syncs every %s, not before each acknowledgement (the backend's default is always)", opts.SyncInterval))
		}
	}
	rep.LoadStart = loadAverage()
	defer rep.noteLoad()
	if sel[Append] || sel[Seal] || sel[Verify] || sel[Proof] || sel[Fsck] {
		if err := r.ledgerPhases(ctx, sel, rep); err != nil {
			return rep, err
		}
	}
	for _, p := range parts() {
		if !sel[p.name] {
			continue
		}
		log.Info("bench: "+p.name, p.attrs(cfg)...)
		if err := p.run(ctx, r, rep); err != nil {
			return rep, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return rep, nil
}

// part is a benchmark after the ledger phases: the check of its settings
// (before anything runs), what its start logs, and its run, which stores
// its result in the report.
type part struct {
	name  string
	check func(Config) error // nil: nothing to check
	attrs func(Config) []any
	run   func(ctx context.Context, r *runner, rep *Report) error
}

// into stores a part's result in the report's field dst, unless it failed.
func into[T any](dst **T) func(T, error) error {
	return func(res T, err error) error {
		if err != nil {
			return err
		}
		*dst = &res
		return nil
	}
}

// parts lists the benchmarks after the ledger phases, in the order they run.
func parts() []part {
	positive := func(what string, ns ...int) error {
		for _, n := range ns {
			if n < 1 {
				return fmt.Errorf("%s must be positive, got %d", what, n)
			}
		}
		return nil
	}
	return []part{
		{Project, nil, func(c Config) []any { return []any{"events", c.ProjectEvents} },
			func(ctx context.Context, r *runner, rep *Report) error {
				return into(&rep.Project)(r.benchProject(ctx, r.cfg.ProjectEvents))
			}},
		{Warning, Config.checkWarning, func(c Config) []any {
			return []any{"districts", c.WarningDistricts, "groups", c.WarningGroups, "days", c.WarningDays}
		}, func(ctx context.Context, r *runner, rep *Report) error {
			return into(&rep.Warning)(r.benchWarning(ctx))
		}},
		{Alert, Config.checkAlert, func(c Config) []any {
			return []any{"reports", c.AlertReports, "concurrency", c.AlertConcurrency, "samples", c.AlertSamples}
		}, func(ctx context.Context, r *runner, rep *Report) error {
			return into(&rep.Alert)(r.benchAlert(ctx, rep))
		}},
		{Trace, Config.checkTrace, func(c Config) []any {
			return []any{"leaves", c.TraceLeaves, "donations", c.TraceDonations, "samples", c.TraceSamples}
		}, func(ctx context.Context, r *runner, rep *Report) error {
			return into(&rep.Trace)(r.benchTrace(ctx, rep))
		}},
		{Export, Config.checkExport, func(c Config) []any { return []any{"rows", c.ExportRows} },
			func(ctx context.Context, r *runner, rep *Report) error {
				return into(&rep.Export)(r.benchExport(ctx, rep))
			}},
		{Snapshot, func(c Config) error { return positive("snapshot: events", c.SnapshotEvents) },
			func(c Config) []any { return []any{"events", c.SnapshotEvents} },
			func(ctx context.Context, r *runner, rep *Report) error {
				return into(&rep.Snapshot)(r.benchSnapshot(ctx, uint64(r.cfg.SnapshotEvents)))
			}},
		{Witness, Config.checkWitness, func(c Config) []any { return []any{"events", c.Events, "checkpoints", c.WitnessCheckpoints} },
			func(ctx context.Context, r *runner, rep *Report) error {
				return into(&rep.Witness)(r.benchWitness(ctx, rep))
			}},
		{Group, func(c Config) error { return positive("group: scans and repetitions", c.GroupScans, c.GroupReps) },
			func(c Config) []any { return []any{"scans", c.GroupScans, "repetitions", c.GroupReps} },
			func(ctx context.Context, r *runner, rep *Report) error {
				return into(&rep.Group)(r.benchGroup(ctx, r.cfg.GroupScans, r.cfg.GroupReps))
			}},
		{Partitions, Config.checkPartitions,
			func(c Config) []any {
				return []any{"events", c.PartitionEvents, "batch", c.PartitionBatch, "clients", c.PartitionClients}
			},
			func(ctx context.Context, r *runner, rep *Report) error {
				return into(&rep.Partitions)(r.benchPartitions(ctx, rep))
			}},
	}
}

// ledgerPhases runs append, seal, verify and proof on one embedded NATS
// server, which it stops before returning.
func (r *runner) ledgerPhases(ctx context.Context, sel map[string]bool, rep *Report) error {
	var err error
	if r.nats, err = r.startNATS(ctx, "nats"); err != nil {
		return err
	}
	defer func() { r.nats.close() }() // r.nats changes on a restart
	if r.seal, err = openSeal(ctx, r.nats.js); err != nil {
		return err
	}
	if err := r.throughputPhases(ctx, sel, rep); err != nil {
		return err
	}
	if sel[Verify] || sel[Proof] || sel[Fsck] {
		return r.proofSizePhases(ctx, sel, rep)
	}
	return nil
}

// throughputPhases fills the ledger with Events events by appending them
// (timed against the raw baseline if append or seal is selected, else by
// an untimed fill), seals it from scratch and times the verify pass over it.
func (r *runner) throughputPhases(ctx context.Context, sel map[string]bool, rep *Report) error {
	n := r.cfg.Events
	if sel[Append] || sel[Seal] { // seal's ratio is over the append rate
		r.log.Info("bench: append", "events", n, "concurrency", r.cfg.Concurrency)
		b, err := prepare(ctx, r.gen, n)
		if err != nil {
			return err
		}
		res, err := r.benchAppend(ctx, b, r.cfg.Concurrency)
		if err != nil {
			return fmt.Errorf("append: %w", err)
		}
		rep.Append = &res
	} else if sel[Verify] {
		if err := r.fill(ctx, r.nats, "fill", 0, uint64(n), r.gen.mixed); err != nil {
			return err
		}
	}

	if sel[Seal] {
		r.log.Info("bench: seal")
		res, err := r.benchSeal(ctx, rep.Append.Rate)
		if err != nil {
			return fmt.Errorf("seal: %w", err)
		}
		rep.Seal = &res
	} else if sel[Verify] { // verify needs checkpoints
		if _, _, err := r.sealTo(ctx, "seal (not timed)", uint64(n)); err != nil {
			return err
		}
	}

	if sel[Verify] {
		r.log.Info("bench: verify")
		res, err := r.benchVerify(ctx)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		rep.Verify = &res
	}
	return nil
}

// proofSizePhases grows the ledger to ProofLeaves events and seals it
// (untimed), then measures the verify pass's peak RSS in a separate process
// and the inclusion-proof latency.
func (r *runner) proofSizePhases(ctx context.Context, sel map[string]bool, rep *Report) error {
	size, err := r.nats.ledgerSize(ctx)
	if err != nil {
		return err
	}
	leaves := max(size, uint64(r.cfg.ProofLeaves))
	r.log.Info("bench: filling the ledger for the proof-size parts", "from", size, "to", leaves)
	if opts, _ := r.cfg.syncOptions(); opts.SyncAlways && leaves > size {
		// The fill is not timed, and what follows only reads: spare it
		// an fsync per event.
		r.log.Info("bench: restarting the embedded NATS with periodic sync for the untimed fill")
		rep.note(fmt.Sprintf("the ledger was grown to %d events for the verify RSS and proof parts (not timed) after restarting the embedded NATS with a %s sync interval; those parts only read", leaves, fillSyncInterval))
		if err := r.restartNATS(ctx, embedded.NATSOptions{SyncInterval: fillSyncInterval}); err != nil {
			return err
		}
	}
	if err := r.fill(ctx, r.nats, "fill", size, leaves, r.gen.mixed); err != nil {
		return err
	}
	if _, _, err := r.sealTo(ctx, "seal (not timed)", leaves); err != nil {
		return err
	}
	if sel[Verify] {
		if err := r.verifyRSS(ctx, leaves, rep); err != nil {
			return fmt.Errorf("verify RSS: %w", err)
		}
	}
	if sel[Proof] {
		r.log.Info("bench: proof", "leaves", leaves, "samples", r.cfg.ProofSamples)
		res, err := r.benchProof(ctx, r.cfg.ProofSamples)
		if err != nil {
			return fmt.Errorf("proof: %w", err)
		}
		rep.Proof = &res
	}
	if sel[Fsck] {
		r.log.Info("bench: fsck", "leaves", leaves)
		res, err := r.benchFsck(ctx)
		if err != nil {
			return fmt.Errorf("fsck: %w", err)
		}
		rep.Fsck = &res
	}
	return nil
}

// verifyRSS runs the ledger-only verify of the first leaves events in a
// separate process and records its peak RSS in rep.Verify.
func (r *runner) verifyRSS(ctx context.Context, leaves uint64, rep *Report) error {
	r.log.Info("bench: verify in a separate process", "events", leaves)
	child, rssKiB, err := r.childRSS(ctx, leaves)
	if err != nil {
		return err
	}
	rep.note("verify RSS is the separate process's own peak (VmHWM of its address space, read by the process itself at the end); ru_maxrss from wait4 is reported too but on Linux it carries the parent's high-water mark, which the kernel records when the child, forked sharing the parent's address space, calls exec")
	v := rep.Verify
	v.RSSEvents = leaves
	v.RusageMaxRSSMiB = float64(rssKiB) / 1024
	v.PeakRSSMiB = float64(child.PeakRSSKiB) / 1024
	if child.PeakRSSKiB == 0 { // no /proc: the rusage figure is all there is
		v.PeakRSSMiB = v.RusageMaxRSSMiB
	}
	v.ChildSeconds = child.Seconds
	v.ChildRate = float64(leaves) / child.Seconds
	return nil
}

// fillSyncInterval is the sync interval of the server while it is filled
// for the proof-size parts (nats-server's default).
const fillSyncInterval = 2 * time.Minute

// restartNATS stops the ledger's server and starts it again on the same
// storage with opts, then reopens the ledger and the seal on it.
func (r *runner) restartNATS(ctx context.Context, opts embedded.NATSOptions) error {
	r.nats.close()
	env, err := r.startNATSWith(ctx, "nats", opts)
	if err != nil {
		return err
	}
	r.nats = env
	return r.seal.open(ctx, env.js)
}

// levelHandler drops records below a level.
type levelHandler struct {
	min slog.Level
	slog.Handler
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
func (h levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return levelHandler{h.min, h.Handler.WithAttrs(a)}
}
func (h levelHandler) WithGroup(g string) slog.Handler {
	return levelHandler{h.min, h.Handler.WithGroup(g)}
}
