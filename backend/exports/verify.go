package exports

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/backend/parallel"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/projections"
)

// Report is what Verify found.
type Report struct {
	Manifest   Manifest
	Checkpoint seal.Checkpoint
	Rows       int64
	Entries    int64
	Problems   []string // each names the file and row or entry; empty: the bundle is good
}

// OK reports whether the bundle verified.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// VerifierGCPercent is the garbage collector's target (GOGC) of a
// process that verifies bundles (ops verify-export). A verification
// streams: what it keeps is the bundle's tiles, some tens of MiB at most,
// while it allocates some KiB for every entry and throws them away at
// once, 1.3 KiB of it for the AES-GCM state of a sealed event's own data
// key alone. At Go's default, 100, the collector then ran so often that
// it cost a verification of sealed entries a quarter of its rate, a
// fifth more than the entries' crypto; at 400 that cost all but goes, for
// a peak RSS of about 130 MiB instead of 80 (ops bench, 300,000 rows).
const VerifierGCPercent = 400

// SetVerifierGC sets the process's GC target to VerifierGCPercent, unless
// GOGC in the environment says otherwise. It is for commands that verify,
// not for the backend, whose heap is not a verification's.
func SetVerifierGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(VerifierGCPercent)
	}
}

// MaxProblems stops a verification after this many problems.
const MaxProblems = 100

// Verify checks the bundle in dir against onebook's verifier key (the
// signed-note verifier key, e.g. from GET /ledger/key or seal.key.pub),
// with ps the projections the backend runs (to re-derive aggregate rows)
// and reg its event registry. It needs nothing else: no server, no
// database.
func Verify(ctx context.Context, dir, verifierKey string, ps []projections.Projection, reg *events.Registry, progress Progress) (Report, error) {
	verifier, err := note.NewVerifier(verifierKey)
	if err != nil {
		return Report{}, fmt.Errorf("verifier key: %w", err)
	}
	// The sealed fields of the cited entries open with the data keys the
	// bundle discloses, and with nothing else: reg's own keyring, if it
	// has one, is not used.
	keys := events.DataKeys{}
	b := &bundleCheck{dir: dir, verifier: verifier, keys: keys, reg: reg.WithKeyring(keys), progress: progress,
		tiles: map[string][]byte{}, authentic: map[int64][]byte{}}
	if err := b.manifest(); err != nil {
		return b.rep, err
	}
	if !b.checkpoint() {
		return b.rep, nil
	}
	rowsFile, err := b.files()
	if err == nil {
		err = b.entriesAndRows(ctx, ps, rowsFile)
	}
	b.settleFiles()
	return b.rep, err
}

// entriesAndRows checks every entry and every row (steps 4 and 5).
func (b *bundleCheck) entriesAndRows(ctx context.Context, ps []projections.Projection, rowsFile string) error {
	v, known := viewOf(b.rep.Manifest, ps) // unknown: the entries are checked, no row
	if err := b.openEntries(ctx, v); err != nil {
		return err
	}
	defer b.closeEntries()
	return b.rows(ctx, v, known, rowsFile)
}

// bundleCheck is one verification of a bundle, step by step: the
// manifest and its signature, the checkpoint, every file's hash, every
// entry (canonical bytes in the checkpoint's tree) and every row (it
// follows from its entries).
type bundleCheck struct {
	dir      string
	verifier note.Verifier
	keys     events.DataKeys // the data keys an aggregate bundle's verified entries disclose, by event id
	reg      *events.Registry
	progress Progress
	rep      Report
	// fileChecks are step 3's checks, in the manifest's order, those of
	// large files still running beside steps 4 and 5 (settleFiles).
	fileChecks []*fileCheck

	cp      seal.Checkpoint
	tiles   map[string][]byte // the bundle's tiles by path (small: 8 KiB each)
	hashes  tlog.HashReader
	entries *os.File
	// lines yields entries.ndjson's lines, each read and checked on its own
	// (readEntry) on several goroutines, in file order; stopLines ends it.
	lines     func() (checkedLine, bool)
	stopLines func()
	scanErr   error // entries.ndjson could not be read to its end
	// authentic holds the level-0 tiles whose every hash was proven to be
	// in the checkpoint's tree (inTree).
	authentic map[int64][]byte
}

