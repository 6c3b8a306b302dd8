package app

import (
	"context"

	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/backend/tracing"
	"github.com/onebook/onebook/events"
)

// identity lets government tracing resolve a person id to their (sealed)
// identity through the pass service's state and the vault.
type identity struct {
	state *passes.State
	vault passes.Vault
}

func (i identity) Index(kind, value string) string { return i.vault.Index(kind, value) }

func (i identity) Resolve(ctx context.Context, personID string) (tracing.Person, error) {
	per, ok := i.state.Person(personID)
	if !ok || per.Erased {
		return tracing.Person{}, events.Errorf(events.CodeNotFound, "person %s is unknown or erased", personID)
	}
	d, err := i.vault.Open(ctx, per.ID, per.Sealed)
	if err != nil {
		return tracing.Person{}, err
	}
	return tracing.Person{Name: d.Name, IDNumber: d.IDNumber}, nil
}
