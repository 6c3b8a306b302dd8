package nationevents

import (
	"crypto/sha256"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/events"
)

// National alerts. The national early-warning rules (backend/national)
// run on the provinces' aggregate figures; every alarm they raise is
// recorded in the national ledger as an immutable event, and so is its
// clearing when the provinces' corrected figures no longer raise it. One
// aggregate per rule, series and day (AlertAggregate): its events
// alternate raised, cleared, raised..., so that its newest event is the
// alert's status, read in one request (ledger.Store.Last), and two
// recorders racing on one alert are ordered by the ledger's per-aggregate
// concurrency check.
//
// Every field is public by design: an alert names a residential city or
// province (a million people or more), a disease or symptom group, counts
// summed from public aggregate figures, and the provinces that reported
// them. No person, card or hospital.
const (
	TypeAlertRaised  = "nation.alert.raised"
	TypeAlertCleared = "nation.alert.cleared"
	KindAlert        = "national_alert"
)

// Alert names one series and day of a rule: what an alarm is about.
type Alert struct {
	Rule   string        `json:"rule" disclose:"public"`   // the national rule's id (first-case, ears-c2, cluster)
	Method string        `json:"method" disclose:"public"` // alertevents.Threshold, EARSC2, Cluster, ...
	Target string        `json:"target" disclose:"public"` // alertevents.TargetDisease or TargetGroup
	Code   string        `json:"code" disclose:"public"`   // the disease or symptom group
	Region events.Region `json:"region" disclose:"public"` // residential city, province, or CN
	Day    string        `json:"day" disclose:"public"`    // YYYY-MM-DD, China Standard Time
}

// AlertRaised records an alarm of a national rule: the figures it
// compared and the provinces whose hospitals reported the day's cards of
// the series (more than one: no province saw it whole).
type AlertRaised struct {
	Alert     `disclose:"public"`
	Observed  float64  `json:"observed" disclose:"public"`  // the day's count, or the window's
	Statistic float64  `json:"statistic" disclose:"public"` // the EARS C value; otherwise = observed
	Threshold float64  `json:"threshold" disclose:"public"` // the bound it exceeded
	Reporting []string `json:"reporting" disclose:"public"` // reporting provinces
}

// AlertCleared records that an alarm recorded before no longer holds:
// the provinces corrected the figures it was computed from (a later
// revision replaced them), and the rule, run again on them, does not
// raise it. Raised is the id of the event it clears.
type AlertCleared struct {
	Alert  `disclose:"public"`
	Raised string `json:"raised" disclose:"public"`
	Reason string `json:"reason" disclose:"public"`
}

// AlertAggregate is the aggregate of alert a: kind KindAlert, id
// "<rule>-<code>-<region>-YYYYMMDD", or, for a longer one, a hash of it.
// Its region (the event's) is a.Region.
func AlertAggregate(a Alert) events.Aggregate {
	id := a.Rule + "-" + a.Code + "-" + string(a.Region) + "-" + strings.ReplaceAll(a.Day, "-", "")
	if !events.IsToken(id) {
		h := sha256.Sum256([]byte(id))
		id = "h" + uuid.NewHash(sha256.New(), uuid.NameSpaceURL, h[:], 8).String()
	}
	return events.Aggregate{Kind: KindAlert, ID: id}
}

// AlertEventID is the id of an alert event of type typ that follows the
// event prev ("" for the aggregate's first): derived from them alone, so
// that a retried, restarted or second recorder appends the same event and
// the ledger keeps one (a duplicate), while a raise after a clearing is
// a new event.
func AlertEventID(typ string, a Alert, prev string) string {
	agg := AlertAggregate(a)
	return uuid.NewHash(sha256.New(), uuid.NameSpaceURL, []byte(typ+"\n"+agg.ID+"\n"+prev), 8).String()
}

// Validate checks the alert's names.
func (a Alert) Validate() error {
	for _, f := range []struct{ field, v string }{{"rule", a.Rule}, {"method", a.Method}, {"target", a.Target}, {"code", a.Code}} {
		if !events.IsToken(f.v) {
			return events.Invalid(f.field, "must be a token of 1 to 64 of [A-Za-z0-9_-], got %q", f.v)
		}
	}
	if r, err := events.ParseRegion(string(a.Region)); err != nil || (r != events.National && len(r) != 2 && len(r) != 4) {
		return events.Invalid("region", "must be CN, a province or a city (2 or 4 digits), got %q", a.Region)
	}
	if _, err := time.Parse(time.DateOnly, a.Day); err != nil {
		return events.Invalid("day", "must be YYYY-MM-DD, got %q", a.Day)
	}
	return nil
}

// Validate checks the alarm's figures and provinces.
func (p AlertRaised) Validate() error {
	if err := p.Alert.Validate(); err != nil {
		return err
	}
	for _, f := range []struct {
		field string
		v     float64
	}{{"observed", p.Observed}, {"statistic", p.Statistic}, {"threshold", p.Threshold}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return events.Invalid(f.field, "must be a finite number")
		}
	}
	if len(p.Reporting) > 34 || !slices.IsSorted(p.Reporting) {
		return events.Invalid("reporting", "the reporting provinces, sorted, at most 34")
	}
	for _, r := range p.Reporting {
		if err := validProvince(r); err != nil {
			return events.Invalid("reporting", "%q is not a 2-digit GB/T 2260 province code", r)
		}
	}
	return nil
}

// Validate checks the clearing names the raise it clears and says why.
func (p AlertCleared) Validate() error {
	if err := p.Alert.Validate(); err != nil {
		return err
	}
	if _, err := uuid.Parse(p.Raised); err != nil {
		return events.Invalid("raised", "the id of the raise it clears, got %q", p.Raised)
	}
	if p.Reason == "" || len(p.Reason) > 500 {
		return events.Invalid("reason", "say why, in at most 500 bytes")
	}
	return nil
}
