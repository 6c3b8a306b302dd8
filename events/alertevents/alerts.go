// Package alerts holds the event schemas of early warning: the rules the
// engine applies (data, versioned, each change an event) and the alerts it
// raises, with their lifecycle raised → notified → acknowledged →
// investigated → closed.
package alertevents

import (
	"math"
	"slices"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/caseevents"
)

// Event types and aggregate kinds.
const (
	TypeRulePublished = "rule.published"
	TypeRaised        = "alert.raised"
	TypeNotified      = "alert.notified"
	TypeAcknowledged  = "alert.acknowledged"
	TypeInvestigated  = "alert.investigated"
	TypeClosed        = "alert.closed"

	KindRule  = "rule"  // one rule; its versions, in order
	KindAlert = "alert" // one alert; its lifecycle
)

// Register adds the rule and alert events to r.
func Register(r *events.Registry) {
	events.Register[RulePublished](r, TypeRulePublished, KindRule, 1)
	events.Register[Raised](r, TypeRaised, KindAlert, 1)
	events.Register[Notified](r, TypeNotified, KindAlert, 1)
	events.Register[Acknowledged](r, TypeAcknowledged, KindAlert, 1)
	events.Register[Investigated](r, TypeInvestigated, KindAlert, 1)
	events.Register[Closed](r, TypeClosed, KindAlert, 1)
}

// Methods of a rule.
const (
	Threshold  = "threshold"  // the day's count >= K
	Percentile = "percentile" // CIDARS moving percentile
	EARSC1     = "ears_c1"
	EARSC2     = "ears_c2"
	EARSC3     = "ears_c3"
	Cluster    = "cluster" // at least K cases within Days days
)

// Methods lists the rule methods.
func Methods() []string { return []string{Threshold, Percentile, EARSC1, EARSC2, EARSC3, Cluster} }

// Targets: what a rule's series count.
const (
	TargetDisease = "disease" // cases of a disease
	TargetGroup   = "group"   // cases of a symptom group
)

// Rule is one early-warning rule: a method applied to the daily counts of
// every series it selects. A series is (target, code, region), the region
// being the case's residential region cut to Level digits.
type Rule struct {
	Method string   `json:"method"`
	Target string   `json:"target"`
	Codes  []string `json:"codes"` // diseases or symptom groups it applies to, explicitly
	Level  int      `json:"level"` // 6: districts, 4: cities, 2: provinces

	K        float64 `json:"k,omitempty"`         // threshold: cases in a day; cluster: cases in Days days
	Days     int     `json:"days,omitempty"`      // cluster window
	Z        float64 `json:"z,omitempty"`         // EARS threshold; 0: earsC's default for the method
	MinSigma float64 `json:"min_sigma,omitempty"` // EARS minimum sigma for sparse data

	// Percentile method (backend/warning.Percentile); zero: CIDARS defaults.
	Period    int     `json:"period,omitempty"`
	Years     int     `json:"years,omitempty"`
	HalfWidth int     `json:"half_width,omitempty"`
	P         float64 `json:"p,omitempty"`

	Enabled     bool   `json:"enabled"`
	Description string `json:"description"`
}

// Validate checks that the rule can be applied.
func (r Rule) Validate() error {
	if !slices.Contains(Methods(), r.Method) {
		return events.Invalid("rule.method", "unknown method %q (one of %v)", r.Method, Methods())
	}
	switch r.Target {
	case TargetDisease:
		for _, c := range r.Codes {
			if _, ok := caseevents.LookupDisease(c); !ok {
				return events.Invalid("rule.codes", "unknown disease %q", c)
			}
		}
	case TargetGroup:
		for _, c := range r.Codes {
			if !slices.Contains(caseevents.Groups(), c) {
				return events.Invalid("rule.codes", "unknown symptom group %q (one of %v)", c, caseevents.Groups())
			}
		}
	default:
		return events.Invalid("rule.target", "must be disease or group, not %q", r.Target)
	}
	if len(r.Codes) == 0 || len(r.Codes) > 100 {
		return events.Invalid("rule.codes", "list 1 to 100 codes the rule applies to")
	}
	switch r.Level {
	case 2, 4, 6:
	default:
		return events.Invalid("rule.level", "must be 2 (province), 4 (city) or 6 (district), not %d", r.Level)
	}
	finite := func(field string, v float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e6 {
			return events.Invalid(field, "must be a number from 0 to 1e6")
		}
		return nil
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"rule.k", r.K}, {"rule.z", r.Z}, {"rule.min_sigma", r.MinSigma}, {"rule.p", r.P}} {
		if err := finite(f.name, f.v); err != nil {
			return err
		}
	}
	switch r.Method {
	case Threshold:
		if r.K < 1 {
			return events.Invalid("rule.k", "a threshold rule needs k >= 1 cases")
		}
	case Cluster:
		if r.K < 1 || r.Days < 1 || r.Days > 60 {
			return events.Invalid("rule.days", "a cluster rule needs k >= 1 cases within 1 to 60 days")
		}
	case Percentile:
		if r.P > 1 || r.Period < 0 || r.Period > 31 || r.Years < 0 || r.Years > 5 || r.HalfWidth < 0 || r.HalfWidth > 4 {
			return events.Invalid("rule.p", "percentile parameters out of range (p ≤ 1, period ≤ 31, years ≤ 5, half_width ≤ 4)")
		}
	}
	if len(r.Description) > 500 {
		return events.Invalid("rule.description", "at most 500 bytes")
	}
	return nil
}

