package exports

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/xuri/excelize/v2"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/backend/parallel"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/seal"
)

// Format names.
const (
	CSV  = "csv"
	XLSX = "xlsx"
)

// BundleFormat is the manifest's format string.
const BundleFormat = "onebook-export/1"

// Query selects what an export covers. Events outside it are not folded
// into any row, so a region-scoped export of an aggregate view shows what
// the ledger recorded in that region.
type Query struct {
	Region events.Region `json:"region,omitempty"` // events recorded in this region (prefix); "" for all
	Prefix string        `json:"prefix,omitempty"` // aggregate views: documents whose id starts with it
	From   time.Time     `json:"from,omitzero"`    // events at or after
	To     time.Time     `json:"to,omitzero"`      // events before
}

func (q Query) covers(e events.Event) bool {
	if q.Region != "" && !q.Region.Covers(e.Region) {
		return false
	}
	if !q.From.IsZero() && e.Time.Before(q.From) {
		return false
	}
	return q.To.IsZero() || e.Time.Before(q.To)
}

// FileInfo describes one file of a bundle.
type FileInfo struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	Rows   int64  `json:"rows,omitempty"`
}

// Manifest is manifest.json.
type Manifest struct {
	Format     string     `json:"format"`
	View       string     `json:"view"`
	Kind       string     `json:"kind"` // aggregate | events
	Query      Query      `json:"query"`
	Rows       string     `json:"rows_format"` // csv | xlsx
	Columns    []string   `json:"columns"`
	Created    time.Time  `json:"created"`
	Checkpoint string     `json:"checkpoint"` // the signed note
	TreeSize   uint64     `json:"tree_size"`
	RowCount   int64      `json:"row_count"`
	EntryCount int64      `json:"entry_count"`
	TileCount  int        `json:"tile_count"`
	Files      []FileInfo `json:"files"`
}

// Source is where an export reads from.
type Source struct {
	JS         jetstream.JetStream
	Stream     string // the ledger stream, "LEDGER"
	Reg        *events.Registry
	Tiles      *seal.Tiles
	Checkpoint seal.SignedCheckpoint // the export is made against it (its size bounds the ledger read)
	Signer     note.Signer           // signs the manifest (the seal key)
}

// Progress is told how many ledger entries of how many were read.
type Progress func(done, total uint64)

// Write writes a bundle of view under q to dir (created if needed, must be
// empty), streaming: rows and entries go to disk as they are derived; an
// aggregate view keeps its documents and their entry lists in memory
// until the ledger is read, an event view nothing.
func Write(ctx context.Context, src Source, v View, q Query, format string, dir string, progress Progress) (Manifest, error) {
	if format != CSV && format != XLSX {
		return Manifest{}, events.Invalid("format", "must be csv or xlsx")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Manifest{}, err
	}
	if names, _ := os.ReadDir(dir); len(names) > 0 {
		return Manifest{}, fmt.Errorf("bundle directory %s is not empty", dir)
	}
	w := &writer{src: src, v: v, q: q, dir: dir, progress: progress, tiles0: map[int64]bool{}}
	m := Manifest{Format: BundleFormat, View: v.Name, Kind: "events", Query: q, Rows: format, Columns: v.Columns(),
		Created: time.Now().UTC(), Checkpoint: string(src.Checkpoint.Note), TreeSize: src.Checkpoint.Size}
	if v.Aggregate() {
		m.Kind = "aggregate"
	}
	rows, err := w.newRows(format, m.Columns)
	if err != nil {
		return Manifest{}, err
	}
	entries, err := w.create("entries.ndjson")
	if err != nil {
		return Manifest{}, err
	}
	w.entries = entries
	if v.Aggregate() {
		err = w.aggregate(ctx, rows)
	} else {
		err = w.eventRows(ctx, rows)
	}
	if err != nil {
		rows.abort()
		return Manifest{}, err
	}
	rowInfo, err := rows.close()
	if err != nil {
		return Manifest{}, err
	}
	entInfo, err := entries.close()
	if err != nil {
		return Manifest{}, err
	}
	entInfo.Rows = w.nEntries
	m.RowCount, m.EntryCount = rowInfo.Rows, w.nEntries
	tileInfos, err := w.writeTiles(ctx)
	if err != nil {
		return Manifest{}, err
	}
	m.TileCount = len(tileInfos)
	m.Files = append([]FileInfo{rowInfo, entInfo}, tileInfos...)
	return m, writeManifest(dir, m, src.Signer)
}

