package national

import (
	"context"
	"time"

	"github.com/onebook/onebook/events"
)

// Service answers the national views.
//
// Who may read them: anyone. Every figure they add up is an aggregate
// event that is public by design (its fields, its small cells left out)
// and served by the national log to anyone (its entry bundles under
// /national/tile/entries), so nothing here is more than what the public
// can recompute from the log; the alerts are recorded in the same log by
// a pure function of the same figures. That is also why the national cell needs no sign-in of
// its own. (Raw data, which would need one, never reaches it.)
type Service struct {
	State *State
	Now   events.Clock
}

// Range is a read's days, YYYY-MM-DD (CST), both included; empty: the
// last 7 days up to today.
type Range struct {
	From, To string
}

func (s *Service) days(r Range) (string, string) {
	to := r.To
	if to == "" {
		to = events.Day(s.Now.UTC())
	}
	from := r.From
	if from == "" {
		if t, err := time.Parse(time.DateOnly, to); err == nil {
			from = t.AddDate(0, 0, -6).Format(time.DateOnly)
		} else {
			from = to // dayRange names the bad field
		}
	}
	return from, to
}

// Cases returns the national case counts per day.
func (s *Service) Cases(ctx context.Context, r Range) ([]CaseDay, error) {
	from, to := s.days(r)
	return s.State.Cases(from, to)
}

// Flows returns the arrivals between provinces per day.
func (s *Service) Flows(ctx context.Context, r Range) ([]Flow, error) {
	from, to := s.days(r)
	return s.State.Flows(from, to)
}

// Donations returns the national donation supervision per day.
func (s *Service) Donations(ctx context.Context, r Range) ([]DonationDay, error) {
	from, to := s.days(r)
	return s.State.Donations(from, to)
}

// Alerts returns the national alerts of each day as the national ledger
// records them (Recorder): raised, and cleared if the provinces'
// corrected figures no longer raise them.
func (s *Service) Alerts(ctx context.Context, r Range) ([]RecordedAlert, error) {
	from, to := s.days(r)
	return s.State.Alerts(from, to)
}