// problem records a problem; false once there are too many to go on.
// The file checks' problems come first, as their step does.
func (b *bundleCheck) problem(format string, args ...any) bool {
	b.settleFiles()
	b.rep.Problems = append(b.rep.Problems, fmt.Sprintf(format, args...))
	return len(b.rep.Problems) < MaxProblems
}

// settleFiles waits for the file checks still running and records their
// problems.
func (b *bundleCheck) settleFiles() {
	checks := b.fileChecks
	b.fileChecks = nil
	for _, c := range checks {
		<-c.done
		b.rep.Problems = append(b.rep.Problems, c.problems...)
	}
}

// manifest reads the manifest and checks its signature (step 1).
func (b *bundleCheck) manifest() error {
	mb, err := os.ReadFile(filepath.Join(b.dir, "manifest.json"))
	if err != nil {
		return err
	}
	sig, err := os.ReadFile(filepath.Join(b.dir, "manifest.sig"))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(mb)
	n, err := note.Open(sig, note.VerifierList(b.verifier))
	switch {
	case err != nil:
		b.problem("manifest.sig: not signed by %s: %v", b.verifier.Name(), err)
	case n.Text != manifestText(hex.EncodeToString(sum[:])):
		b.problem("manifest.json: its SHA-256 is not the one manifest.sig signs (the manifest was changed)")
	}
	if err := json.Unmarshal(mb, &b.rep.Manifest); err != nil {
		return fmt.Errorf("manifest.json: %w", err)
	}
	if f := b.rep.Manifest.Format; f != BundleFormat {
		return fmt.Errorf("manifest.json: format %q, want %q", f, BundleFormat)
	}
	return nil
}

// checkpoint checks the manifest's checkpoint (step 2); false if it does
// not verify, and nothing more can be checked.
func (b *bundleCheck) checkpoint() bool {
	m := b.rep.Manifest
	cp, _, err := seal.OpenCheckpoint([]byte(m.Checkpoint), note.VerifierList(b.verifier), b.verifier.Name())
	if err != nil {
		b.problem("manifest.json: the checkpoint does not verify with %s: %v", b.verifier.Name(), err)
		return false
	}
	b.cp, b.rep.Checkpoint = cp, cp
	if cp.Size != m.TreeSize {
		b.problem("manifest.json: tree_size %d but the checkpoint says %d", m.TreeSize, cp.Size)
	}
	return true
}

// files checks every file's hash and keeps the tiles in memory (step 3);
// it returns the name of the rows file. The tiles (8 KiB each) are read
// and checked at once, since the proofs need them; the other files (the
// rows file and entries.ndjson, which steps 4 and 5 read again) are
// hashed one after the other on a goroutine of their own meanwhile.
func (b *bundleCheck) files() (string, error) {
	var rowsFile string
	var later []func()
	defer func() {
		go func() {
			for _, check := range later {
				check()
			}
		}()
	}()
	for _, f := range b.rep.Manifest.Files {
		c := &fileCheck{done: make(chan struct{})}
		b.fileChecks = append(b.fileChecks, c)
		clean := filepath.Clean(filepath.FromSlash(f.Name))
		path := filepath.Join(b.dir, clean)
		switch {
		case filepath.IsAbs(clean) || strings.HasPrefix(clean, ".."):
			c.problems = []string{fmt.Sprintf("manifest.json: file name %q leaves the bundle", f.Name)}
			close(c.done)
		case strings.HasPrefix(f.Name, "tiles/"):
			data, err := os.ReadFile(path)
			sum := sha256.Sum256(data)
			c.problems = hashProblems(f, hex.EncodeToString(sum[:]), int64(len(data)), err)
			if err == nil {
				b.tiles[strings.TrimPrefix(f.Name, "tiles/")] = data
			}
			close(c.done)
		default:
			if f.Name == "rows.csv" || f.Name == "rows.xlsx" {
				rowsFile = f.Name
			}
			later = append(later, func() {
				defer close(c.done)
				got, size, err := hashFile(path)
				c.problems = hashProblems(f, got, size, err)
			})
		}
	}
	if rowsFile == "" {
		return "", fmt.Errorf("manifest.json lists no rows file")
	}
	return rowsFile, nil
}

