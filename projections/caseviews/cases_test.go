package caseviews_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/access"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/caseviews"
	"github.com/onebook/onebook/projections/memstore"
	"github.com/onebook/onebook/projections/projectiontest"
)

func registry() *events.Registry {
	reg := events.NewRegistry().WithKeyring(events.NewMemoryKeyring())
	caseevents.Register(reg)
	alertevents.Register(reg)
	access.Register(reg)
	return reg
}

var (
	reporter = events.Actor{Role: "reporter", ID: "rep-1"}
	reviewer = events.Actor{Role: "cdc_staff", ID: "rv-1"}
	system   = events.Actor{Role: "system", ID: "warning"}
	// t0 is 2026-11-25 10:00 CST.
	t0 = time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// ledger builds validated events in ledger order.
type ledger struct{ *projectiontest.Ledger }

func newLedger(t *testing.T) *ledger {
	return &ledger{&projectiontest.Ledger{T: t, Reg: registry()}}
}

// hospitalRegion is the region of every reporting hospital here.
const hospitalRegion = events.Region("110105")

func card(residence events.Region, disease string, symptoms ...string) caseevents.Card {
	return caseevents.Card{Disease: disease, Diagnosis: caseevents.Clinical, Onset: "2026-11-20", Diagnosed: "2026-11-21",
		Reported: "2026-11-21", Symptoms: symptoms, Residence: residence, Occupation: "student", Severity: "mild"}
}

func (l *ledger) file(id string, at time.Time, c caseevents.Card) {
	l.T.Helper()
	l.Add(caseevents.TypeFiled, events.Aggregate{Kind: caseevents.Kind, ID: id}, hospitalRegion, reporter, at, caseevents.Filed{
		Hospital: "h-1", Patient: "p-" + id, Personal: residents.Sealed{KeyID: "k", Ciphertext: "c", IDIndex: "i"},
		Card: c, Groups: caseevents.SymptomGroups(c.Symptoms)})
}

func (l *ledger) correct(id string, at time.Time, c caseevents.Card, previous caseevents.Counted) {
	l.T.Helper()
	l.Add(caseevents.TypeCorrected, events.Aggregate{Kind: caseevents.Kind, ID: id}, hospitalRegion, reporter, at, caseevents.Corrected{
		Card: c, Groups: caseevents.SymptomGroups(c.Symptoms), Note: "residence corrected", Previous: previous})
}

func (l *ledger) review(id string, at time.Time, level, decision string, round int, counted *caseevents.Counted) {
	l.T.Helper()
	p := caseevents.Reviewed{Level: level, Decision: decision, Round: round, Counted: counted}
	if decision != caseevents.Approve {
		p.Reason = "reason for " + decision
	}
	l.Add(caseevents.TypeReviewed, events.Aggregate{Kind: caseevents.Kind, ID: id}, hospitalRegion, reviewer, at, p)
}

// project folds the events through every projection of the package and
// checks them (projectiontest.Fold).
func project(t *testing.T, reg *events.Registry, evs []events.Event) *memstore.Store {
	t.Helper()
	return projectiontest.Fold(t, reg, caseviews.All(), evs)
}

func get[S any](t *testing.T, store projections.DocStore, p projections.Projection, id string) *S {
	t.Helper()
	return projectiontest.Get[S](t, store, p, id)
}

// counts is what a test expects of one case_counts document.
type counts struct {
	key      string
	total    int64
	diseases map[string]int64
	groups   map[string]int64
	children map[string]int64 // child region → total
}

func checkCounts(t *testing.T, store projections.DocStore, want []counts) {
	t.Helper()
	for _, w := range want {
		s := get[caseviews.DayCounts](t, store, caseviews.Counts(), w.key)
		if s == nil {
			t.Errorf("%s: no document", w.key)
			continue
		}
		children := map[string]int64{}
		for ch, c := range s.Children {
			children[ch] = c.Total
			var sum int64
			for _, n := range c.Diseases {
				sum += n
			}
			if sum != c.Total {
				t.Errorf("%s child %s: diseases add up to %d, total %d", w.key, ch, sum, c.Total)
			}
		}
		if w.diseases == nil {
			w.diseases = map[string]int64{}
		}
		if w.groups == nil {
			w.groups = map[string]int64{}
		}
		if w.children == nil {
			w.children = map[string]int64{}
		}
		if s.Total != w.total || !maps.Equal(s.Diseases, w.diseases) || !maps.Equal(s.Groups, w.groups) ||
			!maps.Equal(children, w.children) || s.Anomalies != 0 {
			t.Errorf("%s:\n got total %d diseases %v groups %v children %v anomalies %d\nwant total %d diseases %v groups %v children %v",
				w.key, s.Total, s.Diseases, s.Groups, children, s.Anomalies, w.total, w.diseases, w.groups, w.children)
		}
	}
}

type m = map[string]int64

func TestCountsFiling(t *testing.T) {
	l := newLedger(t)
	l.file("c1", at(0), card("110105001001", "influenza", "fever", "cough"))
	l.file("c2", at(1), card("110106002001", "covid19", "cough", "diarrhoea"))
	l.file("c3", at(2), card("120101001001", "influenza", "fever"))
	l.file("c4", at(3), card("110105", "hepatitis", "myalgia")) // no symptom group
	l.file("c5", at(24*60), card("110105003001", "influenza", "cough"))
	store := project(t, l.Reg, l.Events)
	checkCounts(t, store, []counts{
		{"110105@20261125", 2, m{"influenza": 1, "hepatitis": 1}, m{"respiratory": 1}, nil},
		{"110106@20261125", 1, m{"covid19": 1}, m{"respiratory": 1, "gastrointestinal": 1}, nil},
		{"1101@20261125", 3, m{"influenza": 1, "hepatitis": 1, "covid19": 1}, m{"respiratory": 2, "gastrointestinal": 1},
			m{"110105": 2, "110106": 1}},
		{"11@20261125", 3, m{"influenza": 1, "hepatitis": 1, "covid19": 1}, m{"respiratory": 2, "gastrointestinal": 1}, m{"1101": 3}},
		{"120101@20261125", 1, m{"influenza": 1}, m{"fever": 1}, nil},
		{"1201@20261125", 1, m{"influenza": 1}, m{"fever": 1}, m{"120101": 1}},
		{"12@20261125", 1, m{"influenza": 1}, m{"fever": 1}, m{"1201": 1}},
		{"CN@20261125", 4, m{"influenza": 2, "hepatitis": 1, "covid19": 1}, m{"respiratory": 2, "gastrointestinal": 1, "fever": 1},
			m{"11": 3, "12": 1}},
		{"110105@20261126", 1, m{"influenza": 1}, m{"respiratory": 1}, nil},
		{"CN@20261126", 1, m{"influenza": 1}, m{"respiratory": 1}, m{"11": 1}},
	})
	// The city's documents alone break the counts down by district.
	s := get[caseviews.DayCounts](t, store, caseviews.Counts(), "1101@20261125")
	want := caseviews.ChildCounts{Total: 1, Diseases: m{"covid19": 1}, Groups: m{"respiratory": 1, "gastrointestinal": 1}}
	if !reflect.DeepEqual(s.Children["110106"], want) || s.Region != "1101" || s.Day != "2026-11-25" {
		t.Errorf("city doc: %+v", s)
	}
	if n, _ := store.Count(context.Background(), caseviews.Counts()); n != 12 {
		t.Errorf("%d count documents, want 12", n)
	}
}

func TestCountsCSTDay(t *testing.T) {
	tests := []struct {
		at  time.Time
		key string
	}{
		{time.Date(2026, 11, 24, 16, 30, 0, 0, time.UTC), "110105@20261125"}, // 00:30 CST on the 25th
		{time.Date(2026, 11, 24, 16, 0, 0, 0, time.UTC), "110105@20261125"},  // CST midnight
		{time.Date(2026, 11, 24, 15, 59, 59, 999e6, time.UTC), "110105@20261124"},
		{time.Date(2026, 11, 25, 15, 59, 0, 0, time.UTC), "110105@20261125"}, // 23:59 CST
	}
	for _, tt := range tests {
		t.Run(tt.at.Format(time.RFC3339Nano), func(t *testing.T) {
			l := newLedger(t)
			l.file("c1", tt.at, card("110105001001", "influenza", "cough"))
			store := project(t, l.Reg, l.Events)
			day := tt.key[len(tt.key)-8:]
			checkCounts(t, store, []counts{
				{tt.key, 1, m{"influenza": 1}, m{"respiratory": 1}, nil},
				{"CN@" + day, 1, m{"influenza": 1}, m{"respiratory": 1}, m{"11": 1}},
			})
			c := get[caseviews.Card](t, store, caseviews.Cards(), "c1")
			if want := day[:4] + "-" + day[4:6] + "-" + day[6:]; c.Counted.Day != want {
				t.Errorf("card counted on %s, want %s", c.Counted.Day, want)
			}
		})
	}
}

func TestCountsCorrectionMoves(t *testing.T) {
	first := card("110105001001", "influenza", "cough")
	prev := caseevents.CountedAs(first, caseevents.SymptomGroups(first.Symptoms), "2026-11-25")
	tests := []struct {
		name  string
		moved caseevents.Card
		keys  int // documents the correction touches
		want  []counts
	}{
		{"same district, other disease", card("110105002001", "covid19", "cough", "vomiting"), 4, []counts{
			{"110105@20261125", 1, m{"covid19": 1}, m{"respiratory": 1, "gastrointestinal": 1}, nil},
			{"CN@20261125", 1, m{"covid19": 1}, m{"respiratory": 1, "gastrointestinal": 1}, m{"11": 1}},
		}},
		{"other district of the city", card("110106002001", "influenza", "cough"), 5, []counts{
			{"110105@20261125", 0, nil, nil, nil},
			{"110106@20261125", 1, m{"influenza": 1}, m{"respiratory": 1}, nil},
			{"1101@20261125", 1, m{"influenza": 1}, m{"respiratory": 1}, m{"110106": 1}},
			{"11@20261125", 1, m{"influenza": 1}, m{"respiratory": 1}, m{"1101": 1}},
		}},
		{"other province", card("310101001001", "influenza", "cough"), 7, []counts{ // CN is shared
			{"110105@20261125", 0, nil, nil, nil},
			{"1101@20261125", 0, nil, nil, nil},
			{"11@20261125", 0, nil, nil, nil},
			{"310101@20261125", 1, m{"influenza": 1}, m{"respiratory": 1}, nil},
			{"3101@20261125", 1, m{"influenza": 1}, m{"respiratory": 1}, m{"310101": 1}},
			{"31@20261125", 1, m{"influenza": 1}, m{"respiratory": 1}, m{"3101": 1}},
			{"CN@20261125", 1, m{"influenza": 1}, m{"respiratory": 1}, m{"31": 1}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLedger(t)
			l.file("c1", at(0), first)
			l.review("c1", at(10), caseevents.LevelHospital, caseevents.Return, 1, nil)
			l.correct("c1", at(60), tt.moved, prev)
			store := project(t, l.Reg, l.Events)
			checkCounts(t, store, tt.want)
			e := l.Events[len(l.Events)-1]
			pl, _ := l.Reg.Decode(context.Background(), e)
			if keys := caseviews.Counts().Keys(e, pl); len(keys) != tt.keys {
				t.Errorf("the correction touches %v, want %d documents", keys, tt.keys)
			}
			c := get[caseviews.Card](t, store, caseviews.Cards(), "c1")
			if c.Counted == nil || c.Counted.District != string(tt.moved.Residence[:6]) || c.Counted.Day != "2026-11-25" {
				t.Errorf("card counted %+v", c.Counted)
			}
		})
	}
}

func TestCountsRevocation(t *testing.T) {
	c := card("110105001001", "influenza", "cough")
	counted := caseevents.CountedAs(c, caseevents.SymptomGroups(c.Symptoms), "2026-11-25")
	l := newLedger(t)
	l.file("c1", at(0), c)
	l.file("c2", at(1), c)
	l.review("c1", at(5), caseevents.LevelHospital, caseevents.Approve, 1, nil)
	l.review("c1", at(10), caseevents.LevelDistrict, caseevents.Revoke, 1, &counted)
	store := project(t, l.Reg, l.Events)
	checkCounts(t, store, []counts{
		{"110105@20261125", 1, m{"influenza": 1}, m{"respiratory": 1}, nil},
		{"1101@20261125", 1, m{"influenza": 1}, m{"respiratory": 1}, m{"110105": 1}},
		{"CN@20261125", 1, m{"influenza": 1}, m{"respiratory": 1}, m{"11": 1}},
	})

	// Removing what was never counted clamps at zero and is recorded.
	l.review("c2", at(11), caseevents.LevelHospital, caseevents.Revoke, 1, &counted)
	l.review("c3", at(12), caseevents.LevelHospital, caseevents.Revoke, 1, &counted) // never filed
	store = project(t, l.Reg, l.Events)
	for _, k := range []string{"110105@20261125", "1101@20261125", "11@20261125", "CN@20261125"} {
		s := get[caseviews.DayCounts](t, store, caseviews.Counts(), k)
		if s.Total != 0 || len(s.Diseases) != 0 || len(s.Groups) != 0 || len(s.Children) != 0 || s.Anomalies != 1 {
			t.Errorf("%s: %+v, want zeros and one anomaly", k, *s)
		}
	}
}

func TestCardChain(t *testing.T) {
	first := card("110105001001", "influenza", "cough")
	prev := caseevents.CountedAs(first, caseevents.SymptomGroups(first.Symptoms), "2026-11-25")
	fixed := card("110105001001", "influenza", "cough", "fever")
	l := newLedger(t)
	type state struct {
		status, level string
		round         int
		steps         int
	}
	var want []state
	step := func(f func(), s state) { f(); want = append(want, s) }
	step(func() { l.file("c1", at(0), first) }, state{caseevents.StatusPending, caseevents.LevelHospital, 1, 1})
	step(func() { l.review("c1", at(1), caseevents.LevelHospital, caseevents.Approve, 1, nil) }, state{caseevents.StatusPending, caseevents.LevelDistrict, 1, 2})
	step(func() { l.review("c1", at(2), caseevents.LevelDistrict, caseevents.Return, 1, nil) }, state{caseevents.StatusReturned, caseevents.LevelDistrict, 1, 3})
	step(func() { l.correct("c1", at(3), fixed, prev) }, state{caseevents.StatusPending, caseevents.LevelHospital, 2, 4})
	levels := caseevents.Levels()
	for i, lv := range levels {
		s := state{caseevents.StatusPending, "", 2, 5 + i}
		if i+1 < len(levels) {
			s.level = levels[i+1]
		} else {
			s.status, s.level = caseevents.StatusApproved, caseevents.LevelNational
		}
		step(func() { l.review("c1", at(4+i), lv, caseevents.Approve, 2, nil) }, s)
	}
	for i, w := range want {
		store := project(t, l.Reg, l.Events[:i+1])
		c, found, err := caseviews.ReadCard(context.Background(), store, "c1")
		if err != nil || !found {
			t.Fatal(found, err)
		}
		got := state{c.Status, c.Level, c.Round, len(c.History)}
		if got != w || c.Anomalies != 0 {
			t.Errorf("after step %d (%s): %+v, anomalies %d; want %+v", i+1, l.Events[i].Type, got, c.Anomalies, w)
		}
	}
	c, _, _ := caseviews.ReadCard(context.Background(), project(t, l.Reg, l.Events), "c1")
	if c.Hospital != "h-1" || c.HospitalRegion != string(hospitalRegion) || c.Patient != "p-c1" ||
		c.Filed != "2026-11-25T02:00:00.000000000Z" || c.Updated != "2026-11-25T02:08:00.000000000Z" ||
		!slices.Equal(c.Card.Symptoms, []string{"cough", "fever"}) || !slices.Equal(c.Groups, []string{"respiratory"}) {
		t.Errorf("card %+v", c)
	}
	var steps []string
	for _, s := range c.History {
		steps = append(steps, fmt.Sprintf("%s %s/%s %s %s %d %q", s.Time[11:16], s.Actor.Role, s.Actor.ID, s.Level, s.Decision, s.Round, s.Reason))
	}
	wantSteps := []string{
		`02:00 reporter/rep-1  filed 1 ""`,
		`02:01 cdc_staff/rv-1 hospital approve 1 ""`,
		`02:02 cdc_staff/rv-1 district return 1 "reason for return"`,
		`02:03 reporter/rep-1  corrected 2 "residence corrected"`,
		`02:04 cdc_staff/rv-1 hospital approve 2 ""`,
		`02:05 cdc_staff/rv-1 district approve 2 ""`,
		`02:06 cdc_staff/rv-1 city approve 2 ""`,
		`02:07 cdc_staff/rv-1 province approve 2 ""`,
		`02:08 cdc_staff/rv-1 national approve 2 ""`,
	}
	if !slices.Equal(steps, wantSteps) {
		t.Errorf("history\n got %q\nwant %q", steps, wantSteps)
	}
	if c.Counted == nil || c.Counted.Counted().District != "110105" {
		t.Errorf("counted %+v", c.Counted)
	}
}

func TestCardRevokedAndAnomalies(t *testing.T) {
	c := card("110105001001", "influenza", "cough")
	counted := caseevents.CountedAs(c, caseevents.SymptomGroups(c.Symptoms), "2026-11-25")
	other := counted
	other.District = "110106"
	tests := []struct {
		name      string
		build     func(l *ledger)
		status    string
		level     string
		counted   bool
		anomalies int64
	}{
		{"revoked", func(l *ledger) {
			l.review("c1", at(1), caseevents.LevelHospital, caseevents.Revoke, 1, &counted)
		}, caseevents.StatusRevoked, caseevents.LevelHospital, false, 0},
		{"revocation naming another count", func(l *ledger) {
			l.review("c1", at(1), caseevents.LevelHospital, caseevents.Revoke, 1, &other)
		}, caseevents.StatusRevoked, caseevents.LevelHospital, false, 1},
		{"review by the wrong level", func(l *ledger) {
			l.review("c1", at(1), caseevents.LevelCity, caseevents.Approve, 1, nil)
		}, caseevents.StatusPending, caseevents.LevelProvince, true, 1},
		{"review of the wrong round", func(l *ledger) {
			l.review("c1", at(1), caseevents.LevelHospital, caseevents.Approve, 2, nil)
		}, caseevents.StatusPending, caseevents.LevelDistrict, true, 1},
		{"correction of a card not returned", func(l *ledger) {
			l.correct("c1", at(1), c, counted)
		}, caseevents.StatusPending, caseevents.LevelHospital, true, 1},
		{"review after approval", func(l *ledger) {
			for i, lv := range caseevents.Levels() {
				l.review("c1", at(1+i), lv, caseevents.Approve, 1, nil)
			}
			l.review("c1", at(9), caseevents.LevelNational, caseevents.Return, 1, nil)
		}, caseevents.StatusReturned, caseevents.LevelNational, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLedger(t)
			l.file("c1", at(0), c)
			tt.build(l)
			got := get[caseviews.Card](t, project(t, l.Reg, l.Events), caseviews.Cards(), "c1")
			if got.Status != tt.status || got.Level != tt.level || (got.Counted != nil) != tt.counted || got.Anomalies != tt.anomalies {
				t.Errorf("status %s level %s counted %v anomalies %d; want %s %s %v %d",
					got.Status, got.Level, got.Counted, got.Anomalies, tt.status, tt.level, tt.counted, tt.anomalies)
			}
		})
	}
}

func raised(trigger string, filedAt time.Time) alertevents.Raised {
	return alertevents.Raised{Rule: "r1", RuleVersion: 2, RuleSeq: 7, Method: alertevents.Threshold, Target: alertevents.TargetDisease,
		Code: "cholera", Region: "110105", Day: "2026-11-25", Observed: 1, Statistic: 1, Threshold: 1,
		Cases: []string{trigger}, Trigger: trigger, FiledAt: filedAt, FiledSeq: 41}
}

func (l *ledger) alert(id string, at time.Time, actor events.Actor, p events.Payload) {
	l.T.Helper()
	typ := map[reflect.Type]string{
		reflect.TypeFor[alertevents.Raised]():       alertevents.TypeRaised,
		reflect.TypeFor[alertevents.Notified]():     alertevents.TypeNotified,
		reflect.TypeFor[alertevents.Acknowledged](): alertevents.TypeAcknowledged,
		reflect.TypeFor[alertevents.Investigated](): alertevents.TypeInvestigated,
		reflect.TypeFor[alertevents.Closed]():       alertevents.TypeClosed,
	}[reflect.TypeOf(p)]
	l.Add(typ, events.Aggregate{Kind: alertevents.KindAlert, ID: id}, "110105", actor, at, p)
}

func TestAlertLifecycle(t *testing.T) {
	l := newLedger(t)
	epi := events.Actor{Role: "cdc_staff", ID: "epi-1"}
	l.alert("a1", at(2), system, raised("c1", at(0).Add(-500*time.Millisecond)))
	l.alert("a1", at(3), system, alertevents.Notified{Deliveries: []alertevents.Delivery{
		{Channel: "wechat", Recipient: "epi-1", OK: true}, {Channel: "webhook", Recipient: "hook", OK: false, Error: "timeout"}}})
	l.alert("a1", at(32), epi, alertevents.Acknowledged{Note: "on it"})
	l.alert("a1", at(90), epi, alertevents.Investigated{Findings: "two cases in one household"})
	l.alert("a1", at(300), epi, alertevents.Closed{Outcome: alertevents.OutcomeCases, Note: "contained"})
	l.alert("a2", at(5), system, raised("c2", time.Time{}))
	store := project(t, l.Reg, l.Events)
	ctx := context.Background()

	a, found, err := caseviews.ReadAlert(ctx, store, "a1")
	if err != nil || !found {
		t.Fatal(found, err)
	}
	if a.Status != caseviews.AlertClosed || a.Rule != "r1" || a.RuleVersion != 2 || a.RuleSeq != 7 || a.Code != "cholera" ||
		a.Region != "110105" || a.Trigger != "c1" || a.FiledSeq != 41 || !slices.Equal(a.Cases, []string{"c1"}) ||
		a.RaisedAt != "2026-11-25T02:02:00.000000000Z" || a.FiledAt != "2026-11-25T01:59:59.500000000Z" ||
		a.NotifiedAt != "2026-11-25T02:03:00.000000000Z" || a.AcknowledgedAt != "2026-11-25T02:32:00.000000000Z" ||
		a.InvestigatedAt != "2026-11-25T03:30:00.000000000Z" || a.ClosedAt != "2026-11-25T07:00:00.000000000Z" ||
		*a.AcknowledgedBy != (caseviews.Actor{Role: "cdc_staff", ID: "epi-1"}) || *a.ClosedBy != *a.AcknowledgedBy ||
		a.Outcome != alertevents.OutcomeCases || a.CloseNote != "contained" || a.AckNote != "on it" ||
		a.Findings != "two cases in one household" || len(a.Deliveries) != 2 || a.Deliveries[1].Error != "timeout" || a.Anomalies != 0 {
		t.Errorf("alert %+v", a)
	}
	if a.FileToAlert == nil || *a.FileToAlert != 120.5 || a.AlertToAck == nil || *a.AlertToAck != 30*60 {
		t.Errorf("durations %v %v", a.FileToAlert, a.AlertToAck)
	}

	b, _, _ := caseviews.ReadAlert(ctx, store, "a2")
	if b.Status != caseviews.AlertRaised || b.FileToAlert != nil || b.AlertToAck != nil || b.FiledAt != "" {
		t.Errorf("alert without filing time: %+v", b)
	}

	// Each status as the lifecycle goes.
	for i, want := range []string{caseviews.AlertRaised, caseviews.AlertNotified, caseviews.AlertAcknowledged, caseviews.AlertInvestigated, caseviews.AlertClosed} {
		s := get[caseviews.Alert](t, project(t, l.Reg, l.Events[:i+1]), caseviews.Alerts(), "a1")
		if s.Status != want {
			t.Errorf("after %s: status %s", l.Events[i].Type, s.Status)
		}
	}

	// Out of order: an acknowledgement of an alert never raised, a second
	// acknowledgement, an event after closure.
	l2 := newLedger(t)
	l2.alert("a3", at(1), epi, alertevents.Acknowledged{})
	l2.alert("a3", at(2), system, raised("c3", at(0)))
	l2.alert("a3", at(3), epi, alertevents.Acknowledged{})
	l2.alert("a3", at(4), epi, alertevents.Closed{Outcome: alertevents.OutcomeFalseAlarm})
	l2.alert("a3", at(5), epi, alertevents.Investigated{Findings: "late"})
	s := get[caseviews.Alert](t, project(t, l2.Reg, l2.Events), caseviews.Alerts(), "a3")
	if s.Anomalies != 3 || s.Status != caseviews.AlertClosed || s.AcknowledgedAt != "2026-11-25T02:01:00.000000000Z" {
		t.Errorf("out of order: %+v", s)
	}
}

func f(v float64) *float64 { return &v }

func TestAlertsMedian(t *testing.T) {
	tests := []struct {
		name       string
		alerts     []caseviews.Alert
		file, ack  float64
		n1, n2     int
		unmodified bool
	}{
		{"none", nil, 0, 0, 0, 0, true},
		{"one", []caseviews.Alert{{FileToAlert: f(12), AlertToAck: f(600)}}, 12, 600, 1, 1, true},
		{"odd", []caseviews.Alert{{FileToAlert: f(30)}, {FileToAlert: f(10)}, {FileToAlert: f(20), AlertToAck: f(5)}}, 20, 5, 3, 1, true},
		{"even", []caseviews.Alert{{FileToAlert: f(40), AlertToAck: f(100)}, {FileToAlert: f(10), AlertToAck: f(300)},
			{FileToAlert: f(30)}, {FileToAlert: f(20)}}, 25, 200, 4, 2, true},
		{"unknown filing times", []caseviews.Alert{{}, {AlertToAck: f(60)}, {FileToAlert: f(-1)}}, -1, 60, 1, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fmt.Sprint(tt.alerts)
			file, ack, n1, n2 := caseviews.ReadAlertsMedian(tt.alerts)
			if file != tt.file || ack != tt.ack || n1 != tt.n1 || n2 != tt.n2 {
				t.Errorf("got %v %v %d %d, want %v %v %d %d", file, ack, n1, n2, tt.file, tt.ack, tt.n1, tt.n2)
			}
			if fmt.Sprint(tt.alerts) != before {
				t.Error("the alerts were modified")
			}
		})
	}
}

