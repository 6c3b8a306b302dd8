// Package alerts is the early-warning engine and the alert service.
//
// The engine follows the ledger like every decision state. Each report card
// counts the moment it is filed (the "direct line": no review needed): it
// adds one to the daily series of its disease and of each of its symptom
// groups, at district, city and province level, on the day it was filed
// (China Standard Time). Corrections move the count and revocations remove
// it, from the counts the events themselves carry.
//
// After each count, the engine applies every enabled rule that selects the
// series, for that day only (backend/warning.Apply): the work per report is
// bounded by the rules' windows, not by the length of the history. A rule
// that alarms gives a signal. Signals are a pure function of the ledger
// prefix: a signal is not computed while an alert of the same rule and
// series is open, and a raised alert discards the pending signals of its
// rule and series. The replica holding the engine's lease (Raiser) raises
// pending signals as alert.raised events whose ids derive from rule, series
// and day, so the same signal is never raised twice — not by a restart, not
// by another replica — and a signal computed before a crash is raised after
// it.
package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/onebook/onebook/backend/warning"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
)

// Levels are the region code lengths series are kept at.
var levels = [...]int{6, 4, 2}

// Key names one series.
type Key struct {
	Target string        `json:"target"` // disease | group
	Code   string        `json:"code"`
	Region events.Region `json:"region"`
}

func (k Key) String() string { return k.Target + ":" + k.Code + "@" + string(k.Region) }

// caseWindow is how many days of contributing case ids a series keeps: the
// longest window a signal lists cases from (cluster rules, ≤ 60 days).
const caseWindow = 62

// series is one daily count series, sparse: only days with cases are kept,
// so memory follows the number of cases, not the length of time.
type series struct {
	counts map[int32]float64
	cases  map[int32][]string // recent days' case ids
}

// Rule is a published rule version.
type Rule struct {
	ID        string           `json:"id"`
	Version   int              `json:"version"`
	Seq       uint64           `json:"seq"`
	Published time.Time        `json:"published"`
	Rule      alertevents.Rule `json:"rule"`
	Reason    string           `json:"reason"`
}

// Signal is a rule's alarm on a series and day, waiting to be raised.
type Signal struct {
	AlertID string
	Key     Key
	Day     string
	Rule    Rule
	Result  warning.Result
	Cases   []string
	More    int
	Trigger string
	Filed   time.Time
	Seq     uint64
}

// Alert is an alert as the engine knows it.
type Alert struct {
	ID           string                 `json:"id"`
	Raised       alertevents.Raised     `json:"raised"`
	RaisedAt     time.Time              `json:"raised_at"`
	Status       string                 `json:"status"` // raised | notified | acknowledged | investigated | closed
	Deliveries   []alertevents.Delivery `json:"deliveries,omitempty"`
	NotifiedAt   time.Time              `json:"notified_at,omitzero"`
	AckedAt      time.Time              `json:"acknowledged_at,omitzero"`
	AckedBy      string                 `json:"acknowledged_by,omitempty"`
	Investigated time.Time              `json:"investigated_at,omitzero"`
	Findings     string                 `json:"findings,omitempty"`
	ClosedAt     time.Time              `json:"closed_at,omitzero"`
	ClosedBy     string                 `json:"closed_by,omitempty"`
	Outcome      string                 `json:"outcome,omitempty"`
	LastSeq      uint64                 `json:"-"`
}

// Alert statuses.
const (
	StatusRaised       = "raised"
	StatusNotified     = "notified"
	StatusAcknowledged = "acknowledged"
	StatusInvestigated = "investigated"
	StatusClosed       = "closed"
)

// Engine is the early-warning state folded from the ledger.
type Engine struct {
	mu      sync.RWMutex
	pos     *events.Position
	rules   map[string]*Rule
	series  map[Key]*series
	alerts  map[string]*Alert
	open    map[string]string // rule id + series → open alert id
	pending map[string]*Signal
	cards   map[string]caseevents.Counted // counted cards (to drop their ids from series on revocation)
	// origin is the first day anything was counted: surveillance starts
	// then, and a rule needing history from before it has not enough (a
	// day before origin is unknown, not zero).
	origin int32
	begun  bool
}

