package aggregates

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
)

// The catalogue's codes the tests use: "cholera" is class A (shown from
// one case), "measles" class B.
const (
	classA = "cholera"
	classB = "measles"
)

func TestCaseFigure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cities map[string]CityCount
		want   Cases
	}{
		{"nothing", nil, Cases{Cities: []CityCases{}}},
		{"large cells shown", map[string]CityCount{
			"3101": {Total: 12, Diseases: map[string]int64{classB: 12}, Groups: map[string]int64{"rash": 9, "fever": 2}},
		}, Cases{Total: 12, Cities: []CityCases{{City: "3101", Diseases: map[string]int64{classB: 12}, Groups: map[string]int64{"rash": 9}}}}},
		{"a small disease cell goes to the city's other, or the province's", map[string]CityCount{
			"3101": {Total: 9, Diseases: map[string]int64{classB: 5, "mumps": 4}},
			"3102": {Total: 2, Diseases: map[string]int64{classB: 2}},
		}, Cases{Total: 11, Other: 6, Cities: []CityCases{{City: "3101", Diseases: map[string]int64{classB: 5}, Groups: map[string]int64{}}}}},
		{"a first-case disease is shown from one card", map[string]CityCount{
			"4401": {Total: 1, Diseases: map[string]int64{classA: 1}, Groups: map[string]int64{"gastrointestinal": 1}},
		}, Cases{Total: 1, Cities: []CityCases{{City: "4401", Diseases: map[string]int64{classA: 1}, Groups: map[string]int64{}}}}},
		{"a large other stays with its city", map[string]CityCount{
			"1101": {Total: 6, Diseases: map[string]int64{classB: 3, "mumps": 3}},
		}, Cases{Total: 6, Cities: []CityCases{{City: "1101", Diseases: map[string]int64{}, Groups: map[string]int64{}, Other: 6}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CaseFigure("31", "2026-11-25", 5, tc.cities)
			tc.want.Province, tc.want.Day, tc.want.SmallCell = "31", "2026-11-25", 5
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			got.Revision = 1
			if err := got.Validate(); err != nil {
				t.Fatalf("the figure does not validate: %v", err)
			}
		})
	}
}

func TestCasesValidate(t *testing.T) {
	ok := Cases{Province: "31", Day: "2026-11-25", Revision: 1, SmallCell: 5, Total: 7,
		Cities: []CityCases{{City: "3101", Diseases: map[string]int64{classB: 6, classA: 1}}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid figure refused: %v", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*Cases)
	}{
		{"province", func(c *Cases) { c.Province = "3101" }},
		{"day", func(c *Cases) { c.Day = "25/11/2026" }},
		{"revision", func(c *Cases) { c.Revision = 0 }},
		{"small_cell", func(c *Cases) { c.SmallCell = 0 }},
		{"cities", func(c *Cases) { c.Cities[0].Diseases[classB] = 4; c.Total = 5 }}, // a small cell shown
		{"cities", func(c *Cases) { c.Cities[0].Diseases["flu-x"] = 6; c.Total = 13 }},
		{"cities", func(c *Cases) { c.Cities[0].City = "31" }},
		{"cities", func(c *Cases) { c.Cities[0].Other = 2; c.Total = 9 }},
		{"total", func(c *Cases) { c.Total = 8 }},
	} {
		c := ok
		c.Cities = []CityCases{{City: "3101", Diseases: map[string]int64{classB: 6, classA: 1}}}
		tc.edit(&c)
		var e *events.Error
		if err := c.Validate(); !errors.As(err, &e) || e.Field != tc.field {
			t.Errorf("%s: got %v, want an error naming %s", tc.field, err, tc.field)
		}
	}
}

func TestMoveFigure(t *testing.T) {
	five := func(prefix string, provinces ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i < 5; i++ {
			m[prefix+string(rune('a'+i))] = provinces
		}
		return m
	}
	merge := func(ms ...map[string][]string) map[string][]string {
		out := map[string][]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	for _, tc := range []struct {
		name             string
		today, yesterday map[string][]string
		from             map[string]int64
		other            int64
	}{
		{"nothing", nil, nil, map[string]int64{}, 0},
		{"five from 42", five("p", "42"), nil, map[string]int64{"42": 5}, 0},
		{"declared yesterday already: not again", five("p", "42"), five("p", "42"), map[string]int64{}, 0},
		{"a new province for someone who declared another", five("p", "42", "11"), five("p", "42"), map[string]int64{"11": 5}, 0},
		{"own province and bad codes ignored, one person once", map[string][]string{"x": {"31", "31", "4", "CN"}}, nil, map[string]int64{}, 0},
		{"small cells go to other", merge(five("p", "42"), map[string][]string{"q": {"11"}, "r": {"11", "44"}}), nil,
			map[string]int64{"42": 5}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := MoveFigure("31", "2026-11-25", 5, tc.today, tc.yesterday, false)
			if !reflect.DeepEqual(got.From, tc.from) || got.Other != tc.other {
				t.Fatalf("from %v other %d, want %v and %d", got.From, got.Other, tc.from, tc.other)
			}
			got.Revision = 1
			if err := got.Validate(); err != nil {
				t.Fatalf("the figure does not validate: %v", err)
			}
		})
	}
}

func TestMovesValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		m     Moves
		field string
	}{
		{"own province", Moves{From: map[string]int64{"31": 9}}, "from"},
		{"the country", Moves{From: map[string]int64{"CN": 9}}, "from"},
		{"small cell", Moves{From: map[string]int64{"42": 2}}, "from"},
		{"negative other", Moves{Other: -1}, "other"},
	} {
		tc.m.Province, tc.m.Day, tc.m.Revision, tc.m.SmallCell = "31", "2026-11-25", 1, 5
		var e *events.Error
		if err := tc.m.Validate(); !errors.As(err, &e) || e.Field != tc.field {
			t.Errorf("%s: got %v, want an error naming %s", tc.name, err, tc.field)
		}
	}
}