func TestAlertInfiniteStatistic(t *testing.T) {
	p := raised("c1", t0)
	p.Statistic = math.Inf(1)
	s := caseviews.Alerts().NewState()
	e := events.Event{Type: alertevents.TypeRaised, Aggregate: events.Aggregate{Kind: alertevents.KindAlert, ID: "a1"}, Time: t0}
	if err := caseviews.Alerts().Fold("a1", s, e, p); err != nil {
		t.Fatal(err)
	}
	a := s.(*caseviews.Alert)
	if a.Statistic != math.MaxFloat64 || a.Anomalies != 1 {
		t.Errorf("statistic %v anomalies %d", a.Statistic, a.Anomalies)
	}
	if _, err := json.Marshal(a); err != nil {
		t.Error(err)
	}
}

func TestRules(t *testing.T) {
	l := newLedger(t)
	admin := events.Actor{Role: "cdc_admin", ID: "adm-1"}
	rule := alertevents.Rule{Method: alertevents.EARSC1, Target: alertevents.TargetGroup, Codes: []string{"respiratory"}, Level: 6,
		MinSigma: 0.5, Enabled: true, Description: "ILI"}
	add := func(v int, r alertevents.Rule, min int) {
		l.Add(alertevents.TypeRulePublished, events.Aggregate{Kind: alertevents.KindRule, ID: "r1"}, events.National, admin, at(min),
			alertevents.RulePublished{Version: v, Rule: r, Reason: fmt.Sprintf("version %d", v)})
	}
	add(1, rule, 0)
	r2 := rule
	r2.Method, r2.Z = alertevents.EARSC3, 2.5
	add(2, r2, 10)
	store := project(t, l.Reg, l.Events)
	d, found, err := caseviews.ReadRule(context.Background(), store, "r1")
	if err != nil || !found {
		t.Fatal(found, err)
	}
	if d.ID != "r1" || d.Region != "CN" || d.Version != 2 || !reflect.DeepEqual(d.Rule.Rule(), r2) || len(d.Versions) != 2 ||
		d.Versions[0].Version != 1 || !reflect.DeepEqual(d.Versions[0].Rule.Rule(), rule) || d.Versions[1].Reason != "version 2" ||
		d.Versions[1].Actor != (caseviews.Actor{Role: "cdc_admin", ID: "adm-1"}) || d.Updated != "2026-11-25T02:10:00.000000000Z" || d.Anomalies != 0 {
		t.Errorf("rule %+v", d)
	}
	// A version that skips one, and a stale one.
	add(4, rule, 20)
	add(3, r2, 30)
	d = *get[caseviews.RuleDoc](t, project(t, l.Reg, l.Events), caseviews.Rules(), "r1")
	if d.Version != 4 || !reflect.DeepEqual(d.Rule.Rule(), rule) || len(d.Versions) != 4 || d.Anomalies != 2 {
		t.Errorf("rule after a skipped version: version %d, %d versions, anomalies %d", d.Version, len(d.Versions), d.Anomalies)
	}
}

