package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/partition"
)

// TestNationFromAggregates runs a backend with provinces 11 and 12 and
// follows one fact from a province to the nation: a resident of 11
// declares a stay in 12; province 11's publisher computes its arrivals
// figure from its own views and appends it to its own ledger, its OUTBOX
// carries it to the national ledger, and the national cell's flows show
// one arrival from 12 in 11 — without the nation holding any raw event.
// (The small-cell threshold is 1 here so that one person makes a figure.)
func TestNationFromAggregates(t *testing.T) {
	b := newBackend(t)
	b.startWith("--partitions", "11,12", "--small-cell", "1", "--report-interval", "200ms")
	cellsReady(t, b.httpAddr, false)
	resident, person := oneMember(t, cellBase(b.httpAddr, "11"), "agg-resident", "张三", "11010519491231002X", "13800138000")
	resident.json("POST", "/me/declarations", map[string]any{"person_id": person, "temperature": 36.5, "visited": []string{"120101"}}, 201, nil)

	nation := client{t: t, base: cellBase(b.httpAddr, partition.Nation)}
	today := events.Day(time.Now())
	var flows []struct {
		Day, From, To string
		Arrivals      int64
	}
	deadline := time.Now().Add(90 * time.Second) // a bound on a hang, not a figure
	for {
		nation.json("GET", "/flows?from="+today+"&to="+today, nil, 200, &flows)
		if len(flows) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(flows) != 1 || flows[0].From != "12" || flows[0].To != "11" || flows[0].Arrivals != 1 || flows[0].Day != today {
		t.Fatalf("national flows: %+v, want one arrival from 12 in 11 on %s", flows, today)
	}

	// The national ledger holds the province's figure and no raw event.
	held := 0
	for i := 0; ; i++ {
		code, body := nation.do("GET", "/ledger/events/"+strconv.Itoa(i), nil)
		if code == 404 {
			break
		}
		if code != 200 {
			t.Fatalf("national event %d: %d %s", i, code, body)
		}
		if !strings.Contains(string(body), `"type":"aggregate.`) && !strings.Contains(string(body), `"type":"nation.`) {
			t.Errorf("the national ledger holds a raw event at %d: %s", i, body)
		}
		held++
	}
	if held == 0 {
		t.Error("the national ledger holds nothing")
	}

	// Province 11's views, its figures' sources among them, are what its
	// ledger says.
	if code, out := ops(t, append([]string{"verify", "--cell", "11"}, b.args()...)...); code != 0 || !strings.Contains(out, "province_arrivals") {
		t.Errorf("ops verify --cell 11 (%d):\n%s", code, out)
	}

	// The other views answer, and a bad range names its field.
	for _, p := range []string{"/cases", "/donations", "/alerts"} {
		nation.json("GET", p+"?from="+today+"&to="+today, nil, 200, nil)
	}
	if code, body := nation.do("GET", "/cases?from=yesterday", nil); code != 400 || !strings.Contains(string(body), "from") {
		t.Errorf("GET /national/cases?from=yesterday: %d %s, want 400 naming from", code, body)
	}
}
