package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/backend/exports"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/events/seal"
)

// ExportResult is the export part: an export bundle (backend/exports) of
// the scans view — one row per pass.scanned event — of ExportRows rows,
// written as CSV by exports.Write and checked by exports.Verify, each in a
// process of its own so that its peak RSS is its own; against raw
// baselines taken in the same run: an ordered-consumer read of the view's
// subjects that only counts, and encoding/csv writing as many rows of the
// same width to a file with no ledger. And a bundle of ExportRows/10 rows
// as XLSX, written and verified likewise.
type ExportResult struct {
	Rows     int64  // pass.scanned events: the CSV bundle's rows
	Issued   int    // pass.issued events among them (other subjects: the consumer filter drops them)
	Gates    int    // gate.registered events (same subjects as the scans: the view's type filter drops them)
	TreeSize uint64 // leaves of the checkpoint the CSV bundle is made against

	FillSeconds float64 // the whole ledger appended (in two steps, see XLSX)
	FillRate    float64
	SealSeconds float64 // sealed from scratch (in two steps)

	CSV    ExportRun // exports.Write, CSV, in a process of its own
	Verify ExportRun // exports.Verify of that bundle, in a process of its own

	BundleBytes  int64 // every file of the CSV bundle
	RowsBytes    int64 // rows.csv
	EntriesBytes int64 // entries.ndjson
	Tiles        int   // tiles in the bundle

	RawRead     ExportRaw // ScanStream over the view's subjects, counting
	RawReadMsgs uint64    // messages it reads per pass (the scans and the gate events)
	RawCSV      ExportRaw // encoding/csv of as many rows, to a file
	RawCSVBytes int64     // the file it writes (rows.csv for comparison: RowsBytes)

	// XLSX: a bundle of the first XLSXRows scans, against the checkpoint
	// of the ledger's first XLSXTreeSize events.
	XLSXRows     int64
	XLSXTreeSize uint64
	XLSX         ExportRun
	XLSXVerify   ExportRun
	XLSXBytes    int64 // rows.xlsx

	// Clear is the same part, in the same run, over a ledger of the same
	// events with every field in clear, as recorded before sealing: the
	// baseline of what sealing costs an export and its verification.
	Clear *ExportResult `json:",omitempty"`
}

// SealedRatio is the sealed export's rate over the clear one's; VerifySealedRatio
// the same of the verifications.
func (x ExportResult) SealedRatio() float64 { return x.CSV.Rate() / x.Clear.CSV.Rate() }

func (x ExportResult) VerifySealedRatio() float64 { return x.Verify.Rate() / x.Clear.Verify.Rate() }

// ExportRun is one export or verification, in a process of its own.
type ExportRun struct {
	Runs           int // runs added up in the figures below
	Rows           int64
	Entries        int64
	Seconds        float64 // exports.Write or exports.Verify alone
	ProcessSeconds float64 // the process, start-up and connecting included
	PeakRSSMiB     float64 // VmHWM of the process
}

// Rate is rows/s of the call alone.
func (x ExportRun) Rate() float64 { return float64(x.Rows) / x.Seconds }

// add returns the runs x and y as one: their rows, entries and times
// summed (so Rate is over both), the higher peak.
func (x ExportRun) add(y ExportRun) ExportRun {
	return ExportRun{Runs: x.Runs + y.Runs, Rows: x.Rows + y.Rows, Entries: x.Entries + y.Entries, Seconds: x.Seconds + y.Seconds,
		ProcessSeconds: x.ProcessSeconds + y.ProcessSeconds, PeakRSSMiB: max(x.PeakRSSMiB, y.PeakRSSMiB)}
}

// ExportRaw is a raw baseline, run twice: before and after the export
// and verification, so that drift falls on both alike.
type ExportRaw struct {
	Runs    int
	Seconds float64 // all runs
	Rate    float64 // rows/s over all runs
}

// ReadRatio is the export's rows/s over the raw read's.
func (x ExportResult) ReadRatio() float64 { return x.CSV.Rate() / x.RawRead.Rate }

// CSVRatio is the export's rows/s over raw encoding/csv's.
func (x ExportResult) CSVRatio() float64 { return x.CSV.Rate() / x.RawCSV.Rate }

// exportView is the view the part exports.
const exportView = "scans"

// exportOtherEvery: one event in this many is not a scan (the first of
// each block), while there are some to place.
const exportOtherEvery = 100

func (c Config) checkExport() error {
	if c.ExportRows < 10 {
		return fmt.Errorf("export rows must be at least 10, got %d", c.ExportRows)
	}
	return nil
}

// exportWorkload is the export part's ledger: rows pass.scanned events,
// and others = rows/99 other events, the first event of each block of
// exportOtherEvery while there are others left: pass.issued (another
// aggregate kind, so other subjects), and in every tenth block
// gate.registered (the gate's subjects, as the scans: only the view's
// event type tells them apart).
type exportWorkload struct {
	gen    *generator
	rows   uint64
	others uint64
}

