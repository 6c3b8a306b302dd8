package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/casestest"
	"github.com/onebook/onebook/events"
)

// Regions of case reporting in these tests: region A is Beijing's Chaoyang
// district (city 1101), where community A lies; region B is Tianjin's
// Heping district, outside every scope of region A.
const (
	districtA = "110105"
	cityA     = "1101"
	districtB = "120101"
)

// readReason is a reason for reading case data the rules accept.
const readReason = "病例审核核实"

// orgBody is a hospital registration.
func orgBody(name, region string, approve bool) map[string]any {
	sum := sha256.Sum256([]byte(name))
	return map[string]any{"kind": "hospital", "name": name, "region": region, "licence": casestest.Licence(name),
		"docs_hash": hex.EncodeToString(sum[:]), "approve": approve}
}

// registerHospital registers a hospital through the API as admin and
// returns its id.
func registerHospital(t *testing.T, admin client, name, region string, approve bool) string {
	t.Helper()
	var o struct {
		ID       string
		Approved bool
	}
	admin.json("POST", "/orgs", orgBody(name, region, approve), 201, &o)
	if o.ID == "" || o.Approved != approve {
		t.Fatalf("registered hospital %+v (approve %v)", o, approve)
	}
	return o.ID
}

// orgStaffClient creates a staff account acting for an organisation with
// ops staff add --org (its scope is the organisation's region), binds it
// and returns a signed-in client.
func orgStaffClient(t *testing.T, b *backend, role auth.Role, org string) client {
	t.Helper()
	return newStaffClient(t, b, role, "", org)
}

// subject is the account id of a signed-in client.
func subject(t *testing.T, c client) string {
	t.Helper()
	var me struct{ Subject string }
	c.json("GET", "/me", nil, 200, &me)
	return me.Subject
}

// today is the day of filing in China Standard Time.
func today() string { return events.Day(time.Now()) }

// card is a report card of today. With symptoms that belong to no symptom
// group (fatigue) and a disease that does not alert on its first case, a
// card raises no alert.
func card(disease, residence string, symptoms ...string) map[string]any {
	if symptoms == nil {
		symptoms = []string{"fatigue"}
	}
	d := today()
	return map[string]any{"disease": disease, "diagnosis": "clinical", "onset": d, "diagnosed": d, "reported": d,
		"symptoms": symptoms, "residence": residence, "occupation": "worker", "severity": "mild"}
}

// fileBody is a new report card for patient n.
func fileBody(n int, c map[string]any) map[string]any {
	return map[string]any{"patient": map[string]string{"name": casestest.Name(n), "id_number": casestest.IDNumber(districtA, n),
		"phone": "13900000000"}, "card": c}
}

// cardView is the part of a card the tests look at.
type cardView struct {
	ID             string
	Hospital       string
	HospitalRegion string `json:"hospital_region"`
	Status         string
	Level          string
	Round          int
	PatientName    string `json:"patient_name"`
	Card           struct{ Disease string }
}

// fileCard files a card as reporter and returns it.
func fileCard(t *testing.T, reporter client, n int, c map[string]any) cardView {
	t.Helper()
	var v cardView
	reporter.json("POST", "/cases", fileBody(n, c), 201, &v)
	if v.ID == "" || v.Status != "pending" {
		t.Fatalf("filed card %+v", v)
	}
	return v
}

// alertView is the part of an alert the tests look at.
type alertView struct {
	ID     string
	Status string
	Raised struct {
		Rule, Code, Region, Trigger string
	}
}

// waitAlert polls GET /alerts as c until an alert triggered by card id
// has one of the statuses, and returns it.
func waitAlert(t *testing.T, c client, cardID string, statuses ...string) alertView {
	t.Helper()
	return waitAlertFor(t, 30*time.Second, c, cardID, statuses...)
}

