package caseviews

import (
	"slices"
	"strings"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/access"
	"github.com/onebook/onebook/projections"
)

// Bounds of the audit documents.
const (
	// MaxReadsPerDoc caps the reads one document lists (one case, or one
	// staff member's day), like trace.MaxScansPerDoc; further reads are
	// counted in Overflow. A listed read is some 250 bytes of BSON.
	MaxReadsPerDoc = 5000
	// MaxSubjectsPerDoc caps the case ids a staff day lists over all its
	// reads (about 40 bytes each: ~2 MB at the cap); ids of a read beyond
	// it are counted in that read's MoreSubjects.
	MaxSubjectsPerDoc = 50_000
	// WhatPrefix selects the access events of case data.
	WhatPrefix = "case."
)

// CaseRead is one read of a case record.
type CaseRead struct {
	Time     string `json:"time" bson:"time"`         // RFC 3339 UTC, fixed width
	Staff    string `json:"staff" bson:"staff"`       // staff account id (the access aggregate)
	Role     string `json:"role" bson:"role"`         // the actor's role
	What     string `json:"what" bson:"what"`         // e.g. "case.card"
	Purpose  string `json:"purpose" bson:"purpose"`   // stated purpose
	Identity string `json:"identity" bson:"identity"` // masked | full
}

// CaseReads is every read of one case record, in ledger order.
type CaseReads struct {
	Case     string     `json:"case" bson:"case"`
	Reads    []CaseRead `json:"reads" bson:"reads"`
	Overflow int64      `json:"overflow" bson:"overflow"` // reads not listed: the document was full
}

// StaffRead is one read by a staff member.
type StaffRead struct {
	Time         string   `json:"time" bson:"time"` // RFC 3339 UTC, fixed width
	Role         string   `json:"role" bson:"role"`
	What         string   `json:"what" bson:"what"`
	Purpose      string   `json:"purpose" bson:"purpose"`
	Identity     string   `json:"identity" bson:"identity"`
	Results      int      `json:"results" bson:"results"`
	Subjects     []string `json:"subjects" bson:"subjects"`           // case ids read, as logged
	MoreSubjects int      `json:"more_subjects" bson:"more_subjects"` // ids not listed: MaxSubjectsPerDoc was reached
}

// StaffDay is every read of case data by one staff member in one local
// (CST) day, in ledger order.
type StaffDay struct {
	Staff    string      `json:"staff" bson:"staff"`
	Day      string      `json:"day" bson:"day"` // YYYY-MM-DD, CST
	Reads    []StaffRead `json:"reads" bson:"reads"`
	Subjects int64       `json:"subjects" bson:"subjects"` // case ids listed over all reads
	Overflow int64       `json:"overflow" bson:"overflow"` // reads not listed: the document was full
}

// CaseReadsKey is the case_reads document id of the reads of one case:
// "case:<id>".
func CaseReadsKey(caseID string) string { return "case:" + caseID }

// StaffReadsKey is the case_reads document id of staff's reads on the local
// (CST) day containing t: "staff:<id>@YYYYMMDD".
func StaffReadsKey(staff string, t time.Time) string {
	return "staff:" + staff + "@" + t.In(events.China()).Format(dayKey)
}

// caseSubjects returns the distinct subjects of l that can be case ids.
func caseSubjects(l access.Logged) []string {
	var out []string
	for _, s := range l.Subjects {
		if isToken(s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Reads is the data-use audit of case records: for every access.logged
// event whose What starts with WhatPrefix, one document per case id in its
// Subjects (CaseReadsKey) and one per reading staff member and local day
// (StaffReadsKey). Both kinds of document share the collection; their ids
// cannot collide.
func Reads() projections.Projection {
	return projections.Define(projections.Spec[ReadsDoc]{
		Name:     "case_reads",
		Version:  1,
		Subjects: []string{"ledger.*." + access.Kind + ".*"},
		Keys: func(e events.Event, p events.Payload) []string {
			l, ok := p.(access.Logged)
			if !ok || !strings.HasPrefix(l.What, WhatPrefix) {
				return nil
			}
			keys := []string{StaffReadsKey(e.Aggregate.ID, e.Time)}
			for _, c := range caseSubjects(l) {
				keys = append(keys, CaseReadsKey(c))
			}
			return keys
		},
		Fold: func(id string, s *ReadsDoc, e events.Event, p events.Payload) error {
			l := p.(access.Logged)
			at := fixed(e.Time)
			if c, ok := strings.CutPrefix(id, "case:"); ok {
				s.Case = c
				if s.Reads == nil {
					s.Reads = []CaseRead{}
				}
				if len(s.Reads) >= MaxReadsPerDoc {
					s.Overflow++
					return nil
				}
				s.Reads = append(s.Reads, CaseRead{Time: at, Staff: e.Aggregate.ID, Role: e.Actor.Role, What: l.What,
					Purpose: l.Purpose, Identity: l.Identity})
				return nil
			}
			s.Staff, s.Day = e.Aggregate.ID, events.Day(e.Time)
			if s.StaffReads == nil {
				s.StaffReads = []StaffRead{}
			}
			if len(s.StaffReads) >= MaxReadsPerDoc {
				s.Overflow++
				return nil
			}
			r := StaffRead{Time: at, Role: e.Actor.Role, What: l.What, Purpose: l.Purpose, Identity: l.Identity,
				Results: l.Results, Subjects: []string{}}
			for _, c := range l.Subjects {
				if s.Subjects >= MaxSubjectsPerDoc {
					r.MoreSubjects++
					continue
				}
				r.Subjects = append(r.Subjects, c)
				s.Subjects++
			}
			s.StaffReads = append(s.StaffReads, r)
			return nil
		},
	})
}

// ReadsDoc is the stored state of case_reads: a CaseReads ("case:" ids) or
// a StaffDay ("staff:" ids), the fields of the other kind left empty (and
// omitted from the stored form).
type ReadsDoc struct {
	Case       string      `json:"case,omitempty" bson:"case,omitempty"`
	Reads      []CaseRead  `json:"reads,omitempty" bson:"reads,omitempty"`
	Staff      string      `json:"staff,omitempty" bson:"staff,omitempty"`
	Day        string      `json:"day,omitempty" bson:"day,omitempty"`
	StaffReads []StaffRead `json:"staff_reads,omitempty" bson:"staff_reads,omitempty"`
	Subjects   int64       `json:"subjects,omitempty" bson:"subjects,omitempty"`
	Overflow   int64       `json:"overflow" bson:"overflow"`
}
