package national

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/events/nationevents"
	"github.com/onebook/onebook/events/outbox"
	"github.com/onebook/onebook/projections"
)

// The national views as projections of the national ledger, one document
// per day: what an export bundle of them (backend/exports) holds, and
// what its verifier re-folds, offline, from the aggregate events the
// bundle cites. Each document keeps the latest figure of every province
// (keepIn, the state's rule) and the national figures computed from them
// by the views' own functions (SumCases, DayFlows, SumDonations), so that
// a row of an export says what /national/cases, /flows and /donations
// answer for that day, and why.
//
// They fold the aggregate subjects the provinces' OUTBOX streams source
// into the national ledger (outbox.Subjects), and nothing else.

// View names.
const (
	ViewCases     = "national_cases"
	ViewFlows     = "national_flows"
	ViewDonations = "national_donations"
)

// CasesDoc is a day of national case counts with the figures summed.
type CasesDoc struct {
	CaseDay
	Figures map[events.Region]aggregates.Cases `json:"figures"` // each reporting province's latest figure
}

// FlowsDoc is a day of arrivals between provinces with their figures.
type FlowsDoc struct {
	Day     string                             `json:"day"`
	Flows   []Flow                             `json:"flows"`
	Figures map[events.Region]aggregates.Moves `json:"figures"`
}

// DonationsDoc is a day of national donation supervision with the
// figures summed.
type DonationsDoc struct {
	DonationDay
	Figures map[events.Region]aggregates.Donations `json:"figures"`
}

// Projections are the national views that export: national_cases,
// national_flows and national_donations, a document per day
// (YYYY-MM-DD).
func Projections() []projections.Projection {
	return []projections.Projection{
		projections.Define(projections.Spec[CasesDoc]{Name: ViewCases, Version: 1, Subjects: []string{outbox.Subjects},
			Keys: dayOf[aggregates.Cases](func(f aggregates.Cases) string { return f.Day }),
			Fold: func(id string, s *CasesDoc, e events.Event, p events.Payload) error {
				s.Figures = fold(s.Figures, e, p.(aggregates.Cases), func(f aggregates.Cases) (events.Region, int) { return f.Province, f.Revision })
				s.CaseDay = SumCases(id, inOrder(s.Figures))
				return nil
			}}),
		projections.Define(projections.Spec[FlowsDoc]{Name: ViewFlows, Version: 1, Subjects: []string{outbox.Subjects},
			Keys: dayOf[aggregates.Moves](func(f aggregates.Moves) string { return f.Day }),
			Fold: func(id string, s *FlowsDoc, e events.Event, p events.Payload) error {
				s.Figures = fold(s.Figures, e, p.(aggregates.Moves), func(f aggregates.Moves) (events.Region, int) { return f.Province, f.Revision })
				s.Day, s.Flows = id, DayFlows(id, inOrder(s.Figures))
				return nil
			}}),
		projections.Define(projections.Spec[DonationsDoc]{Name: ViewDonations, Version: 1, Subjects: []string{outbox.Subjects},
			Keys: dayOf[aggregates.Donations](func(f aggregates.Donations) string { return f.Day }),
			Fold: func(id string, s *DonationsDoc, e events.Event, p events.Payload) error {
				s.Figures = fold(s.Figures, e, p.(aggregates.Donations), func(f aggregates.Donations) (events.Region, int) { return f.Province, f.Revision })
				s.DonationDay = SumDonations(id, inOrder(s.Figures))
				return nil
			}}),
	}
}

// dayOf returns the Keys of a view of figures of type F: the figure's
// day, for an event holding one.
func dayOf[F any](day func(F) string) func(events.Event, events.Payload) []string {
	return func(_ events.Event, p events.Payload) []string {
		if f, ok := p.(F); ok {
			return []string{day(f)}
		}
		return nil
	}
}

// fold keeps figure f of event e in figs by the state's rule (keepIn).
func fold[F any](figs map[events.Region]F, e events.Event, f F, key func(F) (events.Region, int)) map[events.Region]F {
	if figs == nil {
		figs = map[events.Region]F{}
	}
	province, rev := key(f)
	keepIn(figs, e.Region, province, rev, f, func(o F) int { _, r := key(o); return r })
	return figs
}

// RecordExport records, in the national ledger, that an export bundle of
// a national view is about to be made: who (an office), why, of what and
// against which tree. It is called before the bundle is written, so that
// no bundle exists that the ledger does not name; the same record again
// (a retried export of the same tree) is recorded once.
//
// Who may export: the national cell has no accounts. Its views are public
// by design, so an export discloses nothing; what it adds is the nation's
// signature, made with the national seal key, which only the national
// cell's operator holds. Exporting is therefore an operator's act (ops
// export --cell CN), authorized by holding that key and the national
// NATS user, and recorded here under the office the operator names.
func RecordExport(ctx context.Context, led events.Appender, reg *events.Registry, p nationevents.Exported, at time.Time) (events.Recorded, error) {
	agg, id, err := nationevents.ExportAggregate(p)
	if err != nil {
		return events.Recorded{}, err
	}
	e, err := reg.New(ctx, nationevents.TypeExported, events.Meta{ID: id, Aggregate: agg, Region: events.National, Time: at,
		Actor: events.Actor{Role: string(auth.System), ID: "national-exports"}}, p)
	if err != nil {
		return events.Recorded{}, err
	}
	rec, err := led.Append(ctx, e, events.ExpectNew())
	if err != nil && !errors.Is(err, events.ErrDuplicate) {
		return rec, fmt.Errorf("record the export: %w", err)
	}
	return rec, nil
}
