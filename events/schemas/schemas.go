// Package schemas assembles the registry of every event type onebook
// records. The backend, the operators' tools, the tests and the bench all
// build their registry here, so that a new event type is registered by
// one edit, and nothing reads the ledger with a registry that lacks a type.
package schemas

import (
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/access"
	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/events/nationevents"
	"github.com/onebook/onebook/events/orgs"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/events/staff"
)

// Registry returns a registry of every event type onebook knows, without
// a keyring (events.Registry.WithKeyring adds one).
func Registry() *events.Registry {
	r := events.NewRegistry()
	passevents.Register(r)
	residents.Register(r)
	staff.Register(r)
	access.Register(r)
	orgs.Register(r)
	caseevents.Register(r)
	alertevents.Register(r)
	donationevents.Register(r)
	nationevents.Register(r)
	aggregates.Register(r)
	return r
}
