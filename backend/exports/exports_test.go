package exports_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/casestest"
	"github.com/onebook/onebook/backend/exports"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/caseviews"
)

var start = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)

// world has cards filed in two districts, their alerts, and scans gate
// scans.
func world(t *testing.T, scans int) (*casestest.World, exports.Source, []projections.Projection) {
	w := casestest.New(t, start)
	h := w.Hospital("协和医院", "420102003")
	rep := w.Staff(auth.HospitalReporter, "", h.ID)
	for i := range 6 {
		w.File(rep, i, w.Card("influenza", events.Region(fmt.Sprintf("42010%d001", 2+i%2)), "fever", "cough"))
		w.Advance(7 * time.Hour)
	}
	w.File(rep, 9, w.Card("cholera", "420102001", "diarrhoea"))
	w.Step()
	for i := range scans { // gate scans, appended as the pass service would
		e, err := w.Reg.New(context.Background(), passevents.TypeScanned, events.Meta{SealTo: "t-subject", Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: "g-east"},
			Region: "420102001001", Actor: events.Actor{Role: "gate_operator", ID: "s-1"}, Time: start.Add(time.Duration(i) * time.Minute)},
			passevents.Scanned{Pass: fmt.Sprintf("ps-%d", i), Holder: fmt.Sprintf("p-%d", i), Community: "420102001001", Direction: passevents.In, Decision: "allow", ScanID: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Store.Append(w.Ctx, e, events.ExpectAny()); err != nil {
			t.Fatal(err)
		}
	}
	w.WaitSealed()
	cp, err := w.Prover.Checkpoint(w.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	src := exports.Source{JS: w.JS, Stream: "LEDGER", Reg: w.Reg, Tiles: w.Tiles, Checkpoint: cp, Signer: w.SealSigner}
	return w, src, caseviews.All()
}

func TestBundlesVerify(t *testing.T) {
	w, src, ps := world(t, 20)
	views := exports.Views(ps)
	for _, tc := range []struct {
		view   string
		format string
		q      exports.Query
		rows   int64
	}{
		{"case_counts", exports.CSV, exports.Query{}, 0},
		{"case_counts", exports.XLSX, exports.Query{Region: "420102"}, 0},
		{"alerts", exports.CSV, exports.Query{}, 0},
		{"case_cards", exports.XLSX, exports.Query{}, 7},
		{"scans", exports.CSV, exports.Query{}, 20},
		{"scans", exports.XLSX, exports.Query{From: start.Add(5 * time.Minute), To: start.Add(10 * time.Minute)}, 5},
	} {
		t.Run(tc.view+"/"+tc.format, func(t *testing.T) {
			v, ok := exports.Lookup(views, tc.view)
			if !ok {
				t.Fatalf("no view %s", tc.view)
			}
			dir := filepath.Join(t.TempDir(), "bundle")
			m, err := exports.Write(w.Ctx, src, v, tc.q, tc.format, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.RowCount == 0 || (tc.rows > 0 && m.RowCount != tc.rows) {
				t.Fatalf("%d rows, want %d", m.RowCount, tc.rows)
			}
			rep, err := exports.Verify(context.Background(), dir, w.VerifierKey, ps, w.Reg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Rows != m.RowCount || rep.Entries != m.EntryCount {
				t.Fatalf("verify: %d rows %d entries, problems %v", rep.Rows, rep.Entries, rep.Problems)
			}
		})
	}
}

// TestTamperingIsNamed changes one cell, drops an entry, and signs with
// another key: each is found and named.
func TestTamperingIsNamed(t *testing.T) {
	w, src, ps := world(t, 20)
	v, _ := exports.Lookup(exports.Views(ps), "case_counts")
	write := func() string {
		dir := filepath.Join(t.TempDir(), "bundle")
		if _, err := exports.Write(w.Ctx, src, v, exports.Query{}, exports.CSV, dir, nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	verify := func(dir string) []string {
		rep, err := exports.Verify(context.Background(), dir, w.VerifierKey, ps, w.Reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Problems
	}

	// One cell.
	dir := write()
	path := filepath.Join(dir, "rows.csv")
	f, _ := os.Open(path)
	r := csv.NewReader(f)
	all, err := r.ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(all[0], "total")
	all[3][col] = "999"
	out, _ := os.Create(path)
	cw := csv.NewWriter(out)
	cw.WriteAll(all)
	out.Close()
	probs := verify(dir)
	if !hasProblem(probs, "rows.csv: SHA-256") || !hasProblem(probs, "rows.csv row 3: column total is \"999\"") {
		t.Errorf("changed cell: %v", probs)
	}

	// An entry removed.
	dir = write()
	path = filepath.Join(dir, "entries.ndjson")
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile(path, []byte(strings.Join(append(lines[:1], lines[2:]...), "")), 0o644)
	probs = verify(dir)
	if !hasProblem(probs, "entries.ndjson: SHA-256") || !hasProblem(probs, "which is not a verified entry") {
		t.Errorf("removed entry: %v", probs)
	}

	// An entry's event changed (still canonical), in a tile whose first
	// entry is intact: found through the authenticated tile.
	dir = write()
	path = filepath.Join(dir, "entries.ndjson")
	b, _ = os.ReadFile(path)
	lines = strings.SplitAfter(string(b), "\n")
	// (The card's clinical fields are sealed: change its public hospital.)
	if !strings.Contains(lines[2], `"hospital":"o-`) {
		t.Fatalf("entry 3 is not a card: %s", lines[2])
	}
	lines[2] = strings.Replace(lines[2], `"hospital":"o-`, `"hospital":"o-x`, 1)
	os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644)
	probs = verify(dir)
	if !hasProblem(probs, "entries.ndjson line 3") || !hasProblem(probs, "leaf hash differs") {
		t.Errorf("changed entry: %v", probs)
	}

	// Another key.
	dir = write()
	other := casestest.New(t, start)
	rep, err := exports.Verify(context.Background(), dir, other.VerifierKey, ps, w.Reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !hasProblem(rep.Problems, "manifest.sig: not signed by") || !hasProblem(rep.Problems, "the checkpoint does not verify") {
		t.Errorf("other key: %v", rep.Problems)
	}
}

// TestEventRowTamperingIsNamed tampers with a bundle of the scans view
// (one row per event, each sealed entry with its own key) large enough
// to be checked in many batches at once, and wants each problem named in
// file order, as a reader of the report would.
func TestEventRowTamperingIsNamed(t *testing.T) {
	const scans = 400
	w, src, ps := world(t, scans)
	v, _ := exports.Lookup(exports.Views(ps), "scans")
	dir := filepath.Join(t.TempDir(), "bundle")
	m, err := exports.Write(w.Ctx, src, v, exports.Query{}, exports.CSV, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.RowCount != scans {
		t.Fatalf("%d rows, want %d", m.RowCount, scans)
	}
	entries, err := os.ReadFile(filepath.Join(dir, "entries.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := os.ReadFile(filepath.Join(dir, "rows.csv"))
	if err != nil {
		t.Fatal(err)
	}
	verify := func(entries, rows []string) exports.Report {
		t.Helper()
		d := filepath.Join(t.TempDir(), "bundle")
		if err := os.CopyFS(d, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "entries.ndjson"), []byte(strings.Join(entries, "")), 0o644)
		os.WriteFile(filepath.Join(d, "rows.csv"), []byte(strings.Join(rows, "")), 0o644)
		rep, err := exports.Verify(context.Background(), d, w.VerifierKey, ps, w.Reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	lines := func() []string { return strings.SplitAfter(string(entries), "\n") }
	records := func() []string { return strings.SplitAfter(string(rows), "\n") } // line 0 is the header; no cell holds a line break
	key := func(l string) string {
		i := strings.LastIndex(l, `,"key":"`) // the box has a "key" too: the wrapped one
		if i < 0 {
			t.Fatalf("entry without a key: %s", l)
		}
		return strings.TrimSuffix(l[i+len(`,"key":"`):], "\"}\n")
	}

	if rep := verify(lines(), records()); !rep.OK() || rep.Rows != scans || rep.Entries != scans {
		t.Fatalf("untouched: %d rows, %d entries, problems %v", rep.Rows, rep.Entries, rep.Problems)
	}

	// Another entry's key on line 100, and a cell of row 300 changed: each
	// named, and nothing else but the two files' hashes.
	ls, rs := lines(), records()
	ls[99] = strings.Replace(ls[99], key(ls[99]), key(ls[100]), 1)
	rs[300] = strings.Replace(rs[300], "gate_operator", "gate_0perator", 1)
	want := []string{
		"rows.csv: SHA-256",
		"entries.ndjson: SHA-256",
		"rows.csv row 100: leaf ",
		"rows.csv row 300: column actor_role is \"gate_0perator\"",
	}
	rep := verify(ls, rs)
	if rep.Rows != scans || rep.Entries != scans {
		t.Errorf("%d rows and %d entries, want %d of each", rep.Rows, rep.Entries, scans)
	}
	probs := rep.Problems
	if len(probs) != len(want) {
		t.Fatalf("problems %q, want %d", probs, len(want))
	}
	for i, p := range probs {
		if !strings.HasPrefix(p, want[i]) {
			t.Errorf("problem %d is %q, want it to begin %q", i, p, want[i])
		}
	}
	if !strings.Contains(probs[2], "does not open with its disclosed key") {
		t.Errorf("row 100: %q", probs[2])
	}

	// Line 70 cut short: named by its line, and the row that cited it
	// by its row (the rows after it then cite the entry after theirs:
	// reported up to the limit).
	ls = lines()
	ls[69] = ls[69][:40] + "\n"
	probs = verify(ls, records()).Problems
	if len(probs) != exports.MaxProblems {
		t.Errorf("%d problems, want the limit, %d", len(probs), exports.MaxProblems)
	}
	if !hasProblem(probs, "entries.ndjson line 70: ") || !hasProblem(probs, "rows.csv row 70: cites leaf") {
		t.Errorf("line 70 cut short: %q", probs[:min(5, len(probs))])
	}
	if i, j := slices.IndexFunc(probs, func(p string) bool { return strings.HasPrefix(p, "entries.ndjson line 70") }),
		slices.IndexFunc(probs, func(p string) bool { return strings.HasPrefix(p, "rows.csv row 70:") }); i > j {
		t.Errorf("line 70's problem (%d) comes after row 70's (%d)", i, j)
	}
}

func hasProblem(ps []string, sub string) bool {
	return slices.ContainsFunc(ps, func(p string) bool { return strings.Contains(p, sub) })
}
