package app

import (
	"context"
	"fmt"
	"time"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/backend/tracing"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/access"
	"github.com/onebook/onebook/events/residents"
)

// identity lets government tracing resolve a person id to their (sealed)
// identity through the accounts state (household members), the pass
// state (visitors) and the vault.
type identity struct {
	accounts *accounts.State
	passes   *passes.State
	vault    accounts.Vault
}

func (i identity) Index(kind, value string) string { return i.vault.Index(kind, value) }

func (i identity) Resolve(ctx context.Context, personID string) (tracing.Person, error) {
	// A household member's record wins over a visit's: erasure marks it.
	per, member := i.accounts.Person(personID)
	v, visitor := i.passes.Visitor(personID)
	var sealed residents.Sealed
	switch {
	case member && !per.Erased:
		sealed = per.Sealed
	case !member && visitor:
		sealed = v.Sealed
	default:
		return tracing.Person{}, events.Errorf(events.CodeNotFound, "person %s is unknown or erased", personID)
	}
	d, err := i.vault.Open(ctx, personID, sealed)
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
