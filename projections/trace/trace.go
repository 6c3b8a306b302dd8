// Package trace holds the government's tracing views of the entry/exit pass
// service: every scan at a gate in an hour, and every scan of a person in a
// day. They answer "who passed gate(s) G between t1 and t2" and "where was
// this person between t1 and t2" with reads by _id only (FerretDB v1 pushes
// down nothing else): the reader lists the hour (day) documents a range
// covers and filters their scans by exact time.
//
// The documents hold person ids (tokens derived from a blind index), never
// personal data; backend/tracing resolves and masks identities, checks
// purpose and scope, and records every query in the ledger.
package trace

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/projections"
)

// Limits of the views and their reads.
const (
	// MaxScansPerDoc caps the scans listed in one document (one gate-hour
	// or one person-day), so a document stays far below MongoDB's 16 MB
	// limit (a listed scan is about 200 bytes of BSON). Scans beyond it are
	// counted in the document's Overflow, not listed. 5,000 scans in one
	// hour is more than one gate lane can physically pass; for one person
	// in one day it means a faulty or abusive scanner.
	MaxScansPerDoc = 5000
	// MaxRange is the longest time range one read may cover: 31 days, 744
	// hours.
	MaxRange = 31 * 24 * time.Hour
	// MaxGates is how many gates one gate read may name.
	MaxGates = 20
	// MaxRows bounds the scans one read returns; a read that would return
	// more fails with CodeTooLarge (narrow the range or the gates) rather
	// than return an incomplete trace or exhaust memory.
	MaxRows = 100_000
	// getBatch is how many documents one DocStore.Get asks for. Gate-hour
	// documents can be large, so reads go a day of one gate at a time.
	getBatch = 24
)

// Time formats: keys use UTC hours and days; stored times are RFC 3339 UTC
// with nanoseconds, exact and sortable as text only after parsing (the
// fraction has no fixed width), so readers parse them.
const (
	hourKey = "2006010215"
	dayKey  = "20060102"
)

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// GateScan is one scan as the gate-hour view lists it.
type GateScan struct {
	Time      string `json:"time" bson:"time"` // scan time, RFC 3339 UTC
	Pass      string `json:"pass" bson:"pass"`
	Person    string `json:"person" bson:"person"` // person id; "" if the pass could not be read
	Direction string `json:"direction" bson:"direction"`
	Decision  string `json:"decision" bson:"decision"`
	Reason    string `json:"reason,omitempty" bson:"reason,omitempty"`
}

// GateHour is every scan at one gate in one UTC hour, in ledger order (not
// necessarily time order: offline batches arrive late).
type GateHour struct {
	Gate      string     `json:"gate" bson:"gate"`
	Community string     `json:"community" bson:"community"`
	Hour      string     `json:"hour" bson:"hour"` // UTC hour start, RFC 3339
	Scans     []GateScan `json:"scans" bson:"scans"`
	Overflow  int64      `json:"overflow" bson:"overflow"` // scans not listed: the document was full
}

// GateKey is the document id of gate's hour containing t: "<gate>@YYYYMMDDHH" (UTC).
func GateKey(gate string, t time.Time) string { return gate + "@" + t.UTC().Format(hourKey) }

// GateScans is the projection of every scan per gate per UTC hour, keyed by
// GateKey.
func GateScans() projections.Projection {
	return projections.Define(projections.Spec[GateHour]{
		Name:     "trace_gate_scans",
		Version:  1,
		Personal: true,
		Subjects: []string{"ledger.*.gate.*"},
		Keys: func(e events.Event, p events.Payload) []string {
			if _, ok := p.(passevents.Scanned); ok {
				return []string{GateKey(e.Aggregate.ID, e.Time)}
			}
			return nil
		},
		Fold: func(id string, s *GateHour, e events.Event, p events.Payload) error {
			sc := p.(passevents.Scanned)
			s.Gate, s.Community = e.Aggregate.ID, string(e.Region)
			s.Hour = e.Time.UTC().Truncate(time.Hour).Format(time.RFC3339)
			appendCapped(&s.Scans, &s.Overflow, GateScan{Time: stamp(e.Time), Pass: sc.Pass, Person: sc.Holder,
				Direction: sc.Direction, Decision: sc.Decision, Reason: sc.Reason})
			return nil
		},
	})
}

