package passevents

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
)

func TestUpcastScannedV1(t *testing.T) {
	r := events.NewRegistry().WithKeyring(events.NewMemoryKeyring())
	Register(r)
	tests := []struct {
		name    string
		payload string
		want    Scanned
	}{
		{"allowed", `{"allowed":true,"community":"110105001001","direction":"in","holder":"h1","pass":"p1"}`,
			Scanned{Pass: "p1", Holder: "h1", Community: "110105001001", Direction: In, Decision: Allow}},
		{"denied", `{"allowed":false,"community":"110105001001","direction":"out","holder":"h1","pass":"p1"}`,
			Scanned{Pass: "p1", Holder: "h1", Community: "110105001001", Direction: Out, Decision: Deny, Reason: "unrecorded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := events.Event{ID: events.NewID(), Type: TypeScanned, Version: 1,
				Aggregate: events.Aggregate{Kind: KindGate, ID: "g1"}, Region: "110105001001",
				Actor: events.Actor{Role: "gate_operator", ID: "op1"}, Time: time.Now().UTC(), Payload: json.RawMessage(tt.payload)}
			got, err := events.DecodeAs[Scanned](context.Background(), r, e)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	now := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		p     events.Payload
		field string // "" = valid
	}{
		{"issued ok", Issued{Holder: "h", HolderOf: HolderResident, Community: "110105001001", NotBefore: now, NotAfter: now.Add(time.Hour)}, ""},
		{"issued empty window", Issued{Holder: "h", HolderOf: HolderResident, Community: "110105001001", NotBefore: now, NotAfter: now}, "not_after"},
		{"issued district not community", Issued{Holder: "h", HolderOf: HolderVisitor, Community: "110105", NotBefore: now, NotAfter: now.Add(time.Hour)}, "community"},
		{"issued bad holder kind", Issued{Holder: "h", HolderOf: "cat", Community: "110105001001", NotBefore: now, NotAfter: now.Add(time.Hour)}, "holder_of"},
		{"revoked ok", Revoked{Reason: ReasonRedStatus}, ""},
		{"revoked unknown", Revoked{Reason: "bored"}, "reason"},
		{"scan ok", Scanned{ScanID: "s", Pass: "p", Holder: "h", Community: "110105001001", Direction: In, Decision: Allow}, ""},
		{"scan deny without reason", Scanned{Pass: "p", Community: "110105001001", Direction: In, Decision: Deny}, "reason"},
		{"scan bad direction", Scanned{Pass: "p", Community: "110105001001", Direction: "up", Decision: Allow}, "direction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var e *events.Error
			if !errors.As(err, &e) || e.Field != tt.field || e.Code != events.CodeInvalid {
				t.Fatalf("got %v, want invalid %s", err, tt.field)
			}
		})
	}
}
