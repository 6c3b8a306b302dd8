package events

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

type gateOpened struct {
	Gate  string `json:"gate" disclose:"public"`
	Shift string `json:"shift" disclose:"public"`
}

func (p gateOpened) Validate() error {
	if p.Gate == "" {
		return Invalid("gate", "gate is required")
	}
	return nil
}

func testRegistry() *Registry {
	r := NewRegistry()
	Register[gateOpened](r, "gate.opened", "gate", 2, Upcaster{From: 1, Fn: func(old json.RawMessage) (json.RawMessage, error) {
		var v1 struct {
			Gate string `json:"gate"`
		}
		if err := json.Unmarshal(old, &v1); err != nil {
			return nil, err
		}
		return json.Marshal(gateOpened{Gate: v1.Gate, Shift: "day"})
	}})
	return r
}

func TestRegistryNewAndDecode(t *testing.T) {
	r := testRegistry()
	m := Meta{Aggregate: Aggregate{Kind: "gate", ID: "g1"}, Region: "110105001001", Actor: Actor{Role: "property_manager", ID: "pm1"}}
	e, err := r.New(context.Background(), "gate.opened", m, gateOpened{Gate: "g1", Shift: "night"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Version != 2 || e.ID == "" || e.Time.Location() != time.UTC {
		t.Fatalf("bad event %+v", e)
	}
	got, err := DecodeAs[gateOpened](context.Background(), r, e)
	if err != nil || got != (gateOpened{Gate: "g1", Shift: "night"}) {
		t.Fatalf("decode: %+v %v", got, err)
	}
	// An old event is upcast on read.
	e.Version, e.Payload = 1, json.RawMessage(`{"gate":"g9"}`)
	got, err = DecodeAs[gateOpened](context.Background(), r, e)
	if err != nil || got != (gateOpened{Gate: "g9", Shift: "day"}) {
		t.Fatalf("upcast: %+v %v", got, err)
	}
}

func TestRegistryRefuses(t *testing.T) {
	r := testRegistry()
	m := Meta{Aggregate: Aggregate{Kind: "gate", ID: "g1"}, Region: "110105001001", Actor: Actor{Role: "property_manager", ID: "pm1"}}
	base, _ := r.New(context.Background(), "gate.opened", m, gateOpened{Gate: "g1"})
	tests := []struct {
		name  string
		do    func() error
		field string
	}{
		{"unknown type on new", func() error {
			_, err := r.New(context.Background(), "gate.closed", m, gateOpened{Gate: "g"})
			return err
		}, "type"},
		{"wrong aggregate kind", func() error {
			m2 := m
			m2.Aggregate.Kind = "pass"
			_, err := r.New(context.Background(), "gate.opened", m2, gateOpened{Gate: "g"})
			return err
		}, "aggregate.kind"},
		{"invalid payload", func() error { _, err := r.New(context.Background(), "gate.opened", m, gateOpened{}); return err }, "payload.gate"},
		{"future version", func() error { e := base; e.Version = 3; _, err := r.Decode(context.Background(), e); return err }, "v"},
		{"unknown payload field", func() error {
			e := base
			e.Payload = json.RawMessage(`{"gate":"g","shift":"day","secret":"x"}`)
			_, err := r.Decode(context.Background(), e)
			return err
		}, "payload"},
		{"decoded payload invalid", func() error {
			e := base
			e.Payload = json.RawMessage(`{"gate":"","shift":"day"}`)
			_, err := r.Decode(context.Background(), e)
			return err
		}, "payload.gate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			var e *Error
			if !errors.As(err, &e) || e.Field != tt.field {
				t.Fatalf("got %v, want error on %q", err, tt.field)
			}
		})
	}
}

func TestErrorIs(t *testing.T) {
	err := error(&Error{Code: CodeConflict, Message: "x"})
	if !errors.Is(err, ErrConflict) || errors.Is(err, ErrDuplicate) {
		t.Fatal("errors.Is does not match by code")
	}
	if ErrorCode(errors.New("plain")) != CodeInternal {
		t.Fatal("plain errors must be internal")
	}
}
