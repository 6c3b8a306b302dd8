package events

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type declared struct {
	Person      string   `json:"person" disclose:"sealed"`
	Temperature float64  `json:"temperature" disclose:"sealed"`
	Symptoms    []string `json:"symptoms,omitempty" disclose:"sealed"`
	Community   string   `json:"community" disclose:"public"`
}

func (p declared) Validate() error {
	if p.Person == "" {
		return Invalid("person", "required")
	}
	return nil
}

func sealedRegistry(k Keyring) *Registry {
	r := NewRegistry()
	Register[declared](r, "health.declared", "resident", 1)
	return r.WithKeyring(k)
}

func newDeclared(t *testing.T, r *Registry, person string) Event {
	t.Helper()
	e, err := r.New(context.Background(), "health.declared", Meta{Aggregate: Aggregate{Kind: "resident", ID: "r1"},
		Region: "110105001001", Actor: Actor{Role: "resident"}, Time: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC), SealTo: person},
		declared{Person: person, Temperature: 37.9, Symptoms: []string{"cough"}, Community: "110105001001"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSealedRoundTrip(t *testing.T) {
	ctx := context.Background()
	k := NewMemoryKeyring()
	r := sealedRegistry(k)
	e := newDeclared(t, r, "p-1")
	canon, err := e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"p-1", "37.9", "cough", "temperature", "symptoms", "person"} {
		if bytes.Contains(canon, []byte(secret)) {
			t.Errorf("the ledger bytes show %q: %s", secret, canon)
		}
	}
	if !bytes.Contains(canon, []byte(`"community":"110105001001"`)) || !IsSealed(e) {
		t.Errorf("public field or box missing: %s", canon)
	}
	if r.ShowsSealed(e) {
		t.Error("a sealed event is reported as showing sealed fields")
	}
	got, err := DecodeAs[declared](ctx, r, e)
	if err != nil || got.Person != "p-1" || got.Temperature != 37.9 || got.Symptoms[0] != "cough" {
		t.Fatalf("decode: %+v %v", got, err)
	}
	// Two events about one person show nothing in common but public data.
	e2 := newDeclared(t, r, "p-1")
	var b1, b2 struct{ Sealed Box }
	json.Unmarshal(e.Payload, &b1)
	json.Unmarshal(e2.Payload, &b2)
	if b1.Sealed.To == b2.Sealed.To || b1.Sealed.Key == b2.Sealed.Key || b1.Sealed.Box == b2.Sealed.Box {
		t.Errorf("two boxes of one subject share a value: %+v %+v", b1, b2)
	}
	// Without a keyring the payload does not open.
	bare := NewRegistry()
	Register[declared](bare, "health.declared", "resident", 1)
	if _, err := bare.Decode(ctx, e); !errors.Is(err, ErrNoKey) {
		t.Errorf("decode without keys: %v", err)
	}
	// Writing a sealed payload needs a keyring and a subject.
	if _, err := bare.New(ctx, "health.declared", Meta{Aggregate: Aggregate{Kind: "resident", ID: "r1"}, Region: "11", Actor: Actor{Role: "resident"}, SealTo: "p-1"},
		declared{Person: "p-1", Temperature: 36.6}); ErrorCode(err) != CodeInternal {
		t.Errorf("new without keyring: %v", err)
	}
	if _, err := r.New(ctx, "health.declared", Meta{Aggregate: Aggregate{Kind: "resident", ID: "r1"}, Region: "11", Actor: Actor{Role: "resident"}},
		declared{Person: "p-1", Temperature: 36.6}); ErrorCode(err) != CodeInternal {
		t.Errorf("new without subject: %v", err)
	}
}

func TestSealedErasure(t *testing.T) {
	ctx := context.Background()
	k := NewMemoryKeyring()
	r := sealedRegistry(k)
	mine, theirs := newDeclared(t, r, "p-1"), newDeclared(t, r, "p-2")
	k.Erase("p-1")
	got, err := DecodeAs[declared](ctx, r, mine)
	if err != nil || got.Person != "" || got.Temperature != 0 || got.Symptoms != nil || got.Community != "110105001001" {
		t.Fatalf("erased: %+v %v (want the public fields only)", got, err)
	}
	if _, withheld, err := r.Open(ctx, mine); err != nil || !withheld {
		t.Errorf("open erased: withheld %v, %v", withheld, err)
	}
	if _, err := r.DataKey(ctx, mine); !errors.Is(err, ErrErased) {
		t.Errorf("data key of an erased event: %v", err)
	}
	if got, err := DecodeAs[declared](ctx, r, theirs); err != nil || got.Person != "p-2" {
		t.Errorf("someone else's event after the erasure: %+v %v", got, err)
	}
}

func TestDisclosedDataKeys(t *testing.T) {
	ctx := context.Background()
	r := sealedRegistry(NewMemoryKeyring())
	cited, other := newDeclared(t, r, "p-1"), newDeclared(t, r, "p-1")
	dk, err := r.DataKey(ctx, cited)
	if err != nil {
		t.Fatal(err)
	}
	bundle := r.WithKeyring(DataKeys{cited.ID: dk})
	if got, err := DecodeAs[declared](ctx, bundle, cited); err != nil || got.Person != "p-1" {
		t.Errorf("cited: %+v %v", got, err)
	}
	if _, err := bundle.Decode(ctx, other); !errors.Is(err, ErrNoKey) {
		t.Errorf("an entry the bundle does not cite opened: %v", err)
	}
	// One event's key does not open another's box.
	wrong := r.WithKeyring(DataKeys{other.ID: dk})
	if _, err := wrong.Decode(ctx, other); ErrorCode(err) != CodeInvalid {
		t.Errorf("another event's key: %v", err)
	}
	// A changed box does not open.
	e := cited
	var f map[string]json.RawMessage
	json.Unmarshal(e.Payload, &f)
	var b Box
	json.Unmarshal(f[SealedMember], &b)
	b.Box = strings.Replace(b.Box, b.Box[:4], "AAAA", 1)
	f[SealedMember], _ = json.Marshal(b)
	e.Payload, _ = json.Marshal(f)
	if _, err := bundle.Decode(ctx, e); ErrorCode(err) != CodeInvalid {
		t.Errorf("changed box: %v", err)
	}
}

func TestPublicReaderWithholdsClearPersonalData(t *testing.T) {
	r := sealedRegistry(NewMemoryKeyring())
	sealed := newDeclared(t, r, "p-1")
	clear := sealed
	clear.Payload = json.RawMessage(`{"community":"110105001001","person":"p-1","temperature":37.9}`) // recorded before sealing
	tests := []struct {
		name     string
		e        Event
		withheld bool
	}{
		{"sealed", sealed, false},
		{"recorded in clear before sealing", clear, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.ShowsSealed(tc.e); got != tc.withheld {
				t.Fatalf("ShowsSealed = %v", got)
			}
			raw, err := tc.e.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			pub := PublicReader(oneEvent{raw}, r)
			_, err = pub.Read(context.Background(), 1)
			if tc.withheld != errors.Is(err, ErrWithheld) || (!tc.withheld && err != nil) {
				t.Errorf("read: %v", err)
			}
			err = pub.Scan(context.Background(), 1, 1, func(Recorded) error { return nil })
			if tc.withheld != errors.Is(err, ErrWithheld) {
				t.Errorf("scan: %v", err)
			}
			// The backend still reads it as it is.
			if p, err := r.Decode(context.Background(), tc.e); err != nil || p.(declared).Person != "p-1" {
				t.Errorf("decode: %+v %v", p, err)
			}
		})
	}
}

