package caseviews

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
	"github.com/onebook/onebook/projections"
)

// Bounds of the reads.
const (
	// MaxDays is the longest range of days one count read may cover:
	// enough for a year of history plus a season, what the percentile and
	// EARS baselines look back over.
	MaxDays = 400
	// MaxStaffDays is the longest range of days one ReadStaffReads may
	// cover: a staff day holds up to MaxReadsPerDoc reads.
	MaxStaffDays = 31
	// countBatch is how many case_counts documents one Get asks for; they
	// are small (a national day holds the provinces' breakdown).
	countBatch = 100
	// staffBatch is how many staff days one Get asks for; a full one is a
	// few MB.
	staffBatch = 8
)

// checkCountRegion validates a region that has counts: a district (6
// digits), a city (4), a province (2) or the country ("CN").
func checkCountRegion(field string, r events.Region) error {
	if _, err := events.ParseRegion(string(r)); err != nil || (r != events.National && len(r) > 6) {
		return events.Invalid(field, "%s must be a region code of 2, 4 or 6 digits or %q, got %q", field, events.National, r)
	}
	return nil
}

// parseDay parses a YYYY-MM-DD date of field.
func parseDay(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, events.Invalid(field, "required")
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, events.Invalid(field, "must be a date YYYY-MM-DD, got %q", s)
	}
	return t, nil
}

// dayRange returns the days from from to to, both included, YYYY-MM-DD; at
// most max of them.
func dayRange(from, to string, max int) ([]string, error) {
	f, err := parseDay("from", from)
	if err != nil {
		return nil, err
	}
	t, err := parseDay("to", to)
	if err != nil {
		return nil, err
	}
	if t.Before(f) {
		return nil, events.Invalid("to", "to (%s) is before from (%s)", to, from)
	}
	if n := int(t.Sub(f).Hours()/24) + 1; n > max {
		return nil, events.Invalid("to", "the range covers %d days; at most %d per query", n, max)
	}
	var out []string
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out, nil
}

