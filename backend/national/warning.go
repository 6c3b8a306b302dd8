package national

import (
	"maps"
	"slices"
	"time"

	"github.com/onebook/onebook/backend/warning"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
)

// Rules are the national early-warning rules. They run on the series the
// aggregates allow: cities and provinces of residence (no district crosses
// the boundary), summed over every reporting province.
//
//   - first-case: one card of a class A disease, of a class B disease
//     managed as A, or of pneumonia of unknown cause among the residents
//     of a city. The aggregates show these from one card on.
//   - ears-c2: EARS C2 on daily symptom-group counts per province of
//     residence (minimum sigma 1), the statistic the provinces' own
//     engines run per district; here it sees the cards of a province's
//     residents that other provinces' hospitals filed.
//   - cluster: 50 cards of one symptom group among the residents of one
//     city within 3 days.
//
// Small cells weaken the group rules (a city's group counted under the
// deployment's threshold reaches the nation as nothing); the first-case
// rule is untouched.
func Rules() map[string]alertevents.Rule {
	var first []string
	for _, d := range caseevents.Diseases() {
		if d.AlertsOnFirstCase() {
			first = append(first, d.Code)
		}
	}
	groups := caseevents.Groups()
	return map[string]alertevents.Rule{
		"first-case": {Method: alertevents.Threshold, Target: alertevents.TargetDisease, Codes: first, Level: 4, K: 1, Enabled: true,
			Description: "class A, class B managed as A, pneumonia of unknown cause: one card among the residents of a city"},
		"ears-c2": {Method: alertevents.EARSC2, Target: alertevents.TargetGroup, Codes: groups, Level: 2, MinSigma: 1, Enabled: true,
			Description: "EARS C2 on daily cards per symptom group and province of residence, over every reporting province"},
		"cluster": {Method: alertevents.Cluster, Target: alertevents.TargetGroup, Codes: groups, Level: 4, K: 50, Days: 3, Enabled: true,
			Description: "at least 50 cards of one symptom group among the residents of a city within 3 days"},
	}
}

// Signal is a national alert: a rule's alarm on one series and day.
type Signal struct {
	Rule   string         `json:"rule"`
	Method string         `json:"method"`
	Target string         `json:"target"`
	Code   string         `json:"code"`
	Region events.Region  `json:"region"` // city or province of residence
	Day    string         `json:"day"`
	Result warning.Result `json:"result"`
	// Reporting lists the provinces whose figures of that day count in
	// the series: more than one means no province saw it whole.
	Reporting []string `json:"reporting"`
}

// Evaluate applies rules to the national counts of every day of days
// (consecutive, oldest first) from the span of each rule's window on, and
// returns the alarms. counts holds the CaseDay of each of days; a day no
// province reported counts zero (provinces publish a day's cases only when
// there are some). It is pure: the state calls it with its figures, a test
// with its own.
func Evaluate(rules map[string]alertevents.Rule, days []string, counts []CaseDay, from int) []Signal {
	var out []Signal
	for _, id := range slices.Sorted(maps.Keys(rules)) {
		r := rules[id]
		if !r.Enabled {
			continue
		}
		span := warning.Span(r)
		for t := from; t < len(days); t++ {
			regions := seriesRegions(r, counts[max(0, t-span+1):t+1])
			for _, code := range r.Codes {
				for _, region := range regions {
					series := make([]float64, 0, span)
					for i := max(0, t-span+1); i <= t; i++ {
						series = append(series, float64(counts[i].Count(r.Target, code, region)))
					}
					res := warning.Apply(r, series)
					if !res.Alarm {
						continue
					}
					out = append(out, Signal{Rule: id, Method: r.Method, Target: r.Target, Code: code, Region: region, Day: days[t], Result: res,
						Reporting: reporting(counts[t], region)})
				}
			}
		}
	}
	return out
}

// seriesRegions lists the regions at the rule's level that appear in any
// of counts.
func seriesRegions(r alertevents.Rule, counts []CaseDay) []events.Region {
	var out []events.Region
	for _, c := range counts {
		m := c.Residence
		if r.Level == 4 {
			m = c.Cities
		}
		for k := range m {
			if !slices.Contains(out, events.Region(k)) {
				out = append(out, events.Region(k))
			}
		}
	}
	slices.Sort(out)
	return out
}

// reporting lists the provinces that reported cards of residents of
// region on the day (every reporting province for the country).
func reporting(c CaseDay, region events.Region) []string {
	if region == events.National {
		return slices.Sorted(maps.Keys(c.Reporting))
	}
	return c.ReportedBy[string(region)]
}

// Signals returns the national alerts of every day from from to to, with
// the history each rule needs read from the state.
func (s *State) Signals(rules map[string]alertevents.Rule, from, to string) ([]Signal, error) {
	days, err := dayRange(from, to)
	if err != nil {
		return nil, err
	}
	back := 0
	for _, r := range rules {
		back = max(back, warning.Span(r)-1)
	}
	first, _ := time.Parse(time.DateOnly, days[0])
	all := make([]string, 0, back+len(days))
	for i := back; i > 0; i-- {
		all = append(all, first.AddDate(0, 0, -i).Format(time.DateOnly))
	}
	all = append(all, days...)
	s.mu.RLock()
	counts := make([]CaseDay, len(all))
	for i, d := range all {
		counts[i] = SumCases(d, s.casesOf(d))
	}
	s.mu.RUnlock()
	return Evaluate(rules, all, counts, back), nil
}
