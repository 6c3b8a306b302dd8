package national

import (
	"maps"
	"slices"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/events/alertevents"
)

// MaxDays is the longest range of days one read covers.
const MaxDays = 366

// RegionCounts are cards of patients living in one region.
type RegionCounts struct {
	Total    int64            `json:"total"` // cards in named cells and the region's cities' other
	Diseases map[string]int64 `json:"diseases"`
	Groups   map[string]int64 `json:"groups"`
}

// CaseDay is the nation's case counts of one day: the latest figures of
// every province that reported, added up by the patients' residence.
type CaseDay struct {
	Day   string `json:"day"`
	Total int64  `json:"total"` // every card counted by any province
	// Unplaced counts cards that the small-cell rule kept out of every
	// named city (the provinces' other): in Total, in no region below.
	Unplaced  int64                   `json:"unplaced"`
	Diseases  map[string]int64        `json:"diseases"`
	Groups    map[string]int64        `json:"groups"`
	Residence map[string]RegionCounts `json:"residence"` // residential province → counts
	Cities    map[string]RegionCounts `json:"cities"`    // residential city → counts
	Reporting map[string]int64        `json:"reporting"` // reporting province → its total
	// ReportedBy names, for each residential city and province, the
	// provinces whose hospitals reported its cards that day.
	ReportedBy map[string][]string `json:"reported_by"`
}

// SumCases adds up the figures of one day. It is the one place the
// national case counts are computed: the view shows it and the series of
// the early-warning rules read it.
func SumCases(day string, figs []aggregates.Cases) CaseDay {
	out := CaseDay{Day: day, Diseases: map[string]int64{}, Groups: map[string]int64{}, Residence: map[string]RegionCounts{},
		Cities: map[string]RegionCounts{}, Reporting: map[string]int64{}, ReportedBy: map[string][]string{}}
	add := func(m map[string]RegionCounts, key string, c aggregates.CityCases, total int64) {
		rc := m[key]
		if rc.Diseases == nil {
			rc.Diseases, rc.Groups = map[string]int64{}, map[string]int64{}
		}
		rc.Total += total
		for k, n := range c.Diseases {
			rc.Diseases[k] += n
		}
		for k, n := range c.Groups {
			rc.Groups[k] += n
		}
		m[key] = rc
	}
	for _, f := range figs {
		out.Total += f.Total
		out.Unplaced += f.Other
		out.Reporting[string(f.Province)] += f.Total
		for _, c := range f.Cities {
			total := c.Other
			for k, n := range c.Diseases {
				out.Diseases[k] += n
				total += n
			}
			for k, n := range c.Groups {
				out.Groups[k] += n
			}
			add(out.Cities, c.City, c, total)
			add(out.Residence, c.City[:2], c, total)
			for _, r := range []string{c.City, c.City[:2]} {
				if !slices.Contains(out.ReportedBy[r], string(f.Province)) {
					out.ReportedBy[r] = append(out.ReportedBy[r], string(f.Province))
				}
			}
		}
	}
	return out
}

// Count returns the count of one series on the day: cards of disease or
// symptom group code (target alertevents.TargetDisease or TargetGroup)
// of residents of region ("CN", a province or a city).
func (d CaseDay) Count(target, code string, region events.Region) int64 {
	var rc RegionCounts
	switch len(region) {
	case 2:
		if region == events.National {
			rc = RegionCounts{Diseases: d.Diseases, Groups: d.Groups}
		} else {
			rc = d.Residence[string(region)]
		}
	case 4:
		rc = d.Cities[string(region)]
	}
	if target == alertevents.TargetGroup {
		return rc.Groups[code]
	}
	return rc.Diseases[code]
}

// dayRange lists the days from from to to (YYYY-MM-DD), both included.
func dayRange(from, to string) ([]string, error) {
	f, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return nil, events.Invalid("from", "must be YYYY-MM-DD, got %q", from)
	}
	t, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return nil, events.Invalid("to", "must be YYYY-MM-DD, got %q", to)
	}
	if t.Before(f) {
		return nil, events.Invalid("to", "to (%s) is before from (%s)", to, from)
	}
	var out []string
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		if len(out) == MaxDays {
			return nil, events.Invalid("to", "at most %d days per query", MaxDays)
		}
		out = append(out, d.Format(time.DateOnly))
	}
	return out, nil
}

