package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/casestest"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/partition"
)

// TestExportsPerCell runs a backend with provinces 31 and 44 and checks
// issue 17's exports and national alerts end to end:
//
//   - a CDC reviewer of 31 exports a view through 31's staff route; the
//     bundle verifies offline with 31's verifier key alone and not with
//     44's, and the export is recorded as an access event in 31's ledger,
//     none in 44's; ops export --cell 31 exports a view only a province
//     keeps, verified likewise;
//   - one cholera card filed in 31 reaches the nation as a figure, and the
//     national first-case alert on its city is recorded in the national
//     ledger; a bundle of national_cases, exported by the national
//     operator (recorded with the office and reason), verifies with the
//     national key alone, every row re-folded from its aggregate events;
//   - after a restart, a second province's first case is recorded as an
//     alert of its own while the first stays recorded once.
func TestExportsPerCell(t *testing.T) {
	b := newBackend(t)
	start := func() {
		b.startWith("--partitions", "31,44", "--small-cell", "1", "--report-interval", "200ms", "--nation-interval", "100ms")
		cellsReady(t, b.httpAddr, false)
	}
	start()
	key := func(cell events.Region) string { return filepath.Join(b.dir, partition.Name(cell), "seal.key.pub") }
	fileCholera(t, b, "31", "310104", 1)

	// A province's staff export, through its own route.
	cdc := cellStaff(t, b, "31", auth.CDCReviewer, "3101")
	code, body := cdc.do("GET", "/exports/case_cards?format=csv&reason=cholera+investigation", nil)
	if code != 200 {
		t.Fatalf("export in province 31: %d %s", code, body)
	}
	dir := unzipBundle(t, body)
	verifyExport(t, dir, key("31"), cellBase(b.httpAddr, "31"), "case_cards", true)
	verifyExport(t, dir, key("44"), "", "case_cards", false)
	if n := exportsLogged(t, client{t: t, base: cellBase(b.httpAddr, "31")}, "export.case_cards"); n != 1 {
		t.Errorf("province 31's ledger records %d exports of case_cards, want 1", n)
	}
	if n := exportsLogged(t, client{t: t, base: cellBase(b.httpAddr, "44")}, "export."); n != 0 {
		t.Errorf("province 44's ledger records %d exports, want none", n)
	}
	dir = filepath.Join(t.TempDir(), "arrivals")
	if code, out := ops(t, append([]string{"export", "province_arrivals", "--cell", "31", "--out", dir}, b.args()...)...); code != 0 {
		t.Fatalf("ops export --cell 31 (%d):\n%s", code, out)
	}
	verifyExport(t, dir, key("31"), "", "province_arrivals", true)

	// The national alert, recorded from 31's figure alone.
	nation := client{t: t, base: cellBase(b.httpAddr, partition.Nation)}
	waitNationalAlert(t, nation, "3101")

	// A national export, by the national operator.
	dir = filepath.Join(t.TempDir(), "national")
	args := append([]string{"export", "national_cases", "--cell", "CN", "--out", dir, "--by", "国家疾控中心 监测处", "--reason", "weekly national report"}, b.args()...)
	if code, out := ops(t, args...); code != 0 {
		t.Fatalf("ops export --cell CN (%d):\n%s", code, out)
	}
	verifyExport(t, dir, key(partition.Nation), cellBase(b.httpAddr, partition.Nation), "national_cases", true)
	verifyExport(t, dir, key("31"), "", "national_cases", false)
	rows, err := os.ReadFile(filepath.Join(dir, "rows.csv"))
	if err != nil || !strings.Contains(string(rows), today()) || !strings.Contains(string(rows), "cholera") {
		t.Errorf("national_cases rows hold no cholera card of %s: %v\n%s", today(), err, rows)
	}
	if n := countEvents(t, nation, `"type":"nation.exported"`, `"by":"国家疾控中心 监测处"`); n != 1 {
		t.Errorf("the national ledger records %d exports by the office, want 1", n)
	}
	// Who exports is recorded, or there is no export.
	anonymous := append([]string{"export", "national_cases", "--cell", "CN", "--out", filepath.Join(t.TempDir(), "anonymous")}, b.args()...)
	if code, out := ops(t, anonymous...); code == 0 || !strings.Contains(out, "by") {
		t.Errorf("ops export --cell CN without --by (%d), want refused naming by:\n%s", code, out)
	}

	// A restart: the alert recorded before is not recorded again, a new one is.
	b.stop()
	start()
	fileCholera(t, b, "44", "440106", 2)
	waitNationalAlert(t, nation, "4401")
	for _, city := range []string{"3101", "4401"} {
		if n := countEvents(t, nation, `"type":"nation.alert.raised"`, `"region":"`+city+`"`); n != 1 {
			t.Errorf("the national ledger records %d first-case alerts on %s, want 1", n, city)
		}
	}
}

// fileCholera files one cholera card (a class A disease: a national alert
// from the first card) in cell for a resident of district, by a hospital
// of the district.
func fileCholera(t *testing.T, b *backend, cell events.Region, district string, n int) {
	t.Helper()
	admin := cellStaff(t, b, cell, auth.Admin, string(cell))
	hospital := registerHospital(t, admin, "霍乱定点医院"+string(cell), district+"001", true)
	reporter := cellOrgStaff(t, b, cell, auth.HospitalReporter, hospital)
	c := card("cholera", district+"002", "diarrhoea")
	reporter.json("POST", "/cases", map[string]any{"patient": map[string]string{"name": casestest.Name(n), "id_number": casestest.IDNumber(district, n),
		"phone": "13900000000"}, "card": c}, 201, nil)
}

// verifyExport runs ops verify-export on dir with key (and url, if any)
// and checks that it passes, or that it fails.
func verifyExport(t *testing.T, dir, key, url, view string, pass bool) {
	t.Helper()
	args := []string{"verify-export", dir, "--key", key}
	if url != "" {
		args = append(args, "--url", url)
	}
	code, out := ops(t, args...)
	ok := code == 0 && strings.Contains(out, "ok   "+dir+": view "+view)
	if ok != pass {
		t.Fatalf("verify-export %s with %s (%d), want passing %v:\n%s", view, key, code, pass, out)
	}
}

// waitNationalAlert waits until /national/alerts answers a recorded
// first-case alert on city today.
func waitNationalAlert(t *testing.T, nation client, city string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second) // a bound on a hang, not a figure
	for {
		var alerts []struct{ Rule, Code, Region, Status string }
		nation.json("GET", "/alerts?from="+today()+"&to="+today(), nil, 200, &alerts)
		for _, a := range alerts {
			if a.Rule == "first-case" && a.Code == "cholera" && a.Region == city && a.Status == "raised" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no national first-case alert on %s: %+v", city, alerts)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exportsLogged counts the access events of a cell's ledger that record
// an export whose name starts with what.
func exportsLogged(t *testing.T, cell client, what string) int {
	t.Helper()
	return countEvents(t, cell, `"type":"access.logged"`, `"what":"`+what)
}

// countEvents walks a cell's ledger through its public route
// (/ledger/events/N) and counts the events holding every one of parts.
func countEvents(t *testing.T, c client, parts ...string) int {
	t.Helper()
	n := 0
	for i := 0; ; i++ {
		code, body := c.do("GET", "/ledger/events/"+strconv.Itoa(i), nil)
		if code == 404 {
			return n
		}
		if code != 200 {
			t.Fatalf("%s/ledger/events/%d: %d %s", c.base, i, code, body)
		}
		all := true
		for _, p := range parts {
			all = all && strings.Contains(string(body), p)
		}
		if all {
			n++
		}
	}
}