func newExportWorkload(gen *generator, rows int) exportWorkload {
	return exportWorkload{gen: gen, rows: uint64(rows), others: uint64(rows) / (exportOtherEvery - 1)}
}

func (w exportWorkload) total() uint64 { return w.rows + w.others }

func (w exportWorkload) isOther(i uint64) bool {
	return i%exportOtherEvery == 0 && i/exportOtherEvery < w.others
}

// othersBelow is how many of events 0..n-1 are not scans.
func (w exportWorkload) othersBelow(n uint64) uint64 {
	return min(w.others, (n+exportOtherEvery-1)/exportOtherEvery)
}

// prefixWith returns the smallest n such that events 0..n-1 hold exactly
// scans scans.
func (w exportWorkload) prefixWith(scans uint64) uint64 {
	n := scans
	for n-w.othersBelow(n) < scans {
		n++
	}
	return n
}

// gates and issued count the other events by type.
func (w exportWorkload) gates() uint64 { return (w.others + 9) / 10 }

func (w exportWorkload) event(i uint64) (events.Event, error) {
	if !w.isOther(i) {
		return w.gen.scanned(i)
	}
	b := i / exportOtherEvery
	if b%10 != 0 {
		return w.gen.issued(b)
	}
	c := community(b % communities)
	gate := fmt.Sprintf("g%s-%d", c[6:], 1+b%gatesPer)
	return w.gen.reg.New(inMemory, passevents.TypeGate, events.Meta{
		Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: gate},
		Region:    c,
		Actor:     events.Actor{Role: "property_manager", ID: fmt.Sprintf("pm-%s", c[6:])},
		Time:      w.gen.epoch.Add(time.Duration(i) * 700 * time.Millisecond),
	}, passevents.GateRegistered{Community: c, Name: fmt.Sprintf("东门 %d", b)})
}

// benchExport runs the export part over two ledgers, each on an embedded
// NATS of its own: one with every field in clear (the baseline), one of the
// same events sealed, as onebook records them. The CSV export and its
// verification alternate clear-sealed-sealed-clear, so that drift or a
// burst of other load on the machine falls on both alike (one run of each
// took 1.3 s at 50,000 rows, and the ratio of two such runs moved between
// 0.56 and 0.98 with the machine's load).
func (r *runner) benchExport(ctx context.Context, rep *Report) (ExportResult, error) {
	if len(r.cfg.ExportChildCommand) == 0 {
		return ExportResult{}, errors.New("no command to run the export children with (Config.ExportChildCommand)")
	}
	clearGen := *r.gen
	clearGen.clear = true
	type side struct {
		label string
		w     exportWorkload
		res   ExportResult
		l     *exportLedger
	}
	clear := &side{label: "export (clear payloads)", w: newExportWorkload(&clearGen, r.cfg.ExportRows)}
	sealed := &side{label: "export", w: newExportWorkload(r.gen, r.cfg.ExportRows)}
	for _, s := range []*side{clear, sealed} {
		s.res = newExportResult(s.w)
		l, err := r.exportLedger(ctx, rep, s.w, s.label, &s.res)
		if err != nil {
			return sealed.res, err
		}
		defer l.close()
		s.l = l
	}
	for _, which := range abba(1, "clear", "sealed") {
		s := clear
		if which == "sealed" {
			s = sealed
		}
		if err := r.exportCSV(ctx, s.l, s.w, &s.res); err != nil {
			return sealed.res, fmt.Errorf("%s: %w", s.label, err)
		}
	}
	for _, s := range []*side{clear, sealed} {
		if err := r.exportXLSX(ctx, s.l, &s.res); err != nil {
			return sealed.res, fmt.Errorf("%s: %w", s.label, err)
		}
		rep.note(fmt.Sprintf(s.label+": a ledger of %d events — %d pass.scanned (the scans view's rows), %d pass.issued (other subjects: the ordered consumer's filter drops them) and %d gate.registered (the gates' subjects: the view's type filter drops them) — filled in %.1f s (%s events/s) and sealed from scratch in %.1f s, not timed in the figures; the CSV export and its verification ran twice, clear-sealed-sealed-clear, each in a process of its own (the benchmark binary re-executed), its peak RSS its own VmHWM; each CSV bundle was deleted after its verification",
			s.res.TreeSize, s.w.rows, s.res.Issued, s.res.Gates, s.res.FillSeconds, rate(s.res.FillRate), s.res.SealSeconds))
	}
	sealed.res.Clear = &clear.res
	return sealed.res, nil
}

