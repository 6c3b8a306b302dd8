package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/casestest"
	"github.com/onebook/onebook/projections/caseviews"
	"github.com/onebook/onebook/projections/donationviews"
)

// client is an HTTP caller of the test backend with an optional session.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c client) json(method, path string, body any, want int, into any) {
	c.t.Helper()
	code, b := c.do(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s: %d %s (want %d)", method, path, code, b, want)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

const (
	communityA = "110105001001"
	communityB = "110105001002"
)

// signIn signs in through the fake WeChat with a login code.
func signIn(t *testing.T, base, code string) client {
	c := client{t: t, base: base}
	var s struct{ Token string }
	c.json("POST", "/auth/wechat", map[string]string{"code": code}, 200, &s)
	c.token = s.Token
	return c
}

// staffClient creates a staff account with ops staff add, binds it through
// the API and returns a signed-in client.
func staffClient(t *testing.T, b *backend, role auth.Role, scope string) client {
	t.Helper()
	return newStaffClient(t, b, role, scope, "")
}

// newStaffClient is staffClient for an account that may act for an
// organisation (ops staff add --org; the scope may then be left empty).
func newStaffClient(t *testing.T, b *backend, role auth.Role, scope, org string) client {
	t.Helper()
	c, out, ok := tryStaffClient(t, b, role, scope, org)
	if !ok {
		t.Fatalf("staff add: %s", out)
	}
	return c
}

// tryStaffClient is newStaffClient that reports a refused ops staff add
// (ok false, with its output) rather than failing the test.
func tryStaffClient(t *testing.T, b *backend, role auth.Role, scope, org string) (c client, out string, ok bool) {
	t.Helper()
	args := []string{"staff", "add", "--role", string(role)}
	if scope != "" {
		args = append(args, "--scope", scope)
	}
	if org != "" {
		args = append(args, "--org", org)
	}
	code, out := ops(t, append(args, b.args()...)...)
	if code != 0 {
		return client{}, out, false
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	invite := lines[len(lines)-1]
	c = client{t: t, base: "http://" + b.httpAddr}
	var s struct{ Token string }
	c.json("POST", "/auth/staff/bind", map[string]string{"code": fmt.Sprintf("staff-%s-%s%s-%d", role, scope, org, time.Now().UnixNano()), "invite_code": invite}, 200, &s)
	c.token = s.Token
	return c, out, true
}

// TestAuthorizationMatrix calls every authenticated endpoint as every role,
// in and out of the region the data belongs to, and checks who gets through.
func TestAuthorizationMatrix(t *testing.T) {
	b := newBackend(t)
	b.start(false)
	base := "http://" + b.httpAddr

	// The cast: a registered resident of community A with a pass; staff of
	// every role scoped to A (in scope) and to B (out of scope).
	resident, person := oneMember(t, base, "resident-a", "张三", "11010519491231002X", "13800138000")
	var pass struct{ Token string }
	resident.json("GET", "/me/passes/"+person, nil, 200, &pass)
	other := signIn(t, base, "resident-b") // registered in B
	other.json("PUT", "/me/household", map[string]any{"community": communityB, "building": "9",
		"members": []map[string]string{{"name": "李四", "id_number": "110105201001010010", "phone": "13900139000"}}}, 200, nil)

	var visit struct{ ID string }
	window := func(name, id string) map[string]any {
		return map[string]any{"name": name, "id_number": id, "phone": "13700137000", "host_phone": "13800138000",
			"from": time.Now().UTC().Add(-time.Minute), "to": time.Now().UTC().Add(4 * time.Hour)}
	}
	other.json("POST", "/visits", window("访客", "110105198001010024"), 201, &visit) // resident B asks to visit A's household

	pmA := staffClient(t, b, auth.PropertyManager, communityA)
	var gate struct{ ID string }
	pmA.json("POST", "/gates", map[string]string{"community": communityA, "name": "东门"}, 201, &gate)

	// Case reporting needs hospitals: a national admin registers an
	// approved one in region A (district 110105, where community A lies)
	// and one in region B (Tianjin), and one in A left for the approval row.
	setupAdmin := staffClient(t, b, auth.Admin, "CN")
	hospA := registerHospital(t, setupAdmin, "朝阳矩阵医院", districtA, true)
	hospB := registerHospital(t, setupAdmin, "和平矩阵医院", districtB, true)
	unapproved := registerHospital(t, setupAdmin, "朝阳待批医院", districtA, false)
	// Donations need more kinds of organisation, each approved, in A and
	// in B: a charity that pledges and dispatches, a warehouse that
	// receives; and a logistics firm in A that only ever receives (nobody
	// of the cast acts for it, so that a dispatch to it is refused alike
	// for everyone but the holder: see the dispatch rows).
	charityA := registerOrgKind(t, setupAdmin, "charity", "朝阳矩阵慈善会", districtA, true)
	charityB := registerOrgKind(t, setupAdmin, "charity", "和平矩阵慈善会", districtB, true)
	warehouseA := registerOrgKind(t, setupAdmin, "warehouse", "朝阳矩阵仓库", districtA, true)
	warehouseB := registerOrgKind(t, setupAdmin, "warehouse", "和平矩阵仓库", districtB, true)
	logisticsA := registerOrgKind(t, setupAdmin, "logistics", "朝阳矩阵物流", districtA, true)
	orgKind := map[string]string{hospA: "hospital", hospB: "hospital", charityA: "charity", charityB: "charity", warehouseA: "warehouse", warehouseB: "warehouse"}
	orgRegion := map[string]string{hospA: districtA, hospB: districtB, charityA: districtA, charityB: districtB, warehouseA: districtA, warehouseB: districtB}

	type who struct {
		name string
		c    client
		role auth.Role
		in   bool   // scope covers community A (and, for case roles, district and city A)
		org  string // staff acting for an organisation: it
	}
	cast := []who{{"anonymous", client{t: t, base: base}, "", false, ""}, {"resident A", resident, auth.Resident, true, ""}, {"resident B", other, auth.Resident, false, ""}}
	// Scopes in and out of A. Analysts, CDC reviewers, auditors and admins
	// act for a whole city in A (so that district counts and the city's
	// comparison are theirs); out of scope, analysts and admins are in
	// another Beijing district (110106), CDC reviewers and auditors in
	// district B, and so are donation reviewers (donations of A lie in
	// district A, those of B in district B). Hospital staff act for
	// hospital A or hospital B.
	scopes := func(r auth.Role) (in, out string) {
		switch r {
		case auth.GovAnalyst, auth.Admin:
			return cityA, "110106"
		case auth.CDCReviewer, auth.Auditor, auth.DonationReviewer:
			return cityA, districtB
		}
		return communityA, communityB
	}
	for _, r := range auth.StaffRoles() {
		in, out := scopes(r)
		cin, msg, ok := tryStaffClient(t, b, r, in, "")
		if !ok {
			// The role acts for an organisation (hospital staff, and any
			// other role the backend refuses without one): it acts for
			// hospital A in A and for hospital B out of it.
			if !strings.Contains(msg, "org:") {
				t.Fatalf("staff add %s: %s", r, msg)
			}
			cast = append(cast, who{string(r) + " of hospital A", orgStaffClient(t, b, r, hospA), r, true, hospA},
				who{string(r) + " of hospital B", orgStaffClient(t, b, r, hospB), r, false, hospB})
			continue
		}
		cast = append(cast, who{string(r) + " in A", cin, r, true, ""},
			who{string(r) + " out", staffClient(t, b, r, out), r, false, ""})
	}
	// Organisation members act for one organisation each, and what they
	// may do with donations depends on its kind and on what it holds: the
	// org_member of hospital A and B come from the loop above; members of
	// the charities and warehouses of A and B join the cast (in A is the
	// organisation's region). Every row runs for them too, so the rows of
	// the passes and cases check that acting for a charity or a warehouse
	// opens nothing there either.
	for _, o := range []struct {
		name, id string
		in       bool
	}{{"charity A", charityA, true}, {"charity B", charityB, false}, {"warehouse A", warehouseA, true}, {"warehouse B", warehouseB, false}} {
		cast = append(cast, who{"org_member of " + o.name, orgStaffClient(t, b, auth.OrgMember, o.id), auth.OrgMember, o.in, o.id})
	}
	named := func(name string) client {
		for _, w := range cast {
			if w.name == name {
				return w.c
			}
		}
		t.Fatalf("no %s in the cast", name)
		return client{}
	}
	member := func(r auth.Role, in bool) who {
		for _, w := range cast {
			if w.role == r && w.in == in {
				return w
			}
		}
		t.Fatalf("no %s (in %v) in the cast", r, in)
		return who{}
	}
	reporterA, reviewerA, cdcA := member(auth.HospitalReporter, true).c, member(auth.HospitalReviewer, true).c, member(auth.CDCReviewer, true).c

	// Cards of hospital A: one to read, and a plague card whose first-case
	// alert the alert rows use (notified before they start, so that no
	// notification races with the acknowledgement).
	patient := 0
	file := func(t *testing.T, disease string, symptoms ...string) cardView {
		t.Helper()
		patient++
		r := reporterA
		r.t = t
		return fileCard(t, r, patient, card(disease, districtA, symptoms...))
	}
	readCard := file(t, "influenza")
	plague := file(t, "plague", "fever")
	alert := waitAlert(t, cdcA, plague.ID, "notified")
	if alert.Raised.Rule != "first-case" || alert.Raised.Region != districtA {
		t.Fatalf("plague alert %+v", alert)
	}
	// Fresh cards for the rows that change a card: one awaiting the
	// hospital's review, one returned to the reporter.
	pendingCard := func(t *testing.T) string { return "/cases/" + file(t, "influenza").ID }
	returnedCard := func(t *testing.T) string {
		path := pendingCard(t)
		r := reviewerA
		r.t = t
		r.json("POST", path+"/reviews", map[string]string{"decision": "return", "reason": "发病日期待核实"}, 200, nil)
		return path
	}
	reporterID := subject(t, reporterA)
	readQuery := "purpose=case_review&reason=" + url.QueryEscape(readReason)

	n := 0
	scan := func() map[string]any {
		n++
		return map[string]any{"scan_id": fmt.Sprintf("m%d", n), "token": pass.Token, "gate": gate.ID, "direction": "in", "scanned_at": time.Now().UTC()}
	}
	// One scan before the matrix, projected, so traces have a row to show.
	var first struct{ Scan struct{ Seq int64 } }
	pmA.json("POST", "/scans", scan(), 200, &first)
	// Every projection but those of case reporting reads gate events: wait
	// until each has folded this one.
	caseProjections := map[string]bool{} // and donations': none reads gate events
	for _, p := range append(caseviews.All(), donationviews.All()...) {
		caseProjections[p.Name()] = true
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st := b.settled()
		done := true
		for _, p := range st.Projections {
			done = done && (p.Seq >= first.Scan.Seq || caseProjections[p.Name])
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("projections did not reach sequence %d: %+v", first.Scan.Seq, st.Projections)
		}
	}
	type endpoint struct {
		method, path string
		body         func() any
		allowed      func(w who) bool
	}
	// A row is an endpoint with optional parts: the path of each call when
	// every caller needs a fresh object (path is then its pattern), the exact
	// status each refused caller gets (anonymous callers always get 401), and
	// checks of an answer.
	type row struct {
		endpoint
		pathFor func(t *testing.T) string
		refused func(w who) int
		check   func(t *testing.T, w who, code int, out []byte)
	}
	resOnly := func(w who) bool { return w.role == auth.Resident }
	endpoints := []endpoint{
		{"GET", "/me", nil, func(w who) bool { return w.role != "" }},
		{"GET", "/me/household", nil, resOnly},
		{"POST", "/me/declarations", func() any { return map[string]any{"person_id": person, "temperature": 36.6} }, func(w who) bool { return w.role == auth.Resident && w.in }},
		{"GET", "/me/passes/" + person, nil, func(w who) bool { return w.role == auth.Resident && w.in }},
		{"POST", "/gates", func() any {
			return map[string]string{"community": communityA, "name": fmt.Sprintf("门%d", time.Now().UnixNano())}
		},
			func(w who) bool { return w.role == auth.PropertyManager && w.in }},
		{"GET", "/gates/" + gate.ID + "/code", nil, func(w who) bool { return w.role == auth.PropertyManager && w.in }},
		{"POST", "/scans", func() any { return scan() }, func(w who) bool { return (w.role == auth.GateOperator || w.role == auth.PropertyManager) && w.in }},
		{"POST", "/scans/batch", func() any { return map[string]any{"scans": []any{scan()}} }, func(w who) bool {
			return (w.role == auth.GateOperator || w.role == auth.PropertyManager) && w.in
		}},
		{"POST", "/me/checkins", func() any { return map[string]string{"gate": gate.ID, "person_id": person, "direction": "in"} }, func(w who) bool { return w.name == "resident A" }},
		{"POST", "/me/visits", func() any { return window("来客", "110105199002150031") }, resOnly},
		{"GET", "/visits/pending?community=" + communityA, nil, func(w who) bool { return w.role == auth.PropertyManager && w.in }},
		{"POST", "/visits/" + visit.ID + "/decision", func() any { return map[string]any{"approve": false} }, func(w who) bool {
			return w.role == auth.PropertyManager && w.in || w.name == "resident A"
		}},
		{"POST", "/trace/gates", func() any {
			return map[string]any{"gates": []string{gate.ID}, "from": time.Now().UTC().Add(-time.Hour), "to": time.Now().UTC().Add(time.Hour), "purpose": "outbreak_statistics", "reason": "周报统计核查"}
		}, func(w who) bool { return w.role == auth.GovAnalyst && w.in }},
		// Any government analyst may ask; each sees only scans inside their region (checked below).
		{"POST", "/trace/person", func() any {
			return map[string]any{"id_number": "11010519491231002X", "from": time.Now().UTC().Add(-time.Hour), "to": time.Now().UTC().Add(time.Hour), "purpose": "contact_tracing", "reason": "密接排查核实"}
		}, func(w who) bool { return w.role == auth.GovAnalyst }},
		{"GET", "/communities/" + communityA + "/inside", nil, func(w who) bool { return (w.role == auth.PropertyManager || w.role == auth.GovAnalyst) && w.in }},
		{"GET", "/communities/" + communityA + "/daily?date=" + time.Now().Format("2006-01-02"), nil, func(w who) bool {
			return (w.role == auth.PropertyManager || w.role == auth.GovAnalyst) && w.in
		}},
		{"GET", "/communities/" + communityA + "/denied", nil, func(w who) bool { return (w.role == auth.PropertyManager || w.role == auth.GovAnalyst) && w.in }},
		{"GET", "/communities/" + communityA + "/gate-hours", nil, func(w who) bool { return (w.role == auth.PropertyManager || w.role == auth.GovAnalyst) && w.in }},
		// Both analysts are in city 1101: one sees all of its flows, the other (110106) its district's.
		{"GET", "/regions/1101/flows", nil, func(w who) bool { return w.role == auth.GovAnalyst }},
		{"POST", "/staff", func() any { return map[string]string{"role": "gate_operator", "scope": communityA} }, func(w who) bool { return w.role == auth.Admin && w.in }},
		// Last: it revokes the pass the scans above use.
		{"POST", "/me/passes/" + person + "/revoke", nil, func(w who) bool { return w.name == "resident A" }},
	}
	// Case reporting, early warning, organisations and the audit. Refused
	// callers get 403 for a role that may not act at all, 404 where the
	// role may but the object is outside what they see (cards, the audit).
	caseReader := func(r auth.Role) bool {
		return r == auth.HospitalReporter || r == auth.HospitalReviewer || r == auth.CDCReviewer
	}
	alertViewer := func(r auth.Role) bool { return r == auth.CDCReviewer || r == auth.GovAnalyst }
	forbidden := func(who) int { return 403 }
	hidden := func(readers func(auth.Role) bool) func(w who) int {
		return func(w who) int {
			if readers(w.role) {
				return 404
			}
			return 403
		}
	}
	decode := func(t *testing.T, out []byte, into any) {
		t.Helper()
		if err := json.Unmarshal(out, into); err != nil {
			t.Fatalf("%v in %s", err, out)
		}
	}
	orgN, movers := 0, 0
	caseRows := []row{
		// Registered and approved at once: an admin's act.
		{endpoint: endpoint{"POST", "/orgs", func() any {
			orgN++
			return orgBody(fmt.Sprintf("朝阳第%d医院", orgN), districtA, true)
		}, func(w who) bool { return w.role == auth.Admin && w.in }}, refused: forbidden},
		// Applying (approve false): anyone signed in may (an admin approves
		// later), except an admin out of the organisation's region.
		{endpoint: endpoint{"POST", "/orgs (apply)", func() any {
			orgN++
			return orgBody(fmt.Sprintf("朝阳申请%d医院", orgN), districtA, false)
		}, func(w who) bool { return w.role != "" && (w.role != auth.Admin || w.in) }}, pathFor: func(*testing.T) string { return "/orgs" }, refused: forbidden},
		// Any admin may list; each sees the organisations of their scope.
		{endpoint: endpoint{"GET", "/orgs", nil, func(w who) bool { return w.role == auth.Admin }}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code != 200 {
					return
				}
				var l struct{ Orgs []struct{ ID string } }
				decode(t, out, &l)
				seen := map[string]bool{}
				for _, o := range l.Orgs {
					seen[o.ID] = true
				}
				if seen[hospA] != w.in || seen[unapproved] != w.in || seen[hospB] {
					t.Fatalf("admin in A %v lists %s", w.in, out)
				}
			}},
		{endpoint: endpoint{"POST", "/orgs/" + unapproved + "/approval", func() any { return map[string]string{"note": "证照齐全"} },
			func(w who) bool { return w.role == auth.Admin && w.in }}, refused: forbidden},
		// A reporter files for the hospital they act for, whichever it is:
		// the body cannot name another (checked below).
		{endpoint: endpoint{"POST", "/cases", func() any {
			patient++
			return fileBody(patient, card("influenza", districtA))
		}, func(w who) bool { return w.role == auth.HospitalReporter }}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code != 201 {
					return
				}
				var c cardView
				decode(t, out, &c)
				region := map[string]string{hospA: districtA, hospB: districtB}[w.org]
				if c.Hospital != w.org || c.HospitalRegion != region || c.Status != "pending" || c.Level != "hospital" {
					t.Fatalf("a reporter of %s filed %+v", w.org, c)
				}
			}},
		// Every reader may list; each sees the cards of their hospital, or
		// of their scope for CDC reviewers (the CDC reviewer out of scope
		// sees hospital B's card filed above, none of hospital A's).
		{endpoint: endpoint{"GET", "/cases?" + readQuery, nil, func(w who) bool { return caseReader(w.role) }}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code != 200 {
					return
				}
				var l struct {
					Cases  []cardView
					Access string `json:"access_event"`
				}
				decode(t, out, &l)
				sawRead := false
				for _, c := range l.Cases {
					sawRead = sawRead || c.ID == readCard.ID
					if w.org != "" && c.Hospital != w.org || w.role == auth.CDCReviewer && !w.in && c.Hospital == hospA {
						t.Fatalf("%s sees card %+v", w.name, c)
					}
					if !strings.Contains(c.PatientName, "*") {
						t.Fatalf("listed patient not masked: %+v", c)
					}
				}
				if sawRead != w.in || l.Access == "" {
					t.Fatalf("caller in A %v, list %s", w.in, out)
				}
			}},
		{endpoint: endpoint{"GET", "/cases/" + readCard.ID + "?" + readQuery, nil, func(w who) bool { return caseReader(w.role) && w.in }},
			refused: hidden(caseReader),
			check: func(t *testing.T, w who, code int, out []byte) {
				var c cardView
				if code == 200 {
					if decode(t, out, &c); c.ID != readCard.ID || !strings.Contains(c.PatientName, "*") {
						t.Fatalf("read %s", out)
					}
				}
			}},
		// Only the reporter of the card's hospital corrects a returned card.
		{endpoint: endpoint{"PUT", "/cases/{returned card}", func() any {
			return map[string]any{"card": card("influenza", districtA, "fatigue", "myalgia"), "note": "补充症状"}
		}, func(w who) bool { return w.role == auth.HospitalReporter && w.in }}, pathFor: returnedCard, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				var c cardView
				if code == 200 {
					if decode(t, out, &c); c.Status != "pending" || c.Level != "hospital" || c.Round != 2 {
						t.Fatalf("corrected card %s", out)
					}
				}
			}},
		// The hospital's reviewers review first. A CDC reviewer in scope is
		// not refused but told the card is not at their level yet (409).
		{endpoint: endpoint{"POST", "/cases/{pending card}/reviews", func() any { return map[string]string{"decision": "approve"} },
			func(w who) bool { return w.role == auth.HospitalReviewer && w.in }}, pathFor: func(t *testing.T) string { return pendingCard(t) + "/reviews" },
			refused: func(w who) int {
				if w.role == auth.CDCReviewer && w.in {
					return 409
				}
				return 403
			},
			check: func(t *testing.T, w who, code int, out []byte) {
				var c cardView
				if code == 200 {
					if decode(t, out, &c); c.Status != "pending" || c.Level != "district" {
						t.Fatalf("approved card %s", out)
					}
				}
			}},
		{endpoint: endpoint{"GET", "/cases/counts?region=" + districtA, nil, func(w who) bool { return alertViewer(w.role) && w.in }}, refused: forbidden},
		// The link from a card to the pass domain: a CDC reviewer who sees
		// the card; one who does not is told there is no such card.
		{endpoint: endpoint{"POST", "/trace/case", func() any {
			return map[string]any{"case": readCard.ID, "from": time.Now().UTC().Add(-time.Hour), "to": time.Now().UTC().Add(time.Hour), "purpose": "contact_tracing", "reason": "密接排查核实"}
		}, func(w who) bool { return w.role == auth.CDCReviewer && w.in }},
			refused: hidden(func(r auth.Role) bool { return r == auth.CDCReviewer })},
		// A move into resident A's household, confirmed in person: a
		// property manager of A's community (a fresh person of a fresh
		// household in B per call); one of B does not see A's household.
		{endpoint: endpoint{"POST", "/transfers", func() any {
			movers++
			mover := signIn(t, base, fmt.Sprintf("mover-%d", movers))
			id := casestest.IDNumber(districtA, 500+movers)
			mover.json("PUT", "/me/household", map[string]any{"community": communityB, "building": "8",
				"members": []map[string]string{{"name": "迁移人", "id_number": id, "phone": "13700000000"}}}, 200, nil)
			return map[string]string{"id_number": id, "to": subject(t, resident)}
		}, func(w who) bool { return w.role == auth.PropertyManager && w.in }},
			refused: hidden(func(r auth.Role) bool { return r == auth.PropertyManager })},
		// Disabling a staff account: an admin whose scope covers it (a
		// fresh one per call); an admin elsewhere does not see it.
		{endpoint: endpoint{"POST", "/staff/{a fresh gate operator of A}/disable", func() any { return map[string]string{"reason": "离职交接"} },
			func(w who) bool { return w.role == auth.Admin && w.in }},
			pathFor: func(t *testing.T) string {
				admin := member(auth.Admin, true).c
				admin.t = t
				var ns struct{ ID string }
				admin.json("POST", "/staff", map[string]string{"role": "gate_operator", "scope": communityA, "label": "矩阵"}, 201, &ns)
				return "/staff/" + ns.ID + "/disable"
			},
			refused: hidden(func(r auth.Role) bool { return r == auth.Admin })},
		{endpoint: endpoint{"GET", "/cases/compare?region=" + cityA + "&code=respiratory", nil, func(w who) bool { return alertViewer(w.role) && w.in }}, refused: forbidden},
		// Any CDC reviewer or analyst may list; each sees their scope's alerts.
		{endpoint: endpoint{"GET", "/alerts", nil, func(w who) bool { return alertViewer(w.role) }}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code == 200 && strings.Contains(string(out), alert.ID) != w.in {
					t.Fatalf("caller in A %v, alerts %s", w.in, out)
				}
			}},
		// Out of scope an alert is hidden (404), as a card is: alert ids can
		// be computed from rule, series and day.
		{endpoint: endpoint{"GET", "/alerts/" + alert.ID, nil, func(w who) bool { return alertViewer(w.role) && w.in }}, refused: hidden(alertViewer)},
		// The lifecycle, in order: each step by the CDC reviewer in scope.
		{endpoint: endpoint{"POST", "/alerts/" + alert.ID + "/acknowledgement", func() any { return map[string]string{"note": "已接报"} },
			func(w who) bool { return w.role == auth.CDCReviewer && w.in }}, refused: hidden(func(r auth.Role) bool { return r == auth.CDCReviewer })},
		{endpoint: endpoint{"POST", "/alerts/" + alert.ID + "/investigation", func() any { return map[string]string{"findings": "已完成流调"} },
			func(w who) bool { return w.role == auth.CDCReviewer && w.in }}, refused: hidden(func(r auth.Role) bool { return r == auth.CDCReviewer })},
		{endpoint: endpoint{"POST", "/alerts/" + alert.ID + "/closure", func() any { return map[string]string{"outcome": "cases_no_outbreak", "note": "散发病例"} },
			func(w who) bool { return w.role == auth.CDCReviewer && w.in }}, refused: hidden(func(r auth.Role) bool { return r == auth.CDCReviewer }),
			check: func(t *testing.T, w who, code int, out []byte) {
				if code == 200 && !strings.Contains(string(out), `"status":"closed"`) {
					t.Fatalf("closed alert %s", out)
				}
			}},
		{endpoint: endpoint{"GET", "/rules", nil, func(w who) bool { return alertViewer(w.role) }}, refused: forbidden},
		// National scope only: nobody in the cast (a national CDC reviewer
		// publishes below).
		{endpoint: endpoint{"PUT", "/rules/matrix-rule", func() any { return ruleBody() }, func(w who) bool { return false }}, refused: forbidden},
		{endpoint: endpoint{"GET", "/audit/cases/" + readCard.ID, nil, func(w who) bool { return w.role == auth.Auditor && w.in }},
			refused: hidden(func(r auth.Role) bool { return r == auth.Auditor })},
		{endpoint: endpoint{"GET", "/audit/staff/" + reporterID, nil, func(w who) bool { return w.role == auth.Auditor && w.in }},
			refused: hidden(func(r auth.Role) bool { return r == auth.Auditor })},
	}

	// Material donations and exports. Set up by the organisations' members:
	// need A of hospital A stays open for the pledge row (its update row
	// changes it in place), and each hospital holds 1,000 N95 masks pledged
	// by the charity of its region, dispatched and confirmed, so that both
	// may record consumption and supervision has a donation in A (district
	// A) and one in B (district B).
	hospMemberA, hospMemberB := named("org_member of hospital A"), named("org_member of hospital B")
	charMemberA, charMemberB := named("org_member of charity A"), named("org_member of charity B")
	wareMemberA := named("org_member of warehouse A")
	var needA struct{ ID string }
	hospMemberA.json("POST", "/needs", needBody(100000), 201, &needA)
	stocked := map[string]string{} // hospital → its stock's donation
	for _, s := range []struct {
		charity, hospital client
		hospID, need      string
	}{{charMemberA, hospMemberA, hospA, needA.ID}, {charMemberB, hospMemberB, hospB, ""}} {
		d := pledge(t, s.charity, pledgeBody(s.need, 1000))
		dispatch(t, s.charity, d.ID, dispatchBody(s.hospID, n95Lot(1000, "S1")))
		confirm(t, s.hospital, d.ID, 1, receiptBody("", n95Lot(1000, "S1")))
		stocked[s.hospID] = d.ID
	}
	// A second donation reviewer in A, outside the cast, reviews first
	// where the cast re-reviews.
	firstReviewer := staffClient(t, b, auth.DonationReviewer, cityA)
	// Fresh donations: charity A's pledge of 10 masks to the general pool
	// (region: the charity's, district A), then as far along as a row needs.
	freshPledge := func(t *testing.T) donationView { return pledge(t, charMemberA, pledgeBody("", 10)) }
	toWarehouse := func(t *testing.T) donationView {
		d := freshPledge(t)
		return dispatch(t, charMemberA, d.ID, dispatchBody(warehouseA, n95Lot(10, "M1")))
	}
	atWarehouse := func(t *testing.T) string {
		d := toWarehouse(t)
		confirm(t, wareMemberA, d.ID, 1, receiptBody("", n95Lot(10, "M1")))
		return "/donations/" + d.ID + "/hops"
	}
	actsFor := func(org string) func(w who) bool {
		return func(w who) bool { return w.role == auth.OrgMember && w.org == org }
	}
	memberOf := func(kind string) func(w who) bool {
		return func(w who) bool { return w.role == auth.OrgMember && (kind == "" || orgKind[w.org] == kind) }
	}
	supervisor := func(r auth.Role) bool { return r == auth.DonationReviewer || r == auth.GovAnalyst }
	exporter := func(r auth.Role) bool {
		return r == auth.GovAnalyst || r == auth.CDCReviewer || r == auth.DonationReviewer
	}
	exportReason := "reason=" + url.QueryEscape("矩阵导出核查")
	donation := func(t *testing.T, out []byte) donationView {
		t.Helper()
		var d donationView
		decode(t, out, &d)
		return d
	}
	// Every refusal here is 403: donations and needs are public (anyone
	// reads them at /public/...), so nothing is hidden behind a 404; and
	// scope-less checks come first (role, organisation kind, holder,
	// receiver), then the region.
	donationRows := []row{
		// Any hospital's member publishes for their own hospital (the body
		// cannot name another); a charity's or warehouse's may not.
		{endpoint: endpoint{"POST", "/needs", func() any { return needBody(500) }, memberOf("hospital")}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				var n struct{ Hospital, Region string }
				if code == 201 {
					if decode(t, out, &n); n.Hospital != w.org || n.Region != orgRegion[w.org] {
						t.Fatalf("a member of %s published %s", w.org, out)
					}
				}
			}},
		// Only the publishing hospital changes its need: hospital B's member
		// is refused like everyone else.
		{endpoint: endpoint{"PUT", "/needs/" + needA.ID, func() any {
			return map[string]any{"quantity": 100000, "urgency": "critical", "valid_until": time.Now().UTC().Add(30 * 24 * time.Hour), "note": "矩阵更新"}
		}, actsFor(hospA)}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code == 200 && !strings.Contains(string(out), `"urgency":"critical"`) {
					t.Fatalf("updated need %s", out)
				}
			}},
		{endpoint: endpoint{"POST", "/needs/{fresh need of hospital A}/closure", func() any { return map[string]string{"reason": "已满足"} }, actsFor(hospA)},
			pathFor: func(t *testing.T) string {
				c := hospMemberA
				c.t = t
				var n struct{ ID string }
				c.json("POST", "/needs", needBody(50), 201, &n)
				return "/needs/" + n.ID + "/closure"
			}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code == 200 && !strings.Contains(string(out), `"closed":true`) {
					t.Fatalf("closed need %s", out)
				}
			}},
		// Any approved organisation pledges as itself (a hospital too, even
		// against its own need); residents, in or out of A, pledge as
		// individuals under the display name they chose.
		{endpoint: endpoint{"POST", "/donations", func() any { return with(pledgeBody(needA.ID, 10), "display_name", "矩阵捐赠人") },
			func(w who) bool { return w.role == auth.Resident || memberOf("")(w) }}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code != 201 {
					return
				}
				d := donation(t, out)
				want := struct{ Kind, ID, Name string }{"org", w.org, ""}
				if w.role == auth.Resident {
					// A person pledges under a pseudonym of the donation
					// domain, never their account id.
					want = struct{ Kind, ID, Name string }{"person", d.Donor.ID, "矩阵捐赠人"}
					if !strings.HasPrefix(d.Donor.ID, "u-") || d.Donor.ID == subject(t, w.c) {
						t.Fatalf("%s pledged as %q", w.name, d.Donor.ID)
					}
				}
				if d.Donor.Kind != want.Kind || d.Donor.ID != want.ID || want.Name != "" && d.Donor.Name != want.Name || d.Need != needA.ID || d.Region != districtA {
					t.Fatalf("%s pledged %s", w.name, out)
				}
			}},
		// The donor holds its pledge and dispatches it: only charity A's
		// member. (The receiver is the logistics firm, which no one of the
		// cast acts for.)
		{endpoint: endpoint{"POST", "/donations/{charity A's pledge}/hops", func() any { return dispatchBody(logisticsA, n95Lot(10, "M1")) }, actsFor(charityA)},
			pathFor: func(t *testing.T) string { return "/donations/" + freshPledge(t).ID + "/hops" }, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code == 201 {
					if d := donation(t, out); len(d.Hops) != 1 || d.Hops[0].From.ID != charityA || d.Hops[0].To.Org != logisticsA {
						t.Fatalf("dispatched %s", out)
					}
				}
			}},
		// A resident dispatches their own donation (its first hop); no one
		// else, and no organisation, holds it.
		{endpoint: endpoint{"POST", "/donations/{resident A's pledge}/hops", func() any { return dispatchBody(logisticsA, n95Lot(10, "R1")) },
			func(w who) bool { return w.name == "resident A" }},
			pathFor: func(t *testing.T) string {
				return "/donations/" + pledge(t, resident, with(pledgeBody("", 10), "display_name", "一位居民")).ID + "/hops"
			}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code == 201 {
					if d := donation(t, out); len(d.Hops) != 1 || d.Hops[0].From.Kind != "person" {
						t.Fatalf("dispatched %s", out)
					}
				}
			}},
		// Once warehouse A confirmed the hop, it is the holder: the charity
		// that handed everything over holds nothing of it any more.
		{endpoint: endpoint{"POST", "/donations/{held by warehouse A}/hops", func() any { return dispatchBody(logisticsA, n95Lot(10, "M1")) }, actsFor(warehouseA)},
			pathFor: atWarehouse, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code == 201 {
					if d := donation(t, out); len(d.Hops) != 2 || d.Hops[1].From.ID != warehouseA {
						t.Fatalf("dispatched %s", out)
					}
				}
			}},
		// Only the named receiver confirms.
		{endpoint: endpoint{"POST", "/donations/{in transit to warehouse A}/hops/1/receipt", func() any { return receiptBody("", n95Lot(10, "M1")) }, actsFor(warehouseA)},
			pathFor: func(t *testing.T) string { return "/donations/" + toWarehouse(t).ID + "/hops/1/receipt" }, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code == 200 {
					if d := donation(t, out); d.Hops[0].Receipt == nil || len(d.Hops[0].Receipt.Flags) != 0 {
						t.Fatalf("confirmed %s", out)
					}
				}
			}},
		// Donation reviewers whose scope covers the donation's region
		// (district A) review; the one out of scope is refused (403, not
		// 404: the donation is public).
		{endpoint: endpoint{"POST", "/donations/{pledged}/reviews", func() any { return map[string]string{"verdict": "consistent"} },
			func(w who) bool { return w.role == auth.DonationReviewer && w.in }},
			pathFor: func(t *testing.T) string { return "/donations/" + freshPledge(t).ID + "/reviews" }, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code == 200 {
					if d := donation(t, out); len(d.Reviews) != 1 || d.Reviews[0].Round != 1 || d.Reviews[0].Reviewer != subject(t, w.c) {
						t.Fatalf("reviewed %s", out)
					}
				}
			}},
		// A second reviewer re-reviews; disagreeing escalates.
		{endpoint: endpoint{"POST", "/donations/{reviewed}/reviews", func() any { return map[string]string{"verdict": "inconsistent", "note": "签收数量与调拨不符"} },
			func(w who) bool { return w.role == auth.DonationReviewer && w.in }},
			pathFor: func(t *testing.T) string {
				d := freshPledge(t)
				c := firstReviewer
				c.t = t
				c.json("POST", "/donations/"+d.ID+"/reviews", map[string]string{"verdict": "consistent"}, 200, nil)
				return "/donations/" + d.ID + "/reviews"
			}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code == 200 {
					if d := donation(t, out); len(d.Reviews) != 2 || d.Reviews[1].Round != 2 || d.Escalated == "" {
						t.Fatalf("re-reviewed %s", out)
					}
				}
			}},
		// Each hospital records what it used of its own stock (both have
		// some); other kinds of organisation may not.
		{endpoint: endpoint{"POST", "/stock/consumption", func() any {
			return map[string]any{"item": "mask_n95", "spec": "N95", "quantity": 1, "unit": "呼吸科"}
		}, memberOf("hospital")}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				var st struct {
					Org      string
					Consumed int64
					OnHand   int64 `json:"on_hand"`
				}
				if code == 200 {
					if decode(t, out, &st); st.Org != w.org || st.Consumed < 1 || st.OnHand < 0 {
						t.Fatalf("%s consumed: %s", w.name, out)
					}
				}
			}},
		// A hospital's stock: its own members, and reviewers and analysts
		// whose scope covers it.
		{endpoint: endpoint{"GET", "/orgs/" + hospA + "/stock", nil, func(w who) bool { return actsFor(hospA)(w) || supervisor(w.role) && w.in }}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code != 200 {
					return
				}
				// 1,000 received, and more when its member's pledge of
				// the pledge row ran first: a donor holds its pledge, and
				// stock is what an organisation holds.
				var st struct {
					Org   string
					Stock []struct {
						Item, Spec string
						Received   int64
					}
				}
				if decode(t, out, &st); st.Org != hospA || len(st.Stock) != 1 || st.Stock[0].Item != "mask_n95" || st.Stock[0].Received < 1000 {
					t.Fatalf("stock of hospital A: %s", out)
				}
			}},
		// Supervision without a region is of the caller's scope: every
		// reviewer and analyst may ask and sees what lies in it (the
		// reviewer out of A, in district B, sees hospital B's donation; the
		// analyst out of A, in 110106, neither).
		{endpoint: endpoint{"GET", "/supervision/donations", nil, func(w who) bool { return supervisor(w.role) }}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code != 200 {
					return
				}
				seesA, seesB := strings.Contains(string(out), stocked[hospA]), strings.Contains(string(out), stocked[hospB])
				if seesA != w.in || seesB != (w.role == auth.DonationReviewer && !w.in) {
					t.Fatalf("%s supervises (sees A %v, B %v): %.500s", w.name, seesA, seesB, out)
				}
			}},
		{endpoint: endpoint{"GET", "/supervision/donations?region=" + districtA, nil, func(w who) bool { return supervisor(w.role) && w.in }}, refused: forbidden},
		// Exports: analysts, CDC reviewers and donation reviewers; a bundle
		// of their own scope by default, of a region their scope covers.
		{endpoint: endpoint{"GET", "/exports", nil, func(w who) bool { return exporter(w.role) }}, refused: forbidden},
		{endpoint: endpoint{"GET", "/exports/scans?" + exportReason, nil, func(w who) bool { return exporter(w.role) }}, refused: forbidden,
			check: func(t *testing.T, w who, code int, out []byte) {
				if code == 200 && !bytes.HasPrefix(out, []byte("PK")) {
					t.Fatalf("export is no zip: %.200q", out)
				}
			}},
		{endpoint: endpoint{"GET", "/exports/scans?region=" + districtA + "&" + exportReason, nil, func(w who) bool { return exporter(w.role) && w.in }}, refused: forbidden},
	}
	rows := make([]row, 0, len(endpoints)+len(caseRows)+len(donationRows))
	for _, ep := range endpoints[:len(endpoints)-1] {
		rows = append(rows, row{endpoint: ep})
	}
	rows = append(append(append(rows, caseRows...), donationRows...), row{endpoint: endpoints[len(endpoints)-1]})
	t.Logf("the matrix: %d rows × %d callers = %d calls", len(rows), len(cast), len(rows)*len(cast))
	for _, ep := range rows {
		for _, w := range cast {
			t.Run(ep.method+" "+ep.path+" as "+w.name, func(t *testing.T) {
				var body any
				if ep.body != nil {
					body = ep.body()
				}
				path := ep.path
				if ep.pathFor != nil {
					path = ep.pathFor(t)
				}
				w.c.t = t
				code, out := w.c.do(ep.method, path, body)
				denied := code == 401 || code == 403 || code == 404
				if ep.path == "/scans/batch" && code == 200 {
					denied = strings.Contains(string(out), `"rejected"`)
				}
				if ep.refused != nil && !ep.allowed(w) && w.role != "" {
					if want := ep.refused(w); code != want {
						t.Fatalf("refused caller: %d %s, want %d", code, out, want)
					}
					denied = true
				}
				switch {
				case ep.allowed(w) && denied:
					t.Fatalf("allowed caller denied: %d %s", code, out)
				case !ep.allowed(w) && !denied:
					t.Fatalf("caller got through: %d %s", code, out)
				case w.role == "" && code != 401:
					t.Fatalf("anonymous: %d, want 401", code)
				case code >= 500:
					t.Fatalf("server error %d %s", code, out)
				}
				if ep.path == "/trace/person" && w.role == auth.GovAnalyst {
					var tr struct{ Rows []any }
					json.Unmarshal(out, &tr)
					if w.in != (len(tr.Rows) > 0) {
						t.Fatalf("person trace rows for a caller in scope=%v: %s", w.in, out)
					}
				}
				if !ep.allowed(w) && ep.refused == nil && code != 401 && code != 404 && !slices.Contains([]int{403, 200}, code) {
					t.Fatalf("unexpected status %d", code)
				}
				if ep.check != nil {
					ep.check(t, w, code, out)
				}
			})
		}
	}

	// Beyond the matrix: the reporter of the card's hospital may correct
	// it only when it was returned to them (a card awaiting review is a
	// conflict, not a refusal) ...
	reporterA.t = t
	if code, out := reporterA.do("PUT", pendingCard(t), map[string]any{"card": card("influenza", districtA), "note": "更正发病日期"}); code != 409 {
		t.Fatalf("correcting a card awaiting review: %d %s, want 409", code, out)
	}
	// ... only a CDC reviewer of national scope publishes rules ...
	national := staffClient(t, b, auth.CDCReviewer, "CN")
	var published struct {
		ID      string
		Version int
	}
	national.json("PUT", "/rules/matrix-rule", ruleBody(), 200, &published)
	if published.ID != "matrix-rule" || published.Version != 1 {
		t.Fatalf("published rule %+v", published)
	}
	// ... a donation is reviewed by two different reviewers, then no more
	// (the same reviewer twice is a refusal, a third review a conflict) ...
	donReviewerA := member(auth.DonationReviewer, true).c
	donReviewerA.t = t
	d := freshPledge(t)
	path := "/donations/" + d.ID + "/reviews"
	donReviewerA.json("POST", path, map[string]string{"verdict": "consistent"}, 200, nil)
	if code, out := donReviewerA.do("POST", path, map[string]string{"verdict": "consistent"}); code != 403 {
		t.Fatalf("re-review by the same reviewer: %d %s, want 403", code, out)
	}
	firstReviewer.t = t
	firstReviewer.json("POST", path, map[string]string{"verdict": "consistent"}, 200, nil)
	if code, out := firstReviewer.do("POST", path, map[string]string{"verdict": "consistent"}); code != 409 {
		t.Fatalf("a third review: %d %s, want 409", code, out)
	}
	// ... and the named receiver confirms a hop once.
	d = toWarehouse(t)
	confirm(t, wareMemberA, d.ID, 1, receiptBody("", n95Lot(10, "M1")))
	wareMemberA.t = t
	if code, out := wareMemberA.do("POST", "/donations/"+d.ID+"/hops/1/receipt", receiptBody("", n95Lot(10, "M1"))); code != 409 {
		t.Fatalf("confirming a hop twice: %d %s, want 409", code, out)
	}

	// Last, because it ends the cast's sessions: the matrix's row for
	// signing out everywhere. Every signed-in caller may, for their own
	// account only; after it their session is refused, while another
	// account's (resident B's, signed out after A) worked until its own turn.
	for _, w := range cast {
		t.Run("POST /auth/signout-everywhere as "+w.name, func(t *testing.T) {
			w.c.t = t
			code, out := w.c.do("POST", "/auth/signout-everywhere", nil)
			if w.role == "" {
				if code != 401 {
					t.Fatalf("anonymous: %d %s, want 401", code, out)
				}
				return
			}
			if code != 200 {
				t.Fatalf("signing out everywhere: %d %s", code, out)
			}
			if code, out := w.c.do("GET", "/me", nil); code != 401 {
				t.Fatalf("the session after signing out everywhere: %d %s, want 401", code, out)
			}
		})
	}
}

// ruleBody is a new version of a rule that can never fire in the tests.
func ruleBody() map[string]any {
	return map[string]any{"rule": map[string]any{"method": "threshold", "target": "disease", "codes": []string{"cholera"},
		"level": 6, "k": 100000, "enabled": true, "description": "matrix"}, "reason": "矩阵测试规则"}
}

func doRaw(t *testing.T, c client, method, path string, body io.Reader, ctype string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, c.base+path, body)
	req.Header.Set("Content-Type", ctype)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if req.ContentLength > 64<<10 {
		return doOversized(t, req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// doOversized sends a request whose body is over the server's limit on a
// connection of its own and reads the answer. The server refuses it from
// the headers and closes the connection, possibly while the body is still
// being written: an HTTP client then reports the broken pipe, not the
// answer, so the body is written in the background and its errors ignored.
func doOversized(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", req.URL.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	go req.Write(conn) // fails once the server has answered and closed
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