// fileCheck is the check of one file's hash; problems is set when done is
// closed.
type fileCheck struct {
	done     chan struct{}
	problems []string
}

// hashProblems are the problems of file f, whose SHA-256 is got and size
// size, or which could not be read (err).
func hashProblems(f FileInfo, got string, size int64, err error) []string {
	switch {
	case err != nil:
		return []string{fmt.Sprintf("%s: %v", f.Name, err)}
	case got != f.SHA256 || size != f.Bytes:
		return []string{fmt.Sprintf("%s: SHA-256 %s (%d bytes), the manifest says %s (%d bytes): the file was changed", f.Name, got, size, f.SHA256, f.Bytes)}
	}
	return nil
}

// openEntries opens entries.ndjson for reading with next (step 4). Its
// lines are read on a goroutine of their own and checked, each on its
// own, on as many as there are processors (the checks that link lines,
// such as the tree's, are next's, in file order).
func (b *bundleCheck) openEntries(ctx context.Context, v View) error {
	b.hashes = tlog.TileHashReader(b.cp.Tree(), bundleTiles(b.tiles))
	f, err := os.Open(filepath.Join(b.dir, "entries.ndjson"))
	if err != nil {
		return err
	}
	b.entries = f
	lines := func(yield func(numberedLine) bool) {
		scan := bufio.NewScanner(f)
		scan.Buffer(make([]byte, 1<<20), 16<<20)
		for n := 1; scan.Scan(); n++ {
			if !yield(numberedLine{n: n, b: bytes.Clone(scan.Bytes())}) {
				return
			}
		}
		b.scanErr = scan.Err()
	}
	check := func(l numberedLine) checkedLine { return readEntry(ctx, b.reg, v, l) }
	b.lines, b.stopLines = iter.Pull(parallel.Map(runtime.GOMAXPROCS(0), eventBatch, lines, check))
	return nil
}

func (b *bundleCheck) closeEntries() {
	b.stopLines()
	b.entries.Close()
}

type numberedLine struct {
	n int // from 1
	b []byte
}

// checkedLine is a line of entries.ndjson read and checked on its own.
type checkedLine struct {
	n      int
	ent    entryLine
	e      events.Event
	notObj string // the line is not an entry line (JSON): why
	notEv  string // its event is not canonical: why
	leaf   tlog.Hash
	// row is the row an event view derives from the entry, opened with the
	// entry's own key; rowErr says why there is none.
	row    []string
	rowErr string
}

// readEntry reads and checks line l on its own: its JSON, its event's
// canonical form, its leaf hash and, for an event view, the row its event
// gives.
func readEntry(ctx context.Context, reg *events.Registry, v View, l numberedLine) (c checkedLine) {
	c.n = l.n
	ent, e, parsed := readLine(l.b)
	if !parsed {
		if err := json.Unmarshal(l.b, &ent); err != nil {
			c.notObj = err.Error()
			return c
		}
		var err error
		if e, err = events.Parse(ent.Event); err != nil {
			c.ent, c.notEv = ent, err.Error()
			return c
		}
	}
	c.ent, c.e = ent, e
	c.leaf = tlog.RecordHash(ent.Event)
	if !v.Aggregate() && e.Type == v.EventType && (ent.Key != nil || ent.Erased || !events.IsSealed(e)) {
		c.row, c.rowErr = rowOf(ctx, reg, ent, e)
	}
	return c
}

