package passviews

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/projections"
)

// The views below are what property managers and government staff read:
// who is inside a community now, its daily counts and denied scans, and the
// flows of people between districts of a city. Each is a pure fold of
// pass.scanned events, one document per key, and every read goes by _id
// only (FerretDB v1 pushes down nothing else): the reader knows the ids.
//
// Documents hold pass ids and person ids (tokens, never personal data);
// names are resolved and masked by the backend, which checks scope.
//
// Days and hours are local, China Standard Time (UTC+8): the day of a
// community starts at 16:00 UTC of the previous UTC day.
//
// The four projections are at version 2: they replace the first versions
// of the same collections (community_inside, community_daily,
// community_denied, region_flows), whose documents had another shape, so
// a projector finding version 1 rebuilds them from the ledger.

// Bounds of the views. Every document must stay far below MongoDB's 16 MB
// limit and small enough to be rewritten once per projector batch.
const (
	// MaxInside caps the passes listed inside one community (about 110
	// bytes of BSON each: ~2.2 MB at the cap). The largest residential
	// communities hold some 10,000 residents. An allowed entry that finds
	// the list full is counted in Occupancy.Unlisted and not listed.
	MaxInside = 20_000
	// MaxDistinct caps the pass ids a community day keeps to count
	// distinct passes (about 45 bytes each: ~0.9 MB at the cap).
	MaxDistinct = 20_000
	// MaxDenied caps the denied scans a community day lists (about 250
	// bytes each); the newest MaxDenied by scan time are kept and
	// DeniedDay.Total counts them all.
	MaxDenied = 1_000
	// MaxFlowPersons caps the persons one city day follows (about 45 bytes
	// each: ~2.3 MB at the cap). Allowed scans of further persons are
	// counted in FlowDay.Untracked, and that day's flows are a lower bound.
	MaxFlowPersons = 50_000
	// MaxFlowDays is the longest range of days one ReadFlows may cover.
	MaxFlowDays = 92
	// MaxGateHourGates is how many gates one ReadGateHours may name.
	MaxGateHourGates = 32
	// flowGetBatch is how many city-day documents one Get asks for: a full
	// one is a few MB, so a 92-day read goes in 6 Gets and holds at most
	// 16 documents at a time.
	flowGetBatch = 16
)

// Formats of keys and stored times. Stored times are RFC 3339 UTC with a
// fixed-width fraction, so they are exact and sort as text.
const (
	dayKey   = "20060102"
	hourKey  = "2006010215"
	timeText = "2006-01-02T15:04:05.000000000Z07:00"
)

func fixed(t time.Time) string { return t.UTC().Format(timeText) }

// localDay returns the start of the CST day containing t.
func localDay(t time.Time) time.Time {
	l := t.In(events.China())
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, events.China())
}

// safeKey reports whether s can be a key of a stored map: BSON field names
// may not be empty, contain dots or start with '$'. Pass ids, person ids,
// region codes and reasons of this service always are.
func safeKey(s string) bool {
	return s != "" && !strings.ContainsRune(s, '.') && s[0] != '$' && !strings.ContainsRune(s, 0)
}

// ---- who is inside now ----

// Present is one pass inside a community.
type Present struct {
	Person string `json:"person" bson:"person"` // holder's person id ("" if the scan had none)
	Gate   string `json:"gate" bson:"gate"`     // gate of the entry
	Since  string `json:"since" bson:"since"`   // time of the entry, RFC 3339 UTC
}

// Occupancy is who is inside one community now: the passes whose last
// allowed scan was "in". An allowed "out" removes the pass.
//
// Scans are folded in ledger order. A scan older than the entry that
// listed its pass (an offline batch uploaded late) is counted in Stale and
// changes nothing; a late "in" of a pass that is not listed cannot be told
// from a fresh one and lists it. A revoked pass stays listed until it
// leaves: revocation does not move anyone out of the gate.
type Occupancy struct {
	Community string             `json:"community" bson:"community"`
	Inside    map[string]Present `json:"inside" bson:"inside"` // pass id → entry
	Count     int64              `json:"count" bson:"count"`   // len(Inside)
	// Unlisted estimates the passes inside but not listed: an allowed
	// entry that finds MaxInside passes listed adds one, an allowed exit of
	// a pass not listed takes one off while it is positive (most likely it
	// is one of them; it may be someone whose entry was never scanned).
	// About Count+Unlisted are inside; Unlisted is 0 below the cap.
	Unlisted int64  `json:"unlisted" bson:"unlisted"`
	Stale    int64  `json:"stale" bson:"stale"`         // scans older than their pass's entry, ignored
	LastScan string `json:"last_scan" bson:"last_scan"` // latest scan time folded in
}

