package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/events"
)

// memIdempotency is an in-memory Idempotency for tests.
type memIdempotency struct {
	mu sync.Mutex
	m  map[string]Recorded
}

func (s *memIdempotency) Claim(_ context.Context, key string, r Recorded) (Recorded, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if first, ok := s.m[key]; ok {
		return first, false, nil
	}
	s.m[key] = r
	return r, true, nil
}

func (s *memIdempotency) Finish(_ context.Context, key string, r Recorded) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = r
	return nil
}

func (s *memIdempotency) Release(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func TestIdempotencyKey(t *testing.T) {
	store := &memIdempotency{m: map[string]Recorded{}}
	runs := 0
	fail := false
	app := fiber.New(fiber.Config{ErrorHandler: errorHandler(nopLog())})
	app.Use(idempotent(store, nopLog()))
	app.Post("/things", func(c *fiber.Ctx) error {
		runs++
		if fail {
			return events.Errorf(events.CodeUnavailable, "the ledger stalls")
		}
		if string(c.Body()) == `{"bad":true}` {
			return events.Invalid("bad", "no")
		}
		return c.Status(201).JSON(map[string]int{"run": runs})
	})
	call := func(key, body string) (int, string, string) {
		req := httptest.NewRequest("POST", "/things", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer t1")
		if key != "" {
			req.Header.Set(IdempotencyHeader, key)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Get("Idempotent-Replayed")
	}
	tests := []struct {
		name             string
		key, body        string
		fail             bool
		wantCode         int
		wantBody         string
		wantRuns         int
		wantReplayHeader string
	}{
		{"no key runs", "", `{}`, false, 201, `{"run":1}`, 1, ""},
		{"no key runs again", "", `{}`, false, 201, `{"run":2}`, 2, ""},
		{"a key runs once", "k1", `{"a":1}`, false, 201, `{"run":3}`, 3, ""},
		{"its retry gets the first answer", "k1", `{"a":1}`, false, 201, `{"run":3}`, 3, "true"},
		{"the same key with another request", "k1", `{"a":2}`, false, 422, `"field":"Idempotency-Key"`, 3, ""},
		{"a client error is an answer too", "k2", `{"bad":true}`, false, 400, `"field":"bad"`, 4, ""},
		{"and is replayed", "k2", `{"bad":true}`, false, 400, `"field":"bad"`, 4, "true"},
		{"a server failure is not recorded", "k3", `{}`, true, 503, `unavailable`, 5, ""},
		{"its retry runs again", "k3", `{}`, false, 201, `{"run":6}`, 6, ""},
		{"a key of control characters", "a\x01", `{}`, false, 400, `"field":"Idempotency-Key"`, 6, ""},
	}
	for _, tc := range tests {
		fail = tc.fail
		code, body, replayed := call(tc.key, tc.body)
		if code != tc.wantCode || !strings.Contains(body, tc.wantBody) || runs != tc.wantRuns || replayed != tc.wantReplayHeader {
			t.Errorf("%s: %d %s (replayed %q), %d runs; want %d %s, %d runs", tc.name, code, body, replayed, runs, tc.wantCode, tc.wantBody, tc.wantRuns)
		}
	}
	// Another caller's equal key is another key.
	req := httptest.NewRequest("POST", "/things", strings.NewReader(`{"a":1}`))
	req.Header.Set("Authorization", "Bearer t2")
	req.Header.Set(IdempotencyHeader, "k1")
	resp, _ := app.Test(req, -1)
	if resp.StatusCode != 201 || resp.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("another caller's k1: %d", resp.StatusCode)
	}
}

func nopLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestOpenAPIDeclaresIdempotencyKey: every operation the middleware applies
// to declares the Idempotency-Key header, and no other does, so that
// clients generated from the document send it.
func TestOpenAPIDeclaresIdempotencyKey(t *testing.T) {
	type param struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	}
	var doc struct {
		Paths      map[string]map[string]struct{ Parameters []param } `json:"paths"`
		Components struct {
			Parameters map[string]param `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatal(err)
	}
	const ref = "#/components/parameters/IdempotencyKey"
	if p := doc.Components.Parameters["IdempotencyKey"]; p.Name != IdempotencyHeader || p.In != "header" {
		t.Fatalf("components.parameters.IdempotencyKey is %+v, want the %s header", p, IdempotencyHeader)
	}
	writes := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			declared := slices.ContainsFunc(op.Parameters, func(p param) bool { return p.Ref == ref })
			want := stateChanging(strings.ToUpper(method))
			if declared != want {
				t.Errorf("%s %s: declares Idempotency-Key %v, want %v", strings.ToUpper(method), path, declared, want)
			}
			if want {
				writes++
			}
		}
	}
	if writes == 0 {
		t.Fatal("no state-changing operation in the document")
	}
}