// waitAlertFor is waitAlert with a deadline of its own.
func waitAlertFor(t *testing.T, within time.Duration, c client, cardID string, statuses ...string) alertView {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var list struct{ Alerts []alertView }
		c.json("GET", "/alerts", nil, 200, &list)
		for _, a := range list.Alerts {
			if a.Raised.Trigger != cardID {
				continue
			}
			for _, s := range statuses {
				if a.Status == s {
					return a
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert triggered by %s with status %v within %v: %+v", cardID, statuses, within, list.Alerts)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ledgerSize reads the ledger's size from /healthz.
func ledgerSize(t *testing.T, b *backend) uint64 {
	t.Helper()
	return health(t, b).Ledger.Size
}

// errorField returns the error.field of a JSON error answer, failing the
// test if the answer is not one.
func errorField(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error *struct {
			Code    string
			Field   string
			Message string
		}
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not a JSON error: %s", body)
	}
	return e.Error.Field
}

// jsonOf encodes v (test data that always encodes).
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// with returns a copy of a JSON object with key set to v; a key "a.b"
// sets b in the object at a.
func with(m map[string]any, key string, v any) map[string]any {
	out := map[string]any{}
	for k, x := range m {
		out[k] = x
	}
	if outer, inner, ok := strings.Cut(key, "."); ok {
		out[outer] = with(out[outer].(map[string]any), inner, v)
		return out
	}
	if v == nil {
		delete(out, key)
	} else {
		out[key] = v
	}
	return out
}

// TestCaseBadInputOverHTTP sends malformed, mistyped and invalid requests
// to the routes of case reporting and early warning: each gets a 4xx JSON
// error naming the field at fault, never a 5xx, and a refused write
// leaves the ledger as it was.
func TestCaseBadInputOverHTTP(t *testing.T) {
	b := newBackend(t)
	b.start(false)
	admin := staffClient(t, b, auth.Admin, cityA)
	hosp := registerHospital(t, admin, "朝阳坏输入医院", districtA, true)
	reporter := orgStaffClient(t, b, auth.HospitalReporter, hosp)
	reviewer := orgStaffClient(t, b, auth.HospitalReviewer, hosp)
	cdc := staffClient(t, b, auth.CDCReviewer, cityA)
	national := staffClient(t, b, auth.CDCReviewer, "CN")

	pending := fileCard(t, reporter, 1, card("influenza", districtA))
	returned := fileCard(t, reporter, 2, card("influenza", districtA))
	reviewer.json("POST", "/cases/"+returned.ID+"/reviews", map[string]string{"decision": "return", "reason": "发病日期待核实"}, 200, nil)
	plague := fileCard(t, reporter, 3, card("plague", districtA, "fever"))
	alert := waitAlert(t, cdc, plague.ID, "notified")

	valid := map[string]any{"patient": map[string]any{"name": "王伟", "id_number": casestest.IDNumber(districtA, 4), "phone": "13900000000"},
		"card": card("influenza", districtA)}
	c := func(key string, v any) string { return jsonOf(with(valid, "card."+key, v)) }
	p := func(key string, v any) string { return jsonOf(with(valid, "patient."+key, v)) }
	old := time.Now().AddDate(0, 0, -40).In(events.China()).Format(time.DateOnly)
	ancient := time.Now().AddDate(-2, 0, 0).Format(time.DateOnly)
	tomorrow := time.Now().AddDate(0, 0, 2).Format(time.DateOnly)
	correction := map[string]any{"card": card("influenza", districtA), "note": "更正症状"}
	org := orgBody("朝阳新医院", districtA, true)
	rule := ruleBody()
	r := func(key string, v any) string { return jsonOf(with(rule, "rule."+key, v)) }
	long := strings.Repeat("长", 700) // 2,100 bytes

	reading := "&reason=" + readReason
	type req struct {
		name    string
		c       client
		method  string
		path    string
		body    string
		code    int
		field   string
		noField bool // the error is about the body as a whole
	}
	tests := []req{
		// POST /cases
		{"file: malformed", reporter, "POST", "/cases", `{"patient":`, 400, "", true},
		{"file: wrong type", reporter, "POST", "/cases", `{"patient":"王伟","card":{}}`, 400, "patient", false},
		{"file: wrong nested type", reporter, "POST", "/cases", c("symptoms", "cough"), 400, "card.symptoms", false},
		{"file: unknown field", reporter, "POST", "/cases", jsonOf(with(valid, "vip", true)), 400, "vip", false},
		{"file: trailing data", reporter, "POST", "/cases", jsonOf(valid) + ` {}`, 400, "", true},
		{"file: empty body", reporter, "POST", "/cases", ``, 400, "", true},
		{"file: null", reporter, "POST", "/cases", `null`, 400, "card.disease", false},
		{"file: disease", reporter, "POST", "/cases", c("disease", "flu"), 400, "card.disease", false},
		{"file: diagnosis", reporter, "POST", "/cases", c("diagnosis", "likely"), 400, "card.diagnosis", false},
		{"file: onset format", reporter, "POST", "/cases", c("onset", "2026/01/01"), 400, "card.onset", false},
		{"file: diagnosed before onset", reporter, "POST", "/cases", c("diagnosed", "2000-01-01"), 400, "card.diagnosed", false},
		{"file: reported before diagnosed", reporter, "POST", "/cases", jsonOf(with(with(valid, "card.onset", old), "card.reported", "2000-01-01")), 400, "card.reported", false},
		{"file: reported in the future", reporter, "POST", "/cases", c("reported", tomorrow), 400, "card.reported", false},
		{"file: reported long ago", reporter, "POST", "/cases", jsonOf(with(with(with(valid, "card.onset", old), "card.diagnosed", old), "card.reported", old)), 400, "card.reported", false},
		{"file: onset long before", reporter, "POST", "/cases", c("onset", ancient), 400, "card.onset", false},
		{"file: symptom", reporter, "POST", "/cases", c("symptoms", []string{"sneezing"}), 400, "card.symptoms", false},
		{"file: symptom twice", reporter, "POST", "/cases", c("symptoms", []string{"cough", "cough"}), 400, "card.symptoms", false},
		{"file: residence too coarse", reporter, "POST", "/cases", c("residence", cityA), 400, "card.residence", false},
		{"file: residence in no province", reporter, "POST", "/cases", c("residence", "990101"), 400, "card.residence", false},
		{"file: occupation", reporter, "POST", "/cases", c("occupation", "astronaut"), 400, "card.occupation", false},
		{"file: severity", reporter, "POST", "/cases", c("severity", "fine"), 400, "card.severity", false},
		{"file: patient name", reporter, "POST", "/cases", p("name", "王*"), 400, "patient.name", false},
		{"file: patient id number", reporter, "POST", "/cases", p("id_number", "110105198001010000"), 400, "patient.id_number", false},
		{"file: patient phone", reporter, "POST", "/cases", p("phone", "12345"), 400, "patient.phone", false},

		// PUT /cases/{id}
		{"correct: malformed", reporter, "PUT", "/cases/" + returned.ID, `{"card":{`, 400, "", true},
		{"correct: wrong type", reporter, "PUT", "/cases/" + returned.ID, jsonOf(with(correction, "note", 5)), 400, "note", false},
		{"correct: unknown field", reporter, "PUT", "/cases/" + returned.ID, jsonOf(with(correction, "status", "approved")), 400, "status", false},
		{"correct: trailing data", reporter, "PUT", "/cases/" + returned.ID, jsonOf(correction) + `x`, 400, "", true},
		{"correct: empty body", reporter, "PUT", "/cases/" + returned.ID, ` `, 400, "", true},
		{"correct: no note", reporter, "PUT", "/cases/" + returned.ID, jsonOf(with(correction, "note", nil)), 400, "note", false},
		{"correct: card", reporter, "PUT", "/cases/" + returned.ID, jsonOf(with(correction, "card.severity", "grave")), 400, "card.severity", false},
		{"correct: patient", reporter, "PUT", "/cases/" + returned.ID, jsonOf(with(correction, "patient", map[string]any{"name": "王伟", "id_number": "123", "phone": "13900000000"})), 400, "patient.id_number", false},
		{"correct: unknown card", reporter, "PUT", "/cases/c-nope", jsonOf(correction), 404, "", false},

		// POST /cases/{id}/reviews
		{"review: malformed", reviewer, "POST", "/cases/" + pending.ID + "/reviews", `{"decision"}`, 400, "", true},
		{"review: wrong type", reviewer, "POST", "/cases/" + pending.ID + "/reviews", `{"decision":true}`, 400, "decision", false},
		{"review: unknown field", reviewer, "POST", "/cases/" + pending.ID + "/reviews", `{"decision":"approve","level":"national"}`, 400, "level", false},
		{"review: trailing data", reviewer, "POST", "/cases/" + pending.ID + "/reviews", `{"decision":"approve"}]`, 400, "", true},
		{"review: empty body", reviewer, "POST", "/cases/" + pending.ID + "/reviews", ``, 400, "", true},
		{"review: decision", reviewer, "POST", "/cases/" + pending.ID + "/reviews", `{"decision":"maybe"}`, 400, "decision", false},
		{"review: return without reason", reviewer, "POST", "/cases/" + pending.ID + "/reviews", `{"decision":"return"}`, 400, "reason", false},
		{"review: reason too long", reviewer, "POST", "/cases/" + pending.ID + "/reviews", jsonOf(map[string]string{"decision": "revoke", "reason": long}), 400, "reason", false},

		// POST /orgs
		{"org: malformed", admin, "POST", "/orgs", `{"kind":"hospital",`, 400, "", true},
		{"org: wrong type", admin, "POST", "/orgs", jsonOf(with(org, "approve", "yes")), 400, "approve", false},
		{"org: unknown field", admin, "POST", "/orgs", jsonOf(with(org, "owner", "me")), 400, "owner", false},
		{"org: trailing data", admin, "POST", "/orgs", jsonOf(org) + `{}`, 400, "", true},
		{"org: empty body", admin, "POST", "/orgs", ``, 400, "", true},
		{"org: kind", admin, "POST", "/orgs", jsonOf(with(org, "kind", "bank")), 400, "kind", false},
		{"org: name", admin, "POST", "/orgs", jsonOf(with(org, "name", "医")), 400, "name", false},
		{"org: name refused by content security", admin, "POST", "/orgs", jsonOf(with(org, "name", "违禁医院")), 400, "name", false},
		{"org: region", admin, "POST", "/orgs", jsonOf(with(org, "region", "11010")), 400, "region", false},
		{"org: licence", admin, "POST", "/orgs", jsonOf(with(org, "licence", "91110000000000000A")), 400, "licence", false},
		{"org: docs hash", admin, "POST", "/orgs", jsonOf(with(org, "docs_hash", "abc")), 400, "docs_hash", false},

		// POST /alerts/{id}/closure
		{"close: malformed", cdc, "POST", "/alerts/" + alert.ID + "/closure", `{"outcome":"false_alarm"`, 400, "", true},
		{"close: wrong type", cdc, "POST", "/alerts/" + alert.ID + "/closure", `{"outcome":1}`, 400, "outcome", false},
		{"close: unknown field", cdc, "POST", "/alerts/" + alert.ID + "/closure", `{"outcome":"false_alarm","status":"closed"}`, 400, "status", false},
		{"close: trailing data", cdc, "POST", "/alerts/" + alert.ID + "/closure", `{"outcome":"false_alarm"} 1`, 400, "", true},
		{"close: empty body", cdc, "POST", "/alerts/" + alert.ID + "/closure", ``, 400, "", true},
		{"close: outcome", cdc, "POST", "/alerts/" + alert.ID + "/closure", `{"outcome":"fine"}`, 400, "outcome", false},
		{"close: note too long", cdc, "POST", "/alerts/" + alert.ID + "/closure", jsonOf(map[string]string{"outcome": "false_alarm", "note": long}), 400, "note", false},
		{"close: before acknowledgement", cdc, "POST", "/alerts/" + alert.ID + "/closure", `{"outcome":"false_alarm"}`, 409, "", false},

		// PUT /rules/{id}
		{"rule: malformed", national, "PUT", "/rules/bad-input", `{"rule":{]}`, 400, "", true},
		{"rule: wrong type", national, "PUT", "/rules/bad-input", r("level", "six"), 400, "rule.level", false},
		{"rule: unknown field", national, "PUT", "/rules/bad-input", r("window", 7), 400, "window", false},
		{"rule: trailing data", national, "PUT", "/rules/bad-input", jsonOf(rule) + `"`, 400, "", true},
		{"rule: empty body", national, "PUT", "/rules/bad-input", ``, 400, "", true},
		{"rule: id", national, "PUT", "/rules/Bad_Input", jsonOf(rule), 400, "id", false},
		{"rule: method", national, "PUT", "/rules/bad-input", r("method", "magic"), 400, "rule.method", false},
		{"rule: target", national, "PUT", "/rules/bad-input", r("target", "hospital"), 400, "rule.target", false},
		{"rule: codes", national, "PUT", "/rules/bad-input", r("codes", []string{}), 400, "rule.codes", false},
		{"rule: code", national, "PUT", "/rules/bad-input", r("codes", []string{"flu"}), 400, "rule.codes", false},
		{"rule: level", national, "PUT", "/rules/bad-input", r("level", 5), 400, "rule.level", false},
		{"rule: k", national, "PUT", "/rules/bad-input", r("k", 0), 400, "rule.k", false},
		{"rule: negative z", national, "PUT", "/rules/bad-input", r("z", -1), 400, "rule.z", false},
		{"rule: cluster days", national, "PUT", "/rules/bad-input", jsonOf(with(with(rule, "rule.method", "cluster"), "rule.days", 0)), 400, "rule.days", false},
		{"rule: percentile p", national, "PUT", "/rules/bad-input", jsonOf(with(with(rule, "rule.method", "percentile"), "rule.p", 2)), 400, "rule.p", false},
		{"rule: no reason", national, "PUT", "/rules/bad-input", jsonOf(with(rule, "reason", nil)), 400, "reason", false},

		// GET /cases, /cases/{id}
		{"list: no purpose", reporter, "GET", "/cases?reason=" + readReason, "", 400, "purpose", false},
		{"list: unknown purpose", reporter, "GET", "/cases?purpose=curiosity" + reading, "", 400, "purpose", false},
		{"list: no reason", reporter, "GET", "/cases?purpose=case_review", "", 400, "reason", false},
		{"list: status", reporter, "GET", "/cases?purpose=case_review&status=lost" + reading, "", 400, "status", false},
		{"list: level", reporter, "GET", "/cases?purpose=case_review&level=moon" + reading, "", 400, "level", false},
		{"list: limit", reporter, "GET", "/cases?purpose=case_review&limit=0" + reading, "", 400, "limit", false},
		{"list: from", reporter, "GET", "/cases?purpose=case_review&from=yesterday" + reading, "", 400, "from", false},
		{"list: reversed", reporter, "GET", "/cases?purpose=case_review&from=2026-02-02&to=2026-02-01" + reading, "", 400, "to", false},
		{"read: full identity", reporter, "GET", "/cases/" + pending.ID + "?purpose=case_review&full_identity=perhaps" + reading, "", 400, "full_identity", false},
		{"read: full identity for statistics", reporter, "GET", "/cases/" + pending.ID + "?purpose=statistics&full_identity=true" + reading, "", 403, "full_identity", false},

		// GET /cases/counts
		{"counts: no region", cdc, "GET", "/cases/counts", "", 400, "region", false},
		{"counts: bad region", cdc, "GET", "/cases/counts?region=11x", "", 400, "region", false},
		{"counts: community", cdc, "GET", "/cases/counts?region=110105001001", "", 400, "region", false},
		{"counts: bad from", cdc, "GET", "/cases/counts?region=" + districtA + "&from=2026-13-01&to=2026-02-01", "", 400, "from", false},
		{"counts: bad to", cdc, "GET", "/cases/counts?region=" + districtA + "&to=soon", "", 400, "to", false},
		{"counts: reversed", cdc, "GET", "/cases/counts?region=" + districtA + "&from=2026-02-02&to=2026-02-01", "", 400, "to", false},
		{"counts: too long", cdc, "GET", "/cases/counts?region=" + districtA + "&from=2000-01-01&to=2026-02-01", "", 400, "to", false},

		// GET /cases/compare
		{"compare: no code", cdc, "GET", "/cases/compare?region=" + cityA, "", 400, "code", false},
		{"compare: bad code", cdc, "GET", "/cases/compare?region=" + cityA + "&code=sneezing", "", 400, "code", false},
		{"compare: bad disease", cdc, "GET", "/cases/compare?region=" + cityA + "&target=disease&code=respiratory", "", 400, "code", false},
		{"compare: target", cdc, "GET", "/cases/compare?region=" + cityA + "&target=hospital&code=respiratory", "", 400, "target", false},
		{"compare: district", cdc, "GET", "/cases/compare?region=" + districtA + "&code=respiratory", "", 400, "region", false},
		{"compare: day", cdc, "GET", "/cases/compare?region=" + cityA + "&code=respiratory&day=today", "", 400, "day", false},
		{"compare: by", cdc, "GET", "/cases/compare?region=" + cityA + "&code=respiratory&by=c4", "", 400, "by", false},

		// GET /alerts
		{"alerts: region", cdc, "GET", "/alerts?region=eleven", "", 400, "region", false},
		{"alerts: status", cdc, "GET", "/alerts?status=panic", "", 400, "status", false},
	}
	b.settled()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if f, out := refused(t, b, tt.c, tt.method, tt.path, tt.body, tt.code); f != tt.field && !(tt.field == "" && !tt.noField) {
				t.Fatalf("error names field %q, want %q: %s", f, tt.field, out)
			}
		})
	}
}