// Inside is the projection of who is inside each community now, keyed by
// the 12-digit community code. Only allowed scans touch it.
func Inside() projections.Projection {
	return projections.Define(projections.Spec[Occupancy]{
		Name:     "community_inside",
		Version:  2,
		Personal: true,
		Subjects: []string{"ledger.*.gate.*"},
		Keys: func(e events.Event, p events.Payload) []string {
			if sc, ok := p.(passevents.Scanned); ok && sc.Decision == passevents.Allow {
				return []string{string(sc.Community)}
			}
			return nil
		},
		Fold: func(id string, s *Occupancy, e events.Event, p events.Payload) error {
			sc := p.(passevents.Scanned)
			s.Community = string(sc.Community)
			if s.Inside == nil {
				s.Inside = map[string]Present{}
			}
			at := fixed(e.Time)
			if at > s.LastScan {
				s.LastScan = at
			}
			if !safeKey(sc.Pass) {
				return nil
			}
			cur, listed := s.Inside[sc.Pass]
			switch {
			case listed && at < cur.Since:
				s.Stale++
			case sc.Direction == passevents.Out && listed:
				delete(s.Inside, sc.Pass)
			case sc.Direction == passevents.Out:
				if s.Unlisted > 0 {
					s.Unlisted--
				}
			case listed || len(s.Inside) < MaxInside:
				s.Inside[sc.Pass] = Present{Person: sc.Holder, Gate: e.Aggregate.ID, Since: at}
			default:
				s.Unlisted++
			}
			s.Count = int64(len(s.Inside))
			return nil
		},
	})
}

// ---- daily counts per community ----

// CommunityDay counts the scans of one community in one local day.
type CommunityDay struct {
	Community string           `json:"community" bson:"community"`
	Day       string           `json:"day" bson:"day"`             // local (CST) date, YYYY-MM-DD
	Entries   int64            `json:"entries" bson:"entries"`     // allowed "in"
	Exits     int64            `json:"exits" bson:"exits"`         // allowed "out"
	Denied    int64            `json:"denied" bson:"denied"`       // denied, either direction
	ByReason  map[string]int64 `json:"by_reason" bson:"by_reason"` // reason → denied scans
	RedStatus int64            `json:"red_status" bson:"red_status"`
	// Passes lists, sorted, the distinct passes with an allowed scan this
	// day, up to MaxDistinct; Distinct is its length. DistinctUnlisted
	// counts allowed scans of passes not listed because the list was full:
	// when it is non-zero, Distinct is a lower bound.
	Passes           []string `json:"passes" bson:"passes"`
	Distinct         int64    `json:"distinct" bson:"distinct"`
	DistinctUnlisted int64    `json:"distinct_unlisted" bson:"distinct_unlisted"`
}

// DayKey is the document id of community's local day containing t:
// "<community>@YYYYMMDD" (CST). CommunityDaily and DeniedScans use it.
func DayKey(community string, t time.Time) string {
	return community + "@" + t.In(events.China()).Format(dayKey)
}

// CommunityDaily is the projection of scan counts per community per local
// day, keyed by DayKey.
func CommunityDaily() projections.Projection {
	return projections.Define(projections.Spec[CommunityDay]{
		Name:     "community_daily",
		Version:  2,
		Personal: true,
		Subjects: []string{"ledger.*.gate.*"},
		Keys: func(e events.Event, p events.Payload) []string {
			if sc, ok := p.(passevents.Scanned); ok {
				return []string{DayKey(string(sc.Community), e.Time)}
			}
			return nil
		},
		Fold: func(id string, s *CommunityDay, e events.Event, p events.Payload) error {
			sc := p.(passevents.Scanned)
			s.Community, s.Day = string(sc.Community), events.Day(e.Time)
			if s.ByReason == nil {
				s.ByReason = map[string]int64{}
			}
			if s.Passes == nil {
				s.Passes = []string{}
			}
			if sc.Decision == passevents.Deny {
				s.Denied++
				reason := sc.Reason
				if !safeKey(reason) {
					reason = "other"
				}
				s.ByReason[reason]++
				if sc.Reason == passevents.ReasonRedStatus {
					s.RedStatus++
				}
				return nil
			}
			if sc.Direction == passevents.In {
				s.Entries++
			} else {
				s.Exits++
			}
			if sc.Pass == "" {
				return nil // its holder was erased: counted, not listed
			}
			if i, found := slices.BinarySearch(s.Passes, sc.Pass); !found {
				if len(s.Passes) < MaxDistinct {
					s.Passes = slices.Insert(s.Passes, i, sc.Pass)
				} else {
					s.DistinctUnlisted++
				}
			}
			s.Distinct = int64(len(s.Passes))
			return nil
		},
	})
}