func (l *ledger) read(staff string, at time.Time, what string, subjects ...string) {
	l.T.Helper()
	l.Add(access.TypeLogged, events.Aggregate{Kind: access.Kind, ID: staff}, "110105", events.Actor{Role: "cdc_staff", ID: staff}, at,
		access.Logged{What: what, Purpose: "case review", Query: map[string]string{"id": "x"}, Results: len(subjects),
			Identity: "masked", Subjects: subjects})
}

func TestReads(t *testing.T) {
	l := newLedger(t)
	l.read("s1", at(0), "case.card", "c1")
	l.read("s1", at(1), "case.list", "c1", "c2", "c1")
	l.read("s1", at(2), "trace.gate")                                               // not case data
	l.read("s2", time.Date(2026, 11, 25, 16, 5, 0, 0, time.UTC), "case.card", "c2") // 00:05 CST on the 26th
	l.read("s1", at(3), "case.search")                                              // nothing named
	store := project(t, l.Reg, l.Events)
	ctx := context.Background()

	r, found, err := caseviews.ReadReads(ctx, store, "c1")
	if err != nil || !found {
		t.Fatal(found, err)
	}
	var got []string
	for _, x := range r.Reads {
		got = append(got, fmt.Sprintf("%s %s %s %s %s %s", x.Time[11:16], x.Staff, x.Role, x.What, x.Purpose, x.Identity))
	}
	want := []string{"02:00 s1 cdc_staff case.card case review masked", "02:01 s1 cdc_staff case.list case review masked"}
	if r.Case != "c1" || !slices.Equal(got, want) || r.Overflow != 0 {
		t.Errorf("reads of c1: %+v\n got %q\nwant %q", r, got, want)
	}
	r, _, _ = caseviews.ReadReads(ctx, store, "c2")
	if len(r.Reads) != 2 || r.Reads[1].Staff != "s2" {
		t.Errorf("reads of c2: %+v", r)
	}
	r, found, err = caseviews.ReadReads(ctx, store, "c9")
	if err != nil || found || r.Reads == nil || len(r.Reads) != 0 || r.Case != "c9" {
		t.Errorf("reads of a case never read: %+v %v %v", r, found, err)
	}

	days, err := caseviews.ReadStaffReads(ctx, store, "s1", "2026-11-24", "2026-11-26")
	if err != nil || len(days) != 3 {
		t.Fatal(days, err)
	}
	if days[0].Day != "2026-11-24" || len(days[0].Reads) != 0 || days[2].Day != "2026-11-26" || len(days[2].Reads) != 0 {
		t.Errorf("empty days: %+v", days)
	}
	d := days[1]
	if d.Staff != "s1" || d.Day != "2026-11-25" || len(d.Reads) != 3 || d.Subjects != 4 ||
		!slices.Equal(d.Reads[1].Subjects, []string{"c1", "c2", "c1"}) || d.Reads[1].Results != 3 || d.Reads[2].What != "case.search" ||
		len(d.Reads[2].Subjects) != 0 {
		t.Errorf("staff day %+v", d)
	}
	days, _ = caseviews.ReadStaffReads(ctx, store, "s2", "2026-11-25", "2026-11-26")
	if len(days[0].Reads) != 0 || len(days[1].Reads) != 1 {
		t.Errorf("s2 read at 00:05 CST: %+v", days)
	}
	if k := caseviews.StaffReadsKey("s2", time.Date(2026, 11, 25, 16, 5, 0, 0, time.UTC)); k != "staff:s2@20261126" {
		t.Errorf("StaffReadsKey = %s", k)
	}
	if get[caseviews.ReadsDoc](t, store, caseviews.Reads(), "staff:s1@20261125") == nil || caseviews.CaseReadsKey("c1") != "case:c1" {
		t.Error("keys")
	}
}

