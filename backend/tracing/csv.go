package tracing

import (
	"encoding/csv"
	"io"
	"strings"
	"time"
)

// CSV exports write a header row, then one row per scan, with identities
// exactly as the trace holds them (masked unless full identity was granted
// and recorded). Times are RFC 3339 UTC. A cell that a spreadsheet would
// run as a formula (starting with = + - @ or a tab or carriage return) is
// prefixed with a single quote.

// GateTraceHeader is the header row of WriteGateTraceCSV.
var GateTraceHeader = []string{"time", "gate", "community", "pass", "person_id", "name", "id_number", "direction", "decision", "reason"}

// PersonTraceHeader is the header row of WritePersonTraceCSV.
var PersonTraceHeader = []string{"time", "person_id", "name", "id_number", "gate", "community", "direction", "decision"}

// WriteGateTraceCSV streams t as CSV to w.
func WriteGateTraceCSV(w io.Writer, t GateTrace) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(GateTraceHeader); err != nil {
		return err
	}
	for _, r := range t.Rows {
		if err := cw.Write(cells(csvTime(r.Time), r.Gate, string(r.Community), r.Pass, r.PersonID, r.Name, r.IDNumber, r.Direction, r.Decision, r.Reason)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WritePersonTraceCSV streams t as CSV to w; every row repeats the person's
// columns so that the file stands on its own.
func WritePersonTraceCSV(w io.Writer, t PersonTrace) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(PersonTraceHeader); err != nil {
		return err
	}
	for _, r := range t.Rows {
		if err := cw.Write(cells(csvTime(r.Time), t.PersonID, t.Name, t.IDNumber, r.Gate, string(r.Community), r.Direction, r.Decision)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func cells(s ...string) []string {
	for i, c := range s {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			s[i] = "'" + c
		}
	}
	return s
}
