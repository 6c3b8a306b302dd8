package donationviews

import (
	"context"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/projections"
)

// DailyTotals is what the donation chain recorded in this ledger moved on
// one local (CST) day: the totals aggregates.CountDonation keeps, from
// which a province's donation figure (aggregates.DonationFigure) is
// published. A province cell keeps it: every donation event of its ledger
// is the province's, an individual's pledge (region CN, a decision about
// no place) included.
type DailyTotals struct {
	Day    string                    `json:"day" bson:"day"` // YYYY-MM-DD, CST
	Totals aggregates.DonationTotals `json:"totals" bson:"totals"`
}

// DailyKey is the donation_daily document id of day (YYYY-MM-DD):
// "YYYYMMDD".
func DailyKey(day string) string { return day[:4] + day[5:7] + day[8:10] }

// Daily is the projection of donation totals per local day, keyed by
// DailyKey: each donation event adds to the day aggregates.DonationDay
// gives it, as aggregates.CountDonation says.
func Daily() projections.Projection {
	return projections.Define(projections.Spec[DailyTotals]{
		Name:     "donation_daily",
		Version:  1,
		Subjects: []string{donationSubject, stockSubject},
		Keys: func(e events.Event, p events.Payload) []string {
			day, ok := aggregates.DonationDay(e, p)
			if !ok || len(day) != 10 {
				return nil
			}
			return []string{DailyKey(day)}
		},
		Fold: func(id string, s *DailyTotals, e events.Event, p events.Payload) error {
			s.Day, _ = aggregates.DonationDay(e, p)
			aggregates.CountDonation(&s.Totals, p)
			return nil
		},
	})
}

// ReadDaily returns the donation totals of day (YYYY-MM-DD); zero totals
// if nothing happened.
func ReadDaily(ctx context.Context, ds projections.DocStore, day string) (aggregates.DonationTotals, error) {
	if len(day) != 10 {
		return aggregates.DonationTotals{}, events.Invalid("day", "must be YYYY-MM-DD, got %q", day)
	}
	p := Daily()
	id := DailyKey(day)
	docs, err := ds.Get(ctx, p, []string{id})
	if err != nil {
		return aggregates.DonationTotals{}, &events.Error{Code: events.CodeUnavailable, Message: "read " + p.Name(), Err: err}
	}
	if d := docs[id]; d != nil && d.State != nil {
		return d.State.(*DailyTotals).Totals, nil
	}
	return aggregates.DonationTotals{}, nil
}