// NewEngine returns an empty engine.
func NewEngine() *Engine {
	e := &Engine{rules: map[string]*Rule{}, series: map[Key]*series{}, alerts: map[string]*Alert{},
		open: map[string]string{}, pending: map[string]*Signal{}, cards: map[string]caseevents.Counted{}}
	e.pos = events.NewPosition(&e.mu, "the early-warning engine")
	return e
}

// Seq is the last ledger sequence applied.
func (en *Engine) Seq() uint64 { return en.pos.Seq() }

// dayIndex is the number of days from 1970-01-01 to day (YYYY-MM-DD).
func dayIndex(day string) (int32, bool) {
	t, err := caseevents.Day(day)
	if err != nil {
		return 0, false
	}
	return int32(t.Unix() / 86400), true
}

// AlertID is the id of the alert of rule on series k and day.
func AlertID(rule string, k Key, day string) string {
	sum := sha256.Sum256([]byte(rule + "\x00" + k.String() + "\x00" + day))
	return "a-" + hex.EncodeToString(sum[:10])
}

func openKey(rule string, k Key) string { return rule + "\x00" + k.String() }

// keys are the series a count belongs to: its disease and each group, at
// every level.
func keys(c caseevents.Counted) []Key {
	out := make([]Key, 0, len(levels)*(1+len(c.Groups)))
	for _, n := range levels {
		r := c.District[:n]
		out = append(out, Key{alertevents.TargetDisease, c.Disease, r})
		for _, g := range c.Groups {
			out = append(out, Key{alertevents.TargetGroup, g, r})
		}
	}
	return out
}

// count adds delta cases of card id to the series of c.
func (en *Engine) count(c caseevents.Counted, id string, delta float64) {
	d, ok := dayIndex(c.Day)
	if !ok {
		return
	}
	for _, k := range keys(c) {
		s := en.series[k]
		if s == nil {
			s = &series{counts: map[int32]float64{}, cases: map[int32][]string{}}
			en.series[k] = s
		}
		n := s.counts[d] + delta
		if n <= 0 {
			delete(s.counts, d)
		} else {
			s.counts[d] = n
		}
		if delta > 0 {
			s.cases[d] = append(s.cases[d], id)
			for old := range s.cases { // keep caseWindow days: bounded per series
				if old < d-caseWindow {
					delete(s.cases, old)
				}
			}
		} else if ids := s.cases[d]; ids != nil {
			s.cases[d] = slices.DeleteFunc(ids, func(x string) bool { return x == id })
		}
	}
}

// Apply folds one event.
func (en *Engine) Apply(rec events.Recorded, p events.Payload) {
	en.pos.Fold(rec.Seq, func() { en.apply(rec, p) })
}

