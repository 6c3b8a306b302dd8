package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
)

func sampleEvent() Event {
	return Event{
		ID:        "01936b2e-7c1a-7d3e-8f00-0123456789ab",
		Type:      "pass.scanned",
		Version:   2,
		Aggregate: Aggregate{Kind: "gate", ID: "g-east-1"},
		Region:    "110105001001",
		Actor:     Actor{Role: "gate_operator", ID: "op7"},
		Time:      time.Date(2026, 2, 3, 4, 5, 6, 789000000, time.UTC),
		// Deliberately not canonical: whitespace, unsorted keys, escaped '<'.
		Payload: json.RawMessage(`{ "pass": "p1", "direction":"in", "decision":"allow", "note":"\u003c1m" , "n": 1.50 }`),
	}
}

// TestCanonicalKnownAnswer pins the canonical bytes and their RFC 6962 leaf
// hash. If this test changes, every leaf hash in every ledger changes: never
// update the expected values to make it pass.
func TestCanonicalKnownAnswer(t *testing.T) {
	e := sampleEvent()
	got, err := e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"actor":{"id":"op7","role":"gate_operator"},"aggregate":{"id":"g-east-1","kind":"gate"},"id":"01936b2e-7c1a-7d3e-8f00-0123456789ab","payload":{"decision":"allow","direction":"in","n":1.5,"note":"<1m","pass":"p1"},"region":"110105001001","time":"2026-02-03T04:05:06.789Z","type":"pass.scanned","v":2}`
	if string(got) != want {
		t.Fatalf("canonical bytes\n got %s\nwant %s", got, want)
	}
	leaf := sha256.Sum256(append([]byte{0}, got...))
	const wantLeaf = "62f6a2558fd78c088cd36aaa61a3d9a5c365d79b6b178e500bb4c25c8d2a2fed"
	if hex.EncodeToString(leaf[:]) != wantLeaf {
		t.Errorf("leaf hash %x, want %s", leaf, wantLeaf)
	}
	back, err := Parse(got)
	if err != nil {
		t.Fatalf("Parse(canonical): %v", err)
	}
	again, err := back.Canonical()
	if err != nil || string(again) != want {
		t.Fatalf("round trip changed bytes: %s, %v", again, err)
	}
}

func TestParseRejects(t *testing.T) {
	good, err := func() ([]byte, error) { e := sampleEvent(); return e.Canonical() }()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ``},
		{"not json", `hello`},
		{"whitespace", " " + string(good)},
		{"unsorted keys", `{"v":2,"actor":{"id":"op7","role":"gate_operator"},"aggregate":{"id":"g-east-1","kind":"gate"},"id":"01936b2e-7c1a-7d3e-8f00-0123456789ab","payload":{},"region":"110105001001","time":"2026-02-03T04:05:06.789Z","type":"pass.scanned"}`},
		{"unknown field", `{"actor":{"id":"op7","role":"gate_operator"},"aggregate":{"id":"g-east-1","kind":"gate"},"extra":1,"id":"01936b2e-7c1a-7d3e-8f00-0123456789ab","payload":{},"region":"110105001001","time":"2026-02-03T04:05:06.789Z","type":"pass.scanned","v":2}`},
		{"bad region", `{"actor":{"id":"op7","role":"gate_operator"},"aggregate":{"id":"g-east-1","kind":"gate"},"id":"01936b2e-7c1a-7d3e-8f00-0123456789ab","payload":{},"region":"11x","time":"2026-02-03T04:05:06.789Z","type":"pass.scanned","v":2}`},
		{"payload array", `{"actor":{"id":"op7","role":"gate_operator"},"aggregate":{"id":"g-east-1","kind":"gate"},"id":"01936b2e-7c1a-7d3e-8f00-0123456789ab","payload":[],"region":"110105001001","time":"2026-02-03T04:05:06.789Z","type":"pass.scanned","v":2}`},
		{"trailing", string(good) + `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatal("Parse accepted bad input")
			}
			if ErrorCode(err) != CodeInvalid {
				t.Fatalf("code %s, want invalid: %v", ErrorCode(err), err)
			}
		})
	}
}