// writeManifest writes manifest.json and its signature.
func writeManifest(dir string, m Manifest, signer note.Signer) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644); err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	sig, err := note.Sign(&note.Note{Text: manifestText(hex.EncodeToString(sum[:]))}, signer)
	if err != nil {
		return fmt.Errorf("sign the manifest: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "manifest.sig"), sig, 0o644)
}

func manifestText(sum string) string { return BundleFormat + "\nmanifest sha256 " + sum + "\n" }

type writer struct {
	src      Source
	v        View
	q        Query
	dir      string
	progress Progress
	entries  *hashedFile
	nEntries int64
	tiles0   map[int64]bool // level-0 tiles holding an entry
}

// scan reads the ledger up to the checkpoint's size, the view's subjects
// only, and calls emit, in ledger order, with each event the query covers
// and what prep made of it (use false: the event is left out). prep is
// the work of one event on its own (parse, open, render) and runs on
// several goroutines at once; emit (write, fold) runs on the caller's.
func scan[T any](ctx context.Context, w *writer,
	prep func(rec events.Recorded, e events.Event) (v T, use bool, err error),
	emit func(rec events.Recorded, e events.Event, v T) error) error {
	size := w.src.Checkpoint.Size
	var scanErr error
	ledgerEvents := func(yield func(events.Recorded) bool) {
		scanErr = ledger.ScanStream(ctx, w.src.JS, w.src.Stream, w.v.subjects(), 1, size, func(rec events.Recorded) error {
			if !yield(rec) {
				return errStopped
			}
			return nil
		})
	}
	type prepared struct {
		rec events.Recorded
		e   events.Event
		v   T
		use bool
		err error
	}
	work := func(rec events.Recorded) (p prepared) {
		p.rec = rec
		// Parse checks the canonical form in one read of the bytes, faster
		// than a plain json.Unmarshal of the envelope, so the exporter
		// checks what it cites as the bundle's verifier will.
		e, err := events.Parse(rec.Raw)
		if err != nil {
			p.err = fmt.Errorf("ledger entry %d: %w", rec.Seq, err)
			return p
		}
		if !w.q.covers(e) {
			return p
		}
		p.rec.Event, p.e = e, e
		p.v, p.use, p.err = prep(p.rec, e)
		return p
	}
	for p := range parallel.Map(runtime.GOMAXPROCS(0), eventBatch, ledgerEvents, work) {
		if w.progress != nil && p.rec.Seq%4096 == 0 {
			w.progress(p.rec.Seq, size)
		}
		if p.err != nil {
			return p.err
		}
		if p.use {
			if err := emit(p.rec, p.e, p.v); err != nil {
				return err
			}
		}
	}
	return scanErr // read after the loop: Map's source has returned
}

// eventBatch is how many events (ledger messages, entry lines) a goroutine
// of an export or a verification takes at a time: enough to pay the
// hand-over once for many events, few enough to keep memory small (events
// of a few hundred bytes).
const eventBatch = 64

// errStopped ends a ledger scan whose reader stopped early.
var errStopped = errors.New("export: stopped reading the ledger")

// dataKey returns the data key of e's sealed fields, if it has any, to
// disclose with e: the bundle discloses exactly the entries it cites.
// erased is true when e's subject was erased (its key is destroyed).
func (w *writer) dataKey(ctx context.Context, rec events.Recorded, e events.Event) (key []byte, erased bool, err error) {
	if !events.IsSealed(e) {
		return nil, false, nil
	}
	key, err = w.src.Reg.DataKey(ctx, e)
	switch {
	case errors.Is(err, events.ErrErased):
		return nil, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("ledger entry %d: %w", rec.Seq, err)
	}
	return key, false, nil
}

// writeEntry writes one cited entry with its data key (or erased).
func (w *writer) writeEntry(rec events.Recorded, key []byte, erased bool) error {
	idx := rec.Seq - 1
	w.tiles0[int64(idx)>>seal.TileHeight] = true
	w.nEntries++
	bw := w.entries.w
	bw.WriteString(lineIndex)
	bw.WriteString(strconv.FormatUint(idx, 10))
	bw.WriteString(lineEvent)
	bw.Write(rec.Raw)
	switch {
	case key != nil:
		bw.WriteString(lineKey)
		bw.Write(base64.StdEncoding.AppendEncode(bw.AvailableBuffer(), key)) // in bw's own buffer when it has room
		bw.WriteString(`"`)
	case erased:
		bw.WriteString(lineErased)
	}
	_, err := bw.WriteString("}\n")
	return err
}

// A line of entries.ndjson, as writeEntry writes it:
// {"index":N,"event":EVENT} with ,"key":"BASE64" or ,"erased":true before
// the closing brace when the event is sealed.
const (
	lineIndex  = `{"index":`
	lineEvent  = `,"event":`
	lineKey    = `,"key":"`
	lineErased = `,"erased":true`
)

// eventRowOf is what an event view writes of one event: its row, and the
// data key of its sealed fields (or that its subject was erased).
type eventRowOf struct {
	cells    []string
	key      []byte
	withheld bool
}

func (w *writer) eventRows(ctx context.Context, rows rowWriter) error {
	var n int64
	prep := func(rec events.Recorded, e events.Event) (eventRowOf, bool, error) {
		if e.Type != w.v.EventType {
			return eventRowOf{}, false, nil
		}
		// One opening of the box gives the row and the key to disclose.
		o, err := w.src.Reg.OpenFields(ctx, e)
		if err != nil {
			return eventRowOf{}, false, fmt.Errorf("ledger entry %d: %w", rec.Seq, err)
		}
		cells, err := eventRow(e, o.Fields)
		if err != nil {
			return eventRowOf{}, false, fmt.Errorf("ledger entry %d: %w", rec.Seq, err)
		}
		return eventRowOf{cells: cells, key: o.Key, withheld: o.Withheld}, true, nil
	}
	return scan(ctx, w, prep, func(rec events.Recorded, e events.Event, r eventRowOf) error {
		if err := w.writeEntry(rec, r.key, r.withheld); err != nil {
			return err
		}
		n++
		return rows.write(n, e.ID, r.cells, []uint64{rec.Seq - 1})
	})
}

type aggDoc struct {
	state   any
	entries []uint64
}

// cited is an event an aggregate view cites: its payload, the documents
// (under the query's prefix) it folds into, and its data key.
type cited struct {
	pl     events.Payload
	ids    []string
	key    []byte
	erased bool
}

func (w *writer) aggregate(ctx context.Context, rows rowWriter) error {
	p := w.v.Projection
	docs := map[string]*aggDoc{}
	prep := func(rec events.Recorded, e events.Event) (c cited, use bool, err error) {
		if w.src.Reg.Version(e.Type) > 0 {
			if c.pl, err = w.src.Reg.Decode(ctx, e); err != nil {
				return c, false, fmt.Errorf("ledger entry %d: %w", rec.Seq, err)
			}
		}
		for _, id := range p.Keys(e, c.pl) {
			if strings.HasPrefix(id, w.q.Prefix) {
				c.ids = append(c.ids, id)
			}
		}
		if len(c.ids) == 0 {
			return c, false, nil
		}
		c.key, c.erased, err = w.dataKey(ctx, rec, e)
		return c, err == nil, err
	}
	err := scan(ctx, w, prep, func(rec events.Recorded, e events.Event, c cited) error {
		for _, id := range c.ids {
			d := docs[id]
			if d == nil {
				d = &aggDoc{state: p.NewState()}
				docs[id] = d
			}
			if err := p.Fold(id, d.state, e, c.pl); err != nil {
				return fmt.Errorf("fold ledger entry %d into %s: %w", rec.Seq, id, err)
			}
			d.entries = append(d.entries, rec.Seq-1)
		}
		return w.writeEntry(rec, c.key, c.erased)
	})
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(docs))
	for id := range docs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		cells, err := w.v.docRow(docs[id].state)
		if err != nil {
			return err
		}
		if err := rows.write(int64(i+1), id, cells, docs[id].entries); err != nil {
			return err
		}
		delete(docs, id)
	}
	return nil
}

