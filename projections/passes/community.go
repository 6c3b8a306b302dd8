package passes

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/onebook/onebook/events"
	evpasses "github.com/onebook/onebook/events/passes"
	"github.com/onebook/onebook/projections"
)

// Caps that keep one document bounded whatever the traffic.
const (
	MaxInside = 20_000 // passes listed as inside one community
	MaxDenied = 1_000  // denied scans listed per community and day
)

// InsideEntry is one pass whose last allowed scan was "in".
type InsideEntry struct {
	Person string `json:"person" bson:"person"`
	Gate   string `json:"gate" bson:"gate"`
	Since  string `json:"since" bson:"since"`
}

// Inside is who is inside a community now.
type Inside struct {
	Community string                 `json:"community" bson:"community"`
	Passes    map[string]InsideEntry `json:"passes" bson:"passes"`
	Overflow  int64                  `json:"overflow" bson:"overflow"` // inside but not listed (cap)
}

// InsideNow is the projection of who is inside each community, keyed by
// community code: an allowed "in" adds the pass, an allowed "out" removes it.
func InsideNow() projections.Projection {
	return projections.Define(projections.Spec[Inside]{
		Name: "community_inside", Version: 1, Subjects: []string{"ledger.*.gate.*"},
		Keys: func(e events.Event, p events.Payload) []string {
			if sc, ok := p.(evpasses.Scanned); ok && sc.Decision == evpasses.Allow {
				return []string{string(sc.Community)}
			}
			return nil
		},
		Fold: func(id string, s *Inside, e events.Event, p events.Payload) error {
			sc := p.(evpasses.Scanned)
			s.Community = id
			if s.Passes == nil {
				s.Passes = map[string]InsideEntry{}
			}
			if sc.Direction == evpasses.Out {
				if _, ok := s.Passes[sc.Pass]; ok {
					delete(s.Passes, sc.Pass)
				} else if s.Overflow > 0 {
					s.Overflow--
				}
				return nil
			}
			if _, ok := s.Passes[sc.Pass]; !ok && len(s.Passes) >= MaxInside {
				s.Overflow++
				return nil
			}
			s.Passes[sc.Pass] = InsideEntry{Person: sc.Holder, Gate: e.Aggregate.ID, Since: stamp(e.Time)}
			return nil
		},
	})
}

// Day counts one community's scans on one local (CST) day.
type Day struct {
	Community string           `json:"community" bson:"community"`
	Day       string           `json:"day" bson:"day"` // YYYY-MM-DD, CST
	Entries   int64            `json:"entries" bson:"entries"`
	Exits     int64            `json:"exits" bson:"exits"`
	Denied    int64            `json:"denied" bson:"denied"`
	ByReason  map[string]int64 `json:"by_reason" bson:"by_reason"`
}

// dayKey is "<region>@YYYYMMDD" of t's local (CST) day.
func dayKey(region string, t time.Time) string { return region + "@" + t.In(cst).Format("20060102") }

// Daily is the projection of entries, exits and denials per community and
// local day.
func Daily() projections.Projection {
	return projections.Define(projections.Spec[Day]{
		Name: "community_daily", Version: 1, Subjects: []string{"ledger.*.gate.*"},
		Keys: func(e events.Event, p events.Payload) []string {
			if sc, ok := p.(evpasses.Scanned); ok {
				return []string{dayKey(string(sc.Community), e.Time)}
			}
			return nil
		},
		Fold: func(id string, s *Day, e events.Event, p events.Payload) error {
			sc := p.(evpasses.Scanned)
			s.Community, s.Day = string(sc.Community), e.Time.In(cst).Format("2006-01-02")
			switch {
			case sc.Decision == evpasses.Deny:
				s.Denied++
				if s.ByReason == nil {
					s.ByReason = map[string]int64{}
				}
				s.ByReason[sc.Reason]++
			case sc.Direction == evpasses.In:
				s.Entries++
			default:
				s.Exits++
			}
			return nil
		},
	})
}

// DeniedScan is one refused scan.
type DeniedScan struct {
	Time      string `json:"time" bson:"time"`
	Gate      string `json:"gate" bson:"gate"`
	Pass      string `json:"pass" bson:"pass"`
	Person    string `json:"person" bson:"person"`
	Direction string `json:"direction" bson:"direction"`
	Reason    string `json:"reason" bson:"reason"`
}

// DeniedDay lists one community's denied scans of one local day.
type DeniedDay struct {
	Community string       `json:"community" bson:"community"`
	Total     int64        `json:"total" bson:"total"`
	Scans     []DeniedScan `json:"scans" bson:"scans"` // the first MaxDenied
}

// Denied is the projection of denied (including red-status) scans per
// community and local day.
func Denied() projections.Projection {
	return projections.Define(projections.Spec[DeniedDay]{
		Name: "community_denied", Version: 1, Subjects: []string{"ledger.*.gate.*"},
		Keys: func(e events.Event, p events.Payload) []string {
			if sc, ok := p.(evpasses.Scanned); ok && sc.Decision == evpasses.Deny {
				return []string{dayKey(string(sc.Community), e.Time)}
			}
			return nil
		},
		Fold: func(id string, s *DeniedDay, e events.Event, p events.Payload) error {
			sc := p.(evpasses.Scanned)
			s.Community = string(sc.Community)
			s.Total++
			if len(s.Scans) < MaxDenied {
				s.Scans = append(s.Scans, DeniedScan{Time: stamp(e.Time), Gate: e.Aggregate.ID, Pass: sc.Pass, Person: sc.Holder, Direction: sc.Direction, Reason: sc.Reason})
			}
			return nil
		},
	})
}

