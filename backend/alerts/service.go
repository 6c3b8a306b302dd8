package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/warning"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
)

// Recipient is a staff member responsible for a region's alerts.
type Recipient struct {
	Subject string
	Scope   events.Region
}

// NoticeAlert is the notification kind of a raised alert (a WeChat
// subscribe-message template, keywords thing1 and time2).
const NoticeAlert = "alert_raised"

// Service raises and notifies alerts (Run, on the replica holding the
// engine's lease) and serves the alert lifecycle and rules.
type Service struct {
	Store  events.Store
	Reg    *events.Registry
	Engine *Engine
	// Responsible lists the CDC staff whose scope covers region.
	Responsible func(region events.Region) []Recipient
	// Notify sends a WeChat subscribe message to an account holder.
	Notify func(ctx context.Context, subject, kind string, data map[string]string) error
	// Webhook, if set, is given every raised alert as JSON (the wiring
	// posts it to the configured URL: backend/webhook).
	Webhook func(ctx context.Context, body []byte) error
	Now     events.Clock
	Log     *slog.Logger
	// wake is signalled when new signals may be pending.
	wake chan struct{}
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Wake tells Run that a card was just filed, so that it looks for signals
// at once rather than at its next tick.
func (s *Service) Wake() {
	if s.wake == nil {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Init prepares the service; call before Run and Wake.
func (s *Service) Init() { s.wake = make(chan struct{}, 1) }

// DefaultRules are the rules published when the ledger has none: class A,
// managed-as-A and pneumonia of unknown cause alert on the first case; the
// CIDARS moving percentile on the other diseases; EARS C1, C2 and C3 and a
// cluster rule on symptom groups in each district.
func DefaultRules() map[string]alertevents.Rule {
	var first, other []string
	for _, d := range caseevents.Diseases() {
		if d.AlertsOnFirstCase() {
			first = append(first, d.Code)
		} else {
			other = append(other, d.Code)
		}
	}
	groups := caseevents.Groups()
	return map[string]alertevents.Rule{
		"first-case": {Method: alertevents.Threshold, Target: alertevents.TargetDisease, Codes: first, Level: 6, K: 1, Enabled: true,
			Description: "class A, class B managed as A, pneumonia of unknown cause: one case in a district is a signal"},
		"cidars-p50": {Method: alertevents.Percentile, Target: alertevents.TargetDisease, Codes: other, Level: 6, Period: 7, Years: 3, HalfWidth: 1, P: 0.5, Enabled: true,
			Description: "CIDARS moving percentile: the last 7 days' cases in a district above the median of the same and adjacent weeks of the 3 previous years"},
		"ears-c1": {Method: alertevents.EARSC1, Target: alertevents.TargetGroup, Codes: groups, Level: 6, MinSigma: 1, Enabled: true,
			Description: "EARS C1 on daily cases per symptom group and district (7-day baseline, z 3.09, minimum sigma 1)"},
		"ears-c2": {Method: alertevents.EARSC2, Target: alertevents.TargetGroup, Codes: groups, Level: 6, MinSigma: 1, Enabled: true,
			Description: "EARS C2 (2-day guard band)"},
		"ears-c3": {Method: alertevents.EARSC3, Target: alertevents.TargetGroup, Codes: groups, Level: 6, MinSigma: 1, Enabled: true,
			Description: "EARS C3: sum over 3 days of max(0, C2 - 1) above z 1.96"},
		"cluster-5in3": {Method: alertevents.Cluster, Target: alertevents.TargetGroup, Codes: groups, Level: 6, K: 5, Days: 3, Enabled: true,
			Description: "cluster: at least 5 cases of one symptom group in one district within 3 days"},
	}
}

// Rules lists the rules in force, for those who may view alerts.
func (s *Service) Rules(p auth.Principal) ([]Rule, error) {
	if err := auth.Authorize(p, auth.ActAlertView, ""); err != nil {
		return nil, err
	}
	return s.Engine.Rules(), nil
}

// SeedRules publishes the default rules that the ledger does not hold yet,
// as onebook itself. Replicas racing here are harmless: each rule's first
// version is appended with ExpectNew. It first waits, as long as ctx lets
// it, for the engine to apply the ledger as it is now: on a large ledger
// that is the replica's warm-up, and a rule already published must be
// seen before it is judged missing.
func (s *Service) SeedRules(ctx context.Context) error {
	size, err := s.Store.Size(ctx)
	if err != nil {
		return fmt.Errorf("seed rules: %w", err)
	}
	if err := s.Engine.WaitFor(ctx, size); err != nil {
		return fmt.Errorf("seed rules: the engine did not reach the ledger's end %d: %w", size, err)
	}
	ids := make([]string, 0, len(DefaultRules()))
	for id := range DefaultRules() {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	sys := auth.Principal{Subject: "onebook", Role: auth.System, Scope: events.National}
	for _, id := range ids {
		if _, ok := s.Engine.Rule(id); ok {
			continue
		}
		_, err := s.publish(ctx, sys, id, RuleInput{Rule: DefaultRules()[id], Reason: "default rule"}, 0)
		if err != nil && events.ErrorCode(err) != events.CodeConflict && !errors.Is(err, events.ErrDuplicate) {
			return fmt.Errorf("seed rule %s: %w", id, err)
		}
	}
	return nil
}

// RuleInput is a new version of a rule.
type RuleInput struct {
	Rule   alertevents.Rule `json:"rule"`
	Reason string           `json:"reason"`
}

var ruleID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,47}$`)

// PublishRule publishes a new version of rule id (national CDC reviewers).
func (s *Service) PublishRule(ctx context.Context, p auth.Principal, id string, in RuleInput) (Rule, error) {
	if err := auth.Authorize(p, auth.ActRuleManage, events.National); err != nil {
		return Rule{}, err
	}
	if !ruleID.MatchString(id) {
		return Rule{}, events.Invalid("id", "a rule id is 2 to 48 lowercase letters, digits and dashes")
	}
	prev, _ := s.Engine.Rule(id)
	return s.publish(ctx, p, id, in, prev.Seq)
}

func (s *Service) publish(ctx context.Context, p auth.Principal, id string, in RuleInput, prevSeq uint64) (Rule, error) {
	prev, _ := s.Engine.Rule(id)
	ev := alertevents.RulePublished{Version: prev.Version + 1, Rule: in.Rule, Reason: strings.TrimSpace(in.Reason)}
	if err := ev.Validate(); err != nil {
		return Rule{}, err
	}
	x := events.ExpectNew()
	if prevSeq > 0 {
		x = events.ExpectLast(prevSeq)
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: alertevents.KindRule, ID: id}, Region: events.National, Actor: p.Actor()}
	if _, err := s.append(ctx, alertevents.TypeRulePublished, meta, ev, x); err != nil {
		return Rule{}, err
	}
	r, _ := s.Engine.Rule(id)
	return r, nil
}

// Run raises pending signals and notifies raised alerts until ctx ends. Run
// it on one replica at a time (under the engine's lease); a second one
// would only lose the races that ExpectNew decides.
func (s *Service) Run(ctx context.Context) error {
	if s.wake == nil {
		s.Init()
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := s.step(ctx); err != nil && ctx.Err() == nil {
			s.log().Warn("early warning", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// step raises every pending signal, then notifies every raised alert.
func (s *Service) step(ctx context.Context) error {
	if err := s.catchUp(ctx); err != nil {
		return err
	}
	// Signals of different rules or series are independent aggregates:
	// raise them concurrently, so that a burst of reports does not queue
	// behind one append at a time. Of several pending signals of one rule
	// and series only the oldest is raised; raising it discards the others.
	seen := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(raiseConcurrency)
	for _, sig := range s.Engine.Pending() {
		if k := openKey(sig.Rule.ID, sig.Key); !seen[k] {
			seen[k] = true
			g.Go(func() error { return s.raise(gctx, sig) })
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(raiseConcurrency)
	for _, a := range s.Engine.Unnotified() {
		g.Go(func() error { return s.notify(gctx, a) })
	}
	return g.Wait()
}

// raiseConcurrency bounds the appends (and notifications) in flight.
const raiseConcurrency = 16

// raise appends the alert of a signal. A conflict means it is already
// raised (another replica, or before a restart): the engine will see it.
func (s *Service) raise(ctx context.Context, sig Signal) error {
	ev := alertevents.Raised{Rule: sig.Rule.ID, RuleVersion: sig.Rule.Version, RuleSeq: sig.Rule.Seq, Method: sig.Rule.Rule.Method,
		Target: sig.Key.Target, Code: sig.Key.Code, Region: sig.Key.Region, Day: sig.Day,
		Observed: sig.Result.Observed, Statistic: sig.Result.Statistic, Threshold: sig.Result.Threshold,
		Cases: sig.Cases, MoreCases: sig.More, Trigger: sig.Trigger, FiledAt: sig.Filed, FiledSeq: sig.Seq}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: alertevents.KindAlert, ID: sig.AlertID}, Region: sig.Key.Region,
		Actor: events.Actor{Role: string(auth.System), ID: "early-warning"}}
	_, err := s.append(ctx, alertevents.TypeRaised, meta, ev, events.ExpectNew())
	if err != nil && (events.ErrorCode(err) == events.CodeConflict || errors.Is(err, events.ErrDuplicate)) {
		return s.catchUp(ctx)
	}
	if err == nil {
		s.log().Info("alert raised", "alert", sig.AlertID, "rule", sig.Rule.ID, "series", sig.Key.String(), "day", sig.Day,
			"observed", sig.Result.Observed, "threshold", sig.Result.Threshold)
	}
	return err
}

// notify tells the responsible staff (WeChat subscribe message) and the
// webhook about an alert, then records who was told.
func (s *Service) notify(ctx context.Context, a Alert) error {
	var ds []alertevents.Delivery
	what := fmt.Sprintf("%s %s %s", a.Raised.Region, a.Raised.Code, a.Raised.Method)
	data := map[string]string{"thing1": truncate(what, 20), "time2": a.RaisedAt.In(events.China()).Format("2006-01-02 15:04")}
	if s.Responsible != nil && s.Notify != nil {
		for _, r := range s.Responsible(a.Raised.Region) {
			d := alertevents.Delivery{Channel: "wechat", Recipient: r.Subject, OK: true}
			if err := s.Notify(ctx, r.Subject, NoticeAlert, data); err != nil {
				d.OK, d.Error = false, truncate(err.Error(), 200)
			}
			ds = append(ds, d)
		}
	}
	if s.Webhook != nil {
		d := alertevents.Delivery{Channel: "webhook", Recipient: "webhook", OK: true}
		if err := s.postWebhook(ctx, a); err != nil {
			d.OK, d.Error = false, truncate(err.Error(), 200)
		}
		ds = append(ds, d)
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: alertevents.KindAlert, ID: a.ID}, Region: a.Raised.Region,
		Actor: events.Actor{Role: string(auth.System), ID: "early-warning"}}
	_, err := s.append(ctx, alertevents.TypeNotified, meta, alertevents.Notified{Deliveries: ds}, events.ExpectLast(a.LastSeq))
	if events.ErrorCode(err) == events.CodeConflict {
		return s.catchUp(ctx) // someone acted on it meanwhile; the next step looks again
	}
	return err
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// postWebhook gives the alert to the webhook as JSON.
func (s *Service) postWebhook(ctx context.Context, a Alert) error {
	body, err := json.Marshal(map[string]any{"alert": a.ID, "raised_at": a.RaisedAt, "signal": a.Raised})
	if err != nil {
		return err
	}
	return s.Webhook(ctx, body)
}

// alertFor returns an alert the principal may handle or see.
func (s *Service) alertFor(ctx context.Context, p auth.Principal, act auth.Action, id string) (Alert, error) {
	if err := auth.Authorize(p, act, ""); err != nil {
		return Alert{}, err
	}
	a, ok, err := events.Find(ctx, s.Store, s.Engine, func() (Alert, bool) { return s.Engine.Alert(id) })
	if err != nil {
		return Alert{}, err
	}
	if !ok {
		return Alert{}, events.Errorf(events.CodeNotFound, "no alert %s", id)
	}
	if err := auth.Authorize(p, act, a.Raised.Region); err != nil {
		// The role may act (checked above): only the scope is wrong. Answer
		// as for a missing alert, since alert ids can be computed from
		// rule, series and day and a 403 would tell that one exists.
		return Alert{}, events.Errorf(events.CodeNotFound, "no alert %s", id)
	}
	return a, nil
}

// Get returns one alert.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Alert, error) {
	return s.alertFor(ctx, p, auth.ActAlertView, id)
}

// StepInput is a lifecycle step's text: a note, findings or an outcome.
type StepInput struct {
	Note     string `json:"note"`
	Findings string `json:"findings"`
	Outcome  string `json:"outcome"`
}

// Acknowledge records that a CDC reviewer in scope took the alert on.
func (s *Service) Acknowledge(ctx context.Context, p auth.Principal, id string, in StepInput) (Alert, error) {
	return s.step2(ctx, p, id, alertevents.TypeAcknowledged, alertevents.Acknowledged{Note: strings.TrimSpace(in.Note)},
		[]string{StatusRaised, StatusNotified})
}

// Investigate records the investigation's findings.
func (s *Service) Investigate(ctx context.Context, p auth.Principal, id string, in StepInput) (Alert, error) {
	return s.step2(ctx, p, id, alertevents.TypeInvestigated, alertevents.Investigated{Findings: strings.TrimSpace(in.Findings)},
		[]string{StatusAcknowledged, StatusInvestigated})
}

// Close closes the alert with an outcome.
func (s *Service) Close(ctx context.Context, p auth.Principal, id string, in StepInput) (Alert, error) {
	return s.step2(ctx, p, id, alertevents.TypeClosed, alertevents.Closed{Outcome: in.Outcome, Note: strings.TrimSpace(in.Note)},
		[]string{StatusAcknowledged, StatusInvestigated})
}

func (s *Service) step2(ctx context.Context, p auth.Principal, id, typ string, ev events.Payload, from []string) (Alert, error) {
	if err := ev.Validate(); err != nil {
		return Alert{}, err
	}
	a, err := s.alertFor(ctx, p, auth.ActAlertHandle, id)
	if err != nil {
		return Alert{}, err
	}
	if !slices.Contains(from, a.Status) {
		return Alert{}, events.Errorf(events.CodeConflict, "alert %s is %s; %s needs it %s", id, a.Status, typ, strings.Join(from, " or "))
	}
	meta := events.Meta{Aggregate: events.Aggregate{Kind: alertevents.KindAlert, ID: id}, Region: a.Raised.Region, Actor: p.Actor()}
	if _, err := s.append(ctx, typ, meta, ev, events.ExpectLast(a.LastSeq)); err != nil {
		return Alert{}, err
	}
	a, _ = s.Engine.Alert(id)
	return a, nil
}

// Summary is the alert list with the medians that make response visible:
// from a report's filing to its alert, and from the alert to its
// acknowledgement (China's CIDARS reported a median of 1.1 hours from
// signal to response).
type Summary struct {
	Alerts            []Alert  `json:"alerts"`
	MedianFileToAlert *float64 `json:"median_file_to_alert_seconds"` // nil with no alerts
	MedianAlertToAck  *float64 `json:"median_alert_to_ack_seconds"`  // nil with no acknowledged alerts
	Acknowledged      int      `json:"acknowledged"`
	Open              int      `json:"open"`
}

// List returns the alerts in the caller's scope (and region, status if
// given), newest first, with the medians over them.
func (s *Service) List(ctx context.Context, p auth.Principal, region events.Region, status string) (Summary, error) {
	if err := auth.Authorize(p, auth.ActAlertView, region); err != nil {
		return Summary{}, err
	}
	if status != "" && !slices.Contains([]string{StatusRaised, StatusNotified, StatusAcknowledged, StatusInvestigated, StatusClosed}, status) {
		return Summary{}, events.Invalid("status", "unknown status %q", status)
	}
	as := s.Engine.Alerts(p.Scope, region, status)
	sum := Summary{Alerts: as}
	var f2a, a2a []float64
	for _, a := range as {
		f2a = append(f2a, a.RaisedAt.Sub(a.Raised.FiledAt).Seconds())
		if !a.AckedAt.IsZero() {
			a2a = append(a2a, a.AckedAt.Sub(a.RaisedAt).Seconds())
			sum.Acknowledged++
		}
		if a.Status != StatusClosed {
			sum.Open++
		}
	}
	sum.MedianFileToAlert, sum.MedianAlertToAck = median(f2a), median(a2a)
	if sum.Alerts == nil {
		sum.Alerts = []Alert{}
	}
	return sum, nil
}

func median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	m := warning.Quantile(xs, 0.5)
	return &m
}

// Comparison is one region's statistics in a cross-region comparison.
type Comparison struct {
	Region events.Region `json:"region"`
	Count  float64       `json:"count"` // cases on the day
	Last7  float64       `json:"last7"` // cases in the 7 days ending on the day
	C1     *float64      `json:"c1"`    // nil: not enough history
	C2     *float64      `json:"c2"`
	C3     *float64      `json:"c3"`
	Series []float64     `json:"series"` // daily counts, oldest first
}

// CompareDays is how many days a comparison's series cover: C3 needs 12.
const CompareDays = 28

// Compare ranks the regions one level below parent by an EARS statistic of
// one symptom group's (or disease's) daily counts on day: region-level
// counts only, no row-level case data. by is c1, c2 or c3.
func (s *Service) Compare(ctx context.Context, p auth.Principal, parent events.Region, target, code, day, by string) ([]Comparison, error) {
	if err := auth.Authorize(p, auth.ActCaseCounts, parent); err != nil {
		return nil, err
	}
	switch target {
	case alertevents.TargetGroup:
		if !slices.Contains(caseevents.Groups(), code) {
			return nil, events.Invalid("code", "unknown symptom group %q (one of %v)", code, caseevents.Groups())
		}
	case alertevents.TargetDisease:
		if _, ok := caseevents.LookupDisease(code); !ok {
			return nil, events.Invalid("code", "unknown disease %q", code)
		}
	default:
		return nil, events.Invalid("target", "must be group or disease")
	}
	if len(parent) > 4 {
		return nil, events.Invalid("region", "compare the districts of a city (4 digits), the cities of a province (2) or the provinces (CN)")
	}
	if day == "" {
		day = events.Day(s.Now.UTC())
	}
	if _, err := caseevents.Day(day); err != nil {
		return nil, events.Invalid("day", "must be YYYY-MM-DD")
	}
	if by == "" {
		by = "c3"
	}
	if by != "c1" && by != "c2" && by != "c3" {
		return nil, events.Invalid("by", "must be c1, c2 or c3")
	}
	if err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	var out []Comparison
	for _, r := range s.Engine.Children(parent, target, code) {
		xs, _ := s.Engine.Series(Key{target, code, r}, day, CompareDays)
		t := len(xs) - 1
		c := Comparison{Region: r, Count: xs[t], Series: xs}
		c.Last7, _ = warning.WindowSum(xs, t, 7)
		if v, ok := warning.C1(xs, t, 1); ok {
			c.C1 = finite(v)
		}
		if v, ok := warning.C2(xs, t, 1); ok {
			c.C2 = finite(v)
		}
		if v, ok := warning.C3(xs, t, 1); ok {
			c.C3 = finite(v)
		}
		out = append(out, c)
	}
	key := func(c Comparison) float64 {
		v := map[string]*float64{"c1": c.C1, "c2": c.C2, "c3": c.C3}[by]
		if v == nil {
			return -1e18
		}
		return *v
	}
	sort.SliceStable(out, func(i, j int) bool {
		if key(out[i]) != key(out[j]) {
			return key(out[i]) > key(out[j])
		}
		return out[i].Region < out[j].Region
	})
	if out == nil {
		out = []Comparison{}
	}
	return out, nil
}

func finite(v float64) *float64 {
	switch {
	case v > 1e9:
		v = 1e9
	case v < -1e9:
		v = -1e9
	case v != v:
		v = 0
	}
	return &v
}

// append builds, appends and waits until the engine has seen the event.
func (s *Service) append(ctx context.Context, typ string, m events.Meta, p events.Payload, x events.Expect) (events.Recorded, error) {
	if m.Time.IsZero() {
		m.Time = s.Now.UTC()
	}
	// An alert names a disease in a region on a day: sealed, to the
	// alert service's own key (rules are public and seal nothing).
	m.SealTo = events.SubjectAlerts
	return events.AppendAndWait(ctx, s.Store, s.Reg, s.Engine, typ, m, p, x)
}

// catchUp waits until the engine has applied everything the ledger held.
func (s *Service) catchUp(ctx context.Context) error {
	return events.CatchUp(ctx, s.Store, s.Engine)
}

// StepOnce raises the pending signals and notifies raised alerts once, as
// Run does on each tick; for tests and tools that drive time themselves.
func (s *Service) StepOnce(ctx context.Context) error { return s.step(ctx) }
