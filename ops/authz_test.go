package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
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
	code, out := ops(t, append([]string{"staff", "add", "--role", string(role), "--scope", scope}, b.args()...)...)
	if code != 0 {
		t.Fatalf("staff add: %s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	invite := lines[len(lines)-1]
	c := client{t: t, base: "http://" + b.httpAddr}
	var s struct{ Token string }
	c.json("POST", "/auth/staff/bind", map[string]string{"code": fmt.Sprintf("staff-%s-%s-%d", role, scope, time.Now().UnixNano()), "invite_code": invite}, 200, &s)
	c.token = s.Token
	return c
}

// TestAuthorizationMatrix calls every authenticated endpoint as every role,
// in and out of the region the data belongs to, and checks who gets through.
func TestAuthorizationMatrix(t *testing.T) {
	b := newBackend(t)
	b.start(false)
	base := "http://" + b.httpAddr

	// The cast: a registered resident of community A with a pass; staff of
	// every role scoped to A (in scope) and to B (out of scope).
	resident := signIn(t, base, "resident-a")
	var reg struct {
		Household struct {
			Members []struct {
				PersonID string `json:"person_id"`
			}
		}
		Session struct{ Token string }
	}
	resident.json("PUT", "/me/household", map[string]any{"community": communityA, "building": "3", "unit": "2-401",
		"members": []map[string]string{{"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000"}}}, 200, &reg)
	resident.token = reg.Session.Token
	person := reg.Household.Members[0].PersonID
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

	type who struct {
		name string
		c    client
		role auth.Role
		in   bool // scope covers community A
	}
	cast := []who{{"anonymous", client{t: t, base: base}, "", false}, {"resident A", resident, auth.Resident, true}, {"resident B", other, auth.Resident, false}}
	for _, r := range auth.StaffRoles() {
		cast = append(cast, who{string(r) + " in A", staffClient(t, b, r, communityA), r, true})
		outScope := communityB
		if r == auth.GovAnalyst || r == auth.Admin {
			outScope = "110106" // another district
		}
		cast = append(cast, who{string(r) + " out", staffClient(t, b, r, outScope), r, false})
	}

	n := 0
	scan := func() map[string]any {
		n++
		return map[string]any{"scan_id": fmt.Sprintf("m%d", n), "token": pass.Token, "gate": gate.ID, "direction": "in", "scanned_at": time.Now().UTC()}
	}
	// One scan before the matrix, projected, so traces have a row to show.
	var first struct{ Scan struct{ Seq int64 } }
	pmA.json("POST", "/scans", scan(), 200, &first)
	// Every projection reads gate events: wait until each has folded this one.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st := b.settled()
		done := true
		for _, p := range st.Projections {
			done = done && p.Seq >= first.Scan.Seq
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
		// Both analysts are in city 1101: one sees its district's flows, the other (110106) its own.
		{"GET", "/regions/1101/flows", nil, func(w who) bool { return w.role == auth.GovAnalyst }},
		{"POST", "/staff", func() any { return map[string]string{"role": "gate_operator", "scope": communityA} }, func(w who) bool { return w.role == auth.Admin && w.in }},
		// Last: it revokes the pass the scans above use.
		{"POST", "/me/passes/" + person + "/revoke", nil, func(w who) bool { return w.name == "resident A" }},
	}
	for _, ep := range endpoints {
		for _, w := range cast {
			t.Run(ep.method+" "+ep.path+" as "+w.name, func(t *testing.T) {
				var body any
				if ep.body != nil {
					body = ep.body()
				}
				w.c.t = t
				code, out := w.c.do(ep.method, ep.path, body)
				denied := code == 401 || code == 403 || code == 404
				if ep.path == "/scans/batch" && code == 200 {
					denied = strings.Contains(string(out), `"rejected"`)
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
				if !ep.allowed(w) && code != 401 && code != 404 && !slices.Contains([]int{403, 200}, code) {
					t.Fatalf("unexpected status %d", code)
				}
			})
		}
	}
}

func doRaw(t *testing.T, c client, method, path string, body io.Reader, ctype string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, c.base+path, body)
	req.Header.Set("Content-Type", ctype)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
