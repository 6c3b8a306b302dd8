package passviews

import (
	"context"
	"fmt"
	"slices"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/projections"
)

// MaxArrivalPersons caps the declarants one city day follows (about 50
// bytes each: ~2.5 MB at the cap). Only declarants naming another
// province are followed; declarations of further ones are counted in
// ArrivalDay.Untracked.
const MaxArrivalPersons = 50_000

// ArrivalDay holds, for one city (4 digits) and one local (CST) day, the
// other provinces each declarant of the city named in that day's health
// declarations (residents.Declared.Visited: stays within the last 14
// days). It is what the province's arrivals figure
// (aggregates.MoveFigure) is computed from; person ids never leave the
// province.
type ArrivalDay struct {
	City      string              `json:"city" bson:"city"`
	Day       string              `json:"day" bson:"day"`             // YYYY-MM-DD, CST
	Named     map[string][]string `json:"named" bson:"named"`         // person id → other provinces named, sorted
	Untracked int64               `json:"untracked" bson:"untracked"` // declarations of persons not followed: Named was full
}

// ArrivalKey is the document id of city's local day (YYYY-MM-DD):
// "<city>@YYYYMMDD".
func ArrivalKey(city, day string) string {
	return city + "@" + day[:4] + day[5:7] + day[8:10]
}

// otherProvinces returns the provinces other than home that visited names,
// sorted, each once.
func otherProvinces(home events.Region, visited []events.Region) []string {
	var out []string
	for _, v := range visited {
		if len(v) < 2 || v == events.National {
			continue
		}
		if p := string(v.Province()); p != string(home) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// Arrivals is the projection of declared stays in other provinces per city
// and local day, keyed by ArrivalKey. Only declarations naming a region of
// another province touch it.
func Arrivals() projections.Projection {
	return projections.Define(projections.Spec[ArrivalDay]{
		Name:     "province_arrivals",
		Version:  1,
		Personal: true,
		Subjects: []string{"ledger.*." + residents.Kind + ".*"},
		Keys: func(e events.Event, p events.Payload) []string {
			d, ok := p.(residents.Declared)
			if !ok || d.PersonID == "" || len(e.Region) < 4 || len(otherProvinces(e.Region.Province(), d.Visited)) == 0 {
				return nil
			}
			return []string{ArrivalKey(string(e.Region[:4]), events.Day(e.Time))}
		},
		Fold: func(id string, s *ArrivalDay, e events.Event, p events.Payload) error {
			d := p.(residents.Declared)
			s.City, s.Day = string(e.Region[:4]), events.Day(e.Time)
			if s.Named == nil {
				s.Named = map[string][]string{}
			}
			named, ok := s.Named[d.PersonID]
			if !ok && (len(s.Named) >= MaxArrivalPersons || !safeKey(d.PersonID)) {
				s.Untracked++
				return nil
			}
			for _, q := range otherProvinces(e.Region.Province(), d.Visited) {
				if !slices.Contains(named, q) {
					named = append(named, q)
				}
			}
			slices.Sort(named)
			s.Named[d.PersonID] = named
			return nil
		},
	})
}

// ReadArrivals returns, for the local day (YYYY-MM-DD) in province, the
// other provinces each declarant named, over every city of the province,
// and whether some declarant could not be followed. City codes are the
// province's two digits and two more, so one Get of the 99 possible
// city-day ids covers the province.
func ReadArrivals(ctx context.Context, store projections.DocStore, province events.Region, day string) (map[string][]string, bool, error) {
	if r, err := events.ParseRegion(string(province)); err != nil || len(r) != 2 || r == events.National {
		return nil, false, events.Invalid("province", "must be a 2-digit province code, got %q", province)
	}
	if len(day) != 10 {
		return nil, false, events.Invalid("day", "must be YYYY-MM-DD, got %q", day)
	}
	ids := make([]string, 0, 99)
	for c := 1; c <= 99; c++ {
		ids = append(ids, ArrivalKey(fmt.Sprintf("%s%02d", province, c), day))
	}
	p := Arrivals()
	docs, err := store.Get(ctx, p, ids)
	if err != nil {
		return nil, false, unavailable(p, err)
	}
	out, partial := map[string][]string{}, false
	for _, id := range ids {
		d := docs[id]
		if d == nil || d.State == nil {
			continue
		}
		s := d.State.(*ArrivalDay)
		partial = partial || s.Untracked > 0
		for person, named := range s.Named {
			// A person declares in one household's city; were they in
			// two (a transfer that day), their names join.
			for _, q := range named {
				if !slices.Contains(out[person], q) {
					out[person] = append(out[person], q)
				}
			}
		}
	}
	return out, partial, nil
}