func TestReadsCap(t *testing.T) {
	p := caseviews.Reads()
	caseDoc, staffDoc := p.NewState(), p.NewState()
	subjects := make([]string, 20)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("c%d", i)
	}
	l := access.Logged{What: "case.list", Purpose: "audit test", Identity: "masked", Subjects: subjects}
	n := caseviews.MaxReadsPerDoc + 3
	for i := range n {
		e := events.Event{Type: access.TypeLogged, Aggregate: events.Aggregate{Kind: access.Kind, ID: "s1"},
			Actor: events.Actor{Role: "cdc_staff", ID: "s1"}, Time: t0.Add(time.Duration(i) * time.Second)}
		if err := p.Fold("case:c0", caseDoc, e, l); err != nil {
			t.Fatal(err)
		}
		if err := p.Fold("staff:s1@20261125", staffDoc, e, l); err != nil {
			t.Fatal(err)
		}
	}
	c := caseDoc.(*caseviews.ReadsDoc)
	if len(c.Reads) != caseviews.MaxReadsPerDoc || c.Overflow != 3 {
		t.Errorf("case doc: %d listed, overflow %d", len(c.Reads), c.Overflow)
	}
	s := staffDoc.(*caseviews.ReadsDoc)
	if len(s.StaffReads) != caseviews.MaxReadsPerDoc || s.Overflow != 3 || s.Subjects != caseviews.MaxSubjectsPerDoc {
		t.Errorf("staff doc: %d listed, overflow %d, %d subjects", len(s.StaffReads), s.Overflow, s.Subjects)
	}
	full := caseviews.MaxSubjectsPerDoc / len(subjects)
	if r := s.StaffReads[full-1]; len(r.Subjects) != 20 || r.MoreSubjects != 0 {
		t.Errorf("last read with room: %d subjects, %d more", len(r.Subjects), r.MoreSubjects)
	}
	if r := s.StaffReads[full]; len(r.Subjects) != 0 || r.MoreSubjects != 20 {
		t.Errorf("first read without room: %d subjects, %d more", len(r.Subjects), r.MoreSubjects)
	}
}

