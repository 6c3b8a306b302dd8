package app

import (
	"context"
	"slices"
	"sync"

	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/backend/national"
	"github.com/onebook/onebook/backend/reporting"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/outbox"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/donationviews"
	"github.com/onebook/onebook/projections/passviews"
)

// What a cell tells the nation, and what the nation shows of it
// (issue 17, agg): each province cell computes its daily figures from two
// views of its own (ProvinceProjections) and the case counts, publishes
// them to its own ledger (backend/reporting), and its OUTBOX stream
// carries them to the national ledger (events/outbox), whose state
// (backend/national) the national cell folds and serves.

// ProvinceProjections are the views a province cell keeps besides every
// cell's (Projections): what its daily figures for the nation are
// computed from.
func ProvinceProjections() []projections.Projection {
	return []projections.Projection{passviews.Arrivals(), donationviews.Daily()}
}

// CellProjections are the projections of cell: Projections, and for a
// province ProvinceProjections too. The single ledger keeps exactly the
// projections it always had.
func CellProjections(cell events.Region) []projections.Projection {
	if cell == "" || cell == partition.Nation {
		return Projections()
	}
	return slices.Concat(Projections(), ProvinceProjections())
}

// withOutbox adds to accts (one per cell, partition.Account) what lets the
// nation source each province's OUTBOX and nothing else: each province
// account exports outbox.Grants to the NATION account alone, which
// imports them.
func withOutbox(accts []embedded.Account, provinces []events.Region) []embedded.Account {
	nation := slices.IndexFunc(accts, func(a embedded.Account) bool { return a.Name == outbox.NationAccount })
	if nation < 0 {
		return accts
	}
	for _, p := range provinces {
		i := slices.IndexFunc(accts, func(a embedded.Account) bool { return a.Name == outbox.Account(p) })
		if i < 0 {
			continue
		}
		for _, g := range outbox.Grants(p) {
			accts[i].Exports = append(accts[i].Exports, embedded.Export{Service: g.Service, Stream: g.Stream, Accounts: []string{outbox.NationAccount}})
			accts[nation].Imports = append(accts[nation].Imports, embedded.Import{Account: outbox.Account(p), Service: g.Service, Stream: g.Stream, To: g.To})
		}
	}
	return accts
}

// startReporting opens the province's OUTBOX and runs its publisher, one
// replica at a time (a lease).
func (c *cell) startReporting(ctx, bg context.Context, wg *sync.WaitGroup) error {
	a := c.app
	if _, err := outbox.Open(ctx, c.servers.JS, c.code, c.cfg.Replicas); err != nil {
		return err
	}
	pub := &reporting.Publisher{Province: c.code, Store: a.ledger.Store, Reg: a.reg, Views: a.docs, Log: a.log.With("component", "reporting"),
		SmallCell: int64(c.cfg.SmallCell), Interval: c.cfg.ReportInterval}
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.runLeased(bg, "reporting", pub.Run)
	}()
	return nil
}

// startNationalViews follows the national ledger into the national views'
// state.
func (c *cell) startNationalViews(bg context.Context, wg *sync.WaitGroup) *national.State {
	st := national.NewState()
	reg := schemas.Registry() // aggregates are public: no keyring needed
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ledger.Follow(bg, c.servers.JS, c.app.ledger.Store.Stream(), reg, st); err != nil {
			c.app.log.Error("national views stopped", "err", err)
		}
	}()
	return st
}

// recordAlerts records the national alerts raised and cleared on the
// provinces' figures in the national ledger (national.Recorder), one
// replica at a time (a lease), every NationInterval, as the log of logs
// records the provinces' checkpoints.
func (c *cell) recordAlerts(bg context.Context, wg *sync.WaitGroup, st *national.State) {
	a := c.app
	rec := &national.Recorder{State: st, Store: a.ledger.Store, Reg: schemas.Registry(), Interval: c.cfg.NationInterval,
		Log: a.log.With("component", "national-alerts")}
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.runLeased(bg, "national-alerts", rec.Run)
	}()
}
