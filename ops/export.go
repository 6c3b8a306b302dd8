package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/projections"
	mongostore "github.com/onebook/onebook/projections/mongo"
)

// runExport writes a view (a projection) as CSV, one row per document:
// its id, its state's fields, and the proof columns (ledger sequence, leaf
// hash, event count, hash chain) that tie the row to the ledger. Views hold
// no personal data in clear by construction (people appear as pseudonymous
// ids), so exports are masked by default; identities are only ever shown
// through the audited tracing queries.
func runExport(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var c conn
	c.flags(fs, env)
	list := fs.Bool("list", false, "list the views that can be exported")
	out := fs.String("out", ".", "directory to write VIEW.csv into (- for standard output)")
	prefix := fs.String("prefix", "", "only documents whose id starts with this (e.g. a gate, or a community code)")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append(args[1:], args[0]) // ops export VIEW --flags: the view may come first
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	views := app.Projections()
	if *list {
		for _, p := range views {
			fmt.Fprintf(env.stdout, "%s\tv%d\n", p.Name(), p.Version())
		}
		return nil
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: ops export VIEW [--out DIR] [--prefix P] (ops export --list names the views)")
	}
	var view projections.Projection
	for _, p := range views {
		if p.Name() == fs.Arg(0) {
			view = p
		}
	}
	if view == nil {
		return fmt.Errorf("no view %q (ops export --list)", fs.Arg(0))
	}
	client, db, err := c.mongo(ctx)
	if err != nil {
		return err
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	store := mongostore.New(db, 30*time.Second)

	w := env.stdout
	path := "standard output"
	if *out != "-" {
		path = filepath.Join(*out, view.Name()+".csv")
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	total, err := store.Count(ctx, view)
	if err != nil {
		return err
	}
	report := progress(env.stderr, "export "+view.Name(), uint64(total))
	n, err := exportCSV(ctx, w, store, view, *prefix, func(done int) { report(uint64(done)) })
	if err != nil {
		return err
	}
	report(uint64(total))
	fmt.Fprintf(env.stderr, "wrote %d rows of %s to %s\n", n, view.Name(), path)
	return nil
}

// exportCSV streams the documents of p as CSV. The columns come from the
// state type's JSON fields (known from a zero state), so memory does not
// grow with the number of rows.
func exportCSV(ctx context.Context, w io.Writer, store projections.DocStore, p projections.Projection, prefix string, progress func(int)) (int, error) {
	var zero map[string]any
	b, _ := json.Marshal(p.NewState())
	if err := json.Unmarshal(b, &zero); err != nil {
		return 0, err
	}
	cols := make([]string, 0, len(zero))
	for k := range zero {
		cols = append(cols, k)
	}
	sort.Strings(cols)
	cw := csv.NewWriter(w)
	header := append(append([]string{"id"}, cols...), "ledger_seq", "leaf_hash", "events", "chain")
	if err := cw.Write(header); err != nil {
		return 0, err
	}
	n, seen := 0, 0
	err := store.Scan(ctx, p, func(id string, d *projections.Doc, derr error) error {
		seen++
		if seen%1000 == 0 {
			progress(seen)
		}
		if !strings.HasPrefix(id, prefix) {
			return nil
		}
		if derr != nil {
			return fmt.Errorf("document %s does not decode (run ops verify): %w", id, derr)
		}
		var fields map[string]any
		b, err := json.Marshal(d.State)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber() // counts stay integers, not 1e+06
		if err := dec.Decode(&fields); err != nil {
			return err
		}
		row := []string{id}
		for _, c := range cols {
			row = append(row, cell(fields[c]))
		}
		row = append(row, fmt.Sprint(d.Proof.Seq), d.Proof.Leaf, fmt.Sprint(d.Proof.Events), d.Proof.Chain)
		n++
		return cw.Write(row)
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return n, err
}

// cell renders a value; nested values as compact JSON. A cell a
// spreadsheet would run as a formula gets a leading quote.
func cell(v any) string {
	var s string
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		s = v
	case json.Number, bool:
		s = fmt.Sprint(v)
	default:
		b, _ := json.Marshal(v)
		s = string(b)
	}
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) && !isNumber(s) {
		s = "'" + s
	}
	return s
}

func isNumber(s string) bool {
	var f float64
	_, err := fmt.Sscan(s, &f)
	return err == nil
}