// apply folds an event not applied before, under the write lock.
func (en *Engine) apply(rec events.Recorded, p events.Payload) {
	e := rec.Event
	switch p := p.(type) {
	case alertevents.RulePublished:
		en.rules[e.Aggregate.ID] = &Rule{ID: e.Aggregate.ID, Version: p.Version, Seq: rec.Seq, Published: e.Time, Rule: p.Rule, Reason: p.Reason}
	case caseevents.Filed:
		c := caseevents.CountedAs(p.Card, p.Groups, events.Day(e.Time))
		if d, ok := dayIndex(c.Day); ok && (!en.begun || d < en.origin) {
			en.origin, en.begun = d, true
		}
		en.cards[e.Aggregate.ID] = c
		en.count(c, e.Aggregate.ID, 1)
		en.evaluate(c, e.Aggregate.ID, e.Time, rec.Seq)
	case caseevents.Corrected:
		en.count(p.Previous, e.Aggregate.ID, -1)
		c := caseevents.CountedAs(p.Card, p.Groups, p.Previous.Day)
		en.cards[e.Aggregate.ID] = c
		en.count(c, e.Aggregate.ID, 1)
		en.evaluate(c, e.Aggregate.ID, e.Time, rec.Seq)
	case caseevents.Reviewed:
		if p.Counted != nil {
			en.count(*p.Counted, e.Aggregate.ID, -1)
			delete(en.cards, e.Aggregate.ID)
		}
	case alertevents.Raised:
		k := Key{p.Target, p.Code, p.Region}
		en.alerts[e.Aggregate.ID] = &Alert{ID: e.Aggregate.ID, Raised: p, RaisedAt: e.Time, Status: StatusRaised, LastSeq: rec.Seq}
		en.open[openKey(p.Rule, k)] = e.Aggregate.ID
		for id, s := range en.pending {
			if s.Rule.ID == p.Rule && s.Key == k {
				delete(en.pending, id)
			}
		}
	case alertevents.Notified:
		if a := en.alerts[e.Aggregate.ID]; a != nil {
			a.Deliveries, a.NotifiedAt, a.LastSeq = p.Deliveries, e.Time, rec.Seq
			if a.Status == StatusRaised {
				a.Status = StatusNotified
			}
		}
	case alertevents.Acknowledged:
		if a := en.alerts[e.Aggregate.ID]; a != nil {
			a.Status, a.AckedAt, a.AckedBy, a.LastSeq = StatusAcknowledged, e.Time, e.Actor.ID, rec.Seq
		}
	case alertevents.Investigated:
		if a := en.alerts[e.Aggregate.ID]; a != nil {
			a.Status, a.Investigated, a.Findings, a.LastSeq = StatusInvestigated, e.Time, p.Findings, rec.Seq
		}
	case alertevents.Closed:
		if a := en.alerts[e.Aggregate.ID]; a != nil {
			a.Status, a.ClosedAt, a.ClosedBy, a.Outcome, a.LastSeq = StatusClosed, e.Time, e.Actor.ID, p.Outcome, rec.Seq
			delete(en.open, openKey(a.Raised.Rule, Key{a.Raised.Target, a.Raised.Code, a.Raised.Region}))
		}
	}
}

// selects reports whether rule r applies to series k.
func selects(r alertevents.Rule, k Key) bool {
	return r.Enabled && r.Target == k.Target && len(k.Region) == r.Level && slices.Contains(r.Codes, k.Code)
}

// evaluate applies the rules to the series of c on its day, after card id
// was counted, and records the signals.
func (en *Engine) evaluate(c caseevents.Counted, id string, filed time.Time, seq uint64) {
	d, ok := dayIndex(c.Day)
	if !ok {
		return
	}
	for _, k := range keys(c) {
		s := en.series[k]
		for _, r := range en.rules {
			if !selects(r.Rule, k) {
				continue
			}
			if _, open := en.open[openKey(r.ID, k)]; open {
				continue
			}
			alertID := AlertID(r.ID, k, c.Day)
			if en.alerts[alertID] != nil {
				continue
			}
			span := int32(warning.Span(r.Rule))
			first := max(d-span+1, en.origin) // days before origin are unknown: a shorter window
			window := make([]float64, d-first+1)
			for i := range window {
				window[i] = s.counts[first+int32(i)]
			}
			res := warning.Apply(r.Rule, window)
			if !res.Alarm {
				continue
			}
			cases, more := contributing(s, d, r.Rule)
			en.pending[alertID] = &Signal{AlertID: alertID, Key: k, Day: c.Day, Rule: *r, Result: res,
				Cases: cases, More: more, Trigger: id, Filed: filed, Seq: seq}
		}
	}
}