// ---- denied scans per community per day ----

// DeniedScan is one denied scan.
type DeniedScan struct {
	Time      string `json:"time" bson:"time"` // scan time, RFC 3339 UTC, fixed width
	Gate      string `json:"gate" bson:"gate"`
	Pass      string `json:"pass" bson:"pass"`     // "unknown" if the token could not be read
	Person    string `json:"person" bson:"person"` // "" if the token could not be read
	Reason    string `json:"reason" bson:"reason"`
	Direction string `json:"direction" bson:"direction"`
}

// DeniedDay is the denied scans of one community in one local day, ordered
// by scan time (newest last; equal times in ledger order). At most
// MaxDenied are listed: the newest by scan time. Total counts them all.
type DeniedDay struct {
	Community string       `json:"community" bson:"community"`
	Day       string       `json:"day" bson:"day"` // local (CST) date, YYYY-MM-DD
	Scans     []DeniedScan `json:"scans" bson:"scans"`
	Total     int64        `json:"total" bson:"total"`
}

// DeniedScans is the projection of denied scans per community per local
// day, keyed by DayKey.
func DeniedScans() projections.Projection {
	return projections.Define(projections.Spec[DeniedDay]{
		Name:     "community_denied",
		Version:  2,
		Personal: true,
		Subjects: []string{"ledger.*.gate.*"},
		Keys: func(e events.Event, p events.Payload) []string {
			if sc, ok := p.(passevents.Scanned); ok && sc.Decision == passevents.Deny {
				return []string{DayKey(string(sc.Community), e.Time)}
			}
			return nil
		},
		Fold: func(id string, s *DeniedDay, e events.Event, p events.Payload) error {
			sc := p.(passevents.Scanned)
			s.Community, s.Day = string(sc.Community), events.Day(e.Time)
			if s.Scans == nil {
				s.Scans = []DeniedScan{}
			}
			s.Total++
			d := DeniedScan{Time: fixed(e.Time), Gate: e.Aggregate.ID, Pass: sc.Pass, Person: sc.Holder,
				Reason: sc.Reason, Direction: sc.Direction}
			// after every scan at or before d.Time: newest last, ties in ledger order
			i := sort.Search(len(s.Scans), func(i int) bool { return s.Scans[i].Time > d.Time })
			if len(s.Scans) >= MaxDenied {
				if i == 0 {
					return nil // older than every listed scan: counted, not listed
				}
				s.Scans = slices.Delete(s.Scans, 0, 1)
				i--
			}
			s.Scans = slices.Insert(s.Scans, i, d)
			return nil
		},
	})
}

// ---- flows between districts ----

// FlowDay follows the people scanned in one city (4-digit code) in one local
// day: the district (6-digit code) of each person's last allowed scan, and
// how often a person's next allowed scan was in another district.
//
// Flows are counted within one city and one day, because a document must
// stay bounded and be foldable on its own: a fold sees only its own
// document, so a move is visible only if the same document holds the
// person's previous district. A person who passes gates in two cities the
// same day moves in neither; one scanned before and after local midnight
// starts afresh. Scans count in ledger order (a late offline batch counts
// where it was recorded, not where its scan times fall).
type FlowDay struct {
	City      string            `json:"city" bson:"city"`
	Day       string            `json:"day" bson:"day"`             // local (CST) date, YYYY-MM-DD
	Last      map[string]string `json:"last" bson:"last"`           // person id → district of the last allowed scan
	Moves     map[string]int64  `json:"moves" bson:"moves"`         // "fromDistrict>toDistrict" → moves
	Persons   int64             `json:"persons" bson:"persons"`     // len(Last)
	Scans     int64             `json:"scans" bson:"scans"`         // allowed scans with a person, followed or not
	Untracked int64             `json:"untracked" bson:"untracked"` // scans of persons not followed: Last was full
}

// FlowKey is the document id of city's local day containing t:
// "<city>@YYYYMMDD" (CST).
func FlowKey(city string, t time.Time) string {
	return city + "@" + t.In(events.China()).Format(dayKey)
}

