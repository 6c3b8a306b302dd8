package national

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/nationevents"
	"github.com/onebook/onebook/events/outbox"
	"github.com/onebook/onebook/events/outbox/outboxtest"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/events/schemas"
)

var provinces = []events.Region{"31", "44"}

// cases is a cases figure of one residential city: cards of disease and
// of symptom group.
func cases(province events.Region, day, city string, diseases, groups map[string]int64, revision int) aggregates.Cases {
	cc := aggregates.CityCases{City: city, Diseases: diseases, Groups: groups}
	total := int64(0)
	for _, n := range diseases {
		total += n
	}
	f := aggregates.Cases{Province: province, Day: day, Revision: revision, SmallCell: 5, Total: total, Cities: []aggregates.CityCases{cc}}
	return f
}

// TestNationalAlertFromAggregates runs the whole path on one server with
// three accounts: provinces 31 and 44 append aggregate figures to their
// own ledgers, their OUTBOX streams carry them to the national ledger, and
// the national state, following the national ledger alone, raises
// alerts:
//
//   - first case: one cholera card among residents of Guangzhou (4401),
//     filed by a hospital of Shanghai (31), shown from one card;
//   - EARS C2 on the respiratory cards of residents of Guangdong (44),
//     which 44's hospitals report at a steady 6 a day and which on the
//     last day 31's hospitals add 6 to: 44's own figures (7 that day) stay
//     under the bound; the nation's sum (13) does not;
//
// and a correction (31 revokes its cards: revision 2) takes both away.
func TestNationalAlertFromAggregates(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	nat := newNation(t, ctx)
	last, days, alone := nat.outbreak()
	st := nat.follow(ctx)
	if err := st.WaitFor(ctx, 13); err != nil {
		t.Fatalf("national state: %v", err)
	}

	rules := Rules()
	got := signals(t, st, rules, last)
	for _, want := range []string{"first-case/cholera@4401", "ears-c2/respiratory@44"} {
		if !got[want] {
			t.Errorf("no national alert %s; got %v", want, got)
		}
	}
	if got["ears-c2/respiratory@44"] {
		s := find(t, st, rules, last, "ears-c2", "44")
		if s.Result.Observed != 13 || len(s.Reporting) != 2 {
			t.Errorf("EARS signal %+v: want 13 cards reported by 31 and 44", s)
		}
	}
	// 44's own figures alone do not alarm: the signal needs 31's cards.
	if s := Evaluate(rules, days, alone, len(days)-1); len(s) != 0 {
		t.Errorf("44's figures alone raise %+v", s)
	}

	// 31 corrects its figure of the day: no card left.
	nat.correct(last)
	if err := st.WaitFor(ctx, 14); err != nil {
		t.Fatal(err)
	}
	if got := signals(t, st, rules, last); len(got) != 0 {
		t.Errorf("after the correction: alerts %v, want none", got)
	}
	if st.Anomalies() != 0 {
		t.Errorf("%d anomalies", st.Anomalies())
	}
}

// nation is one server with three accounts: provinces 31 and 44, each
// with its ledger and OUTBOX, and the nation, whose ledger (admitting
// what the national cell appends, as the cell's does) sources both
// OUTBOX streams.
type nation struct {
	t      *testing.T
	reg    *events.Registry
	stores map[events.Region]*ledger.Store
	js     jetstream.JetStream // the nation's
	led    *ledger.Store       // the national ledger
}

func newNation(t *testing.T, ctx context.Context) *nation {
	t.Helper()
	srv := outboxtest.Start(t, provinces)
	n := &nation{t: t, reg: schemas.Registry(), stores: map[events.Region]*ledger.Store{}}
	for _, p := range provinces {
		n.stores[p] = outboxtest.OpenProvince(ctx, t, srv, p)
	}
	_, n.js = outboxtest.Connect(srv, outbox.NationAccount)
	var err error
	n.led, err = ledger.Open(ctx, n.js, ledger.Config{Sources: outbox.Sources(provinces), Admit: partition.National(nationevents.Types())})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// publish appends a province's cases figure to its own ledger, as its
// publisher does.
func (n *nation) publish(f aggregates.Cases) {
	t := n.t
	t.Helper()
	ctx := t.Context()
	agg := aggregates.Aggregate(aggregates.FigureCases, f.Province, f.Day)
	id, err := aggregates.EventID(agg, f.Revision, f)
	if err != nil {
		t.Fatal(err)
	}
	e, err := n.reg.New(ctx, aggregates.TypeCases, events.Meta{ID: id, Aggregate: agg, Region: f.Province,
		Actor: events.Actor{Role: string(auth.System), ID: "province-publisher"}}, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.stores[f.Province].Append(ctx, e, events.ExpectAny()); err != nil {
		t.Fatal(err)
	}
}

// outbreak publishes the figures of TestNationalAlertFromAggregates: 12
// days of 44's respiratory cards (6 a day, 7 on the last), and on the
// last day 31's cards of residents of Guangzhou (6 respiratory, one
// cholera). It returns the last day, every day, and the case counts of
// 44's figures alone.
func (n *nation) outbreak() (last string, days []string, alone []CaseDay) {
	first := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 12 {
		day := first.AddDate(0, 0, i).Format(time.DateOnly)
		k := int64(6)
		if i == 11 {
			k = 7
		}
		f := cases("44", day, "4401", map[string]int64{"influenza": k}, map[string]int64{"respiratory": k}, 1)
		n.publish(f)
		last, days, alone = day, append(days, day), append(alone, SumCases(day, []aggregates.Cases{f}))
	}
	n.publish(cases("31", last, "4401", map[string]int64{"influenza": 6, "cholera": 1}, map[string]int64{"respiratory": 6}, 1))
	return last, days, alone
}

// correct publishes 31's correction of its figure of day: no card left
// (revision 2).
func (n *nation) correct(day string) {
	n.publish(aggregates.Cases{Province: "31", Day: day, Revision: 2, SmallCell: 5, Cities: []aggregates.CityCases{}})
}

// follow starts a national state following the national ledger until
// ctx ends, as a starting national cell does.
func (n *nation) follow(ctx context.Context) *State {
	st := NewState()
	go func() { _ = ledger.Follow(ctx, n.js, n.led.Stream(), n.reg, st) }()
	return st
}

// signals returns the national alerts of day as "rule/code@region".
func signals(t *testing.T, st *State, rules map[string]alertevents.Rule, day string) map[string]bool {
	t.Helper()
	ss, err := st.Signals(rules, day, day)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, s := range ss {
		out[s.Rule+"/"+s.Code+"@"+string(s.Region)] = true
	}
	return out
}

// find returns the signal of rule on region on day.
func find(t *testing.T, st *State, rules map[string]alertevents.Rule, day, rule string, region events.Region) Signal {
	t.Helper()
	ss, err := st.Signals(rules, day, day)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.Rule == rule && s.Region == region {
			return s
		}
	}
	return Signal{}
}
