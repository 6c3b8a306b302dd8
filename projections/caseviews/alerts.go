package caseviews

import (
	"math"
	"slices"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/projections"
)

// Alert statuses, in the order of the lifecycle.
const (
	AlertRaised       = "raised"
	AlertNotified     = "notified"
	AlertAcknowledged = "acknowledged"
	AlertInvestigated = "investigated"
	AlertClosed       = "closed"
)

var alertOrder = []string{AlertRaised, AlertNotified, AlertAcknowledged, AlertInvestigated, AlertClosed}

// MaxDeliveries caps the deliveries an alert lists; more are counted in
// MoreDeliveries.
const MaxDeliveries = 500

// Delivery is one notification of an alert (alertevents.Delivery).
type Delivery struct {
	Time      string `json:"time" bson:"time"` // time of the alert.notified event
	Channel   string `json:"channel" bson:"channel"`
	Recipient string `json:"recipient" bson:"recipient"`
	OK        bool   `json:"ok" bson:"ok"`
	Error     string `json:"error" bson:"error"`
}

// Alert is one alert: what was raised and where it stands.
type Alert struct {
	Alert string `json:"alert" bson:"alert"` // alert id (the aggregate)

	// As raised (alertevents.Raised).
	Rule        string   `json:"rule" bson:"rule"`
	RuleVersion int      `json:"rule_version" bson:"rule_version"`
	RuleSeq     int64    `json:"rule_seq" bson:"rule_seq"`
	Method      string   `json:"method" bson:"method"`
	Target      string   `json:"target" bson:"target"`
	Code        string   `json:"code" bson:"code"`
	Region      string   `json:"region" bson:"region"` // the series' region
	Day         string   `json:"day" bson:"day"`       // YYYY-MM-DD, CST
	Observed    float64  `json:"observed" bson:"observed"`
	Statistic   float64  `json:"statistic" bson:"statistic"`
	Threshold   float64  `json:"threshold" bson:"threshold"`
	Cases       []string `json:"cases" bson:"cases"`
	MoreCases   int      `json:"more_cases" bson:"more_cases"`
	Trigger     string   `json:"trigger" bson:"trigger"`
	FiledAt     string   `json:"filed_at" bson:"filed_at"` // filing time of Trigger, RFC 3339 UTC; "" if unknown
	FiledSeq    int64    `json:"filed_seq" bson:"filed_seq"`

	// Lifecycle. Status is the furthest stage reached; each time is that
	// of the first event of its stage, "" until then.
	Status         string     `json:"status" bson:"status"`
	RaisedAt       string     `json:"raised_at" bson:"raised_at"`
	NotifiedAt     string     `json:"notified_at" bson:"notified_at"`
	AcknowledgedAt string     `json:"acknowledged_at" bson:"acknowledged_at"`
	AcknowledgedBy *Actor     `json:"acknowledged_by" bson:"acknowledged_by"`
	AckNote        string     `json:"ack_note" bson:"ack_note"`
	InvestigatedAt string     `json:"investigated_at" bson:"investigated_at"`
	Findings       string     `json:"findings" bson:"findings"` // of the latest investigation
	ClosedAt       string     `json:"closed_at" bson:"closed_at"`
	ClosedBy       *Actor     `json:"closed_by" bson:"closed_by"`
	Outcome        string     `json:"outcome" bson:"outcome"`       // of the latest closure
	CloseNote      string     `json:"close_note" bson:"close_note"` // of the latest closure
	Deliveries     []Delivery `json:"deliveries" bson:"deliveries"` // every notification, in order
	MoreDeliveries int64      `json:"more_deliveries" bson:"more_deliveries"`

	// Response times in seconds: from the filing of the triggering case
	// to the alert (raised time − FiledAt), and from the alert to its
	// first acknowledgement. nil while unknown. A negative value means the
	// clocks disagree and is kept as it is.
	FileToAlert *float64 `json:"file_to_alert" bson:"file_to_alert"`
	AlertToAck  *float64 `json:"alert_to_ack" bson:"alert_to_ack"`

	// Anomalies counts events out of the lifecycle's order: a second
	// raise, a lifecycle event before the raise, a second acknowledgement
	// or closure, an event after the closure, a non-finite statistic.
	Anomalies int64 `json:"anomalies" bson:"anomalies"`
}

// finite returns v, or the largest float of its sign if v is infinite
// (JSON cannot carry infinities), and whether v was finite.
func finite(v float64) (float64, bool) {
	switch {
	case math.IsInf(v, 1):
		return math.MaxFloat64, false
	case math.IsInf(v, -1):
		return -math.MaxFloat64, false
	case math.IsNaN(v):
		return 0, false
	}
	return v, true
}