// RulePublished: a new version of a rule (the first publishes it). Version
// counts from 1 and goes up by one per change.
type RulePublished struct {
	Version int    `json:"version" disclose:"public"`
	Rule    Rule   `json:"rule" disclose:"public"`
	Reason  string `json:"reason" disclose:"public"`
}

func (p RulePublished) Validate() error {
	if p.Version < 1 {
		return events.Invalid("version", "must be at least 1")
	}
	if len([]rune(p.Reason)) < 2 || len(p.Reason) > 500 {
		return events.Invalid("reason", "say why the rule changes (2 characters to 500 bytes)")
	}
	return p.Rule.Validate()
}

// MaxCases is how many contributing cases an alert lists; more are counted.
const MaxCases = 200

// Raised: a rule found a signal in a series on a day. The alert's id is
// derived from rule, series and day, so the same signal cannot be raised
// twice, by a restart or by another replica.
type Raised struct {
	Rule        string        `json:"rule" disclose:"public"`
	RuleVersion int           `json:"rule_version" disclose:"public"`
	RuleSeq     uint64        `json:"rule_seq" disclose:"public"` // ledger sequence of that rule version
	Method      string        `json:"method" disclose:"public"`
	Target      string        `json:"target" disclose:"public"`
	Code        string        `json:"code" disclose:"sealed"`
	Region      events.Region `json:"region" disclose:"sealed"` // the series' region
	Day         string        `json:"day" disclose:"sealed"`    // YYYY-MM-DD, China Standard Time

	Observed  float64 `json:"observed" disclose:"sealed"`  // what the rule compared: the day's count or a window's
	Statistic float64 `json:"statistic" disclose:"sealed"` // EARS C value; otherwise = Observed
	Threshold float64 `json:"threshold" disclose:"sealed"` // the bound it exceeded

	Cases     []string  `json:"cases" disclose:"sealed"` // contributing case ids
	MoreCases int       `json:"more_cases,omitempty" disclose:"sealed"`
	Trigger   string    `json:"trigger" disclose:"sealed"`   // the case whose filing raised it
	FiledAt   time.Time `json:"filed_at" disclose:"sealed"`  // when that case was filed
	FiledSeq  uint64    `json:"filed_seq" disclose:"sealed"` // its ledger sequence
}

func (p Raised) Validate() error {
	if p.Rule == "" || p.RuleVersion < 1 {
		return events.Invalid("rule", "required")
	}
	if !slices.Contains(Methods(), p.Method) {
		return events.Invalid("method", "unknown method %q", p.Method)
	}
	if p.Target != TargetDisease && p.Target != TargetGroup {
		return events.Invalid("target", "must be disease or group")
	}
	if _, err := events.ParseRegion(string(p.Region)); err != nil {
		return events.Invalid("region", "%v", err)
	}
	if _, err := caseevents.Day(p.Day); err != nil {
		return events.Invalid("day", "must be YYYY-MM-DD")
	}
	if len(p.Cases) == 0 || len(p.Cases) > MaxCases {
		return events.Invalid("cases", "1 to %d contributing cases", MaxCases)
	}
	if p.Trigger == "" {
		return events.Invalid("trigger", "required")
	}
	for _, v := range []float64{p.Observed, p.Statistic, p.Threshold} {
		if math.IsNaN(v) {
			return events.Invalid("statistic", "must be a number")
		}
	}
	return nil
}

// Delivery is one notification of an alert.
type Delivery struct {
	Channel   string `json:"channel"`   // wechat | webhook
	Recipient string `json:"recipient"` // staff id, or the webhook's name
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
}

// Notified: the responsible staff were notified.
type Notified struct {
	Deliveries []Delivery `json:"deliveries" disclose:"sealed"`
}

func (p Notified) Validate() error {
	for i, d := range p.Deliveries {
		if d.Channel != "wechat" && d.Channel != "webhook" {
			return events.Invalid("deliveries", "delivery %d: unknown channel %q", i, d.Channel)
		}
	}
	return nil
}

// Acknowledged: a CDC staff member took the alert on.
type Acknowledged struct {
	Note string `json:"note,omitempty" disclose:"sealed"`
}

func (p Acknowledged) Validate() error { return note("note", p.Note, 0) }

// Investigated: the field investigation's findings.
type Investigated struct {
	Findings string `json:"findings" disclose:"sealed"`
}

func (p Investigated) Validate() error { return note("findings", p.Findings, 2) }

// Outcomes of a closed alert.
const (
	OutcomeOutbreak   = "outbreak_confirmed"
	OutcomeCases      = "cases_no_outbreak" // the cases are real, no outbreak
	OutcomeFalseAlarm = "false_alarm"
	OutcomeDuplicate  = "duplicate" // the signal is part of another alert
)

// Outcomes lists the outcomes.
func Outcomes() []string {
	return []string{OutcomeOutbreak, OutcomeCases, OutcomeFalseAlarm, OutcomeDuplicate}
}

// Closed: the alert is closed with an outcome.
type Closed struct {
	Outcome string `json:"outcome" disclose:"sealed"`
	Note    string `json:"note,omitempty" disclose:"sealed"`
}

func (p Closed) Validate() error {
	if !slices.Contains(Outcomes(), p.Outcome) {
		return events.Invalid("outcome", "unknown outcome %q (one of %v)", p.Outcome, Outcomes())
	}
	return note("note", p.Note, 0)
}

func note(field, s string, min int) error {
	if len([]rune(s)) < min || len(s) > 2000 {
		return events.Invalid(field, "%d characters to 2000 bytes", min)
	}
	return nil
}