// rowOf is the row of an event view that entry ent, event e, gives: its
// sealed fields opened with the key ent discloses and no other.
func rowOf(ctx context.Context, reg *events.Registry, ent entryLine, e events.Event) ([]string, string) {
	o, err := reg.WithKeyring(disclosed{id: e.ID, key: ent.Key, erased: ent.Erased}).OpenFields(ctx, e)
	if err != nil {
		return nil, fmt.Sprintf("leaf %d does not open with its disclosed key: %v", ent.Index, err)
	}
	row, err := eventRow(e, o.Fields)
	if err != nil {
		return nil, err.Error()
	}
	return row, ""
}

// disclosed is the keyring of one entry of a bundle: the data key its
// line discloses, or that its subject was erased (events.DataKeys for
// one entry, without a map).
type disclosed struct {
	id     string
	key    []byte
	erased bool
}

func (d disclosed) Wrap(context.Context, string, string, []byte) (events.Wrapped, error) {
	return events.Wrapped{}, events.Errorf(events.CodeForbidden, "disclosed data keys cannot seal new events")
}

func (d disclosed) Unwrap(_ context.Context, eventID string, _ events.Wrapped) ([]byte, error) {
	switch {
	case eventID != d.id || (d.key == nil && !d.erased):
		return nil, events.ErrNoKey
	case d.erased:
		return nil, fmt.Errorf("event %s: %w", eventID, events.ErrErased)
	}
	return d.key, nil
}

// inTree proves a leaf in the checkpoint's tree. The first entry of a
// level-0 tile gets a full inclusion proof, which authenticates the whole
// tile (TileHashReader hashes every tile it reads up to the signed root);
// later entries of that tile are then found in its authenticated data. A
// million entries then cost about 4,000 proofs, not a million.
func (b *bundleCheck) inTree(leaf tlog.Hash, index uint64) error {
	n := int64(index) >> seal.TileHeight
	if data, ok := b.authentic[n]; ok {
		off := (int64(index) - n<<seal.TileHeight) * tlog.HashSize
		if off+tlog.HashSize > int64(len(data)) || !bytes.Equal(data[off:off+tlog.HashSize], leaf[:]) {
			return fmt.Errorf("leaf hash differs from the one in the tree")
		}
		return nil
	}
	proof, err := tlog.ProveRecord(int64(b.cp.Size), int64(index), b.hashes)
	if err == nil {
		err = tlog.CheckRecord(proof, int64(b.cp.Size), b.cp.Hash, int64(index), leaf)
	}
	if err != nil {
		return err
	}
	w := min(int64(1)<<seal.TileHeight, int64(b.cp.Size)-n<<seal.TileHeight)
	if data, ok := b.tiles[tlog.Tile{H: seal.TileHeight, L: 0, N: n, W: int(w)}.Path()]; ok {
		b.authentic[n] = data
	}
	return nil
}