// newExportResult is the result of workload w before anything ran.
func newExportResult(w exportWorkload) ExportResult {
	res := ExportResult{Rows: int64(w.rows), Gates: int(w.gates()), Issued: int(w.others - w.gates()), TreeSize: w.total(),
		XLSXRows: int64(w.rows / 10)}
	res.XLSXTreeSize = w.prefixWith(uint64(res.XLSXRows))
	return res
}

// exportLedger is the export part's ledger: an embedded server filled
// with the workload and sealed so that one checkpoint covers exactly the
// XLSX bundle's events and another the whole ledger, and the seal key in
// a file for the export children.
type exportLedger struct {
	tag     string // clear or sealed: names the children's CPU profiles
	env     *natsEnv
	vkey    string
	keyFile string
	close   func()
}

// exportLedger starts, fills and seals the export part's ledger (none of
// it timed in the figures, but reported).
func (r *runner) exportLedger(ctx context.Context, rep *Report, w exportWorkload, label string, res *ExportResult) (l *exportLedger, err error) {
	total := res.TreeSize
	// Only reads are timed: spare the appends an fsync each.
	opts, err := r.cfg.syncOptions()
	if err != nil {
		return nil, err
	}
	if opts.SyncAlways {
		opts = embedded.NATSOptions{SyncInterval: fillSyncInterval}
		rep.note(fmt.Sprintf(label+": its embedded NATS syncs every %s, not always: the ledger is filled (not timed) and then only read", fillSyncInterval))
	}
	tag := "sealed"
	if w.gen.clear {
		tag = "clear"
	}
	env, err := r.startNATSWith(ctx, "export-"+tag, opts)
	if err != nil {
		return nil, err
	}
	l = &exportLedger{tag: tag, env: env, close: func() {
		env.close()
		_ = os.RemoveAll(subdir(r.dir, "export-"+tag)) // a million events: free the disk now
	}}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	// A seal key of its own, written to a file for the export child,
	// which signs the manifest with it (as ops export does with the
	// seal's key).
	skey, vkey, err := seal.GenerateKey(Origin)
	if err != nil {
		return nil, err
	}
	signer, _, err := seal.LoadSigner(skey)
	if err != nil {
		return nil, err
	}
	sl := &sealEnv{signer: signer, vkey: vkey}
	if err := sl.open(ctx, env.js); err != nil {
		return nil, err
	}
	keyFile := filepath.Join(r.dir, "export-"+tag+"-seal.key")
	if err := os.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
		return nil, err
	}
	l.vkey, l.keyFile = vkey, keyFile
	prev := l.close
	l.close = func() { os.Remove(keyFile); prev() }

	// Fill and seal in two steps, so that a checkpoint covers exactly the
	// XLSX bundle's events (an export reads the ledger up to its
	// checkpoint's size).
	r.log.Info("bench: export: filling the ledger", "scans", w.rows, "others", w.others)
	savedNATS, savedSeal := r.nats, r.seal
	r.nats, r.seal = env, sl
	defer func() { r.nats, r.seal = savedNATS, savedSeal }()
	for _, to := range []uint64{res.XLSXTreeSize, total} {
		from, err := env.ledgerSize(ctx)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		if err := r.fill(ctx, env, label+": fill (not timed)", from, to, w.event); err != nil {
			return nil, err
		}
		res.FillSeconds += time.Since(start).Seconds()
		took, _, err := r.sealTo(ctx, label+": seal (not timed)", to)
		if err != nil {
			return nil, err
		}
		res.SealSeconds += took.Seconds()
		if _, err := sl.cps.BySize(ctx, to); err != nil {
			return nil, fmt.Errorf("export: no checkpoint of size %d: %w", to, err)
		}
	}
	res.FillRate = float64(total) / res.FillSeconds
	return l, nil
}

