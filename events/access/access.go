// Package access holds the schema of data-access events: every read of
// personal or case data by staff, with who, what, when and why, is itself
// recorded in the ledger.
package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onebook/onebook/events"
)

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
	What     string            `json:"what" disclose:"public"`    // e.g. "trace.gate", "trace.person", "view.inside"
	Purpose  string            `json:"purpose" disclose:"sealed"` // stated purpose, required
	Query    map[string]string `json:"query" disclose:"sealed"`
	Results  int               `json:"results" disclose:"sealed"`
	Identity string            `json:"identity" disclose:"public"` // "masked" or "full"
	// Subjects are the records read when they can be named (case card
	// ids), so that an auditor can ask who read a given record.
	Subjects []string `json:"subjects,omitempty" disclose:"sealed"`
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

// Record appends one access event: account (the reading staff account,
// the aggregate) in scope read data as l says. Its sealed fields (purpose,
// query, results, subjects) are sealed to events.SubjectAccess, whose key
// is never destroyed: the log of who read a person's data outlives that
// person's erasure. A duplicate is not an error.
func Record(ctx context.Context, s events.Appender, reg *events.Registry, actor events.Actor, scope events.Region, at time.Time, l Logged) (events.Recorded, error) {
	meta := events.Meta{Aggregate: events.Aggregate{Kind: Kind, ID: actor.ID}, Region: scope, Actor: actor, Time: at, SealTo: events.SubjectAccess}
	e, err := reg.New(ctx, TypeLogged, meta, l)
	if err != nil {
		return events.Recorded{}, fmt.Errorf("build the access event: %w", err)
	}
	rec, err := s.Append(ctx, e, events.ExpectAny())
	if err != nil && !errors.Is(err, events.ErrDuplicate) {
		return rec, fmt.Errorf("record the access in the ledger (no data returned): %w", err)
	}
	rec.Event = e
	return rec, nil
}
