package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/casestest"
	"github.com/onebook/onebook/backend/passtoken"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/residents"
	"github.com/onebook/onebook/events/schemas"
)

// What an anonymous reader must never find in a public answer: ID numbers
// (GB 11643), mobile numbers, and the pass domain's person ids.
var (
	idNumberRE = regexp.MustCompile(`\b[1-9]\d{5}(19|20)\d{2}(0[1-9]|1[0-2])\d{5}[\dXx]\b`)
	phoneRE    = regexp.MustCompile(`(^|[^0-9A-Za-z-])1[3-9]\d{9}([^0-9A-Za-z-]|$)`)
	personIDRE = regexp.MustCompile(`\bp-[0-9a-f]{24}\b`)
)

// crawlLedger reads every event of the ledger as an anonymous client does
// (GET /ledger/events/N up to the latest checkpoint) and returns them.
func crawlLedger(t *testing.T, anon client) [][]byte {
	t.Helper()
	code, body := anon.do("GET", "/ledger/checkpoint", nil)
	if code != 200 {
		t.Fatalf("checkpoint: %d %s", code, body)
	}
	lines := strings.Split(string(body), "\n")
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || size == 0 {
		t.Fatalf("checkpoint size: %q", lines[1])
	}
	out := make([][]byte, 0, size)
	for i := uint64(0); i < size; i++ {
		code, body := anon.do("GET", fmt.Sprintf("/ledger/events/%d", i), nil)
		if code != 200 {
			t.Fatalf("event %d: %d %s", i, code, body)
		}
		out = append(out, body)
	}
	return out
}

// checkPublic fails on personal data in a public answer.
func checkPublic(t *testing.T, what string, body []byte) {
	t.Helper()
	for name, re := range map[string]*regexp.Regexp{"an ID number": idNumberRE, "a phone number": phoneRE, "a person id": personIDRE} {
		if m := re.Find(body); m != nil {
			t.Errorf("%s shows %s (%s): %.300s", what, name, m, body)
		}
	}
}

// checkMasked fails on a full ID number or phone number in a staff answer.
func checkMasked(t *testing.T, what string, body []byte) {
	t.Helper()
	for name, re := range map[string]*regexp.Regexp{"an ID number": idNumberRE, "a phone number": phoneRE} {
		if m := re.Find(body); m != nil {
			t.Errorf("%s shows %s (%s): %.300s", what, name, m, body)
		}
	}
}

// checkEvent fails on a ledger event that shows a field its schema seals,
// or that is not sealed at all while its schema has sealed fields.
func checkEvent(t *testing.T, reg *events.Registry, i int, raw []byte) {
	t.Helper()
	e, err := events.Parse(raw)
	if err != nil {
		t.Fatalf("event %d: %v", i, err)
	}
	public, sealed := reg.Disclosure(e.Type)
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(e.Payload, &fields); err != nil {
		t.Fatalf("event %d: %v", i, err)
	}
	for k := range fields {
		if k != events.SealedMember && !slices.Contains(public, k) {
			t.Errorf("event %d (%s) shows field %q in clear", i, e.Type, k)
		}
	}
	if e.Actor.Role == string(auth.Resident) && e.Aggregate.Kind != residents.Kind && e.Actor.ID != "" {
		t.Errorf("event %d (%s) names the resident %s in clear", i, e.Type, e.Actor.ID)
	}
	_ = sealed
}

