package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/alerts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/backend/warning"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/orgs"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/events/schemas"
)

// AlertResult is the early-warning part on a running backend: (1) the
// latency from a report card being accepted (cases.Service.File returning)
// to its alert (the engine having applied the alert.raised event whose
// Trigger is the card), sequentially and with concurrent reporters, each
// against a raw JetStream publish-to-receive round trip on the same
// server; (2) the cost of one new report in the engine (Engine.Apply of a
// case.filed, no servers) against the length of the history it holds.
type AlertResult struct {
	Latency []AlertLatency // sequential, then concurrent
	History AlertHistory
}

// AlertLatency is report → alert latency with a number of concurrent
// reporters, and the raw baseline with as many concurrent publishers.
type AlertLatency struct {
	Concurrency            int
	Reports                int // reports timed, each a new signal
	P50, P99, Max          time.Duration
	RawSamples             int
	RawP50, RawP99, RawMax time.Duration
	RawBytes               int // size of the baseline's message (an alert.raised event)
	Seconds                float64
}

// Ratio is the report → alert p50 over the raw round trip's p50.
func (a AlertLatency) Ratio() float64 { return float64(a.P50) / float64(a.RawP50) }

// RatioP99 is the same for the p99s.
func (a AlertLatency) RatioP99() float64 { return float64(a.P99) / float64(a.RawP99) }

// AlertHistory is the mean time of Engine.Apply of one new case.filed
// with histories of Days[i] days (Cards[i] cards) at the same daily rate.
type AlertHistory struct {
	PerDay  float64 // mean cards a day (Poisson)
	Days    []int
	Cards   []int
	Samples int // new cards timed per history
	MeanNS  []float64
	Rules   int // rules published (the defaults)
	MaxSpan int // the longest rule window, days
	// Pending is the number of signals pending in each engine at the end:
	// with no raiser, nothing is raised, so no open alert spares a rule's
	// evaluation (the most work per report).
	Pending  []int
	District events.Region
}

// Ratio is the mean time with history j over that with history i.
func (h AlertHistory) Ratio(i, j int) float64 { return h.MeanNS[j] / h.MeanNS[i] }

const (
	alertSeed = 2027
	// alertWait bounds the wait for one report's alert: not a target, a
	// guard against a raiser that never raises.
	alertWait = time.Minute
	// alertRawStream is the raw baseline's stream.
	alertRawStream = "ALERTRAW"
	alertPerDay    = 12.0
	// alertBlock is how many new cards one engine takes in a row in the
	// incremental-cost part before the next engine's turn.
	alertBlock = 50
)

// alertHistories are the history lengths of the incremental-cost part:
// a month, three years (the brief's pair) and six years, beyond the
// longest default rule window (the CIDARS percentile's, 3 × 365 + 14
// days), past which nothing more is read.
var alertHistories = []int{30, 3 * 365, 6 * 365}

// firstCaseDiseases alert on their first case in a district (the default
// "first-case" rule).
var firstCaseDiseases = []string{"plague", "cholera", "pneumonia_unknown"}

// alertProvinces are GB/T 2260 province codes (checked with
// events.KnownProvince when used).
var alertProvinces = []string{"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
	"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"}

// alertDistricts is how many distinct districts alertDistrict makes.
var alertDistricts = len(alertProvinces) * 99 * 99

// alertDistrict returns the k-th district: a province, a city 01-99 and a
// district 01-99, all distinct for k < alertDistricts.
func alertDistrict(k int) events.Region {
	p := alertProvinces[k%len(alertProvinces)]
	k /= len(alertProvinces)
	return events.Region(fmt.Sprintf("%s%02d%02d", p, 1+k%99, 1+(k/99)%99))
}

func (c Config) checkAlert() error {
	if c.AlertReports < 2*cycles || c.AlertConcurrency < 1 || c.AlertSamples < 2*cycles {
		return fmt.Errorf("alert sizes must be positive (reports %d ≥ %d, concurrency %d, samples %d ≥ %d)",
			c.AlertReports, 2*cycles, c.AlertConcurrency, c.AlertSamples, 2*cycles)
	}
	if n := 2 * c.AlertReports; n > alertDistricts {
		return fmt.Errorf("alert reports: at most %d (each report needs a district of its own)", alertDistricts/2)
	}
	for _, p := range alertProvinces {
		if !events.KnownProvince(events.Region(p)) {
			return fmt.Errorf("alert: %s is no province", p)
		}
	}
	return nil
}

