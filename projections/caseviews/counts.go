package caseviews

import (
	"slices"
	"strings"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/caseevents"
	"github.com/onebook/onebook/projections"
)

// ChildCounts is the part of a DayCounts that falls in one child region.
type ChildCounts struct {
	Total    int64            `json:"total" bson:"total"`
	Diseases map[string]int64 `json:"diseases" bson:"diseases"` // disease code → cards
	Groups   map[string]int64 `json:"groups" bson:"groups"`     // symptom group → cards
}

// DayCounts is the count of report cards in one region on one local (CST)
// day, where a card counts as caseevents.Counted says: by the patient's
// residential district and the day the card was filed. A card counts from
// filing, before any review; a correction moves it, a revocation removes
// it. A card counts once in Total, once under its disease and once under
// each of its symptom groups (so the groups need not add up to Total).
// Counts that drop to zero are removed from the maps: a missing code
// counts zero.
type DayCounts struct {
	Region   string           `json:"region" bson:"region"` // district (6 digits), city (4), province (2) or "CN"
	Day      string           `json:"day" bson:"day"`       // local (CST) date, YYYY-MM-DD
	Total    int64            `json:"total" bson:"total"`
	Diseases map[string]int64 `json:"diseases" bson:"diseases"` // disease code → cards
	Groups   map[string]int64 `json:"groups" bson:"groups"`     // symptom group → cards
	// Children breaks the counts down by the regions one level below:
	// the districts of a city, the cities of a province, the provinces of
	// the country. Empty for a district.
	Children map[string]ChildCounts `json:"children" bson:"children"`
	// Anomalies counts removals that found nothing to remove (a count
	// would have gone negative and was kept at zero) and codes that could
	// not be stored as map keys. Non-zero means the ledger holds a
	// correction or revocation that does not match what was counted: a
	// bug upstream, never expected.
	Anomalies int64 `json:"anomalies" bson:"anomalies"`
}

// CountKey is the case_counts document id of region on day (YYYY-MM-DD):
// "<region>@YYYYMMDD", e.g. "110105@20261125", "1101@20261125",
// "11@20261125", "CN@20261125".
func CountKey(region events.Region, day string) string {
	return string(region) + "@" + strings.ReplaceAll(day, "-", "")
}

// countRegions returns the four regions a district counts in: itself, its
// city, its province and the country.
func countRegions(district events.Region) []events.Region {
	return []events.Region{district, district[:4], district[:2], events.National}
}

// child returns the child of region that district counts in ("" for a
// district).
func child(region string, district events.Region) string {
	switch {
	case region == string(events.National):
		return string(district[:2])
	case len(region) < 6:
		return string(district[:len(region)+2])
	}
	return ""
}

// countChanges returns the counts an event removes and adds, in that order.
func countChanges(e events.Event, p events.Payload) (remove, add []caseevents.Counted) {
	switch p := p.(type) {
	case caseevents.Filed:
		return nil, []caseevents.Counted{caseevents.CountedAs(p.Card, p.Groups, events.Day(e.Time))}
	case caseevents.Corrected:
		return []caseevents.Counted{p.Previous}, []caseevents.Counted{caseevents.CountedAs(p.Card, p.Groups, p.Previous.Day)}
	case caseevents.Reviewed:
		if p.Decision == caseevents.Revoke && p.Counted != nil {
			return []caseevents.Counted{*p.Counted}, nil
		}
	}
	return nil, nil
}

// countable reports whether c can be keyed: its district has 6 digits and
// its day is a date. Validated events always are.
func countable(c caseevents.Counted) bool {
	if r, err := events.ParseRegion(string(c.District)); err != nil || len(r) != 6 {
		return false
	}
	_, err := time.Parse(time.DateOnly, c.Day)
	return err == nil
}

// Counts is the projection of daily case counts per region, keyed by
// CountKey. Every count event touches the four documents of its district
// and day; a correction that moves a card to another district touches the
// documents of both districts: up to seven, the national one being shared
// (it removes the card from one child and adds it to another).
func Counts() projections.Projection {
	return projections.Define(projections.Spec[DayCounts]{
		Name:     "case_counts",
		Version:  1,
		Subjects: []string{"ledger.*." + caseevents.Kind + ".*"},
		Keys: func(e events.Event, p events.Payload) []string {
			remove, add := countChanges(e, p)
			var keys []string
			for _, c := range append(remove, add...) {
				if !countable(c) {
					continue
				}
				for _, r := range countRegions(c.District) {
					if k := CountKey(r, c.Day); !slices.Contains(keys, k) {
						keys = append(keys, k)
					}
				}
			}
			return keys
		},
		Fold: func(id string, s *DayCounts, e events.Event, p events.Payload) error {
			region, _, _ := strings.Cut(id, "@")
			if s.Diseases == nil {
				s.Diseases, s.Groups, s.Children = map[string]int64{}, map[string]int64{}, map[string]ChildCounts{}
			}
			remove, add := countChanges(e, p)
			for i, c := range append(remove, add...) {
				if !countable(c) || CountKey(events.Region(region), c.Day) != id ||
					!events.Region(region).Covers(c.District) {
					continue
				}
				s.Region, s.Day = region, c.Day
				sign := int64(1)
				if i < len(remove) {
					sign = -1
				}
				s.apply(c, sign)
			}
			return nil
		},
	})
}

// apply adds (sign 1) or removes (sign -1) one card counted as c.
func (s *DayCounts) apply(c caseevents.Counted, sign int64) {
	ok := true
	var groups []string
	for _, g := range c.Groups {
		if !safeKey(g) {
			ok = false
		} else if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	ok = bump(&s.Total, sign) && ok
	ok = count(s.Diseases, c.Disease, sign) && ok
	for _, g := range groups {
		ok = count(s.Groups, g, sign) && ok
	}
	if ch := child(s.Region, c.District); ch != "" {
		cc := s.Children[ch]
		if cc.Diseases == nil {
			cc.Diseases, cc.Groups = map[string]int64{}, map[string]int64{}
		}
		ok = bump(&cc.Total, sign) && ok
		ok = count(cc.Diseases, c.Disease, sign) && ok
		for _, g := range groups {
			ok = count(cc.Groups, g, sign) && ok
		}
		if cc.Total == 0 && len(cc.Diseases) == 0 && len(cc.Groups) == 0 {
			delete(s.Children, ch)
		} else {
			s.Children[ch] = cc
		}
	}
	if !ok {
		s.Anomalies++
	}
}

// bump adds sign to *n, keeping it at zero or above; false if it would
// have gone negative.
func bump(n *int64, sign int64) bool {
	if *n+sign < 0 {
		*n = 0
		return false
	}
	*n += sign
	return true
}

// count adds sign to m[k], deleting it at zero; false if k cannot be a key
// or the count would have gone negative.
func count(m map[string]int64, k string, sign int64) bool {
	if !safeKey(k) {
		return false
	}
	n := m[k]
	ok := bump(&n, sign)
	if n == 0 {
		delete(m, k)
	} else {
		m[k] = n
	}
	return ok
}
