package aggregates

import (
	"slices"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/caseevents"
)

// Cases is the report cards a province's hospitals filed on one day, as
// they count for early warning (caseevents.Counted: by the patient's
// residential district and the filing day, a correction moving a card, a
// revocation removing it), per residential city and disease. A patient may
// live in another province: the province reports every card its hospitals
// hold, each city once, and the nation adds the provinces up.
//
// Small cells: a disease or symptom group counted fewer than SmallCell
// times in a city is not named; its cards count in the city's Other (a
// card counts once there, whatever its groups), and a city whose Other is
// itself below SmallCell adds it to the province's Other instead. The
// exception is a disease whose first case is a signal
// (caseevents.Disease.AlertsOnFirstCase: class A, class B managed as A,
// pneumonia of unknown cause): the law wants each such case reported to
// the national CDC within hours, and the national first-case rule needs
// it, so it is shown from one card on. A city holds a million people or
// more; a count of its day names no one by itself.
type Cases struct {
	Province  events.Region `json:"province" disclose:"public"` // 2 digits: the reporting province
	Day       string        `json:"day" disclose:"public"`      // YYYY-MM-DD, China Standard Time
	Revision  int           `json:"revision" disclose:"public"`
	SmallCell int64         `json:"small_cell" disclose:"public"` // the threshold applied
	Total     int64         `json:"total" disclose:"public"`      // every card counted that day
	Cities    []CityCases   `json:"cities" disclose:"public"`     // by city code
	Other     int64         `json:"other" disclose:"public"`      // cards of cities whose Other was small
}

// CityCases is one residential city's part of Cases.
type CityCases struct {
	City     string           `json:"city"` // 4 digits
	Diseases map[string]int64 `json:"diseases"`
	Groups   map[string]int64 `json:"groups"`
	Other    int64            `json:"other"` // cards whose disease was not shown
}

// CityCount is what a province's views hold of one residential city on a
// day: its cards, per disease and per symptom group.
type CityCount struct {
	Total    int64
	Diseases map[string]int64
	Groups   map[string]int64
}

// CaseFigure computes the Cases figure of province on day from the counts
// per residential city, applying the small-cell rule with threshold k.
// Revision is left 0 for the publisher to set. It is the one place the
// rule is written.
func CaseFigure(province events.Region, day string, k int64, cities map[string]CityCount) Cases {
	out := Cases{Province: province, Day: day, SmallCell: k, Cities: []CityCases{}}
	for _, city := range sortedKeys(cities) {
		c := cities[city]
		if c.Total <= 0 {
			continue
		}
		out.Total += c.Total
		cc := CityCases{City: city, Diseases: map[string]int64{}, Groups: map[string]int64{}}
		shown := int64(0)
		for code, n := range c.Diseases {
			d, known := caseevents.LookupDisease(code)
			if n >= k || (known && d.AlertsOnFirstCase() && n > 0) {
				cc.Diseases[code] = n
				shown += n
			}
		}
		for g, n := range c.Groups {
			if n >= k {
				cc.Groups[g] = n
			}
		}
		cc.Other = c.Total - shown
		if cc.Other < k {
			out.Other += cc.Other
			cc.Other = 0
		}
		if len(cc.Diseases) > 0 || len(cc.Groups) > 0 || cc.Other > 0 {
			out.Cities = append(out.Cities, cc)
		}
	}
	return out
}

func (p Cases) Validate() error {
	if err := checkHeader(p.Province, p.Day, p.Revision, p.SmallCell); err != nil {
		return err
	}
	sum := p.Other
	for i, c := range p.Cities {
		if r, err := events.ParseRegion(c.City); err != nil || len(r) != 4 {
			return events.Invalid("cities", "city %d: %q is not a 4-digit city code", i, c.City)
		}
		if i > 0 && p.Cities[i-1].City >= c.City {
			return events.Invalid("cities", "cities must be in order, each once")
		}
		disease := func(code string) bool { _, ok := caseevents.LookupDisease(code); return ok }
		first := func(code string) bool { d, _ := caseevents.LookupDisease(code); return d.AlertsOnFirstCase() }
		if err := checkCounts("cities", c.Diseases, p.SmallCell, disease, first); err != nil {
			return err
		}
		group := func(g string) bool { return slices.Contains(caseevents.Groups(), g) }
		if err := checkCounts("cities", c.Groups, p.SmallCell, group, nil); err != nil {
			return err
		}
		if c.Other != 0 && c.Other < p.SmallCell {
			return events.Invalid("cities", "city %s: other %d is below the small-cell threshold %d", c.City, c.Other, p.SmallCell)
		}
		sum += c.Other
		for _, n := range c.Diseases {
			sum += n
		}
	}
	if p.Other < 0 || sum != p.Total {
		return events.Invalid("total", "total %d is not the sum of the cities' cards and other (%d)", p.Total, sum)
	}
	return nil
}