// Flows is the projection of moves between the districts of a city per
// local day, keyed by FlowKey. Only allowed scans with a holder touch it.
func Flows() projections.Projection {
	return projections.Define(projections.Spec[FlowDay]{
		Name:     "region_flows",
		Version:  2,
		Personal: true,
		Subjects: []string{"ledger.*.gate.*"},
		Keys: func(e events.Event, p events.Payload) []string {
			if sc, ok := p.(passevents.Scanned); ok && sc.Decision == passevents.Allow && sc.Holder != "" {
				return []string{FlowKey(string(sc.Community[:4]), e.Time)}
			}
			return nil
		},
		Fold: func(id string, s *FlowDay, e events.Event, p events.Payload) error {
			sc := p.(passevents.Scanned)
			s.City, s.Day = string(sc.Community[:4]), events.Day(e.Time)
			if s.Last == nil {
				s.Last, s.Moves = map[string]string{}, map[string]int64{}
			}
			s.Scans++
			district := string(sc.Community[:6])
			prev, ok := s.Last[sc.Holder]
			switch {
			case !ok && (len(s.Last) >= MaxFlowPersons || !safeKey(sc.Holder)):
				s.Untracked++
			case !ok:
				s.Last[sc.Holder] = district
			case prev != district:
				s.Moves[prev+">"+district]++
				s.Last[sc.Holder] = district
			}
			s.Persons = int64(len(s.Last))
			return nil
		},
	})
}

// ---- reads ----

// ReadInside returns who is inside community now. found is false if no
// allowed scan was ever recorded there; the state is then an empty one of
// community.
func ReadInside(ctx context.Context, store projections.DocStore, community string) (Occupancy, bool, error) {
	if err := checkCommunity(community); err != nil {
		return Occupancy{}, false, err
	}
	s, found, err := getOne[Occupancy](ctx, store, Inside(), community)
	if err == nil && !found {
		s = Occupancy{Community: community, Inside: map[string]Present{}}
	}
	return s, found, err
}

// ReadDaily returns the counts of community on the local (CST) day
// containing day. found is false if no scan was recorded that day; the
// state then holds zero counts of that community and day.
func ReadDaily(ctx context.Context, store projections.DocStore, community string, day time.Time) (CommunityDay, bool, error) {
	if err := checkCommunity(community); err != nil {
		return CommunityDay{}, false, err
	}
	if day.IsZero() {
		return CommunityDay{}, false, events.Invalid("day", "required")
	}
	s, found, err := getOne[CommunityDay](ctx, store, CommunityDaily(), DayKey(community, day))
	if err == nil && !found {
		s = CommunityDay{Community: community, Day: events.Day(day), ByReason: map[string]int64{}, Passes: []string{}}
	}
	return s, found, err
}

// ReadDenied returns the denied scans of community on the local (CST) day
// containing day. found is false if none was recorded that day; the state
// is then an empty one of that community and day.
func ReadDenied(ctx context.Context, store projections.DocStore, community string, day time.Time) (DeniedDay, bool, error) {
	if err := checkCommunity(community); err != nil {
		return DeniedDay{}, false, err
	}
	if day.IsZero() {
		return DeniedDay{}, false, events.Invalid("day", "required")
	}
	s, found, err := getOne[DeniedDay](ctx, store, DeniedScans(), DayKey(community, day))
	if err == nil && !found {
		s = DeniedDay{Community: community, Day: events.Day(day), Scans: []DeniedScan{}}
	}
	return s, found, err
}

// FlowRow is the number of moves from one district to another in a city on
// one local day.
type FlowRow struct {
	Day   string `json:"day"`  // local (CST) date, YYYY-MM-DD
	From  string `json:"from"` // 6-digit district
	To    string `json:"to"`   // 6-digit district
	Moves int64  `json:"moves"`
	// Partial: that day's document could not follow every person
	// (FlowDay.Untracked > 0), so Moves is a lower bound.
	Partial bool `json:"partial"`
}

