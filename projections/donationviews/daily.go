package donationviews

import (
	"context"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/projections"
)

// DailyTotals is what a province's donation chain moved on one local (CST)
// day: the totals aggregates.CountDonation keeps, from which the
// province's donation figure (aggregates.DonationFigure) is published.
type DailyTotals struct {
	Province string                    `json:"province" bson:"province"`
	Day      string                    `json:"day" bson:"day"` // YYYY-MM-DD, CST
	Totals   aggregates.DonationTotals `json:"totals" bson:"totals"`
}

// DailyKey is the donation_daily document id of province on day
// (YYYY-MM-DD): "<province>@YYYYMMDD".
func DailyKey(province events.Region, day string) string {
	return string(province) + "@" + day[:4] + day[5:7] + day[8:10]
}

// Daily is the projection of donation totals per province and local day,
// keyed by DailyKey: each donation event adds to the day
// aggregates.DonationDay gives it, as aggregates.CountDonation says.
func Daily() projections.Projection {
	return projections.Define(projections.Spec[DailyTotals]{
		Name:     "donation_daily",
		Version:  1,
		Subjects: []string{donationSubject, stockSubject},
		Keys: func(e events.Event, p events.Payload) []string {
			day, ok := aggregates.DonationDay(e, p)
			if !ok || len(e.Region) < 2 || e.Region == events.National || len(day) != 10 {
				return nil
			}
			return []string{DailyKey(e.Region.Province(), day)}
		},
		Fold: func(id string, s *DailyTotals, e events.Event, p events.Payload) error {
			day, _ := aggregates.DonationDay(e, p)
			s.Province, s.Day = string(e.Region.Province()), day
			aggregates.CountDonation(&s.Totals, p)
			return nil
		},
	})
}

// ReadDaily returns the donation totals of province on day (YYYY-MM-DD);
// zero totals if nothing happened.
func ReadDaily(ctx context.Context, ds projections.DocStore, province events.Region, day string) (aggregates.DonationTotals, error) {
	if len(day) != 10 {
		return aggregates.DonationTotals{}, events.Invalid("day", "must be YYYY-MM-DD, got %q", day)
	}
	p := Daily()
	id := DailyKey(province, day)
	docs, err := ds.Get(ctx, p, []string{id})
	if err != nil {
		return aggregates.DonationTotals{}, &events.Error{Code: events.CodeUnavailable, Message: "read " + p.Name(), Err: err}
	}
	if d := docs[id]; d != nil && d.State != nil {
		return d.State.(*DailyTotals).Totals, nil
	}
	return aggregates.DonationTotals{}, nil
}