// PersonScan is one scan as the person-day view lists it.
type PersonScan struct {
	Time      string `json:"time" bson:"time"` // scan time, RFC 3339 UTC
	Gate      string `json:"gate" bson:"gate"`
	Community string `json:"community" bson:"community"` // the gate's community (the event's region)
	Direction string `json:"direction" bson:"direction"`
	Decision  string `json:"decision" bson:"decision"`
}

// PersonDay is every scan of one person in one UTC day, in ledger order.
type PersonDay struct {
	Person   string       `json:"person" bson:"person"`
	Day      string       `json:"day" bson:"day"` // UTC date, YYYY-MM-DD
	Scans    []PersonScan `json:"scans" bson:"scans"`
	Overflow int64        `json:"overflow" bson:"overflow"` // scans not listed: the document was full
}

// PersonKey is the document id of person's day containing t: "<person>@YYYYMMDD" (UTC).
func PersonKey(person string, t time.Time) string { return person + "@" + t.UTC().Format(dayKey) }

// PersonScans is the projection of every scan per person per UTC day, keyed
// by PersonKey. Scans without a known holder (unreadable or forged tokens)
// belong to no person and are left out.
func PersonScans() projections.Projection {
	return projections.Define(projections.Spec[PersonDay]{
		Name:     "trace_person_scans",
		Version:  1,
		Personal: true,
		Subjects: []string{"ledger.*.gate.*"},
		Keys: func(e events.Event, p events.Payload) []string {
			if sc, ok := p.(passevents.Scanned); ok && sc.Holder != "" {
				return []string{PersonKey(sc.Holder, e.Time)}
			}
			return nil
		},
		Fold: func(id string, s *PersonDay, e events.Event, p events.Payload) error {
			sc := p.(passevents.Scanned)
			s.Person, s.Day = sc.Holder, e.Time.UTC().Format(time.DateOnly)
			appendCapped(&s.Scans, &s.Overflow, PersonScan{Time: stamp(e.Time), Gate: e.Aggregate.ID, Community: string(e.Region),
				Direction: sc.Direction, Decision: sc.Decision})
			return nil
		},
	})
}

// appendCapped appends scan to a document's scans, or counts it in
// overflow once the document holds MaxScansPerDoc (a document must stay
// under MongoDB's size limit). The list is never nil, so that an empty
// one is stored as [] and hashes as such.
func appendCapped[S any](scans *[]S, overflow *int64, scan S) {
	if *scans == nil {
		*scans = []S{}
	}
	if len(*scans) >= MaxScansPerDoc {
		*overflow++
		return
	}
	*scans = append(*scans, scan)
}

// All lists the projections of this package.
func All() []projections.Projection { return []projections.Projection{GateScans(), PersonScans()} }

// GateRow is one scan a gate read returns.
type GateRow struct {
	Time      time.Time // UTC
	Gate      string
	Community events.Region
	Pass      string
	Person    string // "" if the pass could not be read
	Direction string
	Decision  string
	Reason    string
}

// GateRead is the answer of ReadGateScans.
type GateRead struct {
	Rows []GateRow // From <= Time < To, ordered by time, then gate
	// Unlisted counts scans in the hours read that their full documents
	// counted but did not list; their times are unknown, so some may lie
	// outside the range. Non-zero means the trace may be incomplete.
	Unlisted int64
}

// PersonRow is one scan a person read returns.
type PersonRow struct {
	Time      time.Time // UTC
	Gate      string
	Community events.Region
	Direction string
	Decision  string
}

// PersonRead is the answer of ReadPersonScans.
type PersonRead struct {
	Rows     []PersonRow // From <= Time < To, ordered by time
	Unlisted int64       // as GateRead.Unlisted, over the days read (all regions)
}

