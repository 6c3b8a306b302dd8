package passtoken

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
)

func TestKeySetJSON(t *testing.T) {
	s := vectorSigner(t)
	open, err := GenerateSigner(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	one := keySet(t, s)
	b, err := json.Marshal(one)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"keys":[{"kid":"d7cacaaa","alg":"Ed25519","public_key":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","not_after":1798761600}]}`
	if string(b) != want {
		t.Fatalf("JSON\n got %s\nwant %s", b, want)
	}

	tests := []struct {
		name string
		ks   KeySet
	}{
		{"empty", KeySet{}},
		{"one", one},
		{"two, one without bound", keySet(t, s, open)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.ks)
			if err != nil {
				t.Fatal(err)
			}
			var got KeySet
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", b, err)
			}
			b2, _ := json.Marshal(got)
			if !bytes.Equal(b, b2) {
				t.Fatalf("round trip changed the JSON:\n%s\n%s", b, b2)
			}
			for _, k := range tt.ks.Keys() {
				g, ok := got.Lookup(k.ID())
				if !ok || !g.Public.Equal(k.Public) || !g.NotAfter.Equal(k.NotAfter) {
					t.Fatalf("key %s: got %+v, %v; want %+v", k.ID(), g, ok, k)
				}
			}
			if len(got.Keys()) != len(tt.ks.Keys()) {
				t.Fatalf("%d keys, want %d", len(got.Keys()), len(tt.ks.Keys()))
			}
		})
	}
}

