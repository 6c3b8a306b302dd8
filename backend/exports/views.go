// Package exports writes and verifies export bundles: government views as
// CSV or XLSX that prove, to someone holding only the bundle and onebook's
// public (verifier) key, that they are what the ledger says.
//
// # A bundle
//
//	manifest.json    what was exported: the view, the query, the columns,
//	                 each file's SHA-256 and row count, and the signed
//	                 checkpoint (C2SP signed note) the export was made against
//	manifest.sig     a signed note by onebook's key over the manifest's SHA-256
//	rows.csv|.xlsx   one row per document (aggregate views) or per event
//	                 (event views); the last column lists the ledger leaf
//	                 indexes of the entries the row derives from
//	entries.ndjson   every entry a row cites, once, in ledger order:
//	                 {"index":N,"event":<the event's canonical bytes>}
//	tiles/...        the Merkle tree tiles (golang.org/x/mod/sumdb/tlog,
//	                 height 8) that prove each entry is in the checkpoint's
//	                 tree: the level-0 tiles holding an entry and every tile
//	                 above level 0
//
// Verify checks, offline: the manifest's signature; the checkpoint's
// signature; every file's hash; that every entry's bytes are canonical and
// that its leaf hash is in the checkpoint's tree (tiles authenticated up to
// the signed root); and that every row follows from its entries — for an
// aggregate view by folding them with the same projection code the
// backend runs, for an event view by deriving the row from the event. A
// changed cell is named by row and column.
//
// Exports are masked by construction: views hold pseudonymous ids, never
// names or ID numbers in clear, and event rows leave out sealed personal
// data.
package exports

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/projections"
)

// View is something that can be exported: either the documents of a
// projection (aggregate rows: each folded from its entries) or the events of
// one type (one row per event).
type View struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Projection: rows are its documents.
	Projection projections.Projection `json:"-"`
	// EventType: rows are its events (Kind is its aggregate kind).
	EventType string `json:"event_type,omitempty"`
	Kind      string `json:"-"`
}

// Aggregate reports whether rows are projection documents.
func (v View) Aggregate() bool { return v.Projection != nil }

// subjects are the ledger subjects the view reads.
func (v View) subjects() []string {
	if v.Aggregate() {
		return v.Projection.Subjects()
	}
	return []string{"ledger.*." + v.Kind + ".*"}
}

// Views returns the exportable views: every projection of the backend (as
// given) and the event views.
func Views(ps []projections.Projection) []View {
	out := []View{{Name: "scans", EventType: passevents.TypeScanned, Kind: passevents.KindGate,
		Description: "every gate scan, one row per scan event (gate, community, pass, pseudonymous person id, direction, decision)"}}
	return append(out, ProjectionViews(ps)...)
}

// ProjectionViews returns a view of each projection, and no event view:
// what a ledger without raw events (the national one) exports.
func ProjectionViews(ps []projections.Projection) []View {
	var out []View
	for _, p := range ps {
		out = append(out, View{Name: p.Name(), Projection: p, Description: fmt.Sprintf("projection %s v%d, one row per document", p.Name(), p.Version())})
	}
	return out
}

// Lookup returns the view named name.
func Lookup(vs []View, name string) (View, bool) {
	i := slices.IndexFunc(vs, func(v View) bool { return v.Name == name })
	if i < 0 {
		return View{}, false
	}
	return vs[i], true
}

// Columns returns the view's columns, without the leading row number and
// id and the trailing entries column that every bundle adds.
func (v View) Columns() []string {
	if v.Aggregate() {
		return jsonFields(v.Projection.NewState())
	}
	return []string{"time", "region", "aggregate", "actor_role", "actor_id", "payload"}
}

// jsonFields are the sorted top-level JSON field names of a state type,
// read from its struct tags, so that fields omitted when empty
// (omitempty, omitzero) still get a column. The fields of an embedded
// struct without a JSON name are its own, as encoding/json writes them.
func jsonFields(state any) []string {
	out := fieldsOf(reflect.TypeOf(state))
	sort.Strings(out)
	return out
}

func fieldsOf(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-", !f.IsExported() && !f.Anonymous:
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			out = append(out, fieldsOf(f.Type)...)
			continue
		case name == "":
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

// docRow renders a document's state under the view's columns: strings as
// they are, numbers as JSON writes them, everything else as compact JSON
// (map keys sorted), so that the verifier renders the same cells.
func (v View) docRow(state any) ([]string, error) {
	b, err := json.Marshal(state)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	cols := v.Columns()
	row := make([]string, len(cols))
	for i, c := range cols {
		row[i] = rawCell(m[c])
	}
	return row, nil
}

// eventRow renders an event for an event view. Sealed personal data
// ("personal" fields) is left out of the payload.
// eventRow is the row of event e whose payload fields (sealed ones opened)
// are m, or, m nil, those of e.Payload.
func eventRow(e events.Event, m map[string]json.RawMessage) ([]string, error) {
	if m == nil {
		if err := json.Unmarshal(e.Payload, &m); err != nil {
			return nil, err
		}
	}
	delete(m, "personal")
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return []string{e.Time.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"), string(e.Region), e.Aggregate.ID, e.Actor.Role, e.Actor.ID, string(b)}, nil
}

func rawCell(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	if r[0] == '"' {
		var s string
		if err := json.Unmarshal(r, &s); err == nil {
			return s
		}
	}
	return string(r)
}

// entriesCell lists leaf indexes separated by spaces.
func entriesCell(idx []uint64) string {
	var b strings.Builder
	for i, x := range idx {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(x, 10))
	}
	return b.String()
}

func parseEntries(s string) ([]uint64, error) {
	f := strings.Fields(s)
	out := make([]uint64, len(f))
	for i, x := range f {
		n, err := strconv.ParseUint(x, 10, 63)
		if err != nil {
			return nil, fmt.Errorf("entry %q is not a leaf index", x)
		}
		out[i] = n
	}
	return out, nil
}
