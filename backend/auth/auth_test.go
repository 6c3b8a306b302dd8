package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
)

func TestAuthorize(t *testing.T) {
	pm := Principal{Subject: "s1", Role: PropertyManager, Scope: "110105001001"}
	gov := Principal{Subject: "s2", Role: GovAnalyst, Scope: "110105"}
	res := Principal{Subject: "r1", Role: Resident, Scope: "110105001001"}
	tests := []struct {
		name   string
		p      Principal
		a      Action
		region events.Region
		code   events.Code // "" = allowed
	}{
		{"pm scans own community", pm, ActScan, "110105001001", ""},
		{"pm scans other community", pm, ActScan, "110105001002", events.CodeForbidden},
		{"pm may not trace", pm, ActTrace, "110105001001", events.CodeForbidden},
		{"gov traces in district", gov, ActTrace, "110105001002", ""},
		{"gov out of district", gov, ActTrace, "110106001001", events.CodeForbidden},
		{"gov views community", gov, ActCommunityView, "110105001001", ""},
		{"gov may not scan", gov, ActScan, "110105001001", events.CodeForbidden},
		{"resident declares", res, ActDeclare, "110105001001", ""},
		{"resident may not scan", res, ActScan, "110105001001", events.CodeForbidden},
		{"anonymous", Principal{}, ActOwnPass, "", events.CodeUnauthorized},
		{"parent scope does not leak to sibling prefix", Principal{Subject: "x", Role: GovAnalyst, Scope: "1101"}, ActFlows, "110206", events.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Authorize(tt.p, tt.a, tt.region)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				return
			}
			if events.ErrorCode(err) != tt.code {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
		})
	}
}

func TestSessions(t *testing.T) {
	now := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key := []byte(strings.Repeat("k", 32))
	s, err := NewSessions(key, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	p := Principal{Subject: "staff-1", Role: GateOperator, Scope: "110105001001", OpenID: "o123"}
	tok, exp, err := s.Issue(p)
	if err != nil || !exp.Equal(now.Add(time.Hour)) {
		t.Fatal(err, exp)
	}
	got, err := s.Verify(tok)
	if err != nil || got != p {
		t.Fatalf("%+v %v", got, err)
	}
	other, _ := NewSessions([]byte(strings.Repeat("x", 32)), time.Hour, clock)
	// Cells of a deployment with a ledger per province, here with the
	// same key, as if it had been shared: the audience keeps them apart.
	p31, _ := NewSessions(key, time.Hour, clock)
	p31.Audience = "p31"
	p44, _ := NewSessions(key, time.Hour, clock)
	p44.Audience = "p44"
	tok31, _, err := p31.Issue(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p31.Verify(tok31); err != nil || got != p {
		t.Fatalf("a token of p31 in p31: %+v %v", got, err)
	}
	tests := []struct {
		name, token string
		s           *Sessions
	}{
		{"garbage", "abc", s},
		{"other key", tok, other},
		{"another cell's token", tok31, p44},
		{"a cell's token where sessions have no cell", tok31, s},
		{"a token of no cell in a cell", tok, p31},
		{"tampered", tok[:len(tok)-2] + "xx", s},
		{"none alg", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0.", s},
	}
	for _, tt := range tests {
		if _, err := tt.s.Verify(tt.token); events.ErrorCode(err) != events.CodeUnauthorized {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	now = now.Add(2 * time.Hour)
	_, err = s.Verify(tok)
	var e *events.Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "expired") {
		t.Fatalf("expired token: %v", err)
	}
}