func TestKeySetJSONInvalid(t *testing.T) {
	const pub = `"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"`
	key := func(fields string) string { return `{"keys":[{` + fields + `}]}` }
	tests := []struct {
		name, json string
	}{
		{"not json", `keys`},
		{"array", `[]`},
		{"unknown field", key(`"kid":"d7cacaaa","alg":"Ed25519","public_key":` + pub + `,"use":"sig"`)},
		{"unknown top-level field", `{"keys":[],"x":1}`},
		{"trailing data", `{"keys":[]} {}`},
		{"wrong alg", key(`"kid":"d7cacaaa","alg":"EdDSA","public_key":` + pub)},
		{"no alg", key(`"kid":"d7cacaaa","public_key":` + pub)},
		{"kid of another key", key(`"kid":"d7cacaab","alg":"Ed25519","public_key":` + pub)},
		{"kid upper case", key(`"kid":"D7CACAAA","alg":"Ed25519","public_key":` + pub)},
		{"standard base64 with padding", key(`"kid":"d7cacaaa","alg":"Ed25519","public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="`)},
		{"short key", key(`"kid":"d7cacaaa","alg":"Ed25519","public_key":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUQ"`)},
		{"negative not_after", key(`"kid":"d7cacaaa","alg":"Ed25519","public_key":` + pub + `,"not_after":-5`)},
		{"same key twice", `{"keys":[{"kid":"d7cacaaa","alg":"Ed25519","public_key":` + pub + `},{"kid":"d7cacaaa","alg":"Ed25519","public_key":` + pub + `,"not_after":5}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ks KeySet
			err := json.Unmarshal([]byte(tt.json), &ks)
			if err == nil {
				t.Fatalf("Unmarshal accepted %s", tt.json)
			}
			if code := events.ErrorCode(err); code != events.CodeInvalid && !strings.Contains(err.Error(), "invalid character") {
				t.Fatalf("error %v has code %s, want invalid", err, code)
			}
		})
	}
}

func TestNewKeySetInvalid(t *testing.T) {
	k := vectorSigner(t).Key()
	tests := []struct {
		name string
		keys []Key
	}{
		{"short public key", []Key{{Public: k.Public[:31]}}},
		{"duplicate", []Key{k, {Public: k.Public}}},
		{"sub-second not_after", []Key{{Public: k.Public, NotAfter: day0.Add(time.Millisecond)}}},
		{"not_after before 1970", []Key{{Public: k.Public, NotAfter: time.Unix(-10, 0)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKeySet(tt.keys...); events.ErrorCode(err) != events.CodeInvalid {
				t.Fatalf("NewKeySet = %v, want invalid", err)
			}
		})
	}
}

func TestSignerText(t *testing.T) {
	s := vectorSigner(t)
	const want = "PASS+PRIVATE+KEY+d7cacaaa+1798761600+nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	if got := EncodeSigner(s); got != want {
		t.Fatalf("EncodeSigner\n got %s\nwant %s", got, want)
	}
	gen, err := GenerateSigner(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Signer{s, gen} {
		p, err := ParseSigner(EncodeSigner(s) + "\n")
		if err != nil {
			t.Fatal(err)
		}
		if p.KeyID() != s.KeyID() || !p.NotAfter().Equal(s.NotAfter()) || !p.priv.Equal(s.priv) {
			t.Fatalf("ParseSigner(EncodeSigner(s)) differs from s")
		}
	}
	bad := []string{
		"",
		"PRIVATE+KEY+d7cacaaa+1798761600+nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
		"PASS+PRIVATE+KEY+d7cacaab+1798761600+nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", // kid of another key
		"PASS+PRIVATE+KEY+d7cacaaa+1798761600+nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2",  // short seed
		"PASS+PRIVATE+KEY+d7cacaaa+-1+nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
		"PASS+PRIVATE+KEY+d7cacaaa+nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
		"PASS+PRIVATE+KEY+d7cacaaa+1798761600+nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A+x",
	}
	for _, text := range bad {
		if _, err := ParseSigner(text); events.ErrorCode(err) != events.CodeInvalid {
			t.Errorf("ParseSigner(%q) = %v, want invalid", text, err)
		}
	}
	if _, err := NewSigner(make([]byte, 31), time.Time{}); err == nil {
		t.Error("NewSigner accepted a 31-byte seed")
	}
}

func TestGenerateSignerDistinct(t *testing.T) {
	a, err1 := GenerateSigner(time.Time{})
	b, err2 := GenerateSigner(time.Time{})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if a.priv.Equal(b.priv) || a.KeyID() == b.KeyID() {
		t.Fatal("two generated signers share a key")
	}
}

// TestRotation: two keys valid at once, the newest signs; the old key's
// passes keep working until they or the key expire; a key removed early
// makes its passes forged.
func TestRotation(t *testing.T) {
	old, err := GenerateSigner(day0.Add(36 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	newer, err := GenerateSigner(day0.AddDate(0, 3, 0))
	if err != nil {
		t.Fatal(err)
	}
	both := keySet(t, old, newer)
	c := vectorClaims()
	fromOld, err := Issue(old, c)
	if err != nil {
		t.Fatal(err)
	}
	c2 := c
	c2.NotBefore, c2.NotAfter = day1, day1.Add(24*time.Hour)
	if _, err := Issue(old, c2); events.ErrorCode(err) != events.CodeInvalid {
		t.Fatalf("old key signed a pass that outlives it: %v", err)
	}
	fromNew, err := Issue(newer, c2)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tok  string
		keys KeySet
		now  time.Time
		want Reason
	}{
		{"old key's pass", fromOld, both, day0.Add(time.Hour), ""},
		{"new key's pass", fromNew, both, day1.Add(time.Hour), ""},
		{"new key's pass after old key retired", fromNew, both, day1.Add(13 * time.Hour), ""},
		{"old key removed early", fromOld, keySet(t, newer), day0.Add(time.Hour), ReasonForged},
		{"new key's pass without the old key", fromNew, keySet(t, newer), day1.Add(time.Hour), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tt.tok, tt.keys, nil, tt.now)
			var d *Denied
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Verify: %v, want allowed", err)
			case tt.want != "" && (!errors.As(err, &d) || d.Reason != tt.want):
				t.Fatalf("Verify: %v, want %s", err, tt.want)
			}
		})
	}
}