// benchAlert runs the alert part.
func (r *runner) benchAlert(ctx context.Context, rep *Report) (AlertResult, error) {
	var res AlertResult
	if err := r.alertLatency(ctx, &res, rep); err != nil {
		return res, err
	}
	h, err := r.alertHistory(ctx, r.cfg.AlertSamples)
	res.History = h
	return res, err
}

// alertWorld is the backend of the latency part on an embedded NATS: the
// ledger, the real personal-data vault, and the accounts, case and alert
// services following it, as the backend wires them (and as
// backend/casestest does for tests), on the real clock.
type alertWorld struct {
	env      *natsEnv
	reg      *events.Registry
	accounts *accounts.Service
	cases    *cases.Service
	engine   *alerts.Engine
	alerts   *alerts.Service
	notified atomic.Uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// benchSystem is onebook itself, for set-up.
var benchSystem = auth.Principal{Subject: "ops", Role: auth.System, Scope: events.National}

func (r *runner) startAlertWorld(ctx context.Context) (*alertWorld, error) {
	env, err := r.startNATS(ctx, "alert")
	if err != nil {
		return nil, err
	}
	w := &alertWorld{env: env, reg: schemas.Registry().WithKeyring(benchKeyring())}
	key := func(s string) []byte { k := sha256.Sum256([]byte("onebook bench " + s)); return k[:] }
	vault, err := personal.OpenVault(ctx, env.js, personal.VaultConfig{MasterKey: key("master"), IndexKey: key("index")})
	if err != nil {
		env.close()
		return nil, fmt.Errorf("vault: %w", err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	state, cstate, engine := accounts.NewState(), cases.NewState(), alerts.NewEngine()
	for _, a := range []events.Applier{state, cstate, engine} {
		w.wg.Go(func() {
			if err := ledger.Follow(wctx, env.js, env.store.Stream(), w.reg, a); err != nil {
				r.log.Error("alert: following the ledger", "err", err)
			}
		})
	}
	w.engine = engine
	w.accounts = &accounts.Service{Store: env.store, Reg: w.reg, State: state, Vault: accounts.PersonalVault(vault)}
	w.alerts = &alerts.Service{Store: env.store, Reg: w.reg, Engine: engine, Log: r.quiet,
		Responsible: func(reg events.Region) []alerts.Recipient {
			var out []alerts.Recipient
			for _, s := range state.StaffIn(auth.CDCReviewer, reg) {
				out = append(out, alerts.Recipient{Subject: s.ID, Scope: s.Scope})
			}
			return out
		},
		Notify: func(context.Context, string, string, map[string]string) error {
			w.notified.Add(1)
			return nil
		}}
	w.alerts.Init()
	w.cases = &cases.Service{Store: env.store, Reg: w.reg, State: cstate, Vault: accounts.PersonalVault(vault),
		Org: func(id string) (cases.Hospital, bool) {
			o, ok := w.accounts.Org(id)
			return cases.Hospital{ID: o.ID, Kind: o.Kind, Region: o.Region, Approved: o.Approved}, ok
		}, Filed: func(string) { w.alerts.Wake() }}
	if err := w.alerts.SeedRules(ctx); err != nil {
		w.close()
		return nil, err
	}
	w.wg.Go(func() { _ = w.alerts.Run(wctx) })
	return w, nil
}

// close stops the services, then the server.
func (w *alertWorld) close() {
	w.cancel()
	w.wg.Wait()
	w.env.close()
}

// reporters registers and approves a hospital, a national CDC reviewer
// (the alerts' recipient) and n bound reporters of the hospital.
func (w *alertWorld) reporters(ctx context.Context, n int) ([]auth.Principal, error) {
	h, err := w.accounts.RegisterOrg(ctx, benchSystem, accounts.OrgInput{Kind: orgs.Hospital, Name: "北京市基准测试医院",
		Region: "110101001", Licence: licence("onebook-bench"), DocsHash: hex.EncodeToString(bytes.Repeat([]byte{7}, 32)), Approve: true})
	if err != nil {
		return nil, fmt.Errorf("register hospital: %w", err)
	}
	bind := func(in accounts.StaffInput) (auth.Principal, error) {
		ns, err := w.accounts.AddStaff(ctx, benchSystem, in)
		if err != nil {
			return auth.Principal{}, fmt.Errorf("add staff: %w", err)
		}
		return w.accounts.BindStaff(ctx, "wx-"+ns.ID, ns.InviteCode)
	}
	if _, err := bind(accounts.StaffInput{Role: string(auth.CDCReviewer), Scope: events.National, Label: "bench"}); err != nil {
		return nil, err
	}
	out := make([]auth.Principal, n)
	for i := range out {
		if out[i], err = bind(accounts.StaffInput{Role: string(auth.HospitalReporter), Label: "bench", Org: h.ID}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// report files report k (a first-case disease in district k, a new
// signal) as reporter and returns when File returned, then waits for the
// alert whose Trigger is the card and returns when the engine had it.
func (w *alertWorld) report(ctx context.Context, reporter auth.Principal, k int) (time.Duration, error) {
	district := alertDistrict(k)
	disease := firstCaseDiseases[k%len(firstCaseDiseases)]
	day := events.Day(time.Now())
	c, err := w.cases.File(ctx, reporter, cases.FileInput{
		Patient: cases.Patient{Name: patientName(k), IDNumber: idNumber(string(district), k), Phone: fmt.Sprintf("139%08d", k)},
		Card: caseevents.Card{Disease: disease, Diagnosis: caseevents.Suspected, Onset: day, Diagnosed: day, Reported: day,
			Symptoms: []string{"fever", "cough"}, Residence: district + "001", Occupation: "worker", Severity: "severe"}})
	accepted := time.Now()
	if err != nil {
		return 0, fmt.Errorf("file report %d: %w", k, err)
	}
	id := alerts.AlertID("first-case", alerts.Key{Target: alertevents.TargetDisease, Code: disease, Region: district}, c.Counted.Day)
	wctx, cancel := context.WithTimeout(ctx, alertWait)
	defer cancel()
	a, at, err := waitAlert(wctx, w.engine, id)
	if err != nil {
		return 0, fmt.Errorf("report %d (card %s): no alert %s within %s: %w", k, c.ID, id, alertWait, err)
	}
	if a.Raised.Trigger != c.ID || a.Raised.Rule != "first-case" || a.Raised.Region != district {
		return 0, fmt.Errorf("report %d (card %s): alert %s is rule %s on %s triggered by %s", k, c.ID, id, a.Raised.Rule, a.Raised.Region, a.Raised.Trigger)
	}
	return max(at.Sub(accepted), 0), nil
}

// waitAlert returns alert id and the time it was seen, as soon as the
// engine has applied it: it waits on the engine's broadcast after each
// event (Engine.WaitFor), it does not poll.
func waitAlert(ctx context.Context, en *alerts.Engine, id string) (alerts.Alert, time.Time, error) {
	for {
		seq := en.Seq() // before the lookup: an alert applied after it makes WaitFor return at once
		if a, ok := en.Alert(id); ok {
			return a, time.Now(), nil
		}
		if err := en.WaitFor(ctx, seq+1); err != nil {
			return alerts.Alert{}, time.Time{}, err
		}
	}
}

// rawEcho is the raw baseline: a stream configured like the ledger and an
// ordered consumer on it (as the engine follows the ledger) that stamps
// the time each message arrives.
type rawEcho struct {
	js   jetstream.JetStream
	data []byte
	recv []time.Time
	done []chan struct{}
	it   jetstream.MessagesContext
	wg   sync.WaitGroup
	err  atomic.Value
}

func startRawEcho(ctx context.Context, js jetstream.JetStream, data []byte, samples int) (*rawEcho, error) {
	cfg := ledger.Config{Stream: alertRawStream}.StreamConfig()
	cfg.Subjects = []string{"alertraw.>"}
	cfg.Description = "onebook bench: raw publish-to-receive baseline of the alert part"
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		return nil, fmt.Errorf("raw stream: %w", err)
	}
	e := &rawEcho{js: js, data: data, recv: make([]time.Time, samples), done: make([]chan struct{}, samples)}
	for i := range e.done {
		e.done[i] = make(chan struct{})
	}
	cons, err := js.OrderedConsumer(ctx, alertRawStream, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return nil, err
	}
	if e.it, err = cons.Messages(jetstream.PullMaxMessages(4096)); err != nil {
		return nil, err
	}
	e.wg.Go(func() {
		for {
			m, err := e.it.Next()
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					e.err.Store(err)
				}
				return
			}
			now := time.Now()
			i, err := strconv.Atoi(strings.TrimPrefix(m.Subject(), "alertraw."))
			if err != nil || i < 0 || i >= len(e.recv) {
				e.err.Store(fmt.Errorf("raw baseline: unexpected subject %q", m.Subject()))
				continue
			}
			e.recv[i] = now
			close(e.done[i])
		}
	})
	return e, nil
}

// roundTrip publishes message i and returns when the consumer received it.
func (e *rawEcho) roundTrip(ctx context.Context, i int) (time.Duration, error) {
	start := time.Now()
	if _, err := e.js.PublishMsg(ctx, &nats.Msg{Subject: "alertraw." + strconv.Itoa(i), Data: e.data}); err != nil {
		return 0, fmt.Errorf("raw publish %d: %w", i, err)
	}
	t := time.NewTimer(alertWait)
	defer t.Stop()
	select {
	case <-e.done[i]:
		return e.recv[i].Sub(start), nil
	case <-t.C:
		if err, _ := e.err.Load().(error); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("raw message %d not received within %s", i, alertWait)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (e *rawEcho) close(ctx context.Context) {
	e.it.Stop()
	e.wg.Wait()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = e.js.DeleteStream(dctx, alertRawStream)
}

// sampleRaised returns the canonical bytes of an alert.raised event like
// those the latency part raises: the raw baseline publishes them.
func sampleRaised(reg *events.Registry) ([]byte, error) {
	d := alertDistrict(0)
	now := time.Now().UTC()
	day := events.Day(now)
	rules := alerts.DefaultRules()
	ev := alertevents.Raised{Rule: "first-case", RuleVersion: 1, RuleSeq: 1, Method: rules["first-case"].Method,
		Target: alertevents.TargetDisease, Code: firstCaseDiseases[0], Region: d, Day: day, Observed: 1, Statistic: 1, Threshold: 1,
		Cases: []string{"c-0123456789abcdef0123"}, Trigger: "c-0123456789abcdef0123", FiledAt: now, FiledSeq: 12345}
	k := alerts.Key{Target: alertevents.TargetDisease, Code: firstCaseDiseases[0], Region: d}
	e, err := reg.New(inMemory, alertevents.TypeRaised, events.Meta{Aggregate: events.Aggregate{Kind: alertevents.KindAlert, ID: alerts.AlertID("first-case", k, day)},
		Region: d, Actor: events.Actor{Role: string(auth.System), ID: "early-warning"}, Time: now, SealTo: events.SubjectAlerts}, ev)
	if err != nil {
		return nil, err
	}
	return e.Canonical()
}

// alertLatency measures report → alert latency with one reporter and with
// AlertConcurrency, each alternating with its raw baseline (raw, alert,
// alert, raw, cycles times), AlertReports reports and as many raw round
// trips per concurrency.
func (r *runner) alertLatency(ctx context.Context, res *AlertResult, rep *Report) error {
	c := r.cfg
	w, err := r.startAlertWorld(ctx)
	if err != nil {
		return err
	}
	defer w.close()
	concs := []int{1}
	if c.AlertConcurrency > 1 {
		concs = append(concs, c.AlertConcurrency)
	}
	reporters, err := w.reporters(ctx, slices.Max(concs))
	if err != nil {
		return err
	}
	data, err := sampleRaised(w.reg)
	if err != nil {
		return err
	}
	per := c.AlertReports / (2 * cycles) // each kind runs twice per cycle
	echo, err := startRawEcho(ctx, w.env.js, data, len(concs)*2*cycles*per)
	if err != nil {
		return err
	}
	defer echo.close(ctx)

	nextReport, nextRaw := 0, 0
	for _, conc := range concs {
		l, err := r.alertRound(ctx, w, echo, reporters, conc, per, len(data), &nextReport, &nextRaw)
		if err != nil {
			return err
		}
		res.Latency = append(res.Latency, l)
	}
	// Every alert is notified too (after its alert.raised, so not yet
	// perhaps for the last ones): not timed, a check that the raiser
	// completed its work.
	for deadline := time.Now().Add(alertWait); w.notified.Load() < uint64(nextReport); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d alerts raised but %d notifications sent within %s", nextReport, w.notified.Load(), alertWait)
		}
	}
	rep.note(fmt.Sprintf("alert latency: each report is a card of a class-A disease or pneumonia of unknown cause in a district of its own (the default first-case rule, a new signal each); the time runs from cases.Service.File returning to the engine (following the ledger) applying the alert.raised event whose Trigger is the card, seen by a waiter woken on the engine's per-event broadcast (no polling); alerts.Service.Run, woken by File, raises it (a stream-info request to catch up, then one acknowledged append) and then appends alert.notified (one recipient, a no-op sender) before it looks again, so concurrent reports queue behind one raiser; the raw baseline is js.PublishMsg of one %d-byte alert.raised event to a stream configured like the ledger until an ordered consumer (as the engine follows the ledger) receives it, with as many concurrent publishers", len(data)))
	return nil
}

// alertRound times reports and raw round trips (of rawBytes each) at
// concurrency conc, per of a kind at a time in abba order over cycles, and
// returns their quantiles. Reports and raw samples are numbered from
// *nextReport and *nextRaw on, which it advances.
func (r *runner) alertRound(ctx context.Context, w *alertWorld, echo *rawEcho, reporters []auth.Principal, conc, per, rawBytes int, nextReport, nextRaw *int) (AlertLatency, error) {
	l := AlertLatency{Concurrency: conc, Reports: per * 2 * cycles, RawSamples: per * 2 * cycles, RawBytes: rawBytes}
	lat := make([]time.Duration, 0, l.Reports)
	raw := make([]time.Duration, 0, l.RawSamples)
	var mu sync.Mutex
	var took time.Duration
	for _, kind := range abba(cycles, "raw", "alert") {
		base := *nextRaw
		if kind == "alert" {
			base = *nextReport
		}
		var done atomic.Uint64
		label := fmt.Sprintf("alert: %s (%d concurrent)", map[string]string{"raw": "raw round trips", "alert": "reports"}[kind], conc)
		stop := track(r.progress, label, 0, uint64(per), done.Load)
		start := time.Now()
		err := parallel(ctx, base, base+per, conc, &done, func(ctx context.Context, i int) error {
			var d time.Duration
			var err error
			if kind == "raw" {
				d, err = echo.roundTrip(ctx, i)
			} else {
				d, err = w.report(ctx, reporters[(i-base)%conc], i)
			}
			if err != nil {
				return err
			}
			mu.Lock()
			if kind == "raw" {
				raw = append(raw, d)
			} else {
				lat = append(lat, d)
			}
			mu.Unlock()
			return nil
		})
		if kind == "alert" {
			took += time.Since(start)
			*nextReport += per
		} else {
			*nextRaw += per
		}
		stop()
		if err != nil {
			return l, err
		}
	}
	slices.Sort(lat)
	slices.Sort(raw)
	l.P50, l.P99, l.Max = quantile(lat, 0.50), quantile(lat, 0.99), lat[len(lat)-1]
	l.RawP50, l.RawP99, l.RawMax = quantile(raw, 0.50), quantile(raw, 0.99), raw[len(raw)-1]
	l.Seconds = took.Seconds()
	return l, nil
}

// historyCards is the mix of the incremental-cost part: a few diseases
// that do not alert on their first case, with their symptom groups.
var historyCards = []struct {
	disease  string
	symptoms []string
}{
	{"influenza", []string{"fever", "cough"}},
	{"hfmd", []string{"fever", "rash", "vesicles"}},
	{"other_diarrhoea", []string{"diarrhoea", "vomiting"}},
	{"dysentery", []string{"fever", "diarrhoea", "abdominal_pain"}},
	{"tb", []string{"cough", "fatigue"}},
}

// historyGen builds the events of the incremental-cost part through the
// registry, so they are valid events.
type historyGen struct {
	reg      *events.Registry
	district events.Region
	n        int
}

func (g *historyGen) filed(k int, at time.Time) (events.Event, caseevents.Filed, error) {
	hc := historyCards[k%len(historyCards)]
	day := events.Day(at)
	card := caseevents.Card{Disease: hc.disease, Diagnosis: caseevents.Clinical, Onset: day, Diagnosed: day, Reported: day,
		Symptoms: hc.symptoms, Residence: g.district + "002", Occupation: "worker", Severity: "mild"}
	g.n++
	p := caseevents.Filed{Hospital: "o-bench", Patient: "p-bench-" + strconv.Itoa(g.n),
		Personal: residents.Sealed{KeyID: "k-bench", Ciphertext: "c2VhbGVk", IDIndex: "aWQ"},
		Card:     card, Groups: caseevents.SymptomGroups(card.Symptoms)}
	e, err := g.reg.New(inMemory, caseevents.TypeFiled, events.Meta{Aggregate: events.Aggregate{Kind: caseevents.Kind, ID: "c-bench-" + strconv.Itoa(g.n)},
		Region: g.district + "001", Actor: events.Actor{Role: string(auth.HospitalReporter), ID: "s-bench"}, Time: at, SealTo: events.CaseSubject("c-bench-" + strconv.Itoa(g.n))}, p)
	return e, p, err
}

// revoked is the revocation of card e (filed as p): it removes the count.
func (g *historyGen) revoked(e events.Event, p caseevents.Filed) (events.Event, caseevents.Reviewed, error) {
	c := caseevents.CountedAs(p.Card, p.Groups, events.Day(e.Time))
	rv := caseevents.Reviewed{Level: caseevents.LevelDistrict, Decision: caseevents.Revoke, Reason: "bench: undo the timed card", Round: 1, Counted: &c}
	out, err := g.reg.New(inMemory, caseevents.TypeReviewed, events.Meta{Aggregate: e.Aggregate, Region: e.Region,
		Actor: events.Actor{Role: string(auth.CDCReviewer), ID: "s-bench-cdc"}, Time: e.Time.Add(time.Second), SealTo: events.CaseSubject(e.Aggregate.ID)}, rv)
	return out, rv, err
}

// seqEngine is an engine fed directly, with the next sequence to give.
type seqEngine struct {
	*alerts.Engine
	seq uint64
}

func (s *seqEngine) apply(e events.Event, p events.Payload) {
	s.seq++
	s.Apply(events.Recorded{Seq: s.seq, Event: e}, p)
}

// alertHistory builds one engine per history length in alertHistories,
// each with the default rules and a history of Poisson(alertPerDay) cards
// a day in one district ending on the same last day, then times
// Engine.Apply of samples new cards on the last day in every engine,
// interleaved in blocks of alertBlock cards. Each timed card is revoked at once
// (untimed), so that every sample meets the same state and the last day
// does not grow with the samples.
func (r *runner) alertHistory(ctx context.Context, samples int) (AlertHistory, error) {
	reg := schemas.Registry().WithKeyring(benchKeyring())
	g := &historyGen{reg: reg, district: "110105"}
	h := AlertHistory{PerDay: alertPerDay, Days: alertHistories, District: g.district}
	ids := make([]string, 0, len(alerts.DefaultRules()))
	for id, rule := range alerts.DefaultRules() {
		ids = append(ids, id)
		h.MaxSpan = max(h.MaxSpan, warning.Span(rule))
	}
	slices.Sort(ids)
	h.Rules = len(ids)
	lastDay := time.Date(2026, 6, 30, 0, 0, 0, 0, events.China())

	engines := make([]*seqEngine, len(alertHistories))
	for i, days := range alertHistories {
		en, cards, err := r.engineWithHistory(ctx, g, ids, lastDay, days)
		if err != nil {
			return h, err
		}
		h.Cards = append(h.Cards, cards)
		engines[i] = en
	}
	h.Samples = samples
	news, err := newCards(g, lastDay, min(samples, 500))
	if err != nil {
		return h, err
	}
	for _, en := range engines { // warm-up, untimed
		for j := range min(samples, 100) {
			news.apply(en, j)
		}
	}
	// Block by block of alertBlock new cards, each block goes to every
	// engine in turn, the order rotating, so that bursts of other load on
	// the machine and the garbage collector's work fall on every history
	// alike, while each engine's maps stay warm within a block.
	fmt.Fprintf(r.progressOrDiscard(), "alert: Engine.Apply of %d new cards per history (%v days), interleaved in blocks of %d\n", h.Samples, alertHistories, alertBlock)
	runtime.GC()
	total := make([]time.Duration, len(engines))
	for b, from := 0, 0; from < samples; b, from = b+1, from+alertBlock {
		if err := ctx.Err(); err != nil {
			return h, err
		}
		to := min(from+alertBlock, samples)
		for k := range engines {
			i := (b + k) % len(engines)
			for j := from; j < to; j++ {
				total[i] += news.apply(engines[i], j)
			}
		}
	}
	for i, en := range engines {
		h.Pending = append(h.Pending, len(en.Pending()))
		h.MeanNS = append(h.MeanNS, float64(total[i].Nanoseconds())/float64(h.Samples))
	}
	return h, nil
}

// engineWithHistory is an engine that applied the default rules (ids) and
// days days of cards ending the day before lastDay's, and how many cards.
// The counts are drawn from the last day backwards, so every history ends
// with the same days; they are applied forwards, as the ledger has them.
func (r *runner) engineWithHistory(ctx context.Context, g *historyGen, ids []string, lastDay time.Time, days int) (*seqEngine, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	en := &seqEngine{Engine: alerts.NewEngine()}
	first := lastDay.AddDate(0, 0, -(days - 1))
	for _, id := range ids {
		p := alertevents.RulePublished{Version: 1, Rule: alerts.DefaultRules()[id], Reason: "default rule"}
		e, err := g.reg.New(inMemory, alertevents.TypeRulePublished, events.Meta{Aggregate: events.Aggregate{Kind: alertevents.KindRule, ID: id},
			Region: events.National, Actor: events.Actor{Role: string(auth.System), ID: "onebook"}, Time: first.Add(-time.Hour).UTC()}, p)
		if err != nil {
			return nil, 0, fmt.Errorf("rule %s: %w", id, err)
		}
		en.apply(e, p)
	}
	rng := rand.New(rand.NewPCG(alertSeed, 0))
	counts := make([]int, days)
	for d := range days {
		counts[days-1-d] = int(poisson(rng, alertPerDay))
	}
	var done atomic.Uint64
	stop := track(r.progress, fmt.Sprintf("alert: history of %d days (days)", days), 0, uint64(days), done.Load)
	defer stop()
	cards := 0
	for d, n := range counts {
		day := first.AddDate(0, 0, d)
		for j := range n {
			e, p, err := g.filed(cards, day.Add(8*time.Hour+time.Duration(j)*time.Minute).UTC())
			if err != nil {
				return nil, 0, err
			}
			en.apply(e, p)
			cards++
		}
		done.Add(1)
	}
	return en, cards, nil
}

// newCard is a card filed on the last day after the history's, and its
// revocation, so that applying both leaves an engine as it was.
type newCard struct {
	filed   events.Event
	fp      caseevents.Filed
	revoked events.Event
	rp      caseevents.Reviewed
}

type newCardList []newCard

// newCards makes n new cards, the same events for every engine.
func newCards(g *historyGen, lastDay time.Time, n int) (newCardList, error) {
	news := make(newCardList, n)
	for j := range news {
		e, p, err := g.filed(j, lastDay.Add(20*time.Hour+time.Duration(j)*time.Millisecond).UTC())
		if err != nil {
			return nil, err
		}
		rv, rp, err := g.revoked(e, p)
		if err != nil {
			return nil, err
		}
		news[j] = newCard{e, p, rv, rp}
	}
	return news, nil
}

// apply applies new card j (cycling) to en, times it, and revokes it.
func (news newCardList) apply(en *seqEngine, j int) time.Duration {
	nw := &news[j%len(news)]
	start := time.Now()
	en.apply(nw.filed, nw.fp)
	took := time.Since(start)
	en.apply(nw.revoked, nw.rp)
	return took
}

// licence returns a valid unified social credit code derived from seed
// (as backend/casestest.Licence).
func licence(seed string) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	sum := sha256.Sum256([]byte(seed))
	b := []byte("91110000")
	for i := 0; len(b) < 17; i++ {
		b = append(b, alphabet[int(sum[i])%10])
	}
	for c := range len(alphabet) {
		if s := string(b) + string(alphabet[c]); orgs.ValidLicence(s) {
			return s
		}
	}
	panic("no check character")
}

// idNumber returns a valid 18-character ID number for person n, born in
// region (6 digits).
func idNumber(region string, n int) string {
	base := fmt.Sprintf("%s19800101%03d", region[:6], n%1000)
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(base[i]-'0') * weights[i]
	}
	return base + string("10X98765432"[sum%11])
}

// patientName returns a Chinese name for patient n.
func patientName(n int) string {
	family := []rune("王李张刘陈杨黄赵吴周")
	given := []rune("伟芳娜敏静丽强磊军洋")
	return string([]rune{family[n%10], given[(n/10)%10], given[(n/100+3)%10]})
}

// alertMode names a latency row and its metrics: sequential (one
// reporter) or concurrent.
func alertMode(l AlertLatency) string {
	if l.Concurrency == 1 {
		return "seq"
	}
	return "conc"
}

// metrics adds the alert part's keys to m.
func (a *AlertResult) metrics(m map[string]float64) {
	for _, l := range a.Latency {
		p := "alert_" + alertMode(l) + "_"
		m[p+"p50_ms"] = ms(l.P50)
		m[p+"p99_ms"] = ms(l.P99)
		m[p+"max_ms"] = ms(l.Max)
		m[p+"raw_p50_ms"] = ms(l.RawP50)
		m[p+"raw_p99_ms"] = ms(l.RawP99)
		m[p+"raw_max_ms"] = ms(l.RawMax)
		m[p+"ratio"] = l.Ratio()
		m[p+"p99_ratio"] = l.RatioP99()
		m[p+"reports"] = float64(l.Reports)
		m[p+"concurrency"] = float64(l.Concurrency)
	}
	h := a.History
	for i, d := range h.Days {
		if i < len(h.MeanNS) {
			m[fmt.Sprintf("alert_history_%dd_ns", d)] = h.MeanNS[i]
		}
	}
	if len(h.MeanNS) == len(alertHistories) {
		m["alert_history_ratio"] = h.Ratio(0, 1)        // 3 years ÷ 30 days
		m["alert_history_beyond_ratio"] = h.Ratio(1, 2) // 6 years ÷ 3 years
	}
}

// rows returns the alert part's table rows. Its figures are informational:
// nothing passes or fails on them.
func (a *AlertResult) rows() []Row {
	var rows []Row
	for _, l := range a.Latency {
		who := "1 reporter, one report at a time"
		if l.Concurrency > 1 {
			who = fmt.Sprintf("%d concurrent reporters", l.Concurrency)
		}
		rows = append(rows, Row{
			Name: "alert " + alertMode(l),
			Workload: fmt.Sprintf("report → alert: %d first-case reports (plague, cholera, pneumonia of unknown cause; a district of its own each) filed by %s, %.1f s; from cases.Service.File returning to the engine applying the alert.raised triggered by the card; baseline %d raw publish → ordered-consumer receipts of a %d-byte alert.raised, %d concurrent; ratio = p50 ÷ raw p50 (p99 ratio %.2f)",
				l.Reports, who, l.Seconds, l.RawSamples, l.RawBytes, l.Concurrency, l.RatioP99()),
			Baseline: fmt.Sprintf("p50 %.2f ms, p99 %.2f ms", ms(l.RawP50), ms(l.RawP99)),
			Measured: fmt.Sprintf("p50 %.2f ms, p99 %.2f ms, max %.2f ms", ms(l.P50), ms(l.P99), ms(l.Max)),
			Ratio:    l.Ratio(), Target: "informational", Met: true,
		})
	}
	h := a.History
	if len(h.MeanNS) == len(alertHistories) {
		work := fmt.Sprintf("Engine.Apply of one new case.filed on the last day (no servers; each revoked at once, untimed), mean of %d per history; %d default rules (longest window %d days); one district × %d diseases and their symptom groups, Poisson(%.0f) cards a day: %d, %d and %d cards over %d, %d and %d days; no raiser (%d, %d and %d signals left pending), so every rule is evaluated for every card; interleaved in blocks of %d cards",
			h.Samples, h.Rules, h.MaxSpan, len(historyCards), h.PerDay, h.Cards[0], h.Cards[1], h.Cards[2], h.Days[0], h.Days[1], h.Days[2],
			h.Pending[0], h.Pending[1], h.Pending[2], alertBlock)
		rows = append(rows, Row{
			Name: "alert history",
			Workload: work + fmt.Sprintf("; ratio = mean with %d days ÷ with %d. The engine clips a rule's window at the first counted day (days before it are unknown), so with %d days the CIDARS percentile rule reads %d days, not %d: the days read grow with the history up to the longest window and no further (alert history beyond compares %d days with %d)",
				h.Days[1], h.Days[0], h.Days[0], h.Days[0], h.MaxSpan, h.Days[2], h.Days[1]),
			Baseline: fmt.Sprintf("history %d d: %.1f µs", h.Days[0], h.MeanNS[0]/1e3),
			Measured: fmt.Sprintf("history %d d: %.1f µs", h.Days[1], h.MeanNS[1]/1e3),
			Ratio:    h.Ratio(0, 1), Target: "≈ 1 (informational)", Met: true,
		}, Row{
			Name:     "alert history beyond",
			Workload: fmt.Sprintf("as alert history, with %d days (beyond the longest rule window) against %d; ratio = mean with %d days ÷ with %d", h.Days[2], h.Days[1], h.Days[2], h.Days[1]),
			Baseline: fmt.Sprintf("history %d d: %.1f µs", h.Days[1], h.MeanNS[1]/1e3),
			Measured: fmt.Sprintf("history %d d: %.1f µs", h.Days[2], h.MeanNS[2]/1e3),
			Ratio:    h.Ratio(1, 2), Target: "≈ 1 (informational)", Met: true,
		})
	}
	return rows
}
