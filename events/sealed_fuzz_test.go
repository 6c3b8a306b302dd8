package events

import (
	"context"
	"encoding/json"
	"maps"
	"testing"
)

// FuzzOpenFields: a sealed payload is read without a JSON decoder (findBox,
// parseBox, joinOpened, countMembers), and verify-export reads it from a
// stranger's bundle. Around a box that opens (sealed here over plain with
// a disclosed data key), whatever the public members and the sealed
// plaintext are, OpenFields must not panic, and whatever it opens of a
// JSON payload must be what encoding/json reads of the two halves: the
// payload's members but the box, and the plaintext's, none in both.
func FuzzOpenFields(f *testing.F) {
	f.Add(`{"community":"110105001001",`, `}`, []byte(`{"person":"p-1","temperature":37.9}`))
	f.Add(`{`, `,"z":[1,{"sealed":2}]}`, []byte(`{"a":"\"sealed\":{"}`))
	f.Add(`{"a":1,`, `}`, []byte(`{"a":2}`))
	f.Add(`{`, `}`, []byte(`{}`))
	f.Add(`{"a":"x",`, `,"b":{"c":[]}}`, []byte(`{"d":null}   `))
	f.Add(`[`, `]`, []byte(`{"d":null}`))
	f.Fuzz(func(t *testing.T, before, after string, plain []byte) {
		ctx := context.Background()
		const id = "01936b2e-7c1a-7d3e-8f00-0123456789ab"
		e := Event{ID: id, Type: "health.declared"}
		dataKey := make([]byte, 32)
		box, err := boxSeal(dataKey, e.ID, e.Type, plain)
		if err != nil {
			t.Fatal(err)
		}
		e.Payload = []byte(before + `"sealed":{"box":"` + b64(box) + `","key":"AAAA","to":"AAAA"}` + after)
		r := sealedRegistry(DataKeys{id: dataKey})
		o, err := r.OpenFields(ctx, e)
		// Beyond not panicking, OpenFields answers for the payloads of
		// events (Parse and New check that a payload is JSON).
		if err != nil || o.Fields == nil || !json.Valid(e.Payload) {
			return
		}
		var payload, hidden map[string]json.RawMessage
		if err := json.Unmarshal(e.Payload, &payload); err != nil {
			t.Fatalf("opened %q, which encoding/json refuses: %v", e.Payload, err)
		}
		if _, ok := payload[SealedMember]; !ok {
			t.Fatalf("opened a box in %q, which has no member %q", e.Payload, SealedMember)
		}
		delete(payload, SealedMember)
		if err := json.Unmarshal(plain, &hidden); err != nil {
			t.Fatalf("opened plaintext %q, which encoding/json refuses: %v", plain, err)
		}
		for k := range hidden {
			if _, dup := payload[k]; dup {
				t.Fatalf("opened %q with %q both public and sealed", e.Payload, k)
			}
		}
		maps.Copy(payload, hidden)
		if !maps.EqualFunc(o.Fields, payload, func(a, b json.RawMessage) bool { return string(a) == string(b) }) {
			t.Fatalf("OpenFields(%q, plaintext %q) = %s, encoding/json reads %s", e.Payload, plain, o.Fields, payload)
		}
	})
}