// TestAnonymousCrawlerFindsNoPersonalData reads, without signing in, every
// public answer of the demo — every ledger event, the public donation
// routes, the revocation list, the health — and finds no ID number, phone
// number or person id, and no ledger event shows a field its schema seals:
// no name, temperature, symptom, place visited, building or unit, holder,
// pass, patient or clinical field of a card.
func TestAnonymousCrawlerFindsNoPersonalData(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo")
	}
	b := newBackend(t)
	b.start(true)
	b.settled()
	// The QR codes of a few residents, as they show them (first: their
	// passes are then in the crawl).
	qrs := residentPassTokens(t, "http://"+b.httpAddr, 4)
	b.settled()
	anon := client{t: t, base: "http://" + b.httpAddr}
	reg := schemas.Registry()
	evs := crawlLedger(t, anon)
	types := map[string]int{}
	passIDs := map[string]bool{} // the aggregate ids of pass events, in clear in their envelopes
	for i, raw := range evs {
		checkPublic(t, fmt.Sprintf("ledger event %d", i), raw)
		checkEvent(t, reg, i, raw)
		e, _ := events.Parse(raw)
		types[e.Type]++
		if e.Aggregate.Kind == passevents.KindPass {
			passIDs[e.Aggregate.ID] = true
		}
	}
	_, revoked := anon.do("GET", "/passes/revocations", nil)
	checkQRUnlinked(t, qrs, passIDs, evs, revoked)
	// The demo exercises every kind of personal event: the crawl saw them.
	for _, typ := range []string{"resident.registered", "health.declared", "pass.issued", "pass.scanned", "pass.revoked",
		"visit.requested", "visit.decided", "resident.erased", "case.filed", "case.reviewed", "alert.raised", "access.logged"} {
		if types[typ] == 0 {
			t.Errorf("the demo ledger has no %s event: the crawl proves nothing about it", typ)
		}
	}
	// The same entries as C2SP tlog-tiles entry bundles, as fsck reads them.
	for n := 0; n*256 < len(evs); n++ {
		path := fmt.Sprintf("/tile/entries/%03d", n)
		if w := len(evs) - n*256; w < 256 {
			path += fmt.Sprintf(".p/%d", w)
		}
		code, body := anon.do("GET", path, nil)
		if code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		checkPublic(t, path, body)
	}
	for _, path := range []string{"/healthz", "/readyz", "/passes/revocations", "/passes/keys", "/public/needs", "/public/donations", "/ledger/key", "/checkpoint"} {
		code, body := anon.do("GET", path, nil)
		if code >= 500 {
			t.Errorf("%s: %d", path, code)
		}
		checkPublic(t, path, body)
		if path == "/passes/revocations" && bytes.Contains(body, []byte("red_status")) {
			t.Errorf("the revocation list says why a pass was revoked: %s", body)
		}
	}
	var ds struct {
		Donations []struct{ ID string }
	}
	anon.json("GET", "/public/donations", nil, 200, &ds)
	for _, d := range ds.Donations {
		code, body := anon.do("GET", "/public/donations/"+d.ID, nil)
		if code != 200 {
			t.Errorf("donation %s: %d", d.ID, code)
		}
		checkPublic(t, "donation "+d.ID, body)
	}
	t.Logf("crawled %d ledger events (%v) and %d public donations", len(evs), types, len(ds.Donations))

	// Signed in, staff read their own scope only, and still no full ID
	// number or phone number: names and numbers are masked. (Staff views
	// name persons by their pseudonyms, which they need to act on.)
	base := "http://" + b.httpAddr
	pm := signIn(t, base, "demo-pm-0") // community 110105001001
	code, body := pm.do("GET", "/communities/110105001001/inside", nil)
	if code != 200 {
		t.Fatalf("property manager, own community: %d %s", code, body)
	}
	checkMasked(t, "the property manager's inside view", body)
	if code, _ := pm.do("GET", "/communities/110105001002/inside", nil); code != 403 {
		t.Errorf("property manager, another community: %d", code)
	}
	for _, scope := range []string{"110105", "110108"} {
		cdc := signIn(t, base, "demo-cdc-"+scope)
		var list struct {
			Cards []struct {
				HospitalRegion string `json:"hospital_region"`
				Card           struct{ Residence string }
			} `json:"cases"`
		}
		code, body := cdc.do("GET", "/cases?purpose=case_review&reason="+url.QueryEscape("审核辖区病例")+"&limit=500", nil)
		if code != 200 {
			t.Fatalf("CDC %s: %d %s", scope, code, body)
		}
		checkMasked(t, "the cards CDC "+scope+" lists", body)
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Cards) == 0 {
			t.Errorf("CDC %s sees no card of its district", scope)
		}
		for _, c := range list.Cards {
			if !strings.HasPrefix(c.HospitalRegion, scope) && !strings.HasPrefix(c.Card.Residence, scope) {
				t.Errorf("CDC %s sees a card of %s (residence %s)", scope, c.HospitalRegion, c.Card.Residence)
			}
		}
	}
}