// oneEvent is a Reader of a ledger of one event.
type oneEvent struct{ raw []byte }

func (o oneEvent) Size(context.Context) (uint64, error) { return 1, nil }
func (o oneEvent) Read(_ context.Context, seq uint64) (Recorded, error) {
	return Recorded{Seq: seq, Raw: o.raw}, nil
}
func (o oneEvent) Scan(_ context.Context, from, to uint64, fn func(Recorded) error) error {
	return fn(Recorded{Seq: 1, Raw: o.raw})
}

func TestRegisterRefusesUndeclaredFields(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a payload field without a disclose tag was registered")
		}
	}()
	Register[undeclared](NewRegistry(), "x.undeclared", "x", 1)
}

type undeclared struct {
	Name string `json:"name"`
}

func (undeclared) Validate() error { return nil }

func TestParseBoxIsStrict(t *testing.T) {
	good := `{"box":"AAAAAAAAAAAAAAAAAAAAAA==","key":"AQI=","to":"AwQ="}`
	if _, _, err := parseBox(json.RawMessage(good)); err != nil {
		t.Fatalf("a good box: %v", err)
	}
	for _, bad := range []string{
		`{"box":"AAAAAAAAAAAAAAAAAAAAAA==","key":"AQI=","to":"AwQ=","x":1}`, // a member smuggled beside
		`{"key":"AQI=","box":"AAAAAAAAAAAAAAAAAAAAAA==","to":"AwQ="}`,       // not in canonical order
		`{"box":"AAAAAAAAAAAAAAAAAAAAAA==", "key":"AQI=","to":"AwQ="}`,      // not canonical bytes
		`{"box":"AAAA","key":"AQI=","to":"AwQ="}`,                           // too short for a tag
		`{"box":"AAAAAAAAAAAAAAAAAAAAAA==","key":"A\"I=","to":"AwQ="}`,      // not base64
		`{"box":"AAAAAAAAAAAAAAAAAAAAAA==","key":"AQI="}`,                   // a member missing
		``,
	} {
		if _, _, err := parseBox(json.RawMessage(bad)); ErrorCode(err) != CodeInvalid {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// TestBoxKnownAnswer pins the box's construction: AES-256-GCM, zero nonce
// (the data key seals one box only), the fields padded with spaces to a
// multiple of 64 bytes, additional data naming the format, the event id and
// its type. The expected bytes were computed independently with Node.js's
// crypto (createCipheriv("aes-256-gcm"), setAAD).
func TestBoxKnownAnswer(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	const id, typ = "01000000-0000-7000-8000-000000000000", "pass.scanned"
	plain := pad([]byte(`{"holder":"p-1"}`))
	if len(plain) != 64 {
		t.Fatalf("padded to %d bytes, want 64", len(plain))
	}
	box, err := boxSeal(key, id, typ, plain)
	if err != nil {
		t.Fatal(err)
	}
	const want = "759eddb1d948e6cf2a928b45351db3e4f263767308a1400fa0be93a3e5df7d766e7fc69c0ad2982613e351d5e1ee496e892761c65951668570961f066a406ec414ae179e0506ecddb7c7a94839ad8a91"
	if got := hex.EncodeToString(box); got != want {
		t.Fatalf("box\n%s\nwant\n%s", got, want)
	}
	if back, err := boxOpen(key, id, typ, box); err != nil || !bytes.Equal(back, plain) {
		t.Fatalf("open: %q %v", back, err)
	}
	if _, err := boxOpen(key, id, "pass.issued", box); err == nil {
		t.Error("a box opened as another type's")
	}
}

// BenchmarkDecode: what a projector pays per event to parse and decode a
// sealed payload, against the same payload recorded in clear.
func BenchmarkDecode(b *testing.B) {
	ctx := context.Background()
	r := sealedRegistry(NewMemoryKeyring())
	sealed, err := r.New(ctx, "health.declared", Meta{Aggregate: Aggregate{Kind: "resident", ID: "r1"},
		Region: "110105001001", Actor: Actor{Role: "resident"}, Time: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC), SealTo: "p-1"},
		declared{Person: "p-1", Temperature: 37.9, Symptoms: []string{"cough"}, Community: "110105001001"})
	if err != nil {
		b.Fatal(err)
	}
	inClear := sealed
	inClear.Payload = json.RawMessage(`{"community":"110105001001","person":"p-1","symptoms":["cough"],"temperature":37.9}`)
	for _, bm := range []struct {
		name string
		e    Event
	}{{"clear", inClear}, {"sealed", sealed}} {
		raw, err := bm.e.Canonical()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				e, err := Parse(raw)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := r.Decode(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestFindBox(t *testing.T) {
	const box = `"sealed":{"box":"AAAA","key":"BB==","to":"CC=="}`
	tests := []struct {
		payload, public string // public "": no box found
	}{
		{`{` + box + `}`, `{}`},
		{`{"a":1,` + box + `}`, `{"a":1}`},
		{`{` + box + `,"z":1}`, `{"z":1}`},
		{`{"a":"x","b":[1,{"c":2}],` + box + `,"z":{"y":[]}}`, `{"a":"x","b":[1,{"c":2}],"z":{"y":[]}}`},
		{`{"a":"\"` + box + `\"",` + box + `}`, `{"a":"\"` + box + `\""}`},
		{`{"a":"\\",` + box + `}`, `{"a":"\\"}`},
		// Not the payload's own member: nested, or inside a string.
		{`{"a":{` + box + `}}`, ``},
		{`{"a":[{` + box + `}]}`, ``},
		{`{"a":"` + strings.ReplaceAll(box, `"`, `\"`) + `"}`, ``},
		{`{"a":1}`, ``},
		{`{"sealed": {"box":"AAAA","key":"BB==","to":"CC=="}}`, ``},
		{`{"sealed":{"box":"AAAA`, ``},
	}
	for _, tt := range tests {
		start, end, ok := findBox([]byte(tt.payload))
		if ok != (tt.public != "") {
			t.Errorf("findBox(%s): found %v", tt.payload, ok)
			continue
		}
		if !ok {
			continue
		}
		if got := tt.payload[start:end]; got != box {
			t.Errorf("findBox(%s) = %s, want %s", tt.payload, got, box)
		}
		if got := string(withoutBox([]byte(tt.payload), start, end)); got != tt.public {
			t.Errorf("withoutBox(%s) = %s, want %s", tt.payload, got, tt.public)
		}
	}
}

// TestOpenAgreesWithDecode: the exporter's reading of a sealed payload
// (OpenFields) and the projectors' (Decode) give the same fields.
func TestOpenAgreesWithDecode(t *testing.T) {
	ctx := context.Background()
	r := sealedRegistry(NewMemoryKeyring())
	e := newDeclared(t, r, "p-1")
	o, err := r.OpenFields(ctx, e)
	if err != nil || o.Fields == nil || o.Key == nil {
		t.Fatalf("OpenFields: %+v, %v", o, err)
	}
	merged, err := json.Marshal(o.Fields)
	if err != nil {
		t.Fatal(err)
	}
	var viaOpen declared
	if err := json.Unmarshal(merged, &viaOpen); err != nil {
		t.Fatal(err)
	}
	viaDecode, err := DecodeAs[declared](ctx, r, e)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(viaOpen) != fmt.Sprint(viaDecode) {
		t.Fatalf("OpenFields gives %+v, Decode %+v", viaOpen, viaDecode)
	}
	if key, err := r.DataKey(ctx, e); err != nil || !bytes.Equal(key, o.Key) {
		t.Fatalf("DataKey %x, %v; OpenFields gave %x", key, err, o.Key)
	}
}

func TestJoinOpened(t *testing.T) {
	const box = `"sealed":{"box":"AAAA","key":"BB==","to":"CC=="}`
	tests := []struct{ payload, plain, joined string }{
		{`{"a":1,` + box + `}`, `{"b":2}   `, `{"a":1,"b":2}`},
		{`{` + box + `,"z":1}`, `{"b":2}`, `{"z":1,"b":2}`},
		{`{"a":1,` + box + `,"z":[1,{"y":2}]}`, `{"b":2}`, `{"a":1,"z":[1,{"y":2}],"b":2}`},
		{`{` + box + `}`, `{"b":2}`, `{"b":2}`},
		{`{"a":1,` + box + `}`, `{}  `, `{"a":1}`},
		{`{` + box + `}`, `{}`, `{}`},
		{`{"a":1,` + box + `}`, `{"b":2} x`, ``},
		{`{"a":1,` + box + `}`, `["b"]`, ``},
	}
	for _, tt := range tests {
		start, end, ok := findBox([]byte(tt.payload))
		if !ok {
			t.Fatalf("no box in %s", tt.payload)
		}
		got, ok := joinOpened([]byte(tt.payload), start, end, []byte(tt.plain))
		if ok != (tt.joined != "") || string(got) != tt.joined {
			t.Errorf("joinOpened(%s, %s) = %s, %v; want %s", tt.payload, tt.plain, got, ok, tt.joined)
		}
	}
	for obj, n := range map[string]int{`{}`: 0, `{"a":1}`: 1, `{"a":[1,2],"b":{"c":1,"d":2},"e":"x,\",y"}`: 3, `{"a":1,"a":2}`: 2} {
		if got := countMembers([]byte(obj)); got != n {
			t.Errorf("countMembers(%s) = %d, want %d", obj, got, n)
		}
	}
}

// TestFieldInBothHalves: a box holding a field the public part also holds
// is refused by OpenFields; Decode takes the box's, as it always did.
func TestFieldInBothHalves(t *testing.T) {
	ctx := context.Background()
	k := NewMemoryKeyring()
	r := sealedRegistry(k)
	e := newDeclared(t, r, "p-1")
	dataKey := make([]byte, 32)
	box, err := boxSeal(dataKey, e.ID, e.Type, pad([]byte(`{"community":"110105001002","person":"p-1"}`)))
	if err != nil {
		t.Fatal(err)
	}
	w, err := k.Wrap(ctx, "p-1", e.ID, dataKey)
	if err != nil {
		t.Fatal(err)
	}
	e.Payload = json.RawMessage(`{"community":"110105001001","sealed":{"box":"` + b64(box) + `","key":"` + b64(w.Key) + `","to":"` + b64(w.To) + `"}}`)
	if _, err := r.OpenFields(ctx, e); err == nil || !strings.Contains(err.Error(), "both public and sealed") {
		t.Fatalf("OpenFields: %v, want a field in both halves refused", err)
	}
	got, err := DecodeAs[declared](ctx, r, e)
	if err != nil || got.Community != "110105001002" || got.Person != "p-1" {
		t.Fatalf("Decode: %+v, %v", got, err)
	}
}

// BenchmarkOpenFields: what verify-export pays per cited entry to open a
// sealed payload with its disclosed data key (a DataKeys keyring), against
// decoding the same payload recorded in clear into its fields.
func BenchmarkOpenFields(b *testing.B) {
	ctx := context.Background()
	mk := NewMemoryKeyring()
	e, err := sealedRegistry(mk).New(ctx, "health.declared", Meta{Aggregate: Aggregate{Kind: "resident", ID: "r1"},
		Region: "110105001001", Actor: Actor{Role: "resident"}, Time: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC), SealTo: "p-1"},
		declared{Person: "p-1", Temperature: 37.9, Symptoms: []string{"cough"}, Community: "110105001001"})
	if err != nil {
		b.Fatal(err)
	}
	dk, err := sealedRegistry(mk).DataKey(ctx, e)
	if err != nil {
		b.Fatal(err)
	}
	r := sealedRegistry(DataKeys{e.ID: dk})
	b.Run("clear", func(b *testing.B) {
		payload := []byte(`{"community":"110105001001","person":"p-1","symptoms":["cough"],"temperature":37.9}`)
		for b.Loop() {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(payload, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sealed", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.OpenFields(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
