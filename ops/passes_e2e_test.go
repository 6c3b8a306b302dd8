package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/passtoken"
)

// revocations fetches the revocation list as a scanner polls it, with the
// ETag of the list it holds, and checks the status.
func revocations(t *testing.T, base, etag string, want int) (body []byte, newEtag string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/passes/revocations", nil)
	if err != nil {
		t.Fatal(err)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != want || resp.Header.Get("ETag") == "" {
		t.Fatalf("revocations (If-None-Match %q): %d, ETag %q, %s; want %d", etag, resp.StatusCode, resp.Header.Get("ETag"), body, want)
	}
	return body, resp.Header.Get("ETag")
}

// TestResidentJourney walks the whole pass flow over HTTP against the real
// backend: register a household, declare health, get a pass, be scanned in
// and out, go red and be refused, then erase the account — after which the
// personal data is unreadable and the ledger still verifies.
func TestResidentJourney(t *testing.T) {
	b := newBackend(t)
	b.start(false)
	base := "http://" + b.httpAddr
	pm := staffClient(t, b, auth.PropertyManager, communityA)
	var gate struct{ ID string }
	pm.json("POST", "/gates", map[string]string{"community": communityA, "name": "南门"}, 201, &gate)
	op := staffClient(t, b, auth.GateOperator, communityA)

	res := signIn(t, base, "journey")
	var reg struct {
		Household struct {
			Members []struct {
				PersonID string `json:"person_id"`
				Name     string `json:"name"`
				IDMasked string `json:"id_number_masked"`
			}
		}
		Session struct{ Token string }
	}
	res.json("PUT", "/me/household", map[string]any{"community": communityA, "building": "7", "unit": "1-1201",
		"members": []map[string]string{
			{"name": "王小明", "id_number": "110105198001010024", "phone": "+86 138-0013-8000"},
			{"name": "王芳", "id_number": "11010519491231002x", "phone_code": "phone:13900139000", "relation": "spouse"},
		}}, 200, &reg)
	res.token = reg.Session.Token
	m := reg.Household.Members
	if len(m) != 2 || m[0].Name != "王小明" || m[1].IDMasked != "110105********002X" {
		t.Fatalf("household %+v", m)
	}
	var decl struct{ Status, Reason string }
	res.json("POST", "/me/declarations", map[string]any{"person_id": m[0].PersonID, "temperature": 36.5}, 201, &decl)
	if decl.Status != "green" {
		t.Fatalf("declaration %+v", decl)
	}
	var pass struct {
		Token  string
		PassID string `json:"pass_id"`
	}
	res.json("GET", "/me/passes/"+m[0].PersonID, nil, 200, &pass)
	if !strings.HasPrefix(pass.Token, "OB1.") || len(pass.Token) != 136 {
		t.Fatalf("pass token %q", pass.Token)
	}
	scan := func(id, dir, last4 string) (int, string) {
		code, body := op.do("POST", "/scans", map[string]any{"scan_id": id, "token": pass.Token, "gate": gate.ID, "direction": dir, "id_last4": last4, "scanned_at": time.Now().UTC()})
		return code, string(body)
	}
	if code, body := scan("j1", "in", "0024"); code != 200 || !strings.Contains(body, `"allow"`) {
		t.Fatalf("scan in: %d %s", code, body)
	}
	if code, body := scan("j1", "in", ""); code != 409 {
		t.Fatalf("replayed scan id: %d %s", code, body)
	}
	if code, body := scan("j2", "out", "9999"); code != 403 || !strings.Contains(body, "id_mismatch") {
		t.Fatalf("wrong last 4: %d %s", code, body)
	}
	// The property manager sees who is inside, names masked.
	b.settled()
	var inside struct {
		Inside []struct {
			Name string `json:"name_masked"`
		}
	}
	// Projections are asynchronous: poll until the scan has been folded in.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		pm.json("GET", "/communities/"+communityA+"/inside", nil, 200, &inside)
		if len(inside.Inside) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(inside.Inside) != 1 || inside.Inside[0].Name != "王**" {
		t.Fatalf("inside: %+v", inside)
	}
	// Scanners fetch keys and revocations without signing in.
	anon := client{t: t, base: base}
	code, keysJSON := anon.do("GET", "/passes/keys", nil)
	if code != 200 || !strings.Contains(string(keysJSON), "Ed25519") {
		t.Fatalf("keys: %d %s", code, keysJSON)
	}
	if code, body := anon.do("GET", "/metrics", nil); code != 404 {
		t.Fatalf("metrics on the public listener without a token: %d %s", code, body)
	}
	var keys passtoken.KeySet
	if err := json.Unmarshal(keysJSON, &keys); err != nil {
		t.Fatal(err)
	}
	// Red status: the pass is revoked and shows up in the signed list.
	res.json("POST", "/me/declarations", map[string]any{"person_id": m[0].PersonID, "temperature": 38.4, "symptoms": []string{"cough"}}, 201, &decl)
	if decl.Status != "red" {
		t.Fatalf("declaration %+v", decl)
	}
	if code, body := scan("j3", "in", ""); code != 403 || !strings.Contains(body, `"revoked"`) {
		t.Fatalf("scan after red: %d %s", code, body)
	}
	// The list, checked offline as a scanner does, names the pass and
	// not why; polling with its ETag gets 304 until it changes.
	list, etag := revocations(t, base, "", 200)
	l, err := passtoken.VerifyList(list, keys)
	if err != nil {
		t.Fatalf("revocations do not verify: %v\n%s", err, list)
	}
	if !slices.Contains(l.Passes, pass.PassID) || strings.Contains(string(list), "red_status") {
		t.Fatalf("revocations %s, want pass %s without a reason", list, pass.PassID)
	}
	if _, err := passtoken.Verify(pass.Token, keys, l.Checker(), time.Now()); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("offline check of the revoked pass: %v", err)
	}
	if again, _ := revocations(t, base, etag, 304); len(again) != 0 {
		t.Fatalf("304 with a body: %s", again)
	}
	// Erase: gone for good, ledger intact.
	res.json("DELETE", "/me/household", nil, 200, nil)
	if code, _ := res.do("GET", "/me/household", nil); code != 404 {
		t.Fatalf("household after erasure: %d", code)
	}
	b.settled()
	if code, out := ops(t, append([]string{"verify"}, b.args()...)...); code != 0 {
		t.Fatalf("verify after erasure (%d):\n%s", code, out)
	}
}

