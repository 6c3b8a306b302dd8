package app

import (
	"context"
	"fmt"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/backend/tracing"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/access"
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

// maskedNames resolves persons to masked names for a staff view and
// records the read as an access event of p before returning anything.
func (i identity) maskedNames(store events.Appender, reg *events.Registry) func(ctx context.Context, p auth.Principal, what string, persons []string) (map[string]string, error) {
	return func(ctx context.Context, p auth.Principal, what string, persons []string) (map[string]string, error) {
		out := make(map[string]string, len(persons))
		if len(persons) == 0 {
			return out, nil
		}
		for _, id := range persons {
			name := "(erased)"
			if per, err := i.Resolve(ctx, id); err == nil {
				name = personal.MaskName(per.Name)
			} else if events.ErrorCode(err) != events.CodeNotFound {
				return nil, err
			}
			out[id] = name
		}
		if _, err := access.Record(ctx, store, reg, p.Actor(), p.Scope, time.Now().UTC(),
			access.Logged{What: what, Purpose: "routine view of one's own community", Query: map[string]string{"persons": fmt.Sprint(len(persons))}, Results: len(out), Identity: "masked"}); err != nil {
			return nil, err
		}
		return out, nil
	}
}
