package caseviews

import (
	"slices"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/projections"
)

// MaxRuleVersions caps the versions a rule lists (a version is at most a
// few KB of BSON). Versions published after the list is full are counted
// in RuleDoc.MoreVersions, not listed; the current one is always in
// RuleDoc.Rule.
const MaxRuleVersions = 1000

// RuleFields is an early-warning rule (alertevents.Rule).
type RuleFields struct {
	Method      string   `json:"method" bson:"method"`
	Target      string   `json:"target" bson:"target"`
	Codes       []string `json:"codes" bson:"codes"`
	Level       int      `json:"level" bson:"level"`
	K           float64  `json:"k" bson:"k"`
	Days        int      `json:"days" bson:"days"`
	Z           float64  `json:"z" bson:"z"`
	MinSigma    float64  `json:"min_sigma" bson:"min_sigma"`
	Period      int      `json:"period" bson:"period"`
	Years       int      `json:"years" bson:"years"`
	HalfWidth   int      `json:"half_width" bson:"half_width"`
	P           float64  `json:"p" bson:"p"`
	Enabled     bool     `json:"enabled" bson:"enabled"`
	Description string   `json:"description" bson:"description"`
}

func ruleFields(r alertevents.Rule) RuleFields {
	return RuleFields{Method: r.Method, Target: r.Target, Codes: slices.Clone(r.Codes), Level: r.Level, K: r.K,
		Days: r.Days, Z: r.Z, MinSigma: r.MinSigma, Period: r.Period, Years: r.Years, HalfWidth: r.HalfWidth,
		P: r.P, Enabled: r.Enabled, Description: r.Description}
}

// Rule returns r as the event schema carries it.
func (r RuleFields) Rule() alertevents.Rule {
	return alertevents.Rule{Method: r.Method, Target: r.Target, Codes: slices.Clone(r.Codes), Level: r.Level, K: r.K,
		Days: r.Days, Z: r.Z, MinSigma: r.MinSigma, Period: r.Period, Years: r.Years, HalfWidth: r.HalfWidth,
		P: r.P, Enabled: r.Enabled, Description: r.Description}
}

// RuleVersion is one published version of a rule. The ledger sequence of
// the version is not known to a fold; alerts carry it (Alert.RuleSeq).
type RuleVersion struct {
	Version int        `json:"version" bson:"version"`
	Time    string     `json:"time" bson:"time"` // RFC 3339 UTC, fixed width
	Actor   Actor      `json:"actor" bson:"actor"`
	Reason  string     `json:"reason" bson:"reason"`
	Rule    RuleFields `json:"rule" bson:"rule"`
}

// RuleDoc is one early-warning rule: its current version and every version
// published, in ledger order.
type RuleDoc struct {
	ID      string     `json:"id" bson:"id"`         // rule id (the aggregate)
	Region  string     `json:"region" bson:"region"` // region of the events (the rule's scope of publication)
	Version int        `json:"version" bson:"version"`
	Rule    RuleFields `json:"rule" bson:"rule"`       // the rule at Version
	Updated string     `json:"updated" bson:"updated"` // time Version was published
	// Versions lists every version published, oldest first, up to
	// MaxRuleVersions; MoreVersions counts those not listed.
	Versions     []RuleVersion `json:"versions" bson:"versions"`
	MoreVersions int64         `json:"more_versions" bson:"more_versions"`
	// Anomalies counts versions that do not follow the previous one by
	// one. A version not above the current one is listed but does not
	// replace it.
	Anomalies int64 `json:"anomalies" bson:"anomalies"`
}

// Rules is the projection of early-warning rules, keyed by rule id.
func Rules() projections.Projection {
	return projections.Define(projections.Spec[RuleDoc]{
		Name:     "alert_rules",
		Version:  1,
		Subjects: []string{"ledger.*." + alertevents.KindRule + ".*"},
		Keys: func(e events.Event, p events.Payload) []string {
			if _, ok := p.(alertevents.RulePublished); ok {
				return []string{e.Aggregate.ID}
			}
			return nil
		},
		Fold: func(id string, s *RuleDoc, e events.Event, p events.Payload) error {
			rp := p.(alertevents.RulePublished)
			s.ID, s.Region = id, string(e.Region)
			if s.Versions == nil {
				s.Versions = []RuleVersion{}
			}
			if rp.Version != s.Version+1 {
				s.Anomalies++
			}
			at := fixed(e.Time)
			if rp.Version > s.Version {
				s.Version, s.Rule, s.Updated = rp.Version, ruleFields(rp.Rule), at
			}
			if len(s.Versions) >= MaxRuleVersions {
				s.MoreVersions++
				return nil
			}
			s.Versions = append(s.Versions, RuleVersion{Version: rp.Version, Time: at, Actor: actorOf(e), Reason: rp.Reason, Rule: ruleFields(rp.Rule)})
			return nil
		},
	})
}