// TestBadInputOverHTTP sends malformed, mistyped, oversized and otherwise
// wrong requests: each gets a 4xx JSON error naming the problem, never a 5xx.
func TestBadInputOverHTTP(t *testing.T) {
	b := newBackend(t)
	b.start(false)
	pm := staffClient(t, b, auth.PropertyManager, communityA)
	var gate struct{ ID string }
	pm.json("POST", "/gates", map[string]string{"community": communityA, "name": "西门"}, 201, &gate)
	now := time.Now().UTC().Format(time.RFC3339)
	raw := func(c client, method, path, body, ctype string) (int, string) {
		req := strings.NewReader(body)
		return doRaw(t, c, method, path, req, ctype)
	}
	tests := []struct {
		name, method, path, body string
		code                     int
		field                    string
	}{
		{"malformed json", "POST", "/gates", `{"community":`, 400, ""},
		{"wrong type", "POST", "/gates", `{"community":110105001001,"name":"x"}`, 400, "community"},
		{"unknown field", "POST", "/gates", `{"community":"110105001001","name":"x","vip":true}`, 400, "vip"},
		{"trailing data", "POST", "/gates", `{"community":"110105001001","name":"x"} {}`, 400, ""},
		{"empty body", "POST", "/gates", ``, 400, ""},
		{"missing field", "POST", "/gates", `{"community":"110105001001"}`, 400, "name"},
		{"content security", "POST", "/gates", `{"community":"110105001001","name":"违禁门"}`, 400, "name"},
		{"unknown gate", "POST", "/scans", fmt.Sprintf(`{"scan_id":"a","token":"OB1.x","gate":"nope","direction":"in","scanned_at":%q}`, now), 400, "gate"},
		{"bad direction", "POST", "/scans", fmt.Sprintf(`{"scan_id":"a","token":"OB1.x","gate":%q,"direction":"sideways","scanned_at":%q}`, gate.ID, now), 400, "direction"},
		{"bad time", "POST", "/scans", fmt.Sprintf(`{"scan_id":"a","token":"OB1.x","gate":%q,"direction":"in","scanned_at":"yesterday"}`, gate.ID), 400, ""},
		{"empty batch", "POST", "/scans/batch", `{"scans":[]}`, 400, "scans"},
		{"oversized body", "POST", "/scans/batch", `{"scans":[` + strings.Repeat(`{"scan_id":"a"},`, 70000) + `{}]}`, 413, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pm.t = t
			code, body := raw(pm, tt.method, tt.path, tt.body, "application/json")
			if code != tt.code {
				t.Fatalf("%d %s, want %d", code, body, tt.code)
			}
			if !strings.Contains(body, `"error"`) || !strings.Contains(body, `"message"`) {
				t.Fatalf("not a JSON error: %s", body)
			}
			if tt.field != "" && !strings.Contains(body, `"field":"`+tt.field+`"`) {
				t.Fatalf("error does not name %s: %s", tt.field, body)
			}
		})
	}
	// A forged token is a denied scan (recorded), not a server error.
	// Well-formed (version 1, a real community, a validity window around
	// now) but signed by nobody.
	tok := make([]byte, 99)
	tok[0] = 1
	binary.BigEndian.PutUint64(tok[22-3:30], 110105001001) // 40-bit community at bytes 22..26
	tok[21] = 0
	binary.BigEndian.PutUint32(tok[27:31], uint32(time.Now().Add(-time.Hour).Unix()))
	binary.BigEndian.PutUint32(tok[31:35], uint32(time.Now().Add(time.Hour).Unix()))
	forged := "OB1." + base64.RawURLEncoding.EncodeToString(tok)
	code, body := pm.do("POST", "/scans", map[string]any{"scan_id": "f1", "token": forged, "gate": gate.ID, "direction": "in", "scanned_at": time.Now().UTC()})
	if code != 403 || !strings.Contains(string(body), `"forged"`) {
		t.Fatalf("forged token: %d %s", code, body)
	}
}