func TestReadCountsSeriesCompare(t *testing.T) {
	l := newLedger(t)
	day := func(d int) time.Time { return time.Date(2026, 11, 20+d, 2, 0, 0, 0, time.UTC) } // 10:00 CST on the (20+d)th
	l.file("c1", day(0), card("110105001001", "influenza", "cough"))
	l.file("c2", day(0), card("110106001001", "influenza", "cough", "diarrhoea"))
	l.file("c3", day(2), card("110105001001", "covid19", "cough"))
	l.file("c4", day(2), card("110105001001", "influenza", "diarrhoea"))
	l.file("c5", day(3), card("120101001001", "influenza", "cough"))
	store := &projectiontest.OnlyGet{DocStore: project(t, l.Reg, l.Events)}
	ctx := context.Background()

	cs, err := caseviews.ReadCounts(ctx, store, "110105", "2026-11-19", "2026-11-23")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, fmt.Sprintf("%s %s %d %v %v", c.Region, c.Day, c.Total, c.Diseases, c.Groups))
		if c.Diseases == nil || c.Groups == nil || c.Children == nil {
			t.Errorf("%s: nil maps", c.Day)
		}
	}
	want := []string{
		"110105 2026-11-19 0 map[] map[]",
		"110105 2026-11-20 1 map[influenza:1] map[respiratory:1]",
		"110105 2026-11-21 0 map[] map[]",
		"110105 2026-11-22 2 map[covid19:1 influenza:1] map[gastrointestinal:1 respiratory:1]",
		"110105 2026-11-23 0 map[] map[]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("counts\n got %q\nwant %q", got, want)
	}
	wantCalls := [][]string{{"110105@20261119", "110105@20261120", "110105@20261121", "110105@20261122", "110105@20261123"}}
	if fmt.Sprint(store.Calls) != fmt.Sprint(wantCalls) {
		t.Errorf("Get calls %v, want %v", store.Calls, wantCalls)
	}

	series := []struct {
		region       events.Region
		target, code string
		want         []float64
	}{
		{"110105", alertevents.TargetDisease, "influenza", []float64{0, 1, 0, 1, 0}},
		{"1101", alertevents.TargetDisease, "influenza", []float64{0, 2, 0, 1, 0}},
		{"1101", alertevents.TargetGroup, "respiratory", []float64{0, 2, 0, 1, 0}},
		{"CN", alertevents.TargetGroup, "respiratory", []float64{0, 2, 0, 1, 1}},
		{"11", alertevents.TargetGroup, "gastrointestinal", []float64{0, 1, 0, 1, 0}},
		{"12", alertevents.TargetDisease, "cholera", []float64{0, 0, 0, 0, 0}},
	}
	for _, s := range series {
		got, err := caseviews.ReadSeries(ctx, store, s.region, s.target, s.code, "2026-11-19", "2026-11-23")
		if err != nil || !slices.Equal(got, s.want) {
			t.Errorf("series %s %s %s: %v %v, want %v", s.region, s.target, s.code, got, err, s.want)
		}
	}

	// A full 400 days is read in batches.
	store.Calls = nil
	if cs, err := caseviews.ReadCounts(ctx, store, "CN", "2026-01-01", "2027-02-04"); err != nil || len(cs) != caseviews.MaxDays {
		t.Errorf("400 days: %d, %v", len(cs), err)
	}
	n := 0
	for _, c := range store.Calls {
		if len(c) > 100 {
			t.Errorf("one Get of %d ids", len(c))
		}
		n += len(c)
	}
	if n != caseviews.MaxDays {
		t.Errorf("read %d documents, want %d", n, caseviews.MaxDays)
	}

	compare := []struct {
		parent events.Region
		group  string
		want   map[events.Region][]float64
	}{
		{"1101", "respiratory", map[events.Region][]float64{"110105": {1, 0, 1, 0}, "110106": {1, 0, 0, 0}}},
		{"1101", "gastrointestinal", map[events.Region][]float64{"110105": {0, 0, 1, 0}, "110106": {1, 0, 0, 0}}},
		{"1101", "", map[events.Region][]float64{"110105": {1, 0, 2, 0}, "110106": {1, 0, 0, 0}}},
		{"CN", "", map[events.Region][]float64{"11": {2, 0, 2, 0}, "12": {0, 0, 0, 1}}},
		{"11", "respiratory", map[events.Region][]float64{"1101": {2, 0, 1, 0}}},
		{"31", "", map[events.Region][]float64{}},
	}
	for _, c := range compare {
		got, err := caseviews.ReadCompare(ctx, store, c.parent, c.group, "2026-11-23", 4)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("compare %s %q: %v %v, want %v", c.parent, c.group, got, err, c.want)
		}
	}
}