// ReadCounts returns the counts of region (a district, city, province or
// "CN") on every local day from from to to (YYYY-MM-DD), both included, at
// most MaxDays: one entry per day, in order, days without cards as zeros.
func ReadCounts(ctx context.Context, ds projections.DocStore, region events.Region, from, to string) ([]DayCounts, error) {
	if err := checkCountRegion("region", region); err != nil {
		return nil, err
	}
	days, err := dayRange(from, to, MaxDays)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(days))
	for i, d := range days {
		ids[i] = CountKey(region, d)
	}
	out := make([]DayCounts, 0, len(days))
	err = projections.GetEach(ctx, ds, Counts(), ids, countBatch, func(id string, s *DayCounts) error {
		d := days[len(out)]
		if s == nil {
			s = &DayCounts{}
		}
		c := *s
		c.Region, c.Day = string(region), d
		if c.Diseases == nil {
			c.Diseases = map[string]int64{}
		}
		if c.Groups == nil {
			c.Groups = map[string]int64{}
		}
		if c.Children == nil {
			c.Children = map[string]ChildCounts{}
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkCode validates a series' target (alertevents.TargetDisease or
// TargetGroup) and code.
func checkCode(target, code string) error {
	switch target {
	case alertevents.TargetDisease:
		if _, ok := caseevents.LookupDisease(code); !ok {
			return events.Invalid("code", "unknown disease %q", code)
		}
	case alertevents.TargetGroup:
		if !slices.Contains(caseevents.Groups(), code) {
			return events.Invalid("code", "unknown symptom group %q (one of %v)", code, caseevents.Groups())
		}
	default:
		return events.Invalid("target", "must be %s or %s, not %q", alertevents.TargetDisease, alertevents.TargetGroup, target)
	}
	return nil
}

// ReadSeries returns the daily counts of one series (target disease or
// group, and its code) in region from from to to (YYYY-MM-DD), both
// included, oldest first: the series the early-warning rules read.
func ReadSeries(ctx context.Context, ds projections.DocStore, region events.Region, target, code, from, to string) ([]float64, error) {
	if err := checkCountRegion("region", region); err != nil {
		return nil, err
	}
	if err := checkCode(target, code); err != nil {
		return nil, err
	}
	cs, err := ReadCounts(ctx, ds, region, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(cs))
	for i, c := range cs {
		if target == alertevents.TargetDisease {
			out[i] = float64(c.Diseases[code])
		} else {
			out[i] = float64(c.Groups[code])
		}
	}
	return out, nil
}

// ReadCompare returns, for each child region of parent (the districts of a
// city, the cities of a province, the provinces of "CN"), its daily counts
// of symptom group group ("" for all cards) over the days local days ending
// with day (YYYY-MM-DD), oldest first, read from the parent's documents
// alone. Children without any card in the window are absent: the
// documents know only the regions where cards were counted.
func ReadCompare(ctx context.Context, ds projections.DocStore, parent events.Region, group, day string, days int) (map[events.Region][]float64, error) {
	if err := checkCountRegion("parent", parent); err != nil || len(parent) == 6 {
		return nil, events.Invalid("parent", "parent must be a city (4 digits), a province (2) or %q, got %q", events.National, parent)
	}
	if group != "" && !slices.Contains(caseevents.Groups(), group) {
		return nil, events.Invalid("group", "unknown symptom group %q (one of %v, or empty for all cases)", group, caseevents.Groups())
	}
	last, err := parseDay("day", day)
	if err != nil {
		return nil, err
	}
	if days < 1 || days > MaxDays {
		return nil, events.Invalid("days", "must be 1 to %d, got %d", MaxDays, days)
	}
	from := last.AddDate(0, 0, -(days - 1)).Format(time.DateOnly)
	cs, err := ReadCounts(ctx, ds, parent, from, day)
	if err != nil {
		return nil, err
	}
	out := map[events.Region][]float64{}
	for i, c := range cs {
		for ch, cc := range c.Children {
			n := cc.Total
			if group != "" {
				n = cc.Groups[group]
			}
			s := out[events.Region(ch)]
			if s == nil {
				s = make([]float64, days)
				out[events.Region(ch)] = s
			}
			s[i] = float64(n)
		}
	}
	return out, nil
}

func checkID(field, id string) error {
	if !events.IsToken(id) {
		return events.Invalid(field, "%s must be 1 to 64 of [A-Za-z0-9_-], got %q", field, id)
	}
	return nil
}

// ReadCard returns the report card id. found is false if it was never filed.
func ReadCard(ctx context.Context, ds projections.DocStore, id string) (Card, bool, error) {
	if err := checkID("id", id); err != nil {
		return Card{}, false, err
	}
	return projections.GetOne[Card](ctx, ds, Cards(), id)
}

// ReadAlert returns the alert id. found is false if it was never raised.
func ReadAlert(ctx context.Context, ds projections.DocStore, id string) (Alert, bool, error) {
	if err := checkID("id", id); err != nil {
		return Alert{}, false, err
	}
	return projections.GetOne[Alert](ctx, ds, Alerts(), id)
}

// ReadRule returns the rule id. found is false if it was never published.
func ReadRule(ctx context.Context, ds projections.DocStore, id string) (RuleDoc, bool, error) {
	if err := checkID("id", id); err != nil {
		return RuleDoc{}, false, err
	}
	return projections.GetOne[RuleDoc](ctx, ds, Rules(), id)
}

// ReadAlertsMedian returns the median response times of alerts in seconds:
// from the filing of the triggering case to the alert over the n1 alerts
// that know it, and from the alert to its acknowledgement over the n2
// acknowledged ones. A median over no alerts is 0.
func ReadAlertsMedian(alerts []Alert) (fileToAlert, alertToAck float64, n1, n2 int) {
	var a, b []float64
	for _, al := range alerts {
		if al.FileToAlert != nil {
			a = append(a, *al.FileToAlert)
		}
		if al.AlertToAck != nil {
			b = append(b, *al.AlertToAck)
		}
	}
	return median(a), median(b), len(a), len(b)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.SortFunc(xs, cmp.Compare[float64])
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// ReadReads returns every read of case caseID. found is false if it was
// never read; the reads are then an empty list.
func ReadReads(ctx context.Context, ds projections.DocStore, caseID string) (CaseReads, bool, error) {
	if err := checkID("case", caseID); err != nil {
		return CaseReads{}, false, err
	}
	s, found, err := projections.GetOne[ReadsDoc](ctx, ds, Reads(), CaseReadsKey(caseID))
	if err != nil {
		return CaseReads{}, false, err
	}
	out := CaseReads{Case: caseID, Reads: s.Reads, Overflow: s.Overflow}
	if out.Reads == nil {
		out.Reads = []CaseRead{}
	}
	return out, found, nil
}

// ReadStaffReads returns the reads of case data by staff on every local
// (CST) day from from to to (YYYY-MM-DD), both included, at most
// MaxStaffDays: one entry per day, in order, days without reads empty.
func ReadStaffReads(ctx context.Context, ds projections.DocStore, staff, from, to string) ([]StaffDay, error) {
	if err := checkID("staff", staff); err != nil {
		return nil, err
	}
	days, err := dayRange(from, to, MaxStaffDays)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(days))
	for i, d := range days {
		t, _ := time.ParseInLocation(time.DateOnly, d, events.China())
		ids[i] = StaffReadsKey(staff, t)
	}
	out := make([]StaffDay, 0, len(days))
	err = projections.GetEach(ctx, ds, Reads(), ids, staffBatch, func(id string, s *ReadsDoc) error {
		sd := StaffDay{Staff: staff, Day: days[len(out)], Reads: []StaffRead{}}
		if s != nil {
			sd.Subjects, sd.Overflow = s.Subjects, s.Overflow
			if s.StaffReads != nil {
				sd.Reads = s.StaffReads
			}
		}
		out = append(out, sd)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadCities returns the counts of every residential city on one local day
// (YYYY-MM-DD) whose cards this ledger holds, by 4-digit city code: the
// national document names the provinces, and theirs the cities. It is
// what a province reports to the nation (aggregates.CaseFigure).
func ReadCities(ctx context.Context, ds projections.DocStore, day string) (map[string]ChildCounts, error) {
	national, err := ReadCounts(ctx, ds, events.National, day, day)
	if err != nil {
		return nil, err
	}
	var provinces []events.Region
	for p := range national[0].Children {
		provinces = append(provinces, events.Region(p))
	}
	slices.Sort(provinces)
	out := map[string]ChildCounts{}
	for _, p := range provinces {
		if err := checkCountRegion("region", p); err != nil {
			continue // a malformed child: counted nationally, reported nowhere (never expected)
		}
		counts, err := ReadCounts(ctx, ds, p, day, day)
		if err != nil {
			return nil, err
		}
		for city, c := range counts[0].Children {
			out[city] = c
		}
	}
	return out, nil
}
