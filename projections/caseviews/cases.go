// Package cases holds the read models of infectious-disease case reporting
// and early warning:
//
//   - case_counts: the daily counts that early warning reads, per region at
//     four levels (district, city, province, national), with a breakdown by
//     child region so that the districts of a city (the cities of a
//     province, the provinces of the country) can be compared from the
//     parent's documents alone;
//   - case_cards: each report card as it stands, with its review history;
//   - alerts: each alert with its lifecycle and its response times;
//   - alert_rules: each early-warning rule with its versions;
//   - case_reads: the data-use audit of case records, per case and per
//     staff member and day.
//
// Every projection is a pure fold of ledger events, one document per key,
// and every read goes by _id only (FerretDB v1 pushes down nothing else):
// the reader knows the ids.
//
// Documents hold case ids, person ids and staff ids, never personal data:
// the patient's sealed personal data stays in the ledger.
//
// Days are local, China Standard Time (UTC+8): the day of a count starts at
// 16:00 UTC of the previous UTC day.
//
// A fold never fails on a well-formed event: an error would halt the
// projector. What does not fit the expected order of events (a count
// removed that was never added, a review of a card that is not awaiting
// it) is applied as far as it can be and counted in the document's
// Anomalies, so that it is visible rather than hidden.
package caseviews

import (
	"strings"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/projections"
)

// Formats of keys and stored times. Stored times are RFC 3339 UTC with a
// fixed-width fraction, so they are exact and sort as text.
const (
	dayKey   = "20060102"
	timeText = "2006-01-02T15:04:05.000000000Z07:00"
)

func fixed(t time.Time) string { return t.UTC().Format(timeText) }

// parseFixed parses a stored time.
func parseFixed(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err == nil
}

// safeKey reports whether s can be a key of a stored map: BSON field names
// may not be empty, contain dots or start with '$'. Region codes, disease
// and symptom group codes always are.
func safeKey(s string) bool {
	return s != "" && !strings.ContainsRune(s, '.') && s[0] != '$' && !strings.ContainsRune(s, 0)
}

// isToken reports whether s is an aggregate id: 1 to 64 of [A-Za-z0-9_-].
func isToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Actor is who took a step: the role and account id of the event's actor.
type Actor struct {
	Role string `json:"role" bson:"role"`
	ID   string `json:"id" bson:"id"`
}

func actorOf(e events.Event) Actor { return Actor{Role: e.Actor.Role, ID: e.Actor.ID} }

// All lists the projections of this package.
func All() []projections.Projection {
	return []projections.Projection{Counts(), Cards(), Alerts(), Rules(), Reads()}
}