// exportCSV times the CSV export and its baselines (a raw read of the
// same messages and a raw CSV of the same rows, right before and after
// it), then the bundle's verification.
func (r *runner) exportCSV(ctx context.Context, l *exportLedger, w exportWorkload, res *ExportResult) error {
	env, vkey, keyFile, total := l.env, l.vkey, l.keyFile, res.TreeSize
	sample, err := exportSample(w, 4096)
	if err != nil {
		return err
	}
	subjects := []string{events.SubjectPrefix + ".*." + passevents.KindGate + ".*"}
	bundle := filepath.Join(r.dir, "export-csv")
	rawRead := func() error { return r.exportRawRead(ctx, env.js, subjects, total, w.rows+w.gates(), res) }
	rawCSV := func() error { return r.exportRawCSV(sample, w.rows, res) }
	// Raw read, raw CSV, export, raw CSV, raw read: the baselines right
	// before and after the export, then the verification, which has no
	// baseline (with the verification in between, in a run where it took
	// 7 minutes, the raw read after it was 3.4 times slower than before).
	steps := []struct {
		name string
		fn   func() error
	}{
		{"raw read", rawRead},
		{"raw csv", rawCSV},
		{"export csv", func() error {
			c, err := r.exportChild(ctx, l.tag, "write", "--nats-url", env.url(), "--seal-key", keyFile,
				"--size", strconv.FormatUint(total, 10), "--format", exports.CSV, "--out", bundle)
			if err != nil {
				return err
			}
			res.CSV = res.CSV.add(c.run())
			res.BundleBytes, res.RowsBytes, res.EntriesBytes, res.Tiles = c.Bytes, c.RowsBytes, c.EntriesBytes, c.Tiles
			if c.Rows != int64(w.rows) || c.Entries != int64(w.rows) {
				return fmt.Errorf("export: the CSV bundle has %d rows and %d entries, want %d", c.Rows, c.Entries, w.rows)
			}
			return nil
		}},
		{"raw csv", rawCSV},
		{"raw read", rawRead},
		{"verify csv", func() error {
			c, err := r.exportChild(ctx, l.tag, "verify", "--dir", bundle, "--key", vkey, "--format", exports.CSV)
			if err != nil {
				return err
			}
			res.Verify = res.Verify.add(c.run())
			if c.Rows != int64(w.rows) || c.Entries != int64(w.rows) {
				return fmt.Errorf("export: verify checked %d rows and %d entries, want %d", c.Rows, c.Entries, w.rows)
			}
			return os.RemoveAll(bundle) // several hundred MB at full size
		}},
	}
	for _, s := range steps {
		r.log.Info("bench: export: " + s.name)
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	res.RawRead.Rate = float64(res.RawRead.Runs) * float64(w.rows) / res.RawRead.Seconds
	res.RawCSV.Rate = float64(res.RawCSV.Runs) * float64(w.rows) / res.RawCSV.Seconds

	return nil
}

// exportRawRead is the raw read baseline: every message of subjects in the
// ledger's sequences 1..total read and counted, want of them, nothing
// decoded. It adds the run to res.
func (r *runner) exportRawRead(ctx context.Context, js jetstream.JetStream, subjects []string, total, want uint64, res *ExportResult) error {
	var n atomic.Uint64
	stop := track(r.progress, "export: raw read", 0, total, n.Load)
	start := time.Now()
	err := ledger.ScanStream(ctx, js, "LEDGER", subjects, 1, total, func(events.Recorded) error {
		n.Add(1)
		return nil
	})
	took := time.Since(start)
	stop()
	if err != nil {
		return err
	}
	if n.Load() != want {
		return fmt.Errorf("export: the raw read got %d messages, want %d", n.Load(), want)
	}
	res.RawReadMsgs = n.Load()
	res.RawRead.Runs++
	res.RawRead.Seconds += took.Seconds()
	return nil
}

// exportRawCSV is the raw CSV baseline: rows lines of the sample written
// with encoding/csv to a file removed after. It adds the run to res.
func (r *runner) exportRawCSV(sample [][]string, rows uint64, res *ExportResult) error {
	path := filepath.Join(r.dir, "export-raw.csv")
	defer os.Remove(path)
	start := time.Now()
	n, err := writeRawCSV(path, sample, int64(rows))
	took := time.Since(start)
	if err != nil {
		return err
	}
	res.RawCSVBytes = n
	res.RawCSV.Runs++
	res.RawCSV.Seconds += took.Seconds()
	return nil
}

// exportXLSX times the XLSX export against the checkpoint of its first
// XLSXTreeSize events, and its verification.
func (r *runner) exportXLSX(ctx context.Context, l *exportLedger, res *ExportResult) error {
	// XLSX, against the checkpoint of the first XLSXTreeSize events.
	xbundle := filepath.Join(r.dir, "export-xlsx")
	defer os.RemoveAll(xbundle)
	r.log.Info("bench: export: export xlsx", "rows", res.XLSXRows)
	c, err := r.exportChild(ctx, l.tag, "write", "--nats-url", l.env.url(), "--seal-key", l.keyFile,
		"--size", strconv.FormatUint(res.XLSXTreeSize, 10), "--format", exports.XLSX, "--out", xbundle)
	if err != nil {
		return fmt.Errorf("export xlsx: %w", err)
	}
	res.XLSX, res.XLSXBytes = c.run(), c.RowsBytes
	if c.Rows != res.XLSXRows {
		return fmt.Errorf("export: the XLSX bundle has %d rows, want %d", c.Rows, res.XLSXRows)
	}
	r.log.Info("bench: export: verify xlsx")
	if c, err = r.exportChild(ctx, l.tag, "verify", "--dir", xbundle, "--key", l.vkey, "--format", exports.XLSX); err != nil {
		return fmt.Errorf("verify xlsx: %w", err)
	}
	res.XLSXVerify = c.run()
	if c.Rows != res.XLSXRows {
		return fmt.Errorf("export: verify checked %d XLSX rows, want %d", c.Rows, res.XLSXRows)
	}

	return nil
}

// exportSample renders the rows of the first n scans of the workload as a
// bundle's rows.csv holds them (row number, event id, the view's columns,
// the entries cell), for the raw CSV baseline to write again and again.
func exportSample(w exportWorkload, n int) ([][]string, error) {
	var out [][]string
	for i := uint64(0); len(out) < n && i < w.total(); i++ {
		if w.isOther(i) {
			continue
		}
		e, err := w.event(i)
		if err != nil {
			return nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(e.Payload, &m); err != nil {
			return nil, err
		}
		payload, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		out = append(out, []string{"", e.ID, e.Time.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"), string(e.Region),
			e.Aggregate.ID, e.Actor.Role, e.Actor.ID, string(payload), ""})
	}
	if len(out) == 0 {
		return nil, errors.New("export: no scans to sample")
	}
	return out, nil
}

// writeRawCSV writes rows rows to path with encoding/csv, cycling through
// sample with the row number and a leaf index filled in, buffered as the
// bundle's rows.csv is (64 KiB), not synced (neither is the bundle), and
// returns the file's size.
func writeRawCSV(path string, sample [][]string, rows int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	bw.WriteString("\ufeff")
	cw := csv.NewWriter(bw)
	cols := exports.View{EventType: passevents.TypeScanned, Kind: passevents.KindGate}.Columns()
	if err := cw.Write(append(append([]string{"row", "id"}, cols...), "entries")); err != nil {
		f.Close()
		return 0, err
	}
	row := make([]string, len(sample[0]))
	for n := int64(1); n <= rows; n++ {
		copy(row, sample[n%int64(len(sample))])
		row[0] = strconv.FormatInt(n, 10)
		row[len(row)-1] = strconv.FormatInt(n+n/(exportOtherEvery-1), 10)
		if err := cw.Write(row); err != nil {
			f.Close()
			return 0, err
		}
	}
	cw.Flush()
	err = errors.Join(cw.Error(), bw.Flush())
	info, serr := f.Stat()
	if err = errors.Join(err, serr, f.Close()); err != nil {
		return 0, err
	}
	return info.Size(), nil
}

// ExportChildReport is what the export child prints on stdout.
type ExportChildReport struct {
	Rows           int64   `json:"rows"`
	Entries        int64   `json:"entries"`
	Tiles          int     `json:"tiles,omitempty"`
	Bytes          int64   `json:"bytes,omitempty"`         // the whole bundle
	RowsBytes      int64   `json:"rows_bytes,omitempty"`    // rows.csv or rows.xlsx
	EntriesBytes   int64   `json:"entries_bytes,omitempty"` // entries.ndjson
	Seconds        float64 `json:"seconds"`                 // exports.Write or exports.Verify alone
	ProcessSeconds float64 `json:"process_seconds"`         // since the process started
	PeakRSSKiB     int64   `json:"peak_rss_kib"`            // VmHWM from /proc/self/status; 0 where there is none

	// Set by the parent: ru_maxrss from wait4, used only when the
	// process could not read its own peak.
	rusageKiB int64
}

func (c ExportChildReport) run() ExportRun {
	rss := c.PeakRSSKiB
	if rss == 0 {
		rss = c.rusageKiB
	}
	return ExportRun{Runs: 1, Rows: c.Rows, Entries: c.Entries, Seconds: c.Seconds, ProcessSeconds: c.ProcessSeconds, PeakRSSMiB: float64(rss) / 1024}
}

// processStart is when this process started (near enough: package
// initialisation), for ExportChildReport.ProcessSeconds.
var processStart = time.Now()

// ExportChild is the hidden subcommand the export part runs in a process
// of its own (ops bench export-child): "write" writes a bundle of the
// scans view with exports.Write, "verify" checks one with exports.Verify;
// each prints an ExportChildReport as JSON.
//
//	write  --nats-url URL --seal-key FILE --size N --format csv|xlsx --out DIR [--cpuprofile FILE]
//	verify --dir DIR --key VERIFIER-KEY [--format csv|xlsx] [--cpuprofile FILE]
//
// write makes the bundle against the published checkpoint of size N and
// signs its manifest with the key in FILE.
func ExportChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: export-child write|verify FLAGS")
	}
	var rep ExportChildReport
	var err error
	switch args[0] {
	case "write":
		rep, err = exportWriteChild(ctx, args[1:], stderr)
	case "verify":
		rep, err = exportVerifyChild(args[1:], stderr)
	default:
		return fmt.Errorf("export-child: unknown mode %q (write or verify)", args[0])
	}
	if err != nil {
		return err
	}
	rep.ProcessSeconds = time.Since(processStart).Seconds()
	rep.PeakRSSKiB = ownPeakRSS()
	return json.NewEncoder(stdout).Encode(rep)
}