func TestReadBadInput(t *testing.T) {
	store := memstore.New()
	ctx := context.Background()
	tests := []struct {
		name  string
		read  func() error
		field string
	}{
		{"counts: bad region", func() error {
			_, err := caseviews.ReadCounts(ctx, store, "11010", "2026-11-01", "2026-11-02")
			return err
		}, "region"},
		{"counts: street", func() error {
			_, err := caseviews.ReadCounts(ctx, store, "110105001", "2026-11-01", "2026-11-02")
			return err
		}, "region"},
		{"counts: no region", func() error { _, err := caseviews.ReadCounts(ctx, store, "", "2026-11-01", "2026-11-02"); return err }, "region"},
		{"counts: letters", func() error { _, err := caseviews.ReadCounts(ctx, store, "cn", "2026-11-01", "2026-11-02"); return err }, "region"},
		{"counts: no from", func() error { _, err := caseviews.ReadCounts(ctx, store, "11", "", "2026-11-02"); return err }, "from"},
		{"counts: bad from", func() error { _, err := caseviews.ReadCounts(ctx, store, "11", "2026-11-1", "2026-11-02"); return err }, "from"},
		{"counts: RFC 3339 from", func() error {
			_, err := caseviews.ReadCounts(ctx, store, "11", "2026-11-01T00:00:00Z", "2026-11-02")
			return err
		}, "from"},
		{"counts: bad to", func() error { _, err := caseviews.ReadCounts(ctx, store, "11", "2026-11-01", "2026-02-30"); return err }, "to"},
		{"counts: reversed", func() error { _, err := caseviews.ReadCounts(ctx, store, "11", "2026-11-02", "2026-11-01"); return err }, "to"},
		{"counts: 401 days", func() error { _, err := caseviews.ReadCounts(ctx, store, "CN", "2026-01-01", "2027-02-05"); return err }, "to"},
		{"counts: centuries", func() error { _, err := caseviews.ReadCounts(ctx, store, "CN", "0001-01-01", "9999-12-31"); return err }, "to"},
		{"series: bad region", func() error {
			_, err := caseviews.ReadSeries(ctx, store, "1", "disease", "influenza", "2026-11-01", "2026-11-02")
			return err
		}, "region"},
		{"series: bad target", func() error {
			_, err := caseviews.ReadSeries(ctx, store, "11", "occupation", "student", "2026-11-01", "2026-11-02")
			return err
		}, "target"},
		{"series: unknown disease", func() error {
			_, err := caseviews.ReadSeries(ctx, store, "11", "disease", "flu", "2026-11-01", "2026-11-02")
			return err
		}, "code"},
		{"series: unknown group", func() error {
			_, err := caseviews.ReadSeries(ctx, store, "11", "group", "influenza", "2026-11-01", "2026-11-02")
			return err
		}, "code"},
		{"series: reversed", func() error {
			_, err := caseviews.ReadSeries(ctx, store, "11", "group", "fever", "2026-11-02", "2026-11-01")
			return err
		}, "to"},
		{"compare: district", func() error { _, err := caseviews.ReadCompare(ctx, store, "110105", "", "2026-11-01", 7); return err }, "parent"},
		{"compare: bad parent", func() error { _, err := caseviews.ReadCompare(ctx, store, "1x", "", "2026-11-01", 7); return err }, "parent"},
		{"compare: bad group", func() error { _, err := caseviews.ReadCompare(ctx, store, "11", "flu", "2026-11-01", 7); return err }, "group"},
		{"compare: bad day", func() error { _, err := caseviews.ReadCompare(ctx, store, "11", "", "20261101", 7); return err }, "day"},
		{"compare: no days", func() error { _, err := caseviews.ReadCompare(ctx, store, "11", "", "2026-11-01", 0); return err }, "days"},
		{"compare: too many days", func() error { _, err := caseviews.ReadCompare(ctx, store, "11", "", "2026-11-01", 401); return err }, "days"},
		{"card: no id", func() error { _, _, err := caseviews.ReadCard(ctx, store, ""); return err }, "id"},
		{"card: bad id", func() error { _, _, err := caseviews.ReadCard(ctx, store, "c1@x"); return err }, "id"},
		{"alert: bad id", func() error { _, _, err := caseviews.ReadAlert(ctx, store, "a/1"); return err }, "id"},
		{"rule: bad id", func() error { _, _, err := caseviews.ReadRule(ctx, store, "r 1"); return err }, "id"},
		{"reads: bad case", func() error { _, _, err := caseviews.ReadReads(ctx, store, "case:c1"); return err }, "case"},
		{"staff reads: bad staff", func() error {
			_, err := caseviews.ReadStaffReads(ctx, store, "", "2026-11-01", "2026-11-02")
			return err
		}, "staff"},
		{"staff reads: reversed", func() error {
			_, err := caseviews.ReadStaffReads(ctx, store, "s1", "2026-11-02", "2026-11-01")
			return err
		}, "to"},
		{"staff reads: 32 days", func() error {
			_, err := caseviews.ReadStaffReads(ctx, store, "s1", "2026-11-01", "2026-12-02")
			return err
		}, "to"},
		{"staff reads: bad from", func() error {
			_, err := caseviews.ReadStaffReads(ctx, store, "s1", "yesterday", "2026-12-02")
			return err
		}, "from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *events.Error
			if err := tt.read(); !errors.As(err, &e) || e.Code != events.CodeInvalid || e.Field != tt.field {
				t.Errorf("%v, want invalid %s", err, tt.field)
			}
		})
	}
	// The bounds themselves are accepted.
	if cs, err := caseviews.ReadCounts(ctx, store, "CN", "2026-01-01", "2027-02-04"); err != nil || len(cs) != 400 {
		t.Errorf("400 days: %d %v", len(cs), err)
	}
	if cs, err := caseviews.ReadCounts(ctx, store, "110105", "2026-11-01", "2026-11-01"); err != nil || len(cs) != 1 {
		t.Errorf("one day: %d %v", len(cs), err)
	}
	if ds, err := caseviews.ReadStaffReads(ctx, store, "s1", "2026-11-01", "2026-12-01"); err != nil || len(ds) != 31 {
		t.Errorf("31 days: %d %v", len(ds), err)
	}
	if c, err := caseviews.ReadCompare(ctx, store, "CN", "fever", "2026-11-01", 400); err != nil || len(c) != 0 {
		t.Errorf("compare 400 days: %v %v", c, err)
	}
	if _, found, err := caseviews.ReadCard(ctx, store, "c1"); found || err != nil {
		t.Errorf("missing card: %v %v", found, err)
	}
}

