package national

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/nationevents"
)

// Defaults of a Recorder.
const (
	// DefaultAlertDays: the provinces republish a figure that changed up
	// to 31 days back (backend/reporting.DefaultDays), so a national alert
	// of an older day can no longer be raised or cleared by new figures.
	DefaultAlertDays = 31
	// DefaultAlertInterval: well below the provinces' publishing interval
	// (5 minutes), so that an alert is recorded within seconds of the
	// figure that raises it reaching the national ledger.
	DefaultAlertInterval = 5 * time.Second
)

// Ledger is what the recorder needs of the national ledger.
type Ledger interface {
	events.Appender
	Size(ctx context.Context) (uint64, error)
	Last(ctx context.Context, region events.Region, agg events.Aggregate) (events.Recorded, bool, error)
}

// Recorder records the national alerts in the national ledger: every
// alarm the national rules raise on the provinces' figures (Signals) as a
// nationevents.AlertRaised, and, when the provinces' corrected figures no
// longer raise a recorded alarm, a nationevents.AlertCleared. The views
// (State.Alerts) show what it recorded, never what they compute.
//
// One replica records (a leased background task: Run). Every decision is
// read from the ledger (the alert's newest event, ledger.Store.Last), each
// append expects that event's sequence and carries an id derived from it
// (nationevents.AlertEventID), so a retried round, a restarted replica
// or two replicas racing after a lost lease record each raise and each
// clearing once: the second writer gets a duplicate (the same event) or
// a conflict (the first wrote another), and the next round starts from
// what the ledger holds.
type Recorder struct {
	State    *State // follows Store
	Store    Ledger
	Reg      *events.Registry
	Rules    map[string]alertevents.Rule // nil: Rules()
	Days     int                         // days evaluated, today included; 0: DefaultAlertDays
	Interval time.Duration               // between rounds; 0: DefaultAlertInterval
	Now      events.Clock
	Log      *slog.Logger
}

// RecordResult counts what a round recorded.
type RecordResult struct {
	Raised, Cleared int
}

// Run records a round every Interval until ctx ends. A failed round is
// logged and tried again at the next.
func (r *Recorder) Run(ctx context.Context) error {
	interval := cmp.Or(r.Interval, DefaultAlertInterval)
	for {
		if res, err := r.Round(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.log().Warn("recording the national alerts", "err", err)
		} else if res.Raised+res.Cleared > 0 {
			r.log().Info("recorded national alerts", "raised", res.Raised, "cleared", res.Cleared)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

func (r *Recorder) log() *slog.Logger {
	if r.Log == nil {
		return slog.Default()
	}
	return r.Log
}

// Round waits until the state has folded the national ledger as it is
// now, runs the rules on the last Days days, today (China Standard Time)
// included, records each alarm not recorded yet, and clears each one
// recorded that the rules no longer raise. It stops at the first error;
// what it appended before stays.
func (r *Recorder) Round(ctx context.Context) (RecordResult, error) {
	var res RecordResult
	size, err := r.Store.Size(ctx)
	if err != nil {
		return res, fmt.Errorf("national ledger size: %w", err)
	}
	if err := r.State.WaitFor(ctx, size); err != nil {
		return res, fmt.Errorf("national state to %d: %w", size, err)
	}
	rules := r.Rules
	if rules == nil {
		rules = Rules()
	}
	today := r.Now.UTC()
	from := events.Day(today.AddDate(0, 0, -(cmp.Or(r.Days, DefaultAlertDays) - 1)))
	to := events.Day(today)
	signals, err := r.State.Signals(rules, from, to)
	if err != nil {
		return res, err
	}
	now := map[string]bool{}
	for _, s := range signals {
		a := s.Alert()
		now[nationevents.AlertAggregate(a).ID] = true
		done, err := r.raise(ctx, s)
		if err != nil {
			return res, err
		}
		res.Raised += done
	}
	stale := r.State.raised(from, to)
	slices.SortFunc(stale, func(a, b nationevents.Alert) int { // a stable order for the log
		return strings.Compare(nationevents.AlertAggregate(a).ID, nationevents.AlertAggregate(b).ID)
	})
	for _, a := range stale {
		if now[nationevents.AlertAggregate(a).ID] {
			continue
		}
		done, err := r.clear(ctx, a)
		if err != nil {
			return res, err
		}
		res.Cleared += done
	}
	return res, nil
}

// Alert is what the signal is about.
func (s Signal) Alert() nationevents.Alert {
	return nationevents.Alert{Rule: s.Rule, Method: s.Method, Target: s.Target, Code: s.Code, Region: s.Region, Day: s.Day}
}

// raise records s unless the alert's newest event already raised it; it
// returns 1 if it appended (or found appended by an earlier try).
func (r *Recorder) raise(ctx context.Context, s Signal) (int, error) {
	a := s.Alert()
	last, expect, err := r.last(ctx, a)
	if err != nil || last.Event.Type == nationevents.TypeAlertRaised {
		return 0, err
	}
	reporting := slices.Clone(s.Reporting)
	slices.Sort(reporting)
	p := nationevents.AlertRaised{Alert: a, Observed: s.Result.Observed, Statistic: s.Result.Statistic, Threshold: s.Result.Threshold, Reporting: reporting}
	return r.append(ctx, nationevents.TypeAlertRaised, a, last.Event.ID, p, expect)
}

// clear records that a no longer holds, if its newest event raised it.
func (r *Recorder) clear(ctx context.Context, a nationevents.Alert) (int, error) {
	last, expect, err := r.last(ctx, a)
	if err != nil || last.Event.Type != nationevents.TypeAlertRaised {
		return 0, err
	}
	p := nationevents.AlertCleared{Alert: a, Raised: last.Event.ID,
		Reason: "the provinces' corrected figures no longer raise it"}
	return r.append(ctx, nationevents.TypeAlertCleared, a, last.Event.ID, p, expect)
}

// last reads the alert's newest event, and what an append after it
// expects.
func (r *Recorder) last(ctx context.Context, a nationevents.Alert) (events.Recorded, events.Expect, error) {
	agg := nationevents.AlertAggregate(a)
	rec, ok, err := r.Store.Last(ctx, a.Region, agg)
	if err != nil {
		return rec, events.Expect{}, fmt.Errorf("alert %s: %w", agg.ID, err)
	}
	if !ok {
		return rec, events.ExpectNew(), nil
	}
	return rec, events.ExpectLast(rec.Seq), nil
}

// append appends the alert event of type typ that follows the event prev.
func (r *Recorder) append(ctx context.Context, typ string, a nationevents.Alert, prev string, p events.Payload, expect events.Expect) (int, error) {
	e, err := r.Reg.New(ctx, typ, events.Meta{ID: nationevents.AlertEventID(typ, a, prev), Aggregate: nationevents.AlertAggregate(a),
		Region: a.Region, Time: r.Now.UTC(), Actor: events.Actor{Role: string(auth.System), ID: "national-alerts"}}, p)
	if err != nil {
		return 0, err
	}
	if _, err := r.Store.Append(ctx, e, expect); err != nil && !errors.Is(err, events.ErrDuplicate) {
		return 0, fmt.Errorf("append %s of %s: %w", typ, e.Aggregate.ID, err)
	}
	return 1, nil
}