// servedQR is a pass token served to a resident, with the pass id the
// resident's own answer names.
type servedQR struct{ PassID, Token string }

// residentPassTokens registers n one-person households over HTTP and
// fetches the QR pass token of each, as the mini-program shows it.
func residentPassTokens(t *testing.T, base string, n int) []servedQR {
	t.Helper()
	var out []servedQR
	for i := 0; i < n; i++ {
		res, person := oneMember(t, base, fmt.Sprintf("qr-%d", i), casestest.Name(200+i), casestest.IDNumber(districtA, 200+i), fmt.Sprintf("139%08d", 200+i))
		var q struct {
			PassID string `json:"pass_id"`
			Token  string
		}
		res.json("GET", "/me/passes/"+person, nil, 200, &q)
		out = append(out, servedQR{q.PassID, q.Token})
	}
	return out
}

// checkQRUnlinked fails if a QR token served shows a pass aggregate id of
// the public ledger (as text, as UUID bytes, or as its token id), if a
// token id of a served QR token appears in a ledger event, or if the
// revocation list names a pass id: whoever saw a QR code must not find that
// pass's events.
func checkQRUnlinked(t *testing.T, qrs []servedQR, passIDs map[string]bool, ledger [][]byte, revocations []byte) {
	t.Helper()
	for _, q := range qrs {
		if !passIDs[q.PassID] {
			t.Fatalf("the pass %s of a served token is not in the crawled ledger: the check proves nothing", q.PassID)
		}
		c, _, err := passtoken.Parse(q.Token)
		if err != nil || c.FormatOne() {
			t.Fatalf("served token %s: %+v, %v", q.Token, c, err)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(q.Token[len(passtoken.Prefix):])
		for id := range passIDs {
			u := uuid.MustParse(id)
			if c.TokenID == passtoken.TokenID(u) || bytes.Contains(raw, u[:]) || strings.Contains(q.Token, id) {
				t.Errorf("served token %s shows the pass aggregate id %s", q.Token, id)
			}
		}
		tid, asUUID := c.TokenID.String(), uuid.UUID(c.TokenID).String()
		if passIDs[asUUID] {
			t.Errorf("the token id %s of a served token is a pass aggregate id", tid)
		}
		for i, body := range ledger {
			if bytes.Contains(body, []byte(tid)) || bytes.Contains(body, []byte(asUUID)) {
				t.Errorf("the token id %s of a served token is in ledger event %d: %.200s", tid, i, body)
			}
		}
	}
	// The revocation list names token ids, by design, and no pass id.
	for id := range passIDs {
		if bytes.Contains(revocations, []byte(id)) {
			t.Errorf("the revocation list names the pass aggregate id %s: %s", id, revocations)
		}
	}
	t.Logf("%d served QR tokens share nothing with %d pass aggregate ids", len(qrs), len(passIDs))
}

// TestCaseTracedToPassesOverHTTP: a resident passes a gate; a hospital
// files a case for the same person. Nothing on the public ledger links the
// card to the pass holder, but a CDC reviewer of the district, tracing the
// case for contact tracing, finds the gate passage — and the link is an
// access event naming the card. Others are refused.
func TestCaseTracedToPassesOverHTTP(t *testing.T) {
	b := newBackend(t)
	b.start(false)
	base := "http://" + b.httpAddr
	gate, op := gateWithOperator(t, b, "北门")
	const n = 7 // the patient of fileBody(n, …)
	res, person := oneMember(t, base, "traced", casestest.Name(n), casestest.IDNumber(districtA, n), "13900000000")
	var pass struct{ Token string }
	res.json("GET", "/me/passes/"+person, nil, 200, &pass)
	passedAt := time.Now().UTC()
	op.json("POST", "/scans", map[string]any{"scan_id": "t1", "token": pass.Token, "gate": gate.ID, "direction": "in", "scanned_at": passedAt}, 200, nil)

	admin := staffClient(t, b, auth.Admin, "11")
	hosp := registerHospital(t, admin, "朝阳追踪医院", districtA, true)
	reporter := orgStaffClient(t, b, auth.HospitalReporter, hosp)
	c := fileCard(t, reporter, n, card("influenza", districtA))

	// The public ledger: the person id, the ID number and the name appear
	// nowhere, and the card and the scan share no id.
	b.settled()
	anon := client{t: t, base: base}
	evs := crawlLedger(t, anon)
	var cardEv, scanEv []byte
	for i, raw := range evs {
		for _, secret := range []string{person, casestest.IDNumber(districtA, n), casestest.Name(n), pass.Token} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("ledger event %d shows %q", i, secret)
			}
		}
		e, _ := events.Parse(raw)
		switch {
		case e.Type == "case.filed" && e.Aggregate.ID == c.ID:
			cardEv = raw
		case e.Type == passevents.TypeScanned:
			scanEv = raw
		}
	}
	if cardEv == nil || scanEv == nil {
		t.Fatal("the card or the scan is not in the ledger")
	}
	scanVals := values(t, scanEv)
	for v := range values(t, cardEv) {
		if len(v) >= 8 && scanVals[v] {
			t.Errorf("the card and the scan share %q", v)
		}
	}

	q := map[string]any{"case": c.ID, "purpose": "contact_tracing", "reason": "密切接触者排查",
		"from": passedAt.Add(-time.Hour), "to": passedAt.Add(time.Hour)}
	cdc := staffClient(t, b, auth.CDCReviewer, districtA)
	var tr struct {
		PersonID string `json:"person_id"`
		Rows     []struct{ Gate string }
		AccessID string `json:"access_event"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		cdc.json("POST", "/trace/case", q, 200, &tr)
		if len(tr.Rows) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if tr.PersonID != person || len(tr.Rows) != 1 || tr.Rows[0].Gate != gate.ID {
		t.Fatalf("case trace: %+v (want person %s at gate %s)", tr, person, gate.ID)
	}
	// Refused: the wrong role, another district, another purpose.
	if code, body := staffClient(t, b, auth.GovAnalyst, districtA).do("POST", "/trace/case", q); code != 403 {
		t.Errorf("analyst: %d %s", code, body)
	}
	if code, body := staffClient(t, b, auth.CDCReviewer, "110106").do("POST", "/trace/case", q); code != 404 {
		t.Errorf("CDC of another district: %d %s", code, body)
	}
	if code, body := cdc.do("POST", "/trace/case", with(q, "purpose", "statistics")); code != 400 || errorField(t, string(body)) != "purpose" {
		t.Errorf("statistics: %d %s", code, body)
	}
	// The link is in the access log: the auditor sees who traced the card.
	b.settled()
	auditor := staffClient(t, b, auth.Auditor, "11")
	var au struct {
		Reads []struct{ What string }
	}
	auditor.json("GET", "/audit/cases/"+c.ID, nil, 200, &au)
	if !slices.ContainsFunc(au.Reads, func(r struct{ What string }) bool { return r.What == "case.trace" }) {
		t.Errorf("the case trace is not in the card's audit: %+v", au)
	}
}

// values collects the string values of an event's ids and payload (not
// its region, time or type, which are public for every event alike).
func values(t *testing.T, raw []byte) map[string]bool {
	t.Helper()
	e, err := events.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{e.ID: true, e.Aggregate.ID: true, e.Actor.ID: true}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out[v] = true
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var p any
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		t.Fatal(err)
	}
	walk(p)
	delete(out, string(e.Region))
	return out
}

// TestErasureLeavesNothingReadable: after a household's erasure its
// members' declarations and scans do not open with any key onebook holds
// (the vault read from the data directory, as the backend does), while
// the ledger and every projection still verify.
func TestErasureLeavesNothingReadable(t *testing.T) {
	b := newBackend(t)
	b.start(false)
	base := "http://" + b.httpAddr
	gate, op := gateWithOperator(t, b, "西门")
	res, person := oneMember(t, base, "erased", "孙静", casestest.IDNumber(districtA, 42), "13900000042")
	res.json("POST", "/me/declarations", map[string]any{"person_id": person, "temperature": 36.6}, 201, nil)
	var pass struct{ Token string }
	res.json("GET", "/me/passes/"+person, nil, 200, &pass)
	op.json("POST", "/scans", map[string]any{"scan_id": "e1", "token": pass.Token, "gate": gate.ID, "direction": "in", "scanned_at": time.Now().UTC()}, 200, nil)
	b.settled()

	theirs := func() (readable, withheld []string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", b.natsPort))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		vault, err := app.OpenVault(ctx, js, b.dir, 1, false) // a fresh vault: no cached keys
		if err != nil {
			t.Fatal(err)
		}
		reg := schemas.Registry().WithKeyring(vault)
		st, err := ledger.Open(ctx, js, ledger.Config{})
		if err != nil {
			t.Fatal(err)
		}
		size, _ := st.Size(ctx)
		err = st.Scan(ctx, 1, size, func(rec events.Recorded) error {
			e, err := events.Parse(rec.Raw)
			if err != nil {
				return err
			}
			if e.Type != "health.declared" && e.Type != passevents.TypeScanned && e.Type != passevents.TypeIssued && e.Type != "resident.registered" {
				return nil
			}
			p, err := reg.Decode(ctx, e)
			if err != nil {
				return fmt.Errorf("event %d: %w", rec.Seq, err)
			}
			_, gone, err := reg.Open(ctx, e)
			if err != nil {
				return err
			}
			switch {
			case gone:
				withheld = append(withheld, e.Type)
			case strings.Contains(fmt.Sprintf("%+v", p), person):
				readable = append(readable, e.Type)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return readable, withheld
	}
	if readable, withheld := theirs(); len(readable) != 4 || len(withheld) != 0 {
		t.Fatalf("before erasure: readable %v, withheld %v", readable, withheld)
	}
	res.json("DELETE", "/me/household", nil, 200, nil)
	b.settled()
	readable, withheld := theirs()
	if len(readable) != 0 || len(withheld) != 4 {
		t.Fatalf("after erasure: readable %v, withheld %v", readable, withheld)
	}
	if code, out := ops(t, append([]string{"verify"}, b.args()...)...); code != 0 {
		t.Fatalf("verify after erasure (%d):\n%s", code, out)
	}
}

// TestIdentityTakeoverRefused: resident B cannot register the ID number of
// a person in resident A's household (409, naming the field), so B's
// erasure cannot touch A's data; once A releases the person (registers
// again without them), B can.
func TestIdentityTakeoverRefused(t *testing.T) {
	b := newBackend(t)
	b.start(false)
	base := "http://" + b.httpAddr
	x := casestest.IDNumber(districtA, 77)
	type household struct {
		Household struct {
			Members []struct {
				PersonID string `json:"person_id"`
				Name     string
			}
		}
		Session struct{ Token string }
	}
	a := signIn(t, base, "holder-a")
	var ha household
	a.json("PUT", "/me/household", map[string]any{"community": communityA, "building": "1", "unit": "1-101",
		"members": []map[string]string{{"name": "李明", "id_number": casestest.IDNumber(districtA, 76), "phone": "13900000076"},
			{"name": "李芳", "id_number": x, "relation": "spouse", "phone": "13900000077"}}}, 200, &ha)
	a.token = ha.Session.Token

	bb := signIn(t, base, "taker-b")
	body := map[string]any{"community": communityB, "building": "2", "unit": "2-202",
		"members": []map[string]string{{"name": "冒名者", "id_number": x, "phone": "13900000078"}}}
	code, out := bb.do("PUT", "/me/household", body)
	if code != 409 || errorField(t, string(out)) != "members[0].id_number" {
		t.Fatalf("B registering A's member: %d %s", code, out)
	}
	// B has no household: its erasure touches nothing of A's.
	if code, out := bb.do("DELETE", "/me/household", nil); code != 404 {
		t.Fatalf("B's erasure: %d %s", code, out)
	}
	var mine struct {
		Members []struct{ Name string }
	}
	a.json("GET", "/me/household", nil, 200, &mine)
	if len(mine.Members) != 2 || mine.Members[1].Name != "李芳" {
		t.Fatalf("A's household after the attempt: %+v", mine)
	}
	// A move confirmed in person by B's property manager: B first needs a
	// household (of someone else), then the manager moves the person in;
	// a property manager of A's community may not.
	var hb household
	bb.json("PUT", "/me/household", map[string]any{"community": communityB, "building": "2", "unit": "2-202",
		"members": []map[string]string{{"name": "王芳", "id_number": casestest.IDNumber(districtA, 79), "phone": "13900000079"}}}, 200, &hb)
	bb.token = hb.Session.Token
	to := subject(t, bb)
	move := map[string]string{"id_number": x, "to": to}
	if code, out := staffClient(t, b, auth.PropertyManager, communityA).do("POST", "/transfers", move); code != 404 {
		t.Fatalf("A's property manager moving someone into B: %d %s", code, out)
	}
	staffClient(t, b, auth.PropertyManager, communityB).json("POST", "/transfers", move, 200, nil)
	a.json("GET", "/me/household", nil, 200, &mine)
	if len(mine.Members) != 1 || mine.Members[0].Name != "李明" {
		t.Fatalf("A's household after the move: %+v", mine)
	}
	bb.json("PUT", "/me/household", map[string]any{"community": communityB, "building": "2", "unit": "2-202",
		"members": []map[string]string{{"name": "王芳", "id_number": casestest.IDNumber(districtA, 79), "phone": "13900000079"},
			{"name": "李芳", "id_number": x, "relation": "spouse", "phone": "13900000077"}}}, 200, &hb)
	bb.token = hb.Session.Token
	// B's erasure now destroys B's members only: A's remaining member is intact.
	bb.json("DELETE", "/me/household", nil, 200, nil)
	a.json("GET", "/me/household", nil, 200, &mine)
	if len(mine.Members) != 1 || mine.Members[0].Name != "李明" {
		t.Fatalf("A's household after B's erasure: %+v", mine)
	}
}

// gateWithOperator registers a gate of community A (by a property manager)
// and returns it with a signed-in gate operator of the community.
func gateWithOperator(t *testing.T, b *backend, name string) (struct{ ID string }, client) {
	t.Helper()
	pm := staffClient(t, b, auth.PropertyManager, communityA)
	var gate struct{ ID string }
	pm.json("POST", "/gates", map[string]string{"community": communityA, "name": name}, 201, &gate)
	return gate, staffClient(t, b, auth.GateOperator, communityA)
}

// oneMember signs in a resident who registers a household of one person in
// community A, and returns the client and the person id.
func oneMember(t *testing.T, base, code, name, idNumber, phone string) (client, string) {
	t.Helper()
	res := signIn(t, base, code)
	var reg struct {
		Household struct {
			Members []struct {
				PersonID string `json:"person_id"`
			}
		}
		Session struct{ Token string }
	}
	res.json("PUT", "/me/household", map[string]any{"community": communityA, "building": "3", "unit": "2-301",
		"members": []map[string]string{{"name": name, "id_number": idNumber, "phone": phone}}}, 200, &reg)
	res.token = reg.Session.Token
	return res, reg.Household.Members[0].PersonID
}