// next returns the next entry that verifies (canonical bytes, its data
// key disclosed if sealed, in the checkpoint's tree), reporting those
// that do not; ok is false at the end (or when there are too many
// problems).
func (b *bundleCheck) next() (c checkedLine, ok bool) {
	for {
		c, ok := b.lines()
		if !ok {
			break
		}
		ent := c.ent
		if c.notObj != "" {
			if !b.problem("entries.ndjson line %d: %s", c.n, c.notObj) {
				return checkedLine{}, false
			}
			continue
		}
		b.rep.Entries++
		if b.progress != nil && b.rep.Entries%4096 == 0 {
			b.progress(uint64(b.rep.Entries), uint64(b.rep.Manifest.EntryCount))
		}
		if c.notEv != "" {
			if !b.problem("entries.ndjson line %d (leaf %d): not a canonical event: %s", c.n, ent.Index, c.notEv) {
				return checkedLine{}, false
			}
			continue
		}
		// A key (or the word that the entry's subject was erased) is
		// taken as given; whether it opens the entry is checked with the
		// row that cites it. Only an entry without one is looked into for
		// a box: an entry sealed with no key to it cannot be checked.
		if ent.Key == nil && !ent.Erased && events.IsSealed(c.e) {
			if !b.problem("entries.ndjson line %d (leaf %d): sealed, and the bundle gives no key to it", c.n, ent.Index) {
				return checkedLine{}, false
			}
			continue
		}
		if err := b.inTree(c.leaf, ent.Index); err != nil {
			if !b.problem("entries.ndjson line %d (leaf %d): not in the checkpoint's tree: %v", c.n, ent.Index, err) {
				return checkedLine{}, false
			}
			continue
		}
		return c, true
	}
	if b.scanErr != nil {
		b.problem("entries.ndjson: %v", b.scanErr)
	}
	return checkedLine{}, false
}

// entryLine is a line of entries.ndjson.
type entryLine struct {
	Index  uint64          `json:"index"`
	Event  json.RawMessage `json:"event"`
	Key    []byte          `json:"key"`    // the data key of its sealed fields
	Erased bool            `json:"erased"` // its subject was erased: sealed fields unreadable
}

// readLine reads a line as writeEntry writes it, without a JSON decoder,
// and its event with events.Parse; parsed is false when the line is not
// exactly in that form or its event does not parse, and the caller then
// reads it with encoding/json, which accepts the same lines and more, and
// reports what is wrong.
func readLine(line []byte) (ent entryLine, e events.Event, parsed bool) {
	rest, ok := bytes.CutPrefix(line, []byte(lineIndex))
	if !ok {
		return ent, e, false
	}
	i := bytes.IndexByte(rest, ',')
	if i < 1 || i > 20 || (rest[0] == '0' && i > 1) {
		return ent, e, false
	}
	for _, c := range rest[:i] {
		if c < '0' || c > '9' {
			return ent, e, false
		}
	}
	idx, err := strconv.ParseUint(string(rest[:i]), 10, 64)
	if err != nil {
		return ent, e, false
	}
	if rest, ok = bytes.CutPrefix(rest[i:], []byte(lineEvent)); !ok {
		return ent, e, false
	}
	if rest, ok = bytes.CutSuffix(rest, []byte(`}`)); !ok {
		return ent, e, false
	}
	ent.Index = idx
	switch {
	case bytes.HasSuffix(rest, []byte(lineErased)):
		ent.Erased = true
		rest = rest[:len(rest)-len(lineErased)]
	case bytes.HasSuffix(rest, []byte(`"`)):
		k := bytes.LastIndex(rest, []byte(lineKey))
		if k < 0 || k+len(lineKey) > len(rest)-1 { // the closing quote is the key's opening one
			return ent, e, false
		}
		b64 := rest[k+len(lineKey) : len(rest)-1]
		// The decoder refuses every byte outside the alphabet but skips
		// \r and \n, which a JSON string cannot hold unescaped.
		if bytes.ContainsAny(b64, "\r\n") {
			return ent, e, false
		}
		ent.Key = make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
		n, err := base64.StdEncoding.Decode(ent.Key, b64)
		if err != nil {
			return ent, e, false
		}
		ent.Key = ent.Key[:n]
		rest = rest[:k]
	}
	if e, err = events.Parse(rest); err != nil {
		return ent, e, false
	}
	ent.Event = rest
	return ent, e, true
}

