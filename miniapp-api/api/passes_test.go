package api

import (
	"context"
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
		code, hdr, body := getWithHeader(t, app, "/passes/revocations", "If-None-Match", tt.ifNoneMatch)
		if code != tt.want || hdr.Get("ETag") != etag || hdr.Get("Cache-Control") != "no-cache" {
			t.Fatalf("If-None-Match %q: %d, ETag %q, Cache-Control %q; want %d", tt.ifNoneMatch, code, hdr.Get("ETag"), hdr.Get("Cache-Control"), tt.want)
		}
		if want := map[int]string{200: list, 304: ""}[tt.want]; string(body) != want {
			t.Fatalf("If-None-Match %q: body %q, want %q", tt.ifNoneMatch, body, want)
		}
	}
}
