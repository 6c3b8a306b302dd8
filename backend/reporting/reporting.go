// Package reporting publishes what a province tells the nation: each day's
// figures (events/aggregates), computed from the province's own views and
// appended to the province's own ledger, from which its OUTBOX carries
// them to the national ledger (events/outbox).
//
// One replica publishes (a leased background task: Run). A round
// recomputes every figure of the last Days days, today included, and
// appends a figure only when it differs from the latest revision the
// ledger holds: the first as revision 1, a change as the next revision,
// which replaces the previous one for every reader (a correction). Event
// ids derive from the figure's aggregate, revision and content
// (aggregates.EventID) and each append expects the aggregate's last
// sequence, so a retried round, a restarted replica, or two replicas
// racing after a lost lease never record a figure twice: the second
// writer of a revision gets a duplicate (the same figure) or a conflict
// (another), and the next round starts from what the ledger holds.
package reporting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/caseviews"
	"github.com/onebook/onebook/projections/donationviews"
	"github.com/onebook/onebook/projections/passviews"
)

// Defaults of a Publisher.
const (
	// DefaultDays: a card's count moves when it is corrected or revoked,
	// which review does within days; a report may be filed up to 30 days
	// after diagnosis but counts on its filing day. A change older than
	// 31 days is not republished (README, "A ledger per province").
	DefaultDays     = 31
	DefaultInterval = 5 * time.Minute
)

// Publisher publishes the figures of one province.
type Publisher struct {
	Province  events.Region
	Store     events.Store // the province's ledger
	Reg       *events.Registry
	Views     projections.DocStore // the province's views: case_counts, province_arrivals, donation_daily
	SmallCell int64                // 0: aggregates.DefaultSmallCell
	Days      int                  // 0: DefaultDays
	Interval  time.Duration        // between rounds; 0: DefaultInterval
	Now       events.Clock
	Log       *slog.Logger
}

// Result counts what a round did.
type Result struct {
	Published int // first revisions
	Corrected int // later revisions
	Unchanged int
}

