package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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
	if !strings.HasPrefix(pass.Token, passtoken.Prefix) || len(pass.Token) != 136 {
		t.Fatalf("pass token %q", pass.Token)
	}
	// The token names the pass by its token id, not by the pass id that
	// the ledger's pass events carry in clear.
	claims, _, err := passtoken.Parse(pass.Token)
	if pid := uuid.MustParse(pass.PassID); err != nil || claims.FormatOne() || claims.TokenID == passtoken.TokenID(pid) {
		t.Fatalf("pass token %s: claims %+v, %v; pass %s", pass.Token, claims, err, pass.PassID)
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
	// A token of format 1 (the pass id itself, as the backend issued them
	// before token ids) still opens the gate online until it expires: its
	// holder is not turned away by the upgrade.
	var pass1 struct {
		PassID string `json:"pass_id"`
	}
	res.json("GET", "/me/passes/"+m[1].PersonID, nil, 200, &pass1)
	old := formatOneToken(t, b.dir, pass1.PassID, communityA, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	if code, body := op.do("POST", "/scans", map[string]any{"scan_id": "j-old", "token": old, "gate": gate.ID, "direction": "in", "scanned_at": time.Now().UTC()}); code != 200 || !strings.Contains(string(body), `"allow"`) {
		t.Fatalf("scan of a format-1 token: %d %s", code, body)
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
		if len(inside.Inside) > 1 || time.Now().After(deadline) {
			break
		}
	}
	names := []string{}
	for _, x := range inside.Inside {
		names = append(names, x.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"王*", "王**"}) { // both scanned in, one with a format-1 token
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
	if !slices.Contains(l.Tokens, claims.TokenID) || strings.Contains(string(list), "red_status") || strings.Contains(string(list), pass.PassID) {
		t.Fatalf("revocations %s, want token id %s without a reason or the pass id %s", list, claims.TokenID, pass.PassID)
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
	// Well-formed (format 2, a real community, a validity window around
	// now) but signed by nobody.
	tok := make([]byte, 99)
	tok[0] = 2
	binary.BigEndian.PutUint64(tok[22-3:30], 110105001001) // 40-bit community at bytes 22..26
	tok[21] = 0
	binary.BigEndian.PutUint32(tok[27:31], uint32(time.Now().Add(-time.Hour).Unix()))
	binary.BigEndian.PutUint32(tok[31:35], uint32(time.Now().Add(time.Hour).Unix()))
	forged := passtoken.Prefix + base64.RawURLEncoding.EncodeToString(tok)
	code, body := pm.do("POST", "/scans", map[string]any{"scan_id": "f1", "token": forged, "gate": gate.ID, "direction": "in", "scanned_at": time.Now().UTC()})
	if code != 403 || !strings.Contains(string(body), `"forged"`) {
		t.Fatalf("forged token: %d %s", code, body)
	}
}

// formatOneToken signs, with the backend's pass key in dir, a token of
// format 1, which carried the pass id at offset 5 (backend/passtoken's
// doc.go): passtoken no longer issues them.
func formatOneToken(t *testing.T, dir, passID, community string, nb, na time.Time) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(dir, "pass.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := passtoken.ParseSigner(string(text))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(strings.TrimSpace(string(text)), "+")
	seed, err := base64.RawURLEncoding.DecodeString(f[len(f)-1])
	if err != nil {
		t.Fatal(err)
	}
	c, err := strconv.ParseUint(community, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.MustParse(passID)
	body := binary.BigEndian.AppendUint32([]byte{0x01}, uint32(s.KeyID()))
	body = append(body, id[:]...)
	body = append(body, 0x00, byte(c>>32), byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
	body = binary.BigEndian.AppendUint32(body, uint32(nb.Unix()))
	body = binary.BigEndian.AppendUint32(body, uint32(na.Unix()))
	sig := ed25519.Sign(ed25519.NewKeyFromSeed(seed), append([]byte("onebook pass v1\x00"), body...))
	return passtoken.PrefixFormat1 + base64.RawURLEncoding.EncodeToString(append(body, sig...))
}