// CheckRange validates a read range [from, to): both set, to after from,
// at most MaxRange long. Errors are CodeInvalid naming "from" or "to".
func CheckRange(from, to time.Time) error {
	switch {
	case from.IsZero():
		return events.Invalid("from", "required")
	case to.IsZero():
		return events.Invalid("to", "required")
	case !to.After(from):
		return events.Invalid("to", "to (%s) must be after from (%s)", to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
	case to.Sub(from) > MaxRange:
		return events.Invalid("to", "the range is %s long; at most 31 days (744 hours) per query", to.Sub(from))
	}
	return nil
}

// ReadGateScans returns every scan at gates with from <= time < to, reading
// the gate-hour documents by _id only.
func ReadGateScans(ctx context.Context, store projections.DocStore, gates []string, from, to time.Time) (GateRead, error) {
	if err := CheckRange(from, to); err != nil {
		return GateRead{}, err
	}
	switch {
	case len(gates) == 0:
		return GateRead{}, events.Invalid("gates", "name at least one gate")
	case len(gates) > MaxGates:
		return GateRead{}, events.Invalid("gates", "at most %d gates per query, got %d", MaxGates, len(gates))
	}
	for _, g := range gates {
		if g == "" {
			return GateRead{}, events.Invalid("gates", "a gate id is empty")
		}
	}
	from, to = from.UTC(), to.UTC()
	p := GateScans()
	var out GateRead
	for _, g := range uniq(gates) {
		var ids []string
		for h := from.Truncate(time.Hour); h.Before(to); h = h.Add(time.Hour) {
			ids = append(ids, GateKey(g, h))
		}
		err := getEach(ctx, store, p, ids, func(d *projections.Doc) error {
			s := d.State.(*GateHour)
			out.Unlisted += s.Overflow
			for _, sc := range s.Scans {
				t, err := parseTime(d.ID, sc.Time)
				if err != nil {
					return err
				}
				if t.Before(from) || !t.Before(to) {
					continue
				}
				if len(out.Rows) >= MaxRows {
					return tooMany()
				}
				out.Rows = append(out.Rows, GateRow{Time: t, Gate: s.Gate, Community: events.Region(s.Community), Pass: sc.Pass,
					Person: sc.Person, Direction: sc.Direction, Decision: sc.Decision, Reason: sc.Reason})
			}
			return nil
		})
		if err != nil {
			return GateRead{}, err
		}
	}
	slices.SortStableFunc(out.Rows, func(a, b GateRow) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Gate, b.Gate))
	})
	return out, nil
}

// ReadPersonScans returns every scan of person with from <= time < to,
// reading the person-day documents by _id only. It does not filter by
// region: the caller must (see backend/tracing).
func ReadPersonScans(ctx context.Context, store projections.DocStore, person string, from, to time.Time) (PersonRead, error) {
	if err := CheckRange(from, to); err != nil {
		return PersonRead{}, err
	}
	if person == "" {
		return PersonRead{}, events.Invalid("person", "required")
	}
	from, to = from.UTC(), to.UTC()
	var ids []string
	for d := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC); d.Before(to); d = d.AddDate(0, 0, 1) {
		ids = append(ids, PersonKey(person, d))
	}
	var out PersonRead
	err := getEach(ctx, store, PersonScans(), ids, func(d *projections.Doc) error {
		s := d.State.(*PersonDay)
		out.Unlisted += s.Overflow
		for _, sc := range s.Scans {
			t, err := parseTime(d.ID, sc.Time)
			if err != nil {
				return err
			}
			if t.Before(from) || !t.Before(to) {
				continue
			}
			if len(out.Rows) >= MaxRows {
				return tooMany()
			}
			out.Rows = append(out.Rows, PersonRow{Time: t, Gate: sc.Gate, Community: events.Region(sc.Community), Direction: sc.Direction, Decision: sc.Decision})
		}
		return nil
	})
	if err != nil {
		return PersonRead{}, err
	}
	slices.SortStableFunc(out.Rows, func(a, b PersonRow) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// getEach reads ids in batches of getBatch and calls fn for each stored
// document, in the order of ids.
func getEach(ctx context.Context, store projections.DocStore, p projections.Projection, ids []string, fn func(*projections.Doc) error) error {
	for len(ids) > 0 {
		n := min(len(ids), getBatch)
		docs, err := store.Get(ctx, p, ids[:n])
		if err != nil {
			return &events.Error{Code: events.CodeUnavailable, Message: "read " + p.Name(), Err: err}
		}
		for _, id := range ids[:n] {
			if d := docs[id]; d != nil && d.State != nil {
				if err := fn(d); err != nil {
					return err
				}
			}
		}
		ids = ids[n:]
	}
	return nil
}

func parseTime(doc, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &events.Error{Code: events.CodeInternal, Message: "document " + doc + " holds a scan time that does not parse", Err: err}
	}
	return t.UTC(), nil
}

func tooMany() error {
	return &events.Error{Code: events.CodeTooLarge, Message: fmt.Sprintf("more than %d scans match; narrow the time range or the gates", MaxRows)}
}

func uniq(s []string) []string {
	out := make([]string, 0, len(s))
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
