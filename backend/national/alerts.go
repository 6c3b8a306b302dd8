package national

import (
	"cmp"
	"slices"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/nationevents"
)

// Alert statuses.
const (
	StatusRaised  = "raised"
	StatusCleared = "cleared"
)

// RecordedAlert is a national alert as the national ledger records it:
// the alarm as last raised, and whether the provinces' corrected figures
// cleared it since. The indexes are leaves of the national log
// (/national/ledger/events/N, /national/ledger/proof/N).
type RecordedAlert struct {
	nationevents.AlertRaised
	Status       string `json:"status"` // StatusRaised or StatusCleared
	RaisedIndex  uint64 `json:"raised_index"`
	ClearedIndex uint64 `json:"cleared_index,omitempty"`
	Reason       string `json:"cleared_reason,omitempty"`

	lastID string // the id of the aggregate's newest event
}

// applyAlert folds a recorded alert event into the state; it returns 1
// for an event that does not follow the one before (never expected: the
// recorder appends with the aggregate's last sequence). Call with the
// write lock held.
func (s *State) applyAlert(rec events.Recorded, p any) int64 {
	switch p := p.(type) {
	case nationevents.AlertRaised:
		id := nationevents.AlertAggregate(p.Alert).ID
		if old := s.alerts[id]; old != nil && old.Status == StatusRaised {
			return 1
		}
		s.alerts[id] = &RecordedAlert{AlertRaised: p, Status: StatusRaised, RaisedIndex: rec.LeafIndex(), lastID: rec.Event.ID}
	case nationevents.AlertCleared:
		a := s.alerts[nationevents.AlertAggregate(p.Alert).ID]
		if a == nil || a.Status != StatusRaised || a.lastID != p.Raised {
			return 1
		}
		a.Status, a.ClearedIndex, a.Reason, a.lastID = StatusCleared, rec.LeafIndex(), p.Reason, rec.Event.ID
	}
	return 0
}

// Alerts returns the recorded national alerts of the days from from to to
// (YYYY-MM-DD), raised and cleared, by day, rule, code and region.
func (s *State) Alerts(from, to string) ([]RecordedAlert, error) {
	days, err := dayRange(from, to)
	if err != nil {
		return nil, err
	}
	from, to = days[0], days[len(days)-1]
	s.mu.RLock()
	out := []RecordedAlert{}
	for _, a := range s.alerts {
		if a.Day >= from && a.Day <= to {
			out = append(out, *a)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b RecordedAlert) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Code, b.Code), cmp.Compare(a.Region, b.Region))
	})
	return out, nil
}

// raised returns the alerts of the days from from to to whose newest
// recorded event raised them.
func (s *State) raised(from, to string) []nationevents.Alert {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []nationevents.Alert
	for _, a := range s.alerts {
		if a.Status == StatusRaised && a.Day >= from && a.Day <= to {
			out = append(out, a.Alert)
		}
	}
	return out
}
