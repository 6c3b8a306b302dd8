// Package national is what the national cell shows: case counts, early
// warning above province level, flows between provinces and donation
// supervision, folded from the aggregate events the provinces publish
// (events/aggregates) and nothing else. The national ledger holds no raw
// event (partition.National refuses them, and only OUTBOX subjects are
// sourced into it), so neither can these views.
//
// For each figure of each province and day the state keeps the latest
// revision the national ledger holds: a correction replaces the figure
// before it, whole. The early-warning rules (Rules, Signals) read series
// built from those figures, by the patients' residential region, summed
// over every reporting province: that is what no province sees on its own,
// since each holds only the cards of its own hospitals.
package national

import (
	"context"
	"slices"
	"sync"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/events/nationevents"
)

// State is the national views' in-memory fold of the national ledger.
type State struct {
	mu  sync.RWMutex
	pos *events.Position

	cases     map[string]map[events.Region]aggregates.Cases // day → reporting province → latest revision
	moves     map[string]map[events.Region]aggregates.Moves
	donations map[string]map[events.Region]aggregates.Donations
	alerts    map[string]*RecordedAlert // national alerts recorded, by aggregate id
	// Anomalies counts events the state refused: a figure whose province
	// is not the event's region (a province speaking for another), an
	// older revision after a newer one, an alert event that does not
	// follow the one before. Never expected.
	anomalies int64
}

// NewState returns an empty state.
func NewState() *State {
	s := &State{cases: map[string]map[events.Region]aggregates.Cases{}, moves: map[string]map[events.Region]aggregates.Moves{},
		donations: map[string]map[events.Region]aggregates.Donations{}, alerts: map[string]*RecordedAlert{}}
	s.pos = events.NewPosition(&s.mu, "national views")
	return s
}

// Seq implements events.Applier.
func (s *State) Seq() uint64 { return s.pos.Seq() }

// WaitFor waits until the state has applied seq.
func (s *State) WaitFor(ctx context.Context, seq uint64) error { return s.pos.WaitFor(ctx, seq) }

// Apply implements events.Applier: it folds aggregate events and the
// national alerts recorded, and ignores every other (the provinces'
// recorded checkpoints, the exports).
func (s *State) Apply(rec events.Recorded, p events.Payload) {
	s.pos.Fold(rec.Seq, func() {
		switch p := p.(type) {
		case aggregates.Cases:
			s.anomalies += keep(s.cases, rec.Event.Region, p.Province, p.Day, p.Revision, p, func(o aggregates.Cases) int { return o.Revision })
		case aggregates.Moves:
			s.anomalies += keep(s.moves, rec.Event.Region, p.Province, p.Day, p.Revision, p, func(o aggregates.Moves) int { return o.Revision })
		case aggregates.Donations:
			s.anomalies += keep(s.donations, rec.Event.Region, p.Province, p.Day, p.Revision, p, func(o aggregates.Donations) int { return o.Revision })
		case nationevents.AlertRaised, nationevents.AlertCleared:
			s.anomalies += s.applyAlert(rec, p)
		}
	})
}

// keep stores figure f of province on day if keepIn does; it returns 1
// for a refused figure.
func keep[F any](m map[string]map[events.Region]F, region, province events.Region, day string, rev int, f F, revOf func(F) int) int64 {
	byProvince := m[day]
	if byProvince == nil {
		byProvince = map[events.Region]F{}
		m[day] = byProvince
	}
	return keepIn(byProvince, region, province, rev, f, revOf)
}

// keepIn is the rule of the national figures, in one place for the state
// and the exported views (Projections): figure f of province, at revision
// rev, recorded in an event of region, replaces the one byProvince holds
// if it is the province's own (the event's region: a province cannot
// speak for another) and newer (the latest revision wins, whole). It
// returns 1 for a refused figure.
func keepIn[F any](byProvince map[events.Region]F, region, province events.Region, rev int, f F, revOf func(F) int) int64 {
	if region != province {
		return 1
	}
	if old, ok := byProvince[province]; ok && revOf(old) >= rev {
		return 1
	}
	byProvince[province] = f
	return 0
}

// Anomalies is the number of aggregate events the state refused.
func (s *State) Anomalies() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.anomalies
}

// Provinces lists the provinces that published any figure, in order.
func (s *State) Provinces() []events.Region {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []events.Region
	add := func(p events.Region) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, byP := range s.cases {
		for p := range byP {
			add(p)
		}
	}
	for _, byP := range s.moves {
		for p := range byP {
			add(p)
		}
	}
	for _, byP := range s.donations {
		for p := range byP {
			add(p)
		}
	}
	slices.Sort(out)
	return out
}
