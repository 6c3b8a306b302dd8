package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/auth"
)

func dashboardApp(t *testing.T) (*fiber.App, *auth.Sessions) {
	t.Helper()
	sess, err := auth.NewSessions(bytes.Repeat([]byte{7}, 32), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	led := newMemLedger(t, 1)
	return New(Config{Ledger: led, Events: led, Health: fixedHealth{}, Sessions: sess}), sess
}

func call(t *testing.T, app *fiber.App, method, path, token string, body any) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestDashboardCodeSignsInTheSameAccount(t *testing.T) {
	app, sess := dashboardApp(t)
	staff := auth.Principal{Subject: "s-gov", Role: auth.GovAnalyst, Scope: "110105", OpenID: "o-gov"}
	tok, _, _ := sess.Issue(staff)

	status, hdr, body := call(t, app, "POST", "/auth/dashboard-code", tok, nil)
	if status != 200 {
		t.Fatalf("dashboard-code: %d %s", status, body)
	}
	if hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", hdr.Get("Cache-Control"))
	}
	var dc DashboardCode
	if err := json.Unmarshal(body, &dc); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$`).MatchString(dc.Code) {
		t.Fatalf("code %q", dc.Code)
	}
	if d := time.Until(dc.ExpiresAt); d < 4*time.Minute || d > 5*time.Minute {
		t.Errorf("expires in %v", d)
	}

	// Typed by a person: lower case, a dash.
	typed := strings.ToLower(dc.Code[:4] + "-" + dc.Code[4:])
	status, _, body = call(t, app, "POST", "/auth/dashboard", "", map[string]string{"code": typed})
	if status != 200 {
		t.Fatalf("dashboard sign-in: %d %s", status, body)
	}
	var s Session
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	p, err := sess.Verify(s.Token)
	if err != nil {
		t.Fatal(err)
	}
	if p != staff {
		t.Fatalf("signed in as %+v, want %+v", p, staff)
	}
	// Single use.
	if status, _, body = call(t, app, "POST", "/auth/dashboard", "", map[string]string{"code": dc.Code}); status != 401 {
		t.Fatalf("second use: %d %s", status, body)
	}
}

func TestDashboardCodeRefusals(t *testing.T) {
	app, sess := dashboardApp(t)
	resident, _, _ := sess.Issue(auth.Principal{Subject: "r1", Role: auth.Resident, Scope: "110105001001"})
	if status, _, body := call(t, app, "POST", "/auth/dashboard-code", resident, nil); status != 403 {
		t.Errorf("resident: %d %s", status, body)
	}
	if status, _, body := call(t, app, "POST", "/auth/dashboard-code", "", nil); status != 401 {
		t.Errorf("anonymous: %d %s", status, body)
	}
	for _, tc := range []struct {
		body any
		want int
	}{
		{map[string]string{"code": "ABC"}, 400},               // too short
		{map[string]string{"code": "ABCD01IO"}, 400},          // ambiguous characters are never in a code
		{map[string]any{"code": 12345678}, 400},               // wrong type
		{map[string]string{"code": "ABCD2345", "x": ""}, 400}, // unknown field
		{map[string]string{"code": "ABCD2345"}, 401},          // no such code
	} {
		if status, _, body := call(t, app, "POST", "/auth/dashboard", "", tc.body); status != tc.want {
			t.Errorf("%v: %d %s, want %d", tc.body, status, body, tc.want)
		}
	}
}

func TestDashboardSignInIsRateLimitedPerIP(t *testing.T) {
	app, sess := dashboardApp(t)
	tok, _, _ := sess.Issue(auth.Principal{Subject: "s-cdc", Role: auth.CDCReviewer, Scope: "1101"})
	_, _, body := call(t, app, "POST", "/auth/dashboard-code", tok, nil)
	var dc DashboardCode
	json.Unmarshal(body, &dc)
	for i := 0; i < DashboardFailLimit; i++ {
		if status, _, body := call(t, app, "POST", "/auth/dashboard", "", map[string]string{"code": "ZZZZ2222"}); status != 401 {
			t.Fatalf("guess %d: %d %s", i, status, body)
		}
	}
	// Blocked now, even with the right code: guessing gets no answer.
	status, hdr, body := call(t, app, "POST", "/auth/dashboard", "", map[string]string{"code": dc.Code})
	if status != 429 || hdr.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d %s (Retry-After %q)", DashboardFailLimit, status, body, hdr.Get("Retry-After"))
	}
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("429 body %s", body)
	}
}

func TestDashboardCodesExpireAndUnblock(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	d := newDeviceCodes(func() time.Time { return now })
	p := auth.Principal{Subject: "s1", Role: auth.GovAnalyst, Scope: "1101"}

	old, _, err := d.issue(p)
	if err != nil {
		t.Fatal(err)
	}
	code, _, _ := d.issue(p) // replaces the first
	if _, ok := d.redeem(old); ok {
		t.Fatal("a replaced code still works")
	}
	now = now.Add(DashboardCodeTTL - time.Second)
	if got, ok := d.redeem(code); !ok || got != p {
		t.Fatalf("redeem before expiry: %v %+v", ok, got)
	}
	code, _, _ = d.issue(p)
	now = now.Add(DashboardCodeTTL)
	if _, ok := d.redeem(code); ok {
		t.Fatal("an expired code works")
	}
	// Expired codes are forgotten at the next issue.
	d.issue(auth.Principal{Subject: "s2", Role: auth.GovAnalyst})
	now = now.Add(DashboardCodeTTL)
	d.issue(auth.Principal{Subject: "s3", Role: auth.GovAnalyst})
	if len(d.codes) != 1 || len(d.bySubject) != 1 {
		t.Fatalf("%d codes, %d subjects kept", len(d.codes), len(d.bySubject))
	}

	for i := 0; i < DashboardFailLimit; i++ {
		d.fail("192.0.2.1")
		now = now.Add(time.Second)
	}
	wait, blocked := d.blocked("192.0.2.1")
	if !blocked || wait <= 0 || wait > DashboardFailWindow {
		t.Fatalf("blocked %v for %v", blocked, wait)
	}
	if _, blocked := d.blocked("192.0.2.2"); blocked {
		t.Fatal("another address is blocked")
	}
	now = now.Add(wait)
	if _, blocked := d.blocked("192.0.2.1"); blocked {
		t.Fatal("still blocked after the window")
	}
}

func TestNewDashboardCodeUsesTheWholeAlphabet(t *testing.T) {
	seen := map[rune]int{}
	for i := 0; i < 2000; i++ {
		c, err := newDashboardCode()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := normalizeDashboardCode(c); !ok {
			t.Fatalf("code %q does not normalize", c)
		}
		for _, r := range c {
			seen[r]++
		}
	}
	if len(seen) != len(DashboardCodeAlphabet) {
		t.Fatalf("%d of %d characters used", len(seen), len(DashboardCodeAlphabet))
	}
	for r, n := range seen { // 16,000 draws, ~516 each
		if n < 380 || n > 660 {
			t.Errorf("%q drawn %d times", r, n)
		}
	}
}

func TestDashboardPageIsServedOffline(t *testing.T) {
	app, _ := dashboardApp(t)
	status, hdr, page := call(t, app, "GET", "/dashboard", "", nil)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("/dashboard: %d %s", status, hdr.Get("Content-Type"))
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	// Everything the page loads is its own: no CDN.
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1)
	if len(refs) < 3 {
		t.Fatalf("page references %v", refs)
	}
	for _, m := range refs {
		if !strings.HasPrefix(m[1], "/dashboard/assets/") {
			t.Errorf("page loads %s", m[1])
			continue
		}
		status, hdr, body := call(t, app, "GET", m[1], "", nil)
		if status != 200 || len(body) == 0 {
			t.Errorf("%s: %d", m[1], status)
		}
		etag := hdr.Get("ETag")
		req := httptest.NewRequest("GET", m[1], nil)
		req.Header.Set("If-None-Match", etag)
		if resp, err := app.Test(req, -1); err != nil || resp.StatusCode != 304 {
			t.Errorf("%s with its ETag: %v %v", m[1], resp.StatusCode, err)
		}
	}
	for _, want := range []string{"chart-entries", "chart-flows", "chart-cases", "chart-stock", "chart-ledger", "exports", `id="code"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page has no %s", want)
		}
	}
	status, hdr, _ = call(t, app, "GET", "/dashboard/assets/echarts.min.js", "", nil)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/javascript") {
		t.Errorf("echarts: %d %s", status, hdr.Get("Content-Type"))
	}
	for _, missing := range []string{"/dashboard/assets/nope.js", "/dashboard/assets/..%2Findex.html", "/dashboard/assets/.hidden"} {
		if status, _, _ := call(t, app, "GET", missing, "", nil); status != 404 {
			t.Errorf("%s: %d", missing, status)
		}
	}
}