func TestReadUnavailable(t *testing.T) {
	ctx := context.Background()
	store := projectiontest.Failing{}
	reads := map[string]func() error{
		"counts": func() error { _, err := caseviews.ReadCounts(ctx, store, "11", "2026-11-01", "2026-11-02"); return err },
		"series": func() error {
			_, err := caseviews.ReadSeries(ctx, store, "11", "group", "fever", "2026-11-01", "2026-11-02")
			return err
		},
		"compare": func() error { _, err := caseviews.ReadCompare(ctx, store, "11", "", "2026-11-01", 7); return err },
		"card":    func() error { _, _, err := caseviews.ReadCard(ctx, store, "c1"); return err },
		"alert":   func() error { _, _, err := caseviews.ReadAlert(ctx, store, "a1"); return err },
		"rule":    func() error { _, _, err := caseviews.ReadRule(ctx, store, "r1"); return err },
		"reads":   func() error { _, _, err := caseviews.ReadReads(ctx, store, "c1"); return err },
		"staff": func() error {
			_, err := caseviews.ReadStaffReads(ctx, store, "s1", "2026-11-01", "2026-11-02")
			return err
		},
	}
	for name, read := range reads {
		if err := read(); events.ErrorCode(err) != events.CodeUnavailable || !errors.Is(err, projectiontest.ErrDown) {
			t.Errorf("%s: %v, want unavailable wrapping the store's error", name, err)
		}
	}
}

