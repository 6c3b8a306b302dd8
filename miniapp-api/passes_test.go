package api

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"
)

type fixedPassKeys struct {
	list []byte
	etag string
}

func (k fixedPassKeys) KeysJSON() ([]byte, error) { return []byte(`{"keys":[]}`), nil }

func (k fixedPassKeys) Revocations(context.Context) ([]byte, string, error) {
	return k.list, k.etag, nil
}

// TestRevocationsRevalidate: the list is served with its entity tag, and a
// scanner that names it in If-None-Match gets 304 without the body.
func TestRevocationsRevalidate(t *testing.T) {
	const list, etag = `{"kid":"0a0b0c0d","list":{},"sig":""}`, `"abc"`
	led := newMemLedger(t, 1)
	app := New(Config{Ledger: led, Events: led, Health: fixedHealth{}, PassKeys: fixedPassKeys{[]byte(list), etag}})
	tests := []struct {
		ifNoneMatch string
		want        int
	}{
		{"", 200},
		{`"abc"`, 304},
		{`W/"abc"`, 304},
		{`"old", "abc"`, 304},
		{`*`, 304},
		{`"old"`, 200},
		{`abc`, 200},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/passes/revocations", nil)
		if tt.ifNoneMatch != "" {
			req.Header.Set("If-None-Match", tt.ifNoneMatch)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want || resp.Header.Get("ETag") != etag || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("If-None-Match %q: %d, ETag %q, Cache-Control %q; want %d", tt.ifNoneMatch, resp.StatusCode, resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"), tt.want)
		}
		if want := map[int]string{200: list, 304: ""}[tt.want]; string(body) != want {
			t.Fatalf("If-None-Match %q: body %q, want %q", tt.ifNoneMatch, body, want)
		}
	}
}