// writeTiles writes the tiles that prove the entries: the level-0 tiles
// holding one, the last level-0 tile (proofs take the hashes of the small
// subtrees at the tree's right edge from it), and every tile of a higher
// level, of the tree of the checkpoint's size.
func (w *writer) writeTiles(ctx context.Context) ([]FileInfo, error) {
	size := int64(w.src.Checkpoint.Size)
	var want []tlog.Tile
	last := (size - 1) >> seal.TileHeight // the right edge: hashes of subtrees smaller than a tile come from it
	for _, t := range tlog.NewTiles(seal.TileHeight, 0, size) {
		if t.L > 0 || w.tiles0[t.N] || t.N == last {
			want = append(want, t)
		}
	}
	var out []FileInfo
	for len(want) > 0 {
		batch := want[:min(len(want), 64)]
		want = want[len(batch):]
		data, err := w.src.Tiles.Read(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("read tiles: %w", err)
		}
		for i, t := range batch {
			name := "tiles/" + t.Path()
			path := filepath.Join(w.dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, data[i], 0o644); err != nil {
				return nil, err
			}
			sum := sha256.Sum256(data[i])
			out = append(out, FileInfo{Name: name, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(data[i]))})
		}
	}
	return out, nil
}

// hashedFile is a file whose SHA-256 and size are computed as it is written.
type hashedFile struct {
	name string
	f    *os.File
	h    hash.Hash
	n    *countWriter
	w    *bufio.Writer
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func (w *writer) create(name string) (*hashedFile, error) {
	f, err := os.Create(filepath.Join(w.dir, name))
	if err != nil {
		return nil, err
	}
	h, n := sha256.New(), &countWriter{}
	return &hashedFile{name: name, f: f, h: h, n: n, w: bufio.NewWriterSize(io.MultiWriter(f, h, n), 1<<16)}, nil
}

func (hf *hashedFile) close() (FileInfo, error) {
	err := hf.w.Flush()
	if cerr := hf.f.Close(); err == nil {
		err = cerr
	}
	return FileInfo{Name: hf.name, SHA256: hex.EncodeToString(hf.h.Sum(nil)), Bytes: hf.n.n}, err
}

// rowWriter writes rows as CSV or XLSX.
type rowWriter interface {
	write(n int64, id string, cells []string, entries []uint64) error
	close() (FileInfo, error)
	abort()
}

func header(cols []string) []string {
	return append(append([]string{"row", "id"}, cols...), "entries")
}

func (w *writer) newRows(format string, cols []string) (rowWriter, error) {
	if format == CSV {
		f, err := w.create("rows.csv")
		if err != nil {
			return nil, err
		}
		f.w.WriteString("\ufeff") // Excel opens UTF-8 CSV correctly only with a BOM
		cw := csv.NewWriter(f.w)
		return &csvRows{f: f, cw: cw}, cw.Write(header(cols))
	}
	x := excelize.NewFile()
	sw, err := x.NewStreamWriter("Sheet1")
	if err != nil {
		return nil, err
	}
	r := &xlsxRows{w: w, x: x, sw: sw}
	return r, r.row(1, header(cols))
}

type csvRows struct {
	f  *hashedFile
	cw *csv.Writer
	n  int64
}

func (r *csvRows) write(n int64, id string, cells []string, entries []uint64) error {
	r.n++
	row := make([]string, 0, len(cells)+3)
	row = append(row, strconv.FormatInt(n, 10), CSVCell(id))
	for _, c := range cells {
		row = append(row, CSVCell(c))
	}
	return r.cw.Write(append(row, entriesCell(entries)))
}

func (r *csvRows) close() (FileInfo, error) {
	r.cw.Flush()
	if err := r.cw.Error(); err != nil {
		return FileInfo{}, err
	}
	fi, err := r.f.close()
	fi.Rows = r.n
	return fi, err
}

func (r *csvRows) abort() { r.f.f.Close() }

// CSVCell neutralises a cell a spreadsheet would run as a formula (OWASP:
// a leading =, +, -, @, tab or carriage return gets a quote), leaving
// numbers alone. Verify applies the same rule to the cells it derives.
func CSVCell(s string) string {
	if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return s
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return s
	}
	return "'" + s
}