// ReadFlows returns the moves between districts of city (4 digits) on every
// local (CST) day from the day containing from to the day containing to,
// both included, at most MaxFlowDays days; ordered by day, from, to. Days
// without moves have no rows.
func ReadFlows(ctx context.Context, store projections.DocStore, city string, from, to time.Time) ([]FlowRow, error) {
	if r, err := events.ParseRegion(city); err != nil || len(r) != 4 {
		return nil, events.Invalid("city", "city must be a 4-digit region code, got %q", city)
	}
	switch {
	case from.IsZero():
		return nil, events.Invalid("from", "required")
	case to.IsZero():
		return nil, events.Invalid("to", "required")
	}
	first, last := localDay(from), localDay(to)
	if last.Before(first) {
		return nil, events.Invalid("to", "to (%s) is before from (%s)", last.Format(time.DateOnly), first.Format(time.DateOnly))
	}
	var ids []string
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		if len(ids) == MaxFlowDays {
			return nil, events.Invalid("to", "at most %d days per query", MaxFlowDays)
		}
		ids = append(ids, FlowKey(city, d))
	}
	p := Flows()
	out := []FlowRow{}
	for len(ids) > 0 {
		n := min(len(ids), flowGetBatch)
		docs, err := store.Get(ctx, p, ids[:n])
		if err != nil {
			return nil, unavailable(p, err)
		}
		for _, id := range ids[:n] {
			d := docs[id]
			if d == nil || d.State == nil {
				continue
			}
			s := d.State.(*FlowDay)
			for k, m := range s.Moves {
				fromD, toD, ok := strings.Cut(k, ">")
				if !ok {
					return nil, &events.Error{Code: events.CodeInternal, Message: fmt.Sprintf("document %s holds a malformed move %q", id, k)}
				}
				out = append(out, FlowRow{Day: s.Day, From: fromD, To: toD, Moves: m, Partial: s.Untracked > 0})
			}
		}
		ids = ids[n:]
	}
	slices.SortFunc(out, func(a, b FlowRow) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	return out, nil
}

// HourKey is the GateHourly document id of gate's local hour containing t:
// "<gate>@YYYYMMDDHH" (CST).
func HourKey(gate string, t time.Time) string {
	return gate + "@" + t.In(events.China()).Format(hourKey)
}

// ReadGateHours returns the 24 local hours of the CST day containing day for
// each gate (gate order as given, duplicates dropped, then hour order), with
// zero counts for hours without scans. Community is filled from the gate's
// other hours that day, "" if it had no scan at all.
func ReadGateHours(ctx context.Context, store projections.DocStore, gates []string, day time.Time) ([]GateHour, error) {
	switch {
	case day.IsZero():
		return nil, events.Invalid("day", "required")
	case len(gates) == 0:
		return nil, events.Invalid("gates", "name at least one gate")
	case len(gates) > MaxGateHourGates:
		return nil, events.Invalid("gates", "at most %d gates per query, got %d", MaxGateHourGates, len(gates))
	}
	var uniq []string
	for _, g := range gates {
		if g == "" {
			return nil, events.Invalid("gates", "a gate id is empty")
		}
		if !slices.Contains(uniq, g) {
			uniq = append(uniq, g)
		}
	}
	start := localDay(day)
	ids := make([]string, 0, 24*len(uniq))
	for _, g := range uniq {
		for h := range 24 {
			ids = append(ids, HourKey(g, start.Add(time.Duration(h)*time.Hour)))
		}
	}
	p := GateHourly()
	docs, err := store.Get(ctx, p, ids)
	if err != nil {
		return nil, unavailable(p, err)
	}
	out := make([]GateHour, 0, len(ids))
	for gi, g := range uniq {
		community := ""
		for h := range 24 {
			if d := docs[ids[gi*24+h]]; d != nil && d.State != nil {
				community = d.State.(*GateHour).Community
				break
			}
		}
		for h := range 24 {
			row := GateHour{Gate: g, Community: community, Hour: start.Add(time.Duration(h) * time.Hour).Format(time.RFC3339)}
			if d := docs[ids[gi*24+h]]; d != nil && d.State != nil {
				row = *d.State.(*GateHour)
			}
			out = append(out, row)
		}
	}
	return out, nil
}

func checkCommunity(c string) error {
	if r, err := events.ParseRegion(c); err != nil || len(r) != 12 {
		return events.Invalid("community", "community must be a 12-digit region code, got %q", c)
	}
	return nil
}

// getOne reads the document id of p by _id.
func getOne[S any](ctx context.Context, store projections.DocStore, p projections.Projection, id string) (S, bool, error) {
	var zero S
	docs, err := store.Get(ctx, p, []string{id})
	if err != nil {
		return zero, false, unavailable(p, err)
	}
	d := docs[id]
	if d == nil || d.State == nil {
		return zero, false, nil
	}
	s, ok := d.State.(*S)
	if !ok {
		return zero, false, &events.Error{Code: events.CodeInternal, Message: fmt.Sprintf("document %s of %s decodes to %T", id, p.Name(), d.State)}
	}
	return *s, true, nil
}

func unavailable(p projections.Projection, err error) error {
	return &events.Error{Code: events.CodeUnavailable, Message: "read " + p.Name(), Err: err}
}