// Run publishes a round every Interval until ctx ends. A failed round is
// logged and tried again at the next.
func (p *Publisher) Run(ctx context.Context) error {
	for {
		if r, err := p.Round(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p.log().Warn("publishing the province's figures", "province", p.Province, "err", err)
		} else if r.Published+r.Corrected > 0 {
			p.log().Info("published the province's figures", "province", p.Province, "published", r.Published, "corrected", r.Corrected)
		}
		interval := p.Interval
		if interval <= 0 {
			interval = DefaultInterval
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

func (p *Publisher) log() *slog.Logger {
	if p.Log == nil {
		return slog.Default()
	}
	return p.Log
}

// Round computes and publishes every figure of the last Days days, today
// (China Standard Time) included, and says what it did. It stops at the
// first error; what it appended before stays, and the next round carries
// on from the ledger.
func (p *Publisher) Round(ctx context.Context) (Result, error) {
	var r Result
	days := p.Days
	if days <= 0 {
		days = DefaultDays
	}
	today := p.Now.UTC()
	for i := days - 1; i >= 0; i-- {
		day := events.Day(today.AddDate(0, 0, -i))
		figs, err := p.Figures(ctx, day)
		if err != nil {
			return r, err
		}
		for _, f := range figs {
			switch done, err := p.publish(ctx, f, day); {
			case err != nil:
				return r, err
			case done == 1:
				r.Published++
			case done > 1:
				r.Corrected++
			default:
				r.Unchanged++
			}
		}
	}
	return r, nil
}

// figure is one computed figure: at gives it at a revision.
type figure struct {
	typ, name string
	empty     bool // nothing to report that day
	at        func(revision int) events.Payload
}

// Figures computes the three figures of the province on day (YYYY-MM-DD)
// from its views, each by its one function of events/aggregates.
func (p *Publisher) Figures(ctx context.Context, day string) ([]figure, error) {
	k := p.SmallCell
	if k <= 0 {
		k = aggregates.DefaultSmallCell
	}
	cities, err := caseviews.ReadCities(ctx, p.Views, day)
	if err != nil {
		return nil, fmt.Errorf("case counts of %s: %w", day, err)
	}
	counts := make(map[string]aggregates.CityCount, len(cities))
	for city, c := range cities {
		counts[city] = aggregates.CityCount{Total: c.Total, Diseases: c.Diseases, Groups: c.Groups}
	}
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return nil, events.Invalid("day", "must be YYYY-MM-DD, got %q", day)
	}
	today, partial1, err := passviews.ReadArrivals(ctx, p.Views, p.Province, day)
	if err != nil {
		return nil, fmt.Errorf("arrivals of %s: %w", day, err)
	}
	yesterday, partial2, err := passviews.ReadArrivals(ctx, p.Views, p.Province, d.AddDate(0, 0, -1).Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("arrivals of the day before %s: %w", day, err)
	}
	totals, err := donationviews.ReadDaily(ctx, p.Views, day)
	if err != nil {
		return nil, fmt.Errorf("donations of %s: %w", day, err)
	}
	c := aggregates.CaseFigure(p.Province, day, k, counts)
	m := aggregates.MoveFigure(p.Province, day, k, today, yesterday, partial1 || partial2)
	dn := aggregates.DonationFigure(p.Province, day, k, totals)
	return []figure{
		{aggregates.TypeCases, aggregates.FigureCases, c.Total == 0, func(n int) events.Payload { c.Revision = n; return c }},
		{aggregates.TypeMoves, aggregates.FigureMoves, len(m.From) == 0 && m.Other == 0 && !m.Partial, func(n int) events.Payload { m.Revision = n; return m }},
		{aggregates.TypeDonations, aggregates.FigureDonations, dn.DonationTotals.Empty(), func(n int) events.Payload { dn.Revision = n; return dn }},
	}, nil
}

// publish appends f as the next revision of its aggregate unless the
// latest revision already says the same. It returns the revision it
// appended (or found appended by an earlier try), 0 if it appended none.
// A day with nothing to report is not published until it has something.
func (p *Publisher) publish(ctx context.Context, f figure, day string) (int, error) {
	agg := aggregates.Aggregate(f.name, p.Province, day)
	recs, err := p.Store.Load(ctx, p.Province, agg)
	if err != nil {
		return 0, fmt.Errorf("load %s: %w", agg.ID, err)
	}
	rev, expect := 1, events.ExpectNew()
	if n := len(recs); n > 0 {
		last, err := p.Reg.Decode(ctx, recs[n-1].Event)
		if err != nil {
			return 0, fmt.Errorf("decode %s: %w", agg.ID, err)
		}
		// Computed figures hold empty maps, never nil ones, as decoded
		// ones do: equal figures are deeply equal.
		prev := revisionOf(last)
		if reflect.DeepEqual(last, f.at(prev)) {
			return 0, nil
		}
		rev, expect = prev+1, events.ExpectLast(recs[n-1].Seq)
	} else if f.empty {
		return 0, nil
	}
	payload := f.at(rev)
	id, err := aggregates.EventID(agg, rev, payload)
	if err != nil {
		return 0, err
	}
	e, err := p.Reg.New(ctx, f.typ, events.Meta{ID: id, Aggregate: agg, Region: p.Province, Time: p.Now.UTC(),
		Actor: events.Actor{Role: string(auth.System), ID: "province-publisher"}}, payload)
	if err != nil {
		return 0, err
	}
	if _, err := p.Store.Append(ctx, e, expect); err != nil && !errors.Is(err, events.ErrDuplicate) {
		return 0, fmt.Errorf("append %s revision %d: %w", agg.ID, rev, err)
	}
	return rev, nil
}

// revisionOf is the revision a decoded figure carries.
func revisionOf(p events.Payload) int {
	switch p := p.(type) {
	case aggregates.Cases:
		return p.Revision
	case aggregates.Moves:
		return p.Revision
	case aggregates.Donations:
		return p.Revision
	}
	return 0
}