type xlsxRows struct {
	w  *writer
	x  *excelize.File
	sw *excelize.StreamWriter
	n  int64
}

// MaxXLSXRows is Excel's row limit (1,048,576) less the header.
const MaxXLSXRows = 1<<20 - 1

func (r *xlsxRows) row(at int64, cells []string) error {
	vals := make([]any, len(cells))
	for i, c := range cells {
		vals[i] = c // strings, never formulas
	}
	cell, err := excelize.CoordinatesToCellName(1, int(at))
	if err != nil {
		return err
	}
	return r.sw.SetRow(cell, vals)
}

func (r *xlsxRows) write(n int64, id string, cells []string, entries []uint64) error {
	r.n++
	if r.n > MaxXLSXRows {
		return events.Errorf(events.CodeTooLarge, "more than %d rows do not fit in one XLSX sheet; export as CSV or narrow the query", MaxXLSXRows)
	}
	row := make([]string, 0, len(cells)+3)
	row = append(row, strconv.FormatInt(n, 10), id)
	row = append(row, cells...)
	return r.row(r.n+1, append(row, entriesCell(entries)))
}

func (r *xlsxRows) close() (FileInfo, error) {
	if err := r.sw.Flush(); err != nil {
		return FileInfo{}, err
	}
	f, err := r.w.create("rows.xlsx")
	if err != nil {
		return FileInfo{}, err
	}
	if _, err := r.x.WriteTo(f.w); err != nil {
		f.f.Close()
		return FileInfo{}, err
	}
	_ = r.x.Close()
	fi, err := f.close()
	fi.Rows = r.n
	return fi, err
}

func (r *xlsxRows) abort() { _ = r.x.Close() }