// seconds returns b − a in seconds, nil if either time is unknown.
func seconds(a, b string) *float64 {
	ta, ok1 := parseFixed(a)
	tb, ok2 := parseFixed(b)
	if a == "" || b == "" || !ok1 || !ok2 {
		return nil
	}
	d := tb.Sub(ta).Seconds()
	return &d
}

// Alerts is the projection of alerts, keyed by alert id.
func Alerts() projections.Projection {
	return projections.Define(projections.Spec[Alert]{
		Name:     "alerts",
		Version:  1,
		Subjects: []string{"ledger.*." + alertevents.KindAlert + ".*"},
		Keys: func(e events.Event, p events.Payload) []string {
			switch p.(type) {
			case alertevents.Raised, alertevents.Notified, alertevents.Acknowledged, alertevents.Investigated, alertevents.Closed:
				return []string{e.Aggregate.ID}
			}
			return nil
		},
		Fold: foldAlert,
	})
}

// foldAlert folds one event of the alert id into s. An event out of the
// life cycle's order (before the raise, after the closure, a second raise
// or acknowledgement) is counted as an anomaly rather than refused: the
// ledger is what happened.
func foldAlert(id string, s *Alert, e events.Event, p events.Payload) error {
	s.Alert = id
	if s.Cases == nil {
		s.Cases, s.Deliveries = []string{}, []Delivery{}
	}
	at := projections.FixedTime(e.Time)
	if _, ok := p.(alertevents.Raised); !ok && (s.RaisedAt == "" || s.ClosedAt != "") {
		s.Anomalies++ // before the raise, or after the closure
	}
	stage := ""
	switch p := p.(type) {
	case alertevents.Raised:
		s.raise(p, at)
		stage = AlertRaised
	case alertevents.Notified:
		s.notify(p, at)
		stage = AlertNotified
	case alertevents.Acknowledged:
		if s.AcknowledgedAt != "" {
			s.Anomalies++
		} else {
			a := actorOf(e)
			s.AcknowledgedAt, s.AcknowledgedBy, s.AckNote = at, &a, p.Note
		}
		stage = AlertAcknowledged
	case alertevents.Investigated:
		if s.InvestigatedAt == "" {
			s.InvestigatedAt = at
		}
		s.Findings = p.Findings
		stage = AlertInvestigated
	case alertevents.Closed:
		if s.ClosedAt == "" {
			a := actorOf(e)
			s.ClosedAt, s.ClosedBy = at, &a
		}
		s.Outcome, s.CloseNote = p.Outcome, p.Note
		stage = AlertClosed
	default:
		return nil
	}
	if slices.Index(alertOrder, stage) > slices.Index(alertOrder, s.Status) {
		s.Status = stage
	}
	s.FileToAlert = seconds(s.FiledAt, s.RaisedAt)
	s.AlertToAck = seconds(s.RaisedAt, s.AcknowledgedAt)
	return nil
}

// raise takes what the raise recorded: the rule and its figures, the cases
// behind it and when it was filed.
func (s *Alert) raise(p alertevents.Raised, at string) {
	if s.RaisedAt != "" {
		s.Anomalies++
	}
	ok1, ok2, ok3 := true, true, true
	s.Rule, s.RuleVersion, s.RuleSeq = p.Rule, p.RuleVersion, int64(min(p.RuleSeq, math.MaxInt64))
	s.Method, s.Target, s.Code, s.Region, s.Day = p.Method, p.Target, p.Code, string(p.Region), p.Day
	s.Observed, ok1 = finite(p.Observed)
	s.Statistic, ok2 = finite(p.Statistic)
	s.Threshold, ok3 = finite(p.Threshold)
	if !ok1 || !ok2 || !ok3 {
		s.Anomalies++
	}
	s.Cases, s.MoreCases, s.Trigger = slices.Clone(p.Cases), p.MoreCases, p.Trigger
	if s.Cases == nil {
		s.Cases = []string{}
	}
	s.FiledAt, s.FiledSeq = "", int64(min(p.FiledSeq, math.MaxInt64))
	if !p.FiledAt.IsZero() {
		s.FiledAt = projections.FixedTime(p.FiledAt)
	}
	s.RaisedAt = at
}

// notify adds the deliveries of a notification, up to MaxDeliveries.
func (s *Alert) notify(p alertevents.Notified, at string) {
	for _, d := range p.Deliveries {
		if len(s.Deliveries) >= MaxDeliveries {
			s.MoreDeliveries++
			continue
		}
		s.Deliveries = append(s.Deliveries, Delivery{Time: at, Channel: d.Channel, Recipient: d.Recipient, OK: d.OK, Error: d.Error})
	}
	if s.NotifiedAt == "" {
		s.NotifiedAt = at
	}
}