// rows checks that every row follows from its entries (step 5). An
// aggregate view's entries are read first and kept, to re-fold its rows
// (aggregate exports are small); an event view's are checked in step with
// its rows, one at a time, so verifying a million rows needs no more
// memory than verifying ten.
func (b *bundleCheck) rows(ctx context.Context, v View, known bool, rowsFile string) error {
	m := b.rep.Manifest
	// An aggregate view's verified entries, parsed (Parse copies what it
	// keeps), and the keys they disclose: its rows fold them with b.reg,
	// whose keyring is b.keys. (An event view's entries are opened each
	// with its own key, by readEntry.)
	entries := map[uint64]events.Event{}
	if m.Kind == "aggregate" {
		for {
			c, ok := b.next()
			if !ok {
				break
			}
			entries[c.ent.Index] = c.e
			switch {
			case c.ent.Erased:
				b.keys[c.e.ID] = nil
			case c.ent.Key != nil:
				b.keys[c.e.ID] = c.ent.Key
			}
		}
	}
	if !known {
		b.problem("manifest.json: view %q is not known to this verifier", m.View)
		return nil
	}
	if !slices.Equal(v.Columns(), m.Columns) {
		b.problem("manifest.json: columns %v, the view has %v", m.Columns, v.Columns())
	}
	rows, err := openRows(filepath.Join(b.dir, rowsFile))
	if err != nil {
		return err
	}
	defer rows.Close()
	head, err := rows.Next()
	if err != nil {
		return fmt.Errorf("%s: %w", rowsFile, err)
	}
	if !slices.Equal(head, header(v.Columns())) {
		b.problem("%s: header %v, want %v", rowsFile, head, header(v.Columns()))
	}
	csvFile := rowsFile == "rows.csv"
	var derive func(idx []uint64, id string) ([]string, string)
	if v.Aggregate() {
		derive = func(idx []uint64, id string) ([]string, string) { return foldRow(ctx, v, idx, id, entries, b.reg) }
	}
	for {
		r, err := rows.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", rowsFile, err)
		}
		b.rep.Rows++
		if !v.Aggregate() { // the row's one entry is the next one
			c, ok := b.next()
			derive = func(idx []uint64, id string) ([]string, string) { return entryRow(v, idx, id, c, ok) }
		}
		if msg := checkRow(v, r, derive, csvFile, b.rep.Rows); msg != "" {
			if !b.problem("%s row %d: %s", rowsFile, b.rep.Rows, msg) {
				return nil
			}
		}
	}
	if !v.Aggregate() {
		if _, ok := b.next(); ok {
			b.problem("entries.ndjson: entries beyond the last row")
		}
	}
	if b.rep.Entries != m.EntryCount {
		b.problem("entries.ndjson: %d entries, the manifest says %d", b.rep.Entries, m.EntryCount)
	}
	if b.rep.Rows != m.RowCount {
		b.problem("%s: %d rows, the manifest says %d (rows were added or removed)", rowsFile, b.rep.Rows, m.RowCount)
	}
	return nil
}

func viewOf(m Manifest, ps []projections.Projection) (View, bool) {
	return Lookup(Views(ps), m.View)
}

// checkRow checks one row: its form, and that its cells are those derive
// gives for the entries it cites; it names the first cell that differs,
// "" if it matches.
func checkRow(v View, r []string, derive func(idx []uint64, id string) ([]string, string), csvFile bool, n int64) string {
	cols := header(v.Columns())
	if len(r) != len(cols) {
		return fmt.Sprintf("%d cells, want %d", len(r), len(cols))
	}
	if r[0] != strconv.FormatInt(n, 10) {
		return fmt.Sprintf("row number %q, want %d (rows were reordered, added or removed)", r[0], n)
	}
	idx, err := parseEntries(r[len(r)-1])
	if err != nil || len(idx) == 0 {
		return fmt.Sprintf("column entries: %q lists no leaf indexes", r[len(r)-1])
	}
	id := r[1]
	if csvFile && strings.HasPrefix(id, "'") {
		id = id[1:]
	}
	want, msg := derive(idx, id)
	if msg != "" {
		return msg
	}
	for i, w := range want {
		if csvFile {
			w = CSVCell(w)
		}
		if got := r[i+2]; got != w {
			return fmt.Sprintf("column %s is %q but its entries give %q", cols[i+2], clip(got), clip(w))
		}
	}
	return ""
}

