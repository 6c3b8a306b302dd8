package api

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzLedgerQueries sends arbitrary paths and query strings to the ledger
// routes: the answer is never a 5xx, and every error is the JSON error shape.
func FuzzLedgerQueries(f *testing.F) {
	led := newMemLedger(f, 21)
	f.Add("/ledger/proof/inclusion", "index=3&size=10")
	f.Add("/ledger/proof/consistency", "old=3&new=10")
	f.Add("/ledger/events/5", "")
	f.Add("/ledger/proof/inclusion", "index=99999999999999999999")
	f.Add("/ledger/proof/inclusion", "index=%zz")
	f.Fuzz(func(t *testing.T, path, query string) {
		u, err := url.Parse(path)
		if err != nil || u.Path == "" || u.Path[0] != '/' {
			return
		}
		app := New(Config{Ledger: led, Events: led, Health: fixedHealth{}})
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path, req.URL.RawQuery = u.Path, query
		resp, err := app.Test(req, -1)
		if err != nil {
			return // not a request Fiber can parse at all
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s?%s: %d %s", path, query, resp.StatusCode, body)
		}
		if resp.StatusCode >= 400 {
			var e errorBody
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
				t.Fatalf("%s?%s: %d with a non-JSON error %q", path, query, resp.StatusCode, body)
			}
		}
	})
}