// FlowDay counts, for one city and local day, how many times people's
// allowed scans moved from one district to another.
type FlowDay struct {
	City  string            `json:"city" bson:"city"`
	Day   string            `json:"day" bson:"day"`
	Last  map[string]string `json:"last" bson:"last"`   // person → district of their last allowed scan that day
	Flows map[string]int64  `json:"flows" bson:"flows"` // "from>to" → moves
}

// RegionFlows is the projection of flows between districts, counted within
// one city (first 4 digits) and one local day, so that each document stays
// bounded and folds on its own; people are pseudonymous ids, never names.
func RegionFlows() projections.Projection {
	return projections.Define(projections.Spec[FlowDay]{
		Name: "region_flows", Version: 1, Subjects: []string{"ledger.*.gate.*"},
		Keys: func(e events.Event, p events.Payload) []string {
			if sc, ok := p.(evpasses.Scanned); ok && sc.Decision == evpasses.Allow && sc.Holder != "" {
				return []string{dayKey(string(sc.Community)[:4], e.Time)}
			}
			return nil
		},
		Fold: func(id string, s *FlowDay, e events.Event, p events.Payload) error {
			sc := p.(evpasses.Scanned)
			district := string(sc.Community)[:6]
			s.City, s.Day = string(sc.Community)[:4], e.Time.In(cst).Format("2006-01-02")
			if s.Last == nil {
				s.Last, s.Flows = map[string]string{}, map[string]int64{}
			}
			if prev, ok := s.Last[sc.Holder]; ok && prev != district {
				s.Flows[prev+">"+district]++
			}
			s.Last[sc.Holder] = district
			return nil
		},
	})
}

// Reads, by _id only.

// ReadInside returns who is inside community.
func ReadInside(ctx context.Context, store projections.DocStore, community string) (Inside, error) {
	docs, err := store.Get(ctx, InsideNow(), []string{community})
	if err != nil {
		return Inside{}, err
	}
	if d := docs[community]; d != nil {
		return *d.State.(*Inside), nil
	}
	return Inside{Community: community, Passes: map[string]InsideEntry{}}, nil
}

// ReadDay returns the counts of community on local day.
func ReadDay(ctx context.Context, store projections.DocStore, community string, day time.Time) (Day, error) {
	k := dayKey(community, day)
	docs, err := store.Get(ctx, Daily(), []string{k})
	if err != nil {
		return Day{}, err
	}
	if d := docs[k]; d != nil {
		return *d.State.(*Day), nil
	}
	return Day{Community: community, Day: day.In(cst).Format("2006-01-02"), ByReason: map[string]int64{}}, nil
}

// ReadDenied returns the denied scans of community on local day.
func ReadDenied(ctx context.Context, store projections.DocStore, community string, day time.Time) (DeniedDay, error) {
	k := dayKey(community, day)
	docs, err := store.Get(ctx, Denied(), []string{k})
	if err != nil {
		return DeniedDay{}, err
	}
	if d := docs[k]; d != nil {
		return *d.State.(*DeniedDay), nil
	}
	return DeniedDay{Community: community, Scans: []DeniedScan{}}, nil
}

// FlowRow is one day's moves from one district to another.
type FlowRow struct {
	Day   string `json:"day"`
	From  string `json:"from"`
	To    string `json:"to"`
	Moves int64  `json:"moves"`
}

// ReadFlows returns the flows of city for each local day in [from, to],
// at most 92 days.
func ReadFlows(ctx context.Context, store projections.DocStore, city string, from, to time.Time) ([]FlowRow, error) {
	if to.Before(from) || to.Sub(from) > 92*24*time.Hour {
		return nil, events.Invalid("to", "the range must run forwards and span at most 92 days")
	}
	var keys []string
	for d := from.In(cst); !d.After(to.In(cst)); d = d.AddDate(0, 0, 1) {
		keys = append(keys, dayKey(city, d))
	}
	docs, err := store.Get(ctx, RegionFlows(), keys)
	if err != nil {
		return nil, err
	}
	var rows []FlowRow
	for _, k := range keys {
		d := docs[k]
		if d == nil {
			continue
		}
		st := d.State.(*FlowDay)
		for ft, n := range st.Flows {
			a, b, _ := strings.Cut(ft, ">")
			rows = append(rows, FlowRow{Day: st.Day, From: a, To: b, Moves: n})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Day != rows[j].Day {
			return rows[i].Day < rows[j].Day
		}
		return rows[i].From+rows[i].To < rows[j].From+rows[j].To
	})
	return rows, nil
}

// ReadGateHours returns the hourly counts of gates on local day.
func ReadGateHours(ctx context.Context, store projections.DocStore, gates []string, day time.Time) ([]GateHour, error) {
	start := time.Date(day.In(cst).Year(), day.In(cst).Month(), day.In(cst).Day(), 0, 0, 0, 0, cst)
	var keys []string
	for _, g := range gates {
		for h := 0; h < 24; h++ {
			keys = append(keys, g+"@"+start.Add(time.Duration(h)*time.Hour).Format("2006010215"))
		}
	}
	docs, err := store.Get(ctx, GateHourly(), keys)
	if err != nil {
		return nil, err
	}
	var out []GateHour
	for _, k := range keys {
		if d := docs[k]; d != nil {
			out = append(out, *d.State.(*GateHour))
		}
	}
	return out, nil
}