// foldRow derives an aggregate view's row id by folding the entries it
// cites, idx, from the bundle's verified entries.
func foldRow(ctx context.Context, v View, idx []uint64, id string, entries map[uint64]events.Event, reg *events.Registry) ([]string, string) {
	state := v.Projection.NewState()
	for _, i := range idx {
		e, ok := entries[i]
		if !ok {
			return nil, fmt.Sprintf("cites leaf %d, which is not a verified entry of the bundle", i)
		}
		var pl events.Payload
		if reg.Version(e.Type) > 0 {
			var err error
			if pl, err = reg.Decode(ctx, e); err != nil {
				return nil, fmt.Sprintf("leaf %d does not decode: %v", i, err)
			}
		}
		if !slices.Contains(v.Projection.Keys(e, pl), id) {
			return nil, fmt.Sprintf("cites leaf %d, which does not contribute to %s", i, id)
		}
		if err := v.Projection.Fold(id, state, e, pl); err != nil {
			return nil, fmt.Sprintf("leaf %d does not fold: %v", i, err)
		}
	}
	want, err := v.docRow(state)
	if err != nil {
		return nil, err.Error()
	}
	return want, ""
}

// entryRow is the row of an event view whose id is id and which cites
// idx, from c, the entry beside it (ok false: there is none).
func entryRow(v View, idx []uint64, id string, c checkedLine, ok bool) ([]string, string) {
	if len(idx) != 1 {
		return nil, "an event row cites exactly one entry"
	}
	if !ok || c.ent.Index != idx[0] {
		return nil, fmt.Sprintf("cites leaf %d, which is not a verified entry of the bundle", idx[0])
	}
	if c.e.Type != v.EventType || c.e.ID != id {
		return nil, fmt.Sprintf("column id: %q, but leaf %d is event %s of type %s", id, idx[0], c.e.ID, c.e.Type)
	}
	return c.row, c.rowErr
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// bundleTiles serves tiles from the bundle; TileHashReader authenticates
// them against the checkpoint's root.
type bundleTiles map[string][]byte

func (b bundleTiles) Height() int { return seal.TileHeight }

func (b bundleTiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		d, ok := b[t.Path()]
		if !ok {
			return nil, fmt.Errorf("tile %s is not in the bundle", t.Path())
		}
		out[i] = d
	}
	return out, nil
}

func (b bundleTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// rowReader reads the rows file, CSV or XLSX, one row at a time.
type rowReader interface {
	Next() ([]string, error)
	Close() error
}

func openRows(path string) (rowReader, error) {
	if strings.HasSuffix(path, ".xlsx") {
		x, err := excelize.OpenFile(path)
		if err != nil {
			return nil, err
		}
		rs, err := x.Rows("Sheet1")
		if err != nil {
			x.Close()
			return nil, err
		}
		return &xlsxReader{x: x, rs: rs}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	if b, _ := br.Peek(3); string(b) == "\ufeff" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	return &csvReader{f: f, r: cr}, nil
}

type csvReader struct {
	f *os.File
	r *csv.Reader
}

func (c *csvReader) Next() ([]string, error) { return c.r.Read() }
func (c *csvReader) Close() error            { return c.f.Close() }

type xlsxReader struct {
	x  *excelize.File
	rs *excelize.Rows
}

func (x *xlsxReader) Next() ([]string, error) {
	if !x.rs.Next() {
		if err := x.rs.Error(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	return x.rs.Columns()
}

func (x *xlsxReader) Close() error {
	x.rs.Close()
	return x.x.Close()
}