func TestKeys(t *testing.T) {
	if k := caseviews.CountKey("1101", "2026-11-25"); k != "1101@20261125" {
		t.Errorf("CountKey = %s", k)
	}
	// Events of other kinds, and types a registry does not know (nil
	// payload), touch nothing.
	e := events.Event{Type: "unknown.thing", Aggregate: events.Aggregate{Kind: "case", ID: "c1"}, Time: t0}
	for _, p := range caseviews.All() {
		if keys := p.Keys(e, nil); len(keys) != 0 {
			t.Errorf("%s: keys %v of an unknown event", p.Name(), keys)
		}
	}
	names := map[string]bool{}
	for _, p := range caseviews.All() {
		names[p.Name()] = true
	}
	if len(names) != 5 || !names["case_counts"] || !names["case_cards"] || !names["alerts"] || !names["alert_rules"] || !names["case_reads"] {
		t.Errorf("projections %v", names)
	}
}

// TestBSON checks that every document state survives BSON, as stored in
// MongoDB or FerretDB: decoding and re-encoding gives the same document.
func TestBSON(t *testing.T) {
	c := card("110105001001", "influenza", "cough")
	counted := caseevents.CountedAs(c, caseevents.SymptomGroups(c.Symptoms), "2026-11-25")
	l := newLedger(t)
	l.file("c1", at(0), c)
	l.file("c2", at(0), card("310105001001", "hepatitis", "fatigue"))
	l.review("c1", at(1), caseevents.LevelHospital, caseevents.Revoke, 1, &counted)
	l.alert("a1", at(2), system, raised("c1", at(0)))
	l.alert("a1", at(3), system, alertevents.Notified{Deliveries: []alertevents.Delivery{{Channel: "wechat", Recipient: "x", OK: true}}})
	l.alert("a1", at(4), reviewer, alertevents.Acknowledged{})
	l.alert("a2", at(4), system, raised("c2", time.Time{}))
	l.Add(alertevents.TypeRulePublished, events.Aggregate{Kind: alertevents.KindRule, ID: "r1"}, events.National, reviewer, at(5),
		alertevents.RulePublished{Version: 1, Reason: "first", Rule: alertevents.Rule{Method: alertevents.Cluster, Target: alertevents.TargetDisease,
			Codes: []string{"cholera"}, Level: 4, K: 3, Days: 7, Enabled: true}})
	l.read("s1", at(6), "case.card", "c1")
	l.read("s1", at(7), "case.search")
	store := project(t, l.Reg, l.Events)
	n := projectiontest.RoundTripBSON(t, store, caseviews.All())
	if n != 14 { // 7 counts, 2 cards, 2 alerts, 1 rule, 2 reads
		t.Errorf("%d documents checked, want 14", n)
	}
}
