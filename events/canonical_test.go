package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
)

// referenceParse is Parse by its definition, with no fast path anywhere:
// decode the envelope strictly, re-encode the whole event through
// encoding/json and the jcs package, compare.
func referenceParse(b []byte) (Event, bool) {
	var e Event
	if len(b) > MaxEventSize {
		return e, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if dec.Decode(&e) != nil || dec.More() {
		return e, false
	}
	e.Time = e.Time.UTC()
	if e.Validate() != nil {
		return e, false
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return e, false
	}
	canon, err := jcs.Transform(raw)
	if err != nil || !bytes.Equal(canon, b) {
		return e, false
	}
	return e, true
}

// canonicalEvent is the sample event with payload p (canonicalised).
func canonicalEvent(t testing.TB, p string) []byte {
	e := sampleEvent()
	e.Payload = json.RawMessage(p)
	b, err := e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// canonicalPayloads are payloads in RFC 8785 form that the fast check must
// recognise as such (known answers: jcs.Transform leaves each unchanged).
var canonicalPayloads = []string{
	`{}`,
	`{"a":[],"b":{},"c":[[]],"d":[{}]}`,
	`{"decision":"allow","direction":"in","n":1.5,"note":"<1m","pass":"p1"}`,
	`{"community":"110105001001","sealed":{"box":"q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=","key":"AAAA+/8=","to":"c2VjcmV0"}}`,
	`{"a":true,"b":false,"c":null,"d":0,"e":-1,"f":123456789012345,"g":-123456789012345}`,
	`{"m":-1e-7,"n":1e+21,"o":0.000001,"p":1.7976931348623157e+308,"q":5e-324,"r":1234567890123456800,"s":0.1}`,
	`{"s":"\"\\\b\t\n\f\r\u0000\u0001\u000b\u000e\u001f/<>&é中文"}`,
	"{\"s\":\"\u007f\u2028\u2029\U0001F600\"}",
	`{"x":[1,"two",{"three":3},[4,[5,[6]]],null,true,false]}`,
	`{"A":1,"B":2,"_":3,"a":4,"z":5,"~":6}`,
}

// nonCanonicalPayloads are valid JSON (or nearly) that is not in RFC 8785
// form, or that the fast check leaves to the re-encoding path.
var nonCanonicalPayloads = []string{
	`{ }`,
	`{"a":1 }`,
	`{"b":1,"a":2}`,
	`{"a":1,"a":2}`,
	`{"a":"\u0041"}`,
	`{"a":"\/"}`,
	`{"a":"\u001F"}`,
	`{"a":"\u000a"}`,
	`{"a":"\u0008"}`,
	`{"a":"\u007f"}`,
	`{"a":"\u2028"}`,
	`{"a":"\ud83d\ude00"}`,
	`{"a":"\x"}`,
	"{\"a\":\"tab\there\"}",
	`{"a":-0}`,
	`{"a":01}`,
	`{"a":1.0}`,
	`{"a":1.50}`,
	`{"a":1E5}`,
	`{"a":1e+05}`,
	`{"a":100000000000000000000000}`,
	`{"a":1234567890123456789}`,
	`{"a":+1}`,
	`{"a":.5}`,
	`{"a":truex}`,
	`{"a":nul}`,
	`{"a":tru}`,
	`{"a":[1,]}`,
	`{"a":1,}`,
	`{"a"}`,
	`{"a":}`,
	`{"a":1`,
	`{"a":[1`,
	`{"é":1}`,
	`{"\u00e9":1}`,
	`{"a\"":1}`,
	`{"a":1}x`,
	strings.Repeat(`{"a":`, maxCanonicalDepth+2) + `1` + strings.Repeat(`}`, maxCanonicalDepth+2),
}

func TestCanonicalValueKnownAnswers(t *testing.T) {
	for _, p := range canonicalPayloads {
		got, err := jcs.Transform([]byte(p))
		if err != nil || string(got) != p {
			t.Fatalf("bad test vector %s: jcs gives %s, %v", p, got, err)
		}
		if end, ok := canonicalValue([]byte(p), 0, 0); !ok || end != len(p) {
			t.Errorf("canonicalValue(%s) = %d, %v; want %d, true", p, end, ok, len(p))
		}
	}
	for _, p := range nonCanonicalPayloads {
		if end, ok := canonicalValue([]byte(p), 0, 0); ok && end == len(p) {
			t.Errorf("canonicalValue accepted %s", p)
		}
	}
}

// TestParseCanonicalKnownAnswers: the fast path reads every canonical event
// of the vectors as the definition does, and refuses every altered one.
func TestParseCanonicalKnownAnswers(t *testing.T) {
	for _, p := range canonicalPayloads {
		b := canonicalEvent(t, p)
		want, ok := referenceParse(b)
		if !ok {
			t.Fatalf("reference refuses %s", b)
		}
		got, ok := parseCanonical(b)
		if !ok {
			t.Errorf("fast path refuses canonical %s", b)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("fast path reads %s as\n%+v\nwant\n%+v", b, got, want)
		}
	}
	good := string(canonicalEvent(t, `{"a":1}`))
	alter := []struct{ name, old, new string }{
		{"payload", `{"a":1}`, `{"a":1.0}`},
		{"payload unsorted", `{"a":1}`, `{"b":1,"a":1}`},
		{"payload whitespace", `{"a":1}`, `{"a": 1}`},
		{"payload not object", `{"a":1}`, `[1]`},
		{"time trailing zero", `06.789Z`, `06.7890Z`},
		{"time offset", `06.789Z`, `06.789+00:00`},
		{"time lower-case", `T04`, `t04`},
		{"version leading zero", `"v":2}`, `"v":02}`},
		{"version sign", `"v":2}`, `"v":+2}`},
		{"version float", `"v":2}`, `"v":2.0}`},
		{"version zero", `"v":2}`, `"v":0}`},
		{"escaped id", `"op7"`, `"op\u0037"`},
		{"key case", `"region"`, `"Region"`},
		{"extra field", `"type":`, `"typo":1,"type":`},
		{"trailing", `"v":2}`, `"v":2} `},
		{"leading", `{"actor"`, ` {"actor"`},
		{"separator in id", `"g-east-1"`, `"g-east-1\",\"kind\":\"x"`},
		{"bad region", `"110105001001"`, `"11x"`},
		{"empty role", `"gate_operator"`, `""`},
	}
	for _, a := range alter {
		if !strings.Contains(good, a.old) {
			t.Fatalf("%s: %q not in %s", a.name, a.old, good)
		}
		b := []byte(strings.Replace(good, a.old, a.new, 1))
		if _, ok := parseCanonical(b); ok {
			t.Errorf("%s: fast path accepts %s", a.name, b)
		}
		if _, ok := referenceParse(b); ok {
			t.Errorf("%s: test vector is canonical after all: %s", a.name, b)
		}
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: Parse accepts %s", a.name, b)
		}
	}
}

// TestParseSealedPayloads: events as the registry seals them take the fast
// path (that is what makes following the ledger fast).
func TestParseSealedPayloads(t *testing.T) {
	ctx := t.Context()
	r := sealedRegistry(NewMemoryKeyring())
	for i := range 50 {
		e, err := r.New(ctx, "health.declared", Meta{Aggregate: Aggregate{Kind: "resident", ID: "r1"}, Region: "110105001001",
			Actor: Actor{Role: "resident"}, SealTo: "p-1", Time: time.Date(2026, 2, 3, 4, 5, i, i*1000, time.UTC)},
			declared{Person: "p-1", Temperature: 36.5 + float64(i)/10, Symptoms: strings.Split(strings.Repeat("咳嗽\n,", i%4+1), ","), Community: "110105001001"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := parseCanonical(b); !ok {
			t.Fatalf("fast path refuses a sealed event: %s", b)
		}
	}
}

// FuzzCanonicalPayload: whatever the fast check calls canonical, jcs
// leaves unchanged.
func FuzzCanonicalPayload(f *testing.F) {
	for _, p := range append(append([]string{}, canonicalPayloads...), nonCanonicalPayloads...) {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end, ok := canonicalValue(b, 0, 0)
		if !ok || end != len(b) {
			return
		}
		got, err := jcs.Transform(b)
		if err != nil {
			t.Fatalf("fast check accepts %q, jcs refuses it: %v", b, err)
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("fast check accepts %q, jcs writes it %q", b, got)
		}
	})
}

// FuzzParseCanonical: Parse accepts exactly what the definition
// (referenceParse) accepts, as the same event; and whatever the fast path
// accepts, the definition accepts as the same event.
func FuzzParseCanonical(f *testing.F) {
	for _, p := range append(append([]string{}, canonicalPayloads...), nonCanonicalPayloads...) {
		e := sampleEvent()
		e.Payload = json.RawMessage(p)
		if b, err := e.Canonical(); err == nil {
			f.Add(b)
		}
		f.Add([]byte(`{"actor":{"id":"","role":"system"},"aggregate":{"id":"x","kind":"k"},"id":"01936b2e-7c1a-7d3e-8f00-0123456789ab","payload":` +
			p + `,"region":"11","time":"2026-02-03T04:05:06Z","type":"a.b","v":1}`))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantOK := referenceParse(b)
		if fast, ok := parseCanonical(b); ok {
			if !wantOK {
				t.Fatalf("fast path accepts %q, the definition refuses it", b)
			}
			if !reflect.DeepEqual(fast, want) {
				t.Fatalf("fast path reads %q as %+v, the definition as %+v", b, fast, want)
			}
		}
		got, err := Parse(b)
		if (err == nil) != wantOK {
			t.Fatalf("Parse(%q): %v; the definition accepts: %v", b, err, wantOK)
		}
		if wantOK && !reflect.DeepEqual(got, want) {
			t.Fatalf("Parse reads %q as %+v, the definition as %+v", b, got, want)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, bm := range []struct{ name, payload string }{
		{"clear", `{"community":"110105001001","decision":"allow","direction":"in","gate":"g1","holder":"h-2f9c1d0e","pass":"p-8a7b6c5d","scan_id":"01936b2e-7c1a-7d3e-8f00-0123456789ab"}`},
		{"sealed", `{"community":"110105001001","decision":"allow","direction":"in","gate":"g1","scan_id":"01936b2e-7c1a-7d3e-8f00-0123456789ab","sealed":{"box":"` +
			strings.Repeat("q83vEjRWeJCr", 12) + `","key":"` + strings.Repeat("AAAA+/8=", 10) + `","to":"` + strings.Repeat("c2VjcmV0", 8) + `"}}`},
	} {
		raw := canonicalEvent(b, bm.payload)
		b.Run(bm.name+"/fast", func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bm.name+"/reencoding", func(b *testing.B) {
			for b.Loop() {
				if _, err := parseReencoding(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
