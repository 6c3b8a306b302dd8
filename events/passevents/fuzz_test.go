package passevents

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
)

// FuzzDecode feeds arbitrary payloads of every pass event type and schema
// version to the registry: it must never panic, and whatever it accepts must
// be valid.
func FuzzDecode(f *testing.F) {
	r := events.NewRegistry().WithKeyring(events.NewMemoryKeyring())
	Register(r)
	f.Add(TypeScanned, 1, []byte(`{"allowed":true,"community":"110105001001","direction":"in","holder":"h1","pass":"p1"}`))
	f.Add(TypeScanned, 2, []byte(`{"community":"110105001001","decision":"deny","direction":"in","holder":"h1","pass":"p1","reason":"expired","scan_id":"s"}`))
	f.Add(TypeIssued, 1, []byte(`{"community":"110105001001","holder":"h","holder_of":"resident","not_after":"2026-02-02T00:00:00Z","not_before":"2026-02-01T00:00:00Z"}`))
	f.Add(TypeRevoked, 1, []byte(`{"reason":"lost_phone"}`))
	f.Add(TypeRevoked, 1, []byte(`{"reason":1}`))
	f.Fuzz(func(t *testing.T, typ string, v int, payload []byte) {
		e := events.Event{ID: events.NewID(), Type: typ, Version: v, Aggregate: events.Aggregate{Kind: KindGate, ID: "g"},
			Region: "110105001001", Actor: events.Actor{Role: "gate_operator"}, Time: time.Unix(0, 0).UTC(), Payload: json.RawMessage(payload)}
		p, err := r.Decode(context.Background(), e)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid payload: %v", err)
		}
	})
}