func TestValidateFields(t *testing.T) {
	tests := []struct {
		name  string
		mut   func(*Event)
		field string
	}{
		{"id", func(e *Event) { e.ID = "42" }, "id"},
		{"type", func(e *Event) { e.Type = "Pass Scanned" }, "type"},
		{"type trailing dot", func(e *Event) { e.Type = "pass." }, "type"},
		{"version", func(e *Event) { e.Version = 0 }, "v"},
		{"kind", func(e *Event) { e.Aggregate.Kind = "Gate" }, "aggregate.kind"},
		{"aggregate id wildcard", func(e *Event) { e.Aggregate.ID = "g.*" }, "aggregate.id"},
		{"region", func(e *Event) { e.Region = "1101" + "0" }, "region"},
		{"role", func(e *Event) { e.Actor.Role = "" }, "actor.role"},
		{"time zero", func(e *Event) { e.Time = time.Time{} }, "time"},
		{"time not utc", func(e *Event) { e.Time = e.Time.In(China()) }, "time"},
		{"payload", func(e *Event) { e.Payload = json.RawMessage(`"x"`) }, "payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sampleEvent()
			tt.mut(&e)
			err := e.Validate()
			var ee *Error
			if !errors.As(err, &ee) || ee.Field != tt.field {
				t.Fatalf("got %v, want an error on %s", err, tt.field)
			}
		})
	}
}

func TestSubject(t *testing.T) {
	e := sampleEvent()
	if got, want := e.Subject(), "ledger.110105001001.gate.g-east-1"; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestTooLarge(t *testing.T) {
	e := sampleEvent()
	big := make([]byte, MaxEventSize)
	for i := range big {
		big[i] = 'a'
	}
	e.Payload = json.RawMessage(`{"x":"` + string(big) + `"}`)
	if _, err := e.Canonical(); ErrorCode(err) != CodeTooLarge {
		t.Fatalf("got %v, want too_large", err)
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts is a
// fixed point of canonicalization.
func FuzzParse(f *testing.F) {
	e := sampleEvent()
	good, _ := e.Canonical()
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"x"}`))
	f.Add([]byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Parse(b)
		if err != nil {
			return
		}
		again, err := ev.Canonical()
		if err != nil {
			t.Fatalf("accepted event does not re-encode: %v", err)
		}
		if string(again) != string(b) {
			t.Fatalf("accepted event re-encodes differently:\n%s\n%s", b, again)
		}
	})
}

// referenceCanonical is the straightforward definition: the whole envelope
// through encoding/json, then RFC 8785. Canonical must give the same bytes.
func referenceCanonical(t testing.TB, e Event) []byte {
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jcs.Transform(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCanonicalFastPath(t *testing.T) {
	payloads := []string{`{}`, `{"b":[1,2.50,{"z":null,"a":"\u00e9\n\"x\""}],"a":true}`, `{"n":1e21,"m":-0.0000001,"s":"<>&\u2028"}`, `{"中文":"值"}`}
	times := []time.Time{
		time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC),
		time.Date(2026, 2, 3, 4, 5, 6, 123456789, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 100, time.UTC),
	}
	for i, p := range payloads {
		for j, tm := range times {
			e := sampleEvent()
			e.Payload, e.Time, e.Version = json.RawMessage(p), tm, i*j+1
			e.Actor.ID = []string{"", "op-7", "A_b"}[j%3]
			got, err := e.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			if want := referenceCanonical(t, e); string(got) != string(want) {
				t.Fatalf("fast path differs:\n got %s\nwant %s", got, want)
			}
			if _, err := Parse(got); err != nil {
				t.Fatalf("Parse of canonical bytes: %v", err)
			}
		}
	}
}

func BenchmarkCanonical(b *testing.B) {
	e := sampleEvent()
	for b.Loop() {
		if _, err := e.Canonical(); err != nil {
			b.Fatal(err)
		}
	}
}