// contributing lists the cases a signal rests on: the day's for day rules,
// the window's for cluster and percentile rules.
func contributing(s *series, d int32, r alertevents.Rule) ([]string, int) {
	days := int32(1)
	switch r.Method {
	case alertevents.Cluster:
		days = int32(r.Days)
	case alertevents.Percentile:
		days = int32(r.Period)
		if days == 0 {
			days = 7
		}
	}
	var out []string
	for i := d - days + 1; i <= d; i++ {
		out = append(out, s.cases[i]...)
	}
	more := 0
	if len(out) > alertevents.MaxCases {
		more = len(out) - alertevents.MaxCases
		out = out[len(out)-alertevents.MaxCases:]
	}
	return out, more
}

// WaitFor blocks until the engine has applied sequence seq, or ctx ends.
func (en *Engine) WaitFor(ctx context.Context, seq uint64) error { return en.pos.WaitFor(ctx, seq) }

// Pending returns the signals waiting to be raised, oldest first.
func (en *Engine) Pending() []Signal {
	en.mu.RLock()
	defer en.mu.RUnlock()
	out := make([]Signal, 0, len(en.pending))
	for _, s := range en.pending {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].AlertID < out[j].AlertID
	})
	return out
}

// Alert returns one alert.
func (en *Engine) Alert(id string) (Alert, bool) {
	en.mu.RLock()
	defer en.mu.RUnlock()
	a := en.alerts[id]
	if a == nil {
		return Alert{}, false
	}
	return *a, true
}

// Alerts returns the alerts whose series region lies in scope (and in
// region, if given), newest first.
func (en *Engine) Alerts(scope, region events.Region, status string) []Alert {
	en.mu.RLock()
	var out []Alert
	for _, a := range en.alerts {
		if !scope.Covers(a.Raised.Region) && !(a.Raised.Region == scope) {
			continue
		}
		if region != "" && !region.Covers(a.Raised.Region) {
			continue
		}
		if status != "" && a.Status != status {
			continue
		}
		out = append(out, *a)
	}
	en.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RaisedAt.Equal(out[j].RaisedAt) {
			return out[i].RaisedAt.After(out[j].RaisedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Unnotified returns the alerts raised but not yet notified.
func (en *Engine) Unnotified() []Alert {
	en.mu.RLock()
	defer en.mu.RUnlock()
	var out []Alert
	for _, a := range en.alerts {
		if a.Status == StatusRaised {
			out = append(out, *a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastSeq < out[j].LastSeq })
	return out
}

// Rules returns the current version of every rule, by id.
func (en *Engine) Rules() []Rule {
	en.mu.RLock()
	defer en.mu.RUnlock()
	out := make([]Rule, 0, len(en.rules))
	for _, r := range en.rules {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Rule returns the current version of a rule.
func (en *Engine) Rule(id string) (Rule, bool) {
	en.mu.RLock()
	defer en.mu.RUnlock()
	r := en.rules[id]
	if r == nil {
		return Rule{}, false
	}
	return *r, true
}

// Series returns the daily counts of series k for the days days ending
// with day (YYYY-MM-DD), oldest first.
func (en *Engine) Series(k Key, day string, days int) ([]float64, bool) {
	d, ok := dayIndex(day)
	if !ok || days < 1 {
		return nil, false
	}
	en.mu.RLock()
	defer en.mu.RUnlock()
	out := make([]float64, days)
	if s := en.series[k]; s != nil {
		for i := range out {
			out[i] = s.counts[d-int32(days-1-i)]
		}
	}
	return out, true
}

// Children returns the regions one level below parent (districts of a
// city, cities of a province, provinces of CN) that have a series of
// target and code.
func (en *Engine) Children(parent events.Region, target, code string) []events.Region {
	child := 2
	switch {
	case parent == events.National:
	case len(parent) == 2:
		child = 4
	case len(parent) == 4:
		child = 6
	default:
		return nil
	}
	en.mu.RLock()
	defer en.mu.RUnlock()
	var out []events.Region
	for k := range en.series {
		if k.Target == target && k.Code == code && len(k.Region) == child && parent.Covers(k.Region) {
			out = append(out, k.Region)
		}
	}
	slices.Sort(out)
	return out
}