// casesOf returns the latest figures of day, by province order. Call with
// the read lock held.
func (s *State) casesOf(day string) []aggregates.Cases {
	return inOrder(s.cases[day])
}

// inOrder lists the figures of byProvince by province.
func inOrder[F any](byProvince map[events.Region]F) []F {
	out := make([]F, 0, len(byProvince))
	for _, p := range sortedRegions(byProvince) {
		out = append(out, byProvince[p])
	}
	return out
}

func sortedRegions[F any](m map[events.Region]F) []events.Region {
	out := make([]events.Region, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Cases returns the national case counts of every day from from to to.
func (s *State) Cases(from, to string) ([]CaseDay, error) {
	days, err := dayRange(from, to)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]CaseDay, 0, len(days))
	for _, d := range days {
		out = append(out, SumCases(d, s.casesOf(d)))
	}
	return out, nil
}

// Flow is the arrivals in one province from another on one day.
type Flow struct {
	Day      string `json:"day"`
	From     string `json:"from"` // province of origin; "other": provinces not named (small cells)
	To       string `json:"to"`
	Arrivals int64  `json:"arrivals"`
	Partial  bool   `json:"partial"` // the province could not follow every declarant
}

// Flows returns the arrivals between provinces on every day from from to
// to, by day, to, from.
func (s *State) Flows(from, to string) ([]Flow, error) {
	days, err := dayRange(from, to)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Flow{}
	for _, d := range days {
		out = append(out, DayFlows(d, inOrder(s.moves[d]))...)
	}
	return out, nil
}

// DayFlows lists the arrivals of one day from the latest figures of the
// provinces (in province order), by to and from: the one place the
// national flows are computed, for the view and its export.
func DayFlows(day string, figs []aggregates.Moves) []Flow {
	out := []Flow{}
	for _, m := range figs {
		for _, q := range slices.Sorted(maps.Keys(m.From)) {
			out = append(out, Flow{Day: day, From: q, To: string(m.Province), Arrivals: m.From[q], Partial: m.Partial})
		}
		if m.Other > 0 {
			out = append(out, Flow{Day: day, From: "other", To: string(m.Province), Arrivals: m.Other, Partial: m.Partial})
		}
	}
	return out
}

// DonationDay is the national donation supervision of one day: each
// province's totals and their sum per item.
type DonationDay struct {
	Day       string                               `json:"day"`
	Items     map[string]aggregates.ItemTotals     `json:"items"`
	Provinces map[string]aggregates.DonationTotals `json:"provinces"`
	Short     int64                                `json:"short"`
	Damaged   int64                                `json:"damaged"`
	Escalated int64                                `json:"escalated"`
}

// Donations returns the donation supervision of every day from from to to.
func (s *State) Donations(from, to string) ([]DonationDay, error) {
	days, err := dayRange(from, to)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]DonationDay, 0, len(days))
	for _, d := range days {
		out = append(out, SumDonations(d, inOrder(s.donations[d])))
	}
	return out, nil
}

// SumDonations adds up the provinces' latest donation figures of one day
// (in province order): the one place the national donation supervision
// is computed, for the view and its export.
func SumDonations(day string, figs []aggregates.Donations) DonationDay {
	dd := DonationDay{Day: day, Items: map[string]aggregates.ItemTotals{}, Provinces: map[string]aggregates.DonationTotals{}}
	for _, f := range figs {
		dd.Provinces[string(f.Province)] = f.DonationTotals
		dd.Short, dd.Damaged, dd.Escalated = dd.Short+f.Short, dd.Damaged+f.Damaged, dd.Escalated+f.Escalated
		for code, it := range f.Items {
			sum := dd.Items[code]
			sum.Pledged, sum.Dispatched, sum.Received, sum.Consumed = sum.Pledged+it.Pledged, sum.Dispatched+it.Dispatched,
				sum.Received+it.Received, sum.Consumed+it.Consumed
			dd.Items[code] = sum
		}
	}
	return dd
}