func exportWriteChild(ctx context.Context, args []string, stderr io.Writer) (ExportChildReport, error) {
	var rep ExportChildReport
	fs := flag.NewFlagSet("export-child write", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("nats-url", "", "NATS server URL")
	keyFile := fs.String("seal-key", "", "file holding the seal's signing key")
	size := fs.Uint64("size", 0, "tree size of the checkpoint to export against")
	format := fs.String("format", exports.CSV, "csv or xlsx")
	out := fs.String("out", "", "bundle directory")
	prof := fs.String("cpuprofile", "", "write a CPU profile of the export to this file")
	if err := fs.Parse(args); err != nil {
		return rep, err
	}
	skey, err := os.ReadFile(*keyFile)
	if err != nil {
		return rep, err
	}
	signer, vkey, err := seal.LoadSigner(string(skey))
	if err != nil {
		return rep, err
	}
	nc, err := nats.Connect(*url, nats.Name("onebook-bench-export"), nats.Timeout(5*time.Second))
	if err != nil {
		return rep, fmt.Errorf("connect %s: %w", *url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return rep, err
	}
	tiles, err := seal.OpenTiles(ctx, js, seal.TilesConfig{})
	if err != nil {
		return rep, err
	}
	cps, err := seal.OpenCheckpoints(ctx, js, seal.CheckpointsConfig{Stream: CheckpointStream, VerifierKey: vkey})
	if err != nil {
		return rep, err
	}
	cp, err := cps.BySize(ctx, *size)
	if err != nil {
		return rep, err
	}
	v, ok := exports.Lookup(exports.Views(app.Projections()), exportView)
	if !ok {
		return rep, fmt.Errorf("no view %q", exportView)
	}
	src := exports.Source{JS: js, Stream: "LEDGER", Reg: schemas.Registry().WithKeyring(benchKeyring()), Tiles: tiles, Checkpoint: cp, Signer: signer}
	var done atomic.Uint64
	stop := track(stderr, "export: write "+*format+" (separate process)", 0, cp.Size, done.Load)
	stopProfile, err := startCPUProfile(*prof)
	if err != nil {
		return rep, err
	}
	start := time.Now()
	m, err := exports.Write(ctx, src, v, exports.Query{}, *format, *out, func(d, _ uint64) { done.Store(d) })
	rep.Seconds = time.Since(start).Seconds()
	stopProfile()
	stop()
	if err != nil {
		return rep, err
	}
	rep.Rows, rep.Entries, rep.Tiles = m.RowCount, m.EntryCount, m.TileCount
	for _, f := range m.Files {
		rep.Bytes += f.Bytes
		switch f.Name {
		case "rows.csv", "rows.xlsx":
			rep.RowsBytes = f.Bytes
		case "entries.ndjson":
			rep.EntriesBytes = f.Bytes
		}
	}
	for _, name := range []string{"manifest.json", "manifest.sig"} {
		fi, err := os.Stat(filepath.Join(*out, name))
		if err != nil {
			return rep, err
		}
		rep.Bytes += fi.Size()
	}
	return rep, nil
}

func exportVerifyChild(args []string, stderr io.Writer) (ExportChildReport, error) {
	var rep ExportChildReport
	fs := flag.NewFlagSet("export-child verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "bundle directory")
	key := fs.String("key", "", "verifier key")
	fs.String("format", exports.CSV, "the bundle's rows format (for the profile's name only)")
	prof := fs.String("cpuprofile", "", "write a CPU profile of the verification to this file")
	if err := fs.Parse(args); err != nil {
		return rep, err
	}
	var m exports.Manifest
	if b, err := os.ReadFile(filepath.Join(*dir, "manifest.json")); err == nil {
		_ = json.Unmarshal(b, &m) // for the progress lines only; Verify reads it
	}
	var done atomic.Uint64
	stop := track(stderr, "export: verify (separate process)", 0, uint64(m.EntryCount), done.Load)
	stopProfile, err := startCPUProfile(*prof)
	if err != nil {
		return rep, err
	}
	exports.SetVerifierGC() // as ops verify-export does
	start := time.Now()
	vr, err := exports.Verify(context.Background(), *dir, *key, app.Projections(), schemas.Registry(), func(d, _ uint64) { done.Store(d) })
	rep.Seconds = time.Since(start).Seconds()
	stopProfile()
	stop()
	if err != nil {
		return rep, err
	}
	if !vr.OK() {
		return rep, fmt.Errorf("the bundle does not verify: %d problems, the first: %s", len(vr.Problems), vr.Problems[0])
	}
	rep.Rows, rep.Entries = vr.Rows, vr.Entries
	return rep, nil
}

// exportChild runs ExportChild in a process of its own
// (Config.ExportChildCommand) and returns its report.
func (r *runner) exportChild(ctx context.Context, tag, mode string, args ...string) (ExportChildReport, error) {
	var rep ExportChildReport
	argv := append(append(append([]string(nil), r.cfg.ExportChildCommand[1:]...), mode), args...)
	if r.cfg.ChildCPUProfile != "" {
		format := exports.CSV
		for i, a := range args[:len(args)-1] {
			if a == "--format" {
				format = args[i+1]
			}
		}
		argv = append(argv, "--cpuprofile", r.cfg.ChildCPUProfile+".export-"+tag+"-"+mode+"-"+format)
	}
	cmd := exec.CommandContext(ctx, r.cfg.ExportChildCommand[0], argv...)
	cmd.Env = append(os.Environ(), r.cfg.ChildEnv...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if r.progress != nil {
		cmd.Stderr = io.MultiWriter(r.progress, &errOut) // the child's progress lines
	}
	if err := cmd.Run(); err != nil {
		return rep, fmt.Errorf("export child %s: %w: %s", mode, err, bytes.TrimSpace(errOut.Bytes()))
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return rep, fmt.Errorf("export child %s printed %q: %w", mode, out.String(), err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rep.rusageKiB = ru.Maxrss // KiB on Linux; the parent's high-water mark (see VerifyResult)
	}
	return rep, nil
}

// metrics adds the export part's keys to m.
func (x *ExportResult) metrics(m map[string]float64) {
	m["export_rows"] = float64(x.Rows)
	m["export_rate"] = x.CSV.Rate()
	m["export_seconds"] = x.CSV.Seconds
	m["export_process_seconds"] = x.CSV.ProcessSeconds
	m["export_peak_rss_mib"] = x.CSV.PeakRSSMiB
	m["export_bundle_mib"] = float64(x.BundleBytes) / (1 << 20)
	m["export_rows_mib"] = float64(x.RowsBytes) / (1 << 20)
	m["export_entries_mib"] = float64(x.EntriesBytes) / (1 << 20)
	m["export_tiles"] = float64(x.Tiles)
	m["export_raw_read_rate"] = x.RawRead.Rate
	m["export_raw_csv_rate"] = x.RawCSV.Rate
	m["export_raw_csv_mib"] = float64(x.RawCSVBytes) / (1 << 20)
	m["export_read_ratio"] = x.ReadRatio()
	m["export_csv_ratio"] = x.CSVRatio()
	m["export_verify_rate"] = x.Verify.Rate()
	m["export_verify_seconds"] = x.Verify.Seconds
	m["export_verify_process_seconds"] = x.Verify.ProcessSeconds
	m["export_verify_peak_rss_mib"] = x.Verify.PeakRSSMiB
	m["export_xlsx_rows"] = float64(x.XLSXRows)
	m["export_xlsx_rate"] = x.XLSX.Rate()
	m["export_xlsx_peak_rss_mib"] = x.XLSX.PeakRSSMiB
	m["export_xlsx_mib"] = float64(x.XLSXBytes) / (1 << 20)
	m["export_xlsx_verify_rate"] = x.XLSXVerify.Rate()
	m["export_xlsx_verify_peak_rss_mib"] = x.XLSXVerify.PeakRSSMiB
	m["export_leaves"] = float64(x.TreeSize)
	m["export_fill_seconds"] = x.FillSeconds
	m["export_fill_rate"] = x.FillRate
	m["export_seal_seconds"] = x.SealSeconds
	if x.Clear != nil {
		m["export_clear_rate"] = x.Clear.CSV.Rate()
		m["export_clear_verify_rate"] = x.Clear.Verify.Rate()
		m["export_sealed_ratio"] = x.SealedRatio()
		m["export_verify_sealed_ratio"] = x.VerifySealedRatio()
	}
}

// rows returns the export part's table rows. Its figures are
// informational: nothing passes or fails on them.
func (x *ExportResult) rows() []Row {
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	what := fmt.Sprintf("exports.Write of the scans view (one row per pass.scanned event) as CSV: %d rows from a ledger of %d events, against its signed checkpoint, in a process of its own (%d runs: %.1f s; %.1f s with start-up); bundle %.1f MiB: rows.csv %.1f MiB, entries.ndjson %.1f MiB, %d tiles",
		x.Rows, x.TreeSize, x.CSV.Runs, x.CSV.Seconds, x.CSV.ProcessSeconds, mib(x.BundleBytes), mib(x.RowsBytes), mib(x.EntriesBytes), x.Tiles)
	measured := fmt.Sprintf("%s rows/s, peak RSS %.1f MiB", rate(x.CSV.Rate()), x.CSV.PeakRSSMiB)
	rows := []Row{{
		Name: "export",
		Workload: fmt.Sprintf("%s; baseline: ScanStream over the view's subjects (ledger.*.gate.*, %d messages a pass) with a callback that only counts, %d passes (%.1f s), before and after; ratio = export rows/s ÷ raw rows/s",
			what, x.RawReadMsgs, x.RawRead.Runs, x.RawRead.Seconds),
		Baseline: fmt.Sprintf("ScanStream %s rows/s", rate(x.RawRead.Rate)),
		Measured: measured,
		Ratio:    x.ReadRatio(), Target: "informational", Met: true,
	}, {
		Name: "export csv",
		Workload: fmt.Sprintf("the same export against encoding/csv writing %d rows of the same cells (sampled from the same events, %.1f MiB) to a file, buffered, no ledger, %d passes (%.1f s), before and after; ratio = export rows/s ÷ raw rows/s",
			x.Rows, mib(x.RawCSVBytes), x.RawCSV.Runs, x.RawCSV.Seconds),
		Baseline: fmt.Sprintf("encoding/csv %s rows/s", rate(x.RawCSV.Rate)),
		Measured: measured,
		Ratio:    x.CSVRatio(), Target: "informational", Met: true,
	}, {
		Name: "verify-export",
		Workload: fmt.Sprintf("exports.Verify of that bundle (manifest and checkpoint signatures, every file's SHA-256, each of the %d entries canonical and proven in the checkpoint's tree from the bundle's tiles, each row re-derived from its entry), in a process of its own (%d runs: %.1f s; %.1f s with start-up); the bundle is deleted after",
			x.Rows, x.Verify.Runs, x.Verify.Seconds, x.Verify.ProcessSeconds),
		Baseline: "-",
		Measured: fmt.Sprintf("%s rows/s, peak RSS %.1f MiB", rate(x.Verify.Rate()), x.Verify.PeakRSSMiB),
		Target:   "bounded (informational)", Met: true,
	}, {
		Name: "export xlsx",
		Workload: fmt.Sprintf("the same view as XLSX (excelize stream writer; one sheet holds at most %d rows): the first %d scans, against the checkpoint of the ledger's first %d events, written in a process of its own (%.1f s, rows.xlsx %.1f MiB, peak RSS %.1f MiB) and verified in another (%.1f s, %s rows/s, peak RSS %.1f MiB); ratio = XLSX rows/s ÷ CSV export rows/s",
			exports.MaxXLSXRows, x.XLSXRows, x.XLSXTreeSize, x.XLSX.Seconds, mib(x.XLSXBytes), x.XLSX.PeakRSSMiB,
			x.XLSXVerify.Seconds, rate(x.XLSXVerify.Rate()), x.XLSXVerify.PeakRSSMiB),
		Baseline: fmt.Sprintf("CSV export %s rows/s", rate(x.CSV.Rate())),
		Measured: fmt.Sprintf("%s rows/s, peak RSS %.1f MiB; verify %s rows/s", rate(x.XLSX.Rate()), x.XLSX.PeakRSSMiB, rate(x.XLSXVerify.Rate())),
		Ratio:    x.XLSX.Rate() / x.CSV.Rate(), Target: "informational", Met: true,
	}}
	if c := x.Clear; c != nil {
		rows = append(rows, Row{
			Name: "export sealed",
			Workload: fmt.Sprintf("the CSV export above, whose pass.scanned and pass.issued events are sealed (each cited entry's data key unwrapped and disclosed, each row's payload opened), against the same export in the same run over a ledger of the same %d events with every field in clear (%d runs: %.1f s, peak RSS %.1f MiB), the runs alternating clear-sealed-sealed-clear; ratio = sealed rows/s ÷ clear rows/s",
				x.Rows, c.CSV.Runs, c.CSV.Seconds, c.CSV.PeakRSSMiB),
			Baseline: fmt.Sprintf("clear payloads %s rows/s", rate(c.CSV.Rate())),
			Measured: fmt.Sprintf("%s rows/s", rate(x.CSV.Rate())),
			Ratio:    x.SealedRatio(), Target: fmt.Sprintf("≥ %.1f", TargetSealed), Met: x.SealedRatio() >= TargetSealed,
		}, Row{
			Name: "verify-export sealed",
			Workload: fmt.Sprintf("verify-export of the sealed bundle (each sealed entry opened with its disclosed key) against verify-export of the clear one (%d runs: %.1f s, peak RSS %.1f MiB), alternating as the exports; ratio = sealed rows/s ÷ clear rows/s",
				c.Verify.Runs, c.Verify.Seconds, c.Verify.PeakRSSMiB),
			Baseline: fmt.Sprintf("clear payloads %s rows/s", rate(c.Verify.Rate())),
			Measured: fmt.Sprintf("%s rows/s", rate(x.Verify.Rate())),
			Ratio:    x.VerifySealedRatio(), Target: fmt.Sprintf("≥ %.1f", TargetSealed), Met: x.VerifySealedRatio() >= TargetSealed,
		})
	}
	return rows
}

// TargetSealed is what sealing may cost an export or its verification:
// at least this fraction of the rate over clear payloads.
const TargetSealed = 0.8

// startCPUProfile starts a CPU profile to path ("": none) and returns
// what stops it.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