// refused sends a request (a GET without its body; the query escaped by
// encodeQuery) that must be answered with code and must append nothing to
// the ledger, and returns the field its error names and the answer.
func refused(t *testing.T, b *backend, c client, method, path, body string, code int) (field, out string) {
	t.Helper()
	before := ledgerSize(t, b)
	c.t = t
	if u, q, ok := strings.Cut(path, "?"); ok {
		path = u + "?" + encodeQuery(q)
	}
	var got int
	if method == "GET" {
		got, out = doRaw(t, c, method, path, nil, "")
	} else {
		got, out = doRaw(t, c, method, path, strings.NewReader(body), "application/json")
	}
	if got != code {
		t.Fatalf("%d %s, want %d", got, out, code)
	}
	if after := ledgerSize(t, b); after != before {
		t.Fatalf("the ledger grew from %d to %d", before, after)
	}
	return errorField(t, out), out
}

// encodeQuery escapes the values of a raw query written for reading.
func encodeQuery(q string) string {
	var parts []string
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	return strings.Join(parts, "&")
}

// TestCaseJourney walks case reporting and early warning over HTTP against
// the real backend, without residents: an admin registers and approves a
// hospital and binds its staff; a card is filed, approved by the hospital,
// returned by the district CDC, corrected, and approved up to the national
// level; a plague card raises an alert that the district CDC acknowledges,
// investigates and closes; lists come as CSV; the auditor sees who read
// the card. The ledger verifies afterwards.
func TestCaseJourney(t *testing.T) {
	b := newBackend(t)
	b.start(false)
	base := "http://" + b.httpAddr
	admin := staffClient(t, b, auth.Admin, "11")

	// The hospital: registered, seen unapproved, approved.
	var o struct {
		ID       string
		Approved bool
	}
	admin.json("POST", "/orgs", orgBody("朝阳旅程医院", districtA, false), 201, &o)
	var orgs struct {
		Orgs []struct {
			ID       string
			Approved bool
		}
	}
	admin.json("GET", "/orgs?kind=hospital", nil, 200, &orgs)
	if len(orgs.Orgs) != 1 || orgs.Orgs[0].ID != o.ID || orgs.Orgs[0].Approved {
		t.Fatalf("orgs before approval: %+v", orgs)
	}
	if code, out := admin.do("POST", "/staff", map[string]string{"role": "hospital_reporter", "org": o.ID}); code != 400 || errorField(t, string(out)) != "org" {
		t.Fatalf("staff of an unapproved hospital: %d %s", code, out)
	}
	admin.json("POST", "/orgs/"+o.ID+"/approval", map[string]string{"note": "证照齐全"}, 200, &o)
	if !o.Approved {
		t.Fatalf("approved org %+v", o)
	}
	if code, out := admin.do("POST", "/orgs/"+o.ID+"/approval", map[string]string{}); code != 409 {
		t.Fatalf("second approval: %d %s", code, out)
	}

	// Staff, created by the admin through the API and bound.
	bind := func(role auth.Role, scope, org string) (client, string) {
		t.Helper()
		in := map[string]string{"role": string(role), "label": "旅程"}
		if scope != "" {
			in["scope"] = scope
		}
		if org != "" {
			in["org"] = org
		}
		var ns struct {
			ID         string
			InviteCode string `json:"invite_code"`
		}
		admin.json("POST", "/staff", in, 201, &ns)
		c := client{t: t, base: base}
		var s struct{ Token string }
		c.json("POST", "/auth/staff/bind", map[string]string{"code": "journey-" + ns.ID, "invite_code": ns.InviteCode}, 200, &s)
		c.token = s.Token
		return c, ns.ID
	}
	reporter, _ := bind(auth.HospitalReporter, "", o.ID)
	hospital, _ := bind(auth.HospitalReviewer, "", o.ID)
	district, districtID := bind(auth.CDCReviewer, districtA, "")
	city, _ := bind(auth.CDCReviewer, cityA, "")
	province, _ := bind(auth.CDCReviewer, "11", "")
	auditor, _ := bind(auth.Auditor, "11", "")
	// A national reviewer is beyond a provincial admin's scope: ops creates it.
	if code, out := admin.do("POST", "/staff", map[string]string{"role": "cdc_reviewer", "scope": "CN"}); code != 403 {
		t.Fatalf("provincial admin creating a national account: %d %s", code, out)
	}
	national := staffClient(t, b, auth.CDCReviewer, "CN")

	// The review chain.
	c := fileCard(t, reporter, 1, card("influenza", districtA))
	step := func(r client, decision, reason, status, level string, round int) {
		t.Helper()
		var v cardView
		r.json("POST", "/cases/"+c.ID+"/reviews", map[string]string{"decision": decision, "reason": reason}, 200, &v)
		if v.Status != status || v.Level != level || v.Round != round {
			t.Fatalf("after %s: %+v, want %s at %q round %d", decision, v, status, level, round)
		}
	}
	step(hospital, "approve", "", "pending", "district", 1)
	step(district, "return", "症状填写不全", "returned", "district", 1)
	var v cardView
	reporter.json("PUT", "/cases/"+c.ID, map[string]any{"card": card("influenza", districtA, "fatigue", "myalgia"), "note": "补充症状"}, 200, &v)
	if v.Status != "pending" || v.Level != "hospital" || v.Round != 2 {
		t.Fatalf("corrected %+v", v)
	}
	step(hospital, "approve", "", "pending", "district", 2)
	step(district, "approve", "", "pending", "city", 2)
	step(city, "approve", "", "pending", "province", 2)
	step(province, "approve", "", "pending", "national", 2)
	step(national, "approve", "", "approved", "", 2)

	// Reads: masked, then in full for an investigation.
	read := "/cases/" + c.ID + "?reason=" + url.QueryEscape(readReason) + "&purpose="
	district.json("GET", read+"case_review", nil, 200, &v)
	if v.PatientName == casestest.Name(1) || !strings.Contains(v.PatientName, "*") {
		t.Fatalf("masked read shows %q", v.PatientName)
	}
	district.json("GET", read+"investigation&full_identity=true", nil, 200, &v)
	if v.PatientName != casestest.Name(1) {
		t.Fatalf("full read shows %q, want %q", v.PatientName, casestest.Name(1))
	}
	csvGet := func(c client, path, header string) string {
		t.Helper()
		code, out := doRaw(t, c, "GET", path, nil, "")
		if code != 200 || !strings.HasPrefix(out, "\ufeff"+header+"\n") && !strings.HasPrefix(out, "\ufeff"+header+"\r\n") {
			t.Fatalf("GET %s: %d %.300q", path, code, out)
		}
		return out
	}
	list := csvGet(reporter, "/cases?format=csv&purpose=case_review&reason="+url.QueryEscape(readReason),
		"id,status,level,round,hospital,hospital_region,filed,disease,diagnosis,onset,diagnosed,reported,residence,symptoms,groups,occupation,severity,patient_name,patient_id_number,access_event")
	if !strings.Contains(list, c.ID+",approved,,2,"+o.ID+","+districtA) {
		t.Fatalf("case CSV lacks the approved card:\n%s", list)
	}

	// A plague card: its alert, seen within seconds, then handled.
	filed := time.Now()
	plague := fileCard(t, reporter, 2, card("plague", districtA, "fever", "cough"))
	alert := waitAlertFor(t, 10*time.Second, district, plague.ID, "raised", "notified")
	t.Logf("plague alert %s visible %v after filing", alert.ID, time.Since(filed).Round(time.Millisecond))
	if alert.Raised.Rule != "first-case" || alert.Raised.Code != "plague" || alert.Raised.Region != districtA {
		t.Fatalf("alert %+v", alert)
	}
	waitAlert(t, district, plague.ID, "notified") // acknowledging first would race the notification
	var a struct {
		Status, Findings, Outcome string
	}
	district.json("POST", "/alerts/"+alert.ID+"/acknowledgement", map[string]string{"note": "已接报"}, 200, &a)
	district.json("POST", "/alerts/"+alert.ID+"/investigation", map[string]string{"findings": "输入病例，无续发"}, 200, &a)
	district.json("POST", "/alerts/"+alert.ID+"/closure", map[string]string{"outcome": "cases_no_outbreak"}, 200, &a)
	if a.Status != "closed" || a.Outcome != "cases_no_outbreak" || a.Findings == "" {
		t.Fatalf("closed alert %+v", a)
	}
	if code, out := district.do("POST", "/alerts/"+alert.ID+"/acknowledgement", map[string]string{}); code != 409 {
		t.Fatalf("acknowledging a closed alert: %d %s", code, out)
	}
	var sum struct {
		Acknowledged int
		Open         int
		Ack          *float64 `json:"median_alert_to_ack_seconds"`
		File         *float64 `json:"median_file_to_alert_seconds"`
	}
	district.json("GET", "/alerts", nil, 200, &sum)
	if sum.Acknowledged != 1 || sum.Open != 0 || sum.Ack == nil || sum.File == nil {
		t.Fatalf("alert summary %+v", sum)
	}
	alerts := csvGet(district, "/alerts?format=csv", "id,status,rule,rule_version,method,target,code,region,day,observed,statistic,"+
		"threshold,cases,trigger,filed_at,raised_at,acknowledged_at,closed_at,outcome,file_to_alert_s,alert_to_ack_s")
	if !strings.Contains(alerts, alert.ID+",closed,first-case,") {
		t.Fatalf("alert CSV lacks the closed alert:\n%s", alerts)
	}

	// The audit: who read the card, for what (the read model follows the
	// ledger: poll).
	type caseRead struct{ Staff, Role, What, Purpose, Identity string }
	var reads struct{ Reads []caseRead }
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		auditor.json("GET", "/audit/cases/"+c.ID, nil, 200, &reads)
		modes := map[string]bool{}
		for _, r := range reads.Reads {
			if r.Staff == districtID {
				modes[r.Identity] = true
			}
		}
		if modes["masked"] && modes["full"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit does not show the district's masked and full reads: %+v", reads)
		}
	}
	var byStaff struct {
		Days []struct {
			Reads []struct {
				What     string
				Identity string
				Subjects []string
			}
		}
	}
	auditor.json("GET", "/audit/staff/"+districtID, nil, 200, &byStaff)
	n := 0
	for _, d := range byStaff.Days {
		for _, r := range d.Reads {
			if len(r.Subjects) == 1 && r.Subjects[0] == c.ID {
				n++
			}
		}
	}
	if n < 2 {
		t.Fatalf("the district reviewer's reads of %s: %+v", c.ID, byStaff)
	}
	if code, out := district.do("GET", "/audit/cases/"+c.ID, nil); code != 403 {
		t.Fatalf("a reviewer reading the audit: %d %s", code, out)
	}

	b.settled()
	if code, out := ops(t, append([]string{"verify"}, b.args()...)...); code != 0 {
		t.Fatalf("verify after the journey (%d):\n%s", code, out)
	}
}
