package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	for i := 0; i < auth.DashboardFailLimit; i++ {
		if status, _, body := call(t, app, "POST", "/auth/dashboard", "", map[string]string{"code": "ZZZZ2222"}); status != 401 {
			t.Fatalf("guess %d: %d %s", i, status, body)
		}
	}
	// Blocked now, even with the right code: guessing gets no answer.
	status, hdr, body := call(t, app, "POST", "/auth/dashboard", "", map[string]string{"code": dc.Code})
	if status != 429 || hdr.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d %s (Retry-After %q)", auth.DashboardFailLimit, status, body, hdr.Get("Retry-After"))
	}
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("429 body %s", body)
	}
}

// TestDashboardPageIsServedOffline loads the page and everything it
// references, resolved against the page's URL as a browser does, both for
// a single ledger (/dashboard) and for a province's cell mounted under its
// prefix (/p/31/dashboard): the page names its assets relative to itself,
// so they are found where the API is.
func TestDashboardPageIsServedOffline(t *testing.T) {
	single, _ := dashboardApp(t)
	cell, _ := dashboardApp(t)
	mounted := Mount([]Cell{{Name: "p31", Prefix: "/p/31", App: cell, Health: fixedHealth{}}})
	for _, tt := range []struct {
		name   string
		app    *fiber.App
		prefix string
	}{{"single ledger", single, ""}, {"province cell", mounted, "/p/31"}} {
		t.Run(tt.name, func(t *testing.T) {
			dashboardServed(t, tt.app, tt.prefix)
		})
	}
}

func dashboardServed(t *testing.T, app *fiber.App, prefix string) {
	page := prefix + "/dashboard"
	status, hdr, body := call(t, app, "GET", page, "", nil)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("%s: %d %s", page, status, hdr.Get("Content-Type"))
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	// With a trailing slash the page is sent, relatively, to itself.
	status, hdr, _ = call(t, app, "GET", page+"/", "", nil)
	base, _ := url.Parse("http://example.org" + page)
	slash, _ := url.Parse("http://example.org" + page + "/")
	if loc, err := url.Parse(hdr.Get("Location")); status != 301 || err != nil || slash.ResolveReference(loc).Path != page {
		t.Errorf("%s/: %d to %q, want 301 to %s", page, status, hdr.Get("Location"), page)
	}
	// Everything the page loads is its own (no CDN), and beside it.
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(body), -1)
	if len(refs) < 3 {
		t.Fatalf("page references %v", refs)
	}
	for _, m := range refs {
		ref, err := url.Parse(m[1])
		if err != nil || ref.IsAbs() || ref.Host != "" {
			t.Errorf("page loads %s", m[1])
			continue
		}
		asset := base.ResolveReference(ref).Path
		if !strings.HasPrefix(asset, prefix+"/dashboard/assets/") {
			t.Errorf("page loads %s, at %s", m[1], asset)
			continue
		}
		status, hdr, body := call(t, app, "GET", asset, "", nil)
		if status != 200 || len(body) == 0 {
			t.Errorf("%s: %d", asset, status)
		}
		etag := hdr.Get("ETag")
		req := httptest.NewRequest("GET", asset, nil)
		req.Header.Set("If-None-Match", etag)
		if resp, err := app.Test(req, -1); err != nil || resp.StatusCode != 304 {
			t.Errorf("%s with its ETag: %v %v", asset, resp.StatusCode, err)
		}
	}
	for _, want := range []string{"chart-entries", "chart-flows", "chart-cases", "chart-stock", "chart-ledger", "exports", `id="code"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("page has no %s", want)
		}
	}
	status, hdr, _ = call(t, app, "GET", prefix+"/dashboard/assets/echarts.min.js", "", nil)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/javascript") {
		t.Errorf("echarts: %d %s", status, hdr.Get("Content-Type"))
	}
	for _, missing := range []string{"/dashboard/assets/nope.js", "/dashboard/assets/..%2Findex.html", "/dashboard/assets/.hidden"} {
		if status, _, _ := call(t, app, "GET", prefix+missing, "", nil); status != 404 {
			t.Errorf("%s: %d", prefix+missing, status)
		}
	}
}