func TestCountDonation(t *testing.T) {
	line := func(item string, q int64) donationevents.Line {
		return donationevents.Line{Item: item, Spec: "x", Quantity: q}
	}
	lot := func(item string, q int64) donationevents.Lot {
		return donationevents.Lot{Line: line(item, q), Batch: "B1"}
	}
	var tot DonationTotals
	for _, p := range []events.Payload{
		donationevents.Pledged{Lines: []donationevents.Line{line("mask_n95", 1000), line("gloves", 50)}},
		donationevents.Dispatched{Hop: 1, Lots: []donationevents.Lot{lot("mask_n95", 1000)}},
		donationevents.Received{Hop: 1, Lots: []donationevents.Lot{lot("mask_n95", 900)}, Condition: donationevents.Damaged, Flags: []string{donationevents.FlagShort}},
		donationevents.Escalated{Reason: "disagree"},
		donationevents.Consumed{Line: line("mask_n95", 300), Day: "2026-11-25"},
		donationevents.Pledged{Lines: []donationevents.Line{line("not-in-catalogue", 5)}},
		donationevents.Reviewed{},
	} {
		CountDonation(&tot, p)
	}
	want := DonationTotals{Items: map[string]ItemTotals{
		"mask_n95": {Pledged: 1000, Dispatched: 1000, Received: 900, Consumed: 300},
		"gloves":   {Pledged: 50},
	}, Pledges: 2, Hops: 1, Receipts: 1, Short: 1, Damaged: 1, Escalated: 1, Consumed: 1, Unknown: 1}
	if !reflect.DeepEqual(tot, want) {
		t.Fatalf("got  %+v\nwant %+v", tot, want)
	}
	f := DonationFigure("31", "2026-11-25", 5, tot)
	f.Revision = 1
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestDonationDay(t *testing.T) {
	at := time.Date(2026, 11, 24, 17, 0, 0, 0, time.UTC) // 01:00 on the 25th in China
	e := events.Event{Time: at}
	for _, tc := range []struct {
		p    events.Payload
		day  string
		ok   bool
		name string
	}{
		{donationevents.Pledged{}, "2026-11-25", true, "recorded day, CST"},
		{donationevents.Consumed{Day: "2026-11-20"}, "2026-11-20", true, "consumption: the day it names"},
		{donationevents.Reviewed{}, "", false, "a review adds nothing"},
	} {
		if day, ok := DonationDay(e, tc.p); day != tc.day || ok != tc.ok {
			t.Errorf("%s: got %q %v, want %q %v", tc.name, day, ok, tc.day, tc.ok)
		}
	}
}

// TestEventID: the same figure at the same revision has one id; another
// figure or revision has another.
func TestEventID(t *testing.T) {
	agg := Aggregate(FigureCases, "31", "2026-11-25")
	if agg.ID != "cases-31-20261125" {
		t.Fatalf("aggregate id %q", agg.ID)
	}
	a := CaseFigure("31", "2026-11-25", 5, map[string]CityCount{"3101": {Total: 5, Diseases: map[string]int64{classB: 5}}})
	b := a
	b.Total = 6
	id := func(p Cases, rev int) string {
		s, err := EventID(agg, rev, p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if id(a, 1) != id(a, 1) {
		t.Error("the same figure got two ids")
	}
	if id(a, 1) == id(b, 1) || id(a, 1) == id(a, 2) {
		t.Error("different figures or revisions share an id")
	}
	// Known answer: ids must never change between builds, or a restarted
	// publisher would record a figure twice.
	if got := id(Cases{}, 1); got != "82e19bd2-aa1a-5b77-b80d-483e14460ffc" {
		t.Errorf("EventID(Cases{}, 1) = %s, not the id of earlier builds", got)
	}
}

// TestRegistered: the events build through a registry.
func TestRegistered(t *testing.T) {
	r := events.NewRegistry()
	Register(r)
	p := CaseFigure("31", "2026-11-25", 5, nil)
	p.Revision = 1
	e, err := r.New(context.Background(), TypeCases, events.Meta{Aggregate: Aggregate(FigureCases, "31", p.Day), Region: "31",
		Actor: events.Actor{Role: "system", ID: "publisher"}}, p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := events.DecodeAs[Cases](context.Background(), r, e)
	if err != nil || !reflect.DeepEqual(back, p) {
		t.Fatalf("decoded %+v, %v; want %+v", back, err, p)
	}
}
