// Package access holds the schema of data-access events: every read of
// personal or case data by staff, with who, what, when and why, is itself
// recorded in the ledger.
package access

import "github.com/onebook/onebook/events"

// TypeLogged is the one access event type; Kind its aggregate kind (the
// aggregate is the reading staff account, so one account's reads are in
// order).
const (
	TypeLogged = "access.logged"
	Kind       = "access"
)

// Register adds the access event to r.
func Register(r *events.Registry) { events.Register[Logged](r, TypeLogged, Kind, 1) }

// Logged: staff read data. Query holds the parameters as given (blind
// indexes, never clear personal data); Results counts what was returned.
type Logged struct {
	What     string            `json:"what"`    // e.g. "trace.gate", "trace.person", "view.inside"
	Purpose  string            `json:"purpose"` // stated purpose, required
	Query    map[string]string `json:"query"`
	Results  int               `json:"results"`
	Identity string            `json:"identity"` // "masked" or "full"
	// Subjects are the records read when they can be named (case card
	// ids), so that an auditor can ask who read a given record.
	Subjects []string `json:"subjects,omitempty"`
}

func (p Logged) Validate() error {
	if p.What == "" {
		return events.Invalid("what", "required")
	}
	if len([]rune(p.Purpose)) < 4 || len(p.Purpose) > 500 {
		return events.Invalid("purpose", "state a purpose of 4 to 500 characters")
	}
	if p.Identity != "masked" && p.Identity != "full" {
		return events.Invalid("identity", "must be masked or full")
	}
	return nil
}
