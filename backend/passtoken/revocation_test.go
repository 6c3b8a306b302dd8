package passtoken

import (
	"bytes"
	"encoding/base64"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
)

// Token ids of the list tests, and their text forms.
var (
	tokA = vectorTokenID
	tokB = TokenID{0x5f, 0x1c, 0x0a, 0x3e, 0x9b, 0x7d, 0x4c, 0x2e, 0x8a, 0x6f, 0x1b, 0x3d, 0x5c, 0x7e, 0x9a, 0x0c}
	tokC = TokenID{0: 0x01, 15: 0xff}
)

const (
	textA = "5f1c0a3e9b7d4c2e8a6f1b3d5c7e9a0b"
	textB = "5f1c0a3e9b7d4c2e8a6f1b3d5c7e9a0c"
)

func vectorList() RevocationList {
	return RevocationList{
		Seq:      42,
		Issued:   day0.Add(2 * time.Hour),
		NotAfter: day1,
		Tokens:   []TokenID{tokB, tokA}, // not sorted: SignList sorts
	}
}

// signBody signs arbitrary list bytes the way SignList does, for lists that
// SignList would refuse to write.
func signBody(s *Signer, body string) []byte {
	sig := base64.RawURLEncoding.EncodeToString(s.sign(listDomain, []byte(body)))
	return []byte(`{"kid":"` + s.KeyID().String() + `","list":` + body + `,"sig":"` + sig + `"}`)
}

// TestListKnownAnswer pins the signed form; the signature was computed
// independently with Node's crypto (Ed25519 over
// "onebook revocations v3\x00" || the list bytes).
func TestListKnownAnswer(t *testing.T) {
	s := vectorSigner(t)
	got, err := SignList(s, vectorList())
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"kid":"d7cacaaa","list":{"seq":42,"issued":1769911200,"not_after":1769990400,"tokens":[` +
		`"5f1c0a3e9b7d4c2e8a6f1b3d5c7e9a0b","5f1c0a3e9b7d4c2e8a6f1b3d5c7e9a0c"]},` +
		`"sig":"KAbqJBNLgYqE7KKr3daewkXFKl0_lvcA9nt-wZmR1nD26qzQvX21jpahN2Yqn7yjFXRlJFUY_DYrHjl0-mK8Cw"}`
	if string(got) != want {
		t.Fatalf("signed list\n got %s\nwant %s", got, want)
	}
}

// TestListSaysNoMore: the public list carries token ids and the list's own
// sequence and times, nothing about why or when a pass was revoked.
func TestListSaysNoMore(t *testing.T) {
	b, err := SignList(vectorSigner(t), vectorList())
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"reason", "red_status", `"at"`, "entries", "passes"} {
		if bytes.Contains(b, []byte(leak)) {
			t.Errorf("signed list contains %s: %s", leak, b)
		}
	}
	if m := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-`).Find(b); m != nil {
		t.Errorf("signed list contains a UUID (a pass id?) %s: %s", m, b)
	}
}

func TestListRoundTrip(t *testing.T) {
	s := vectorSigner(t)
	ks := keySet(t, s)
	tests := []struct {
		name string
		in   RevocationList
	}{
		{"empty, before any revocation", RevocationList{Issued: day0, NotAfter: day1}},
		{"two", vectorList()},
		{"sub-second times truncated", RevocationList{Seq: 1 << 60, Issued: day0.Add(time.Hour + 500*time.Millisecond),
			NotAfter: day1.Add(time.Millisecond), Tokens: []TokenID{tokC}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := SignList(s, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := VerifyList(b, ks)
			if err != nil {
				t.Fatalf("VerifyList(%s): %v", b, err)
			}
			if got.Seq != tt.in.Seq || !got.Issued.Equal(tt.in.Issued.Truncate(time.Second)) ||
				!got.NotAfter.Equal(tt.in.NotAfter.Truncate(time.Second)) || len(got.Tokens) != len(tt.in.Tokens) {
				t.Fatalf("got %+v, want %+v", got, tt.in)
			}
			if !slices.IsSortedFunc(got.Tokens, func(a, b TokenID) int { return bytes.Compare(a[:], b[:]) }) {
				t.Fatalf("token ids not sorted: %v", got.Tokens)
			}
			chk := got.Checker()
			for _, id := range tt.in.Tokens {
				if !chk.Revoked(id) {
					t.Errorf("Revoked(%s) = false", id)
				}
			}
			if chk.Revoked(TokenID{}) {
				t.Error("a pass not on the list is revoked")
			}
			again, err := SignList(s, got)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("signing the verified list again gives other bytes:\n%s\n%s", b, again)
			}
		})
	}
}

// TestListVerifiedThroughToken: a pass on a verified list is denied at the
// gate.
func TestListVerifiedThroughToken(t *testing.T) {
	s := vectorSigner(t)
	ks := keySet(t, s)
	b, err := SignList(s, vectorList())
	if err != nil {
		t.Fatal(err)
	}
	l, err := VerifyList(b, ks)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Issue(s, vectorClaims())
	if err != nil {
		t.Fatal(err)
	}
	var d *Denied
	if _, err := Verify(tok, ks, l.Checker(), day0.Add(3*time.Hour)); !errors.As(err, &d) || d.Reason != ReasonRevoked {
		t.Fatalf("Verify = %v, want revoked", err)
	}
}

func TestListNewerAndStale(t *testing.T) {
	base := vectorList()
	later := base
	later.Issued = base.Issued.Add(time.Second)
	next := base
	next.Seq++
	next.Issued = base.Issued.Add(-time.Hour) // a replica's clock behind: the sequence still wins
	tests := []struct {
		name     string
		new, old RevocationList
		want     bool
	}{
		{"same list", base, base, false},
		{"same revocations, issued later", later, base, true},
		{"same revocations, issued earlier", base, later, false},
		{"a later revocation", next, base, true},
		{"an earlier revocation, issued later", later, next, false},
	}
	for _, tt := range tests {
		if got := tt.new.Newer(tt.old); got != tt.want {
			t.Errorf("%s: Newer = %v, want %v", tt.name, got, tt.want)
		}
	}
	if base.Stale(base.NotAfter.Add(-time.Second)) || !base.Stale(base.NotAfter) {
		t.Error("a list is stale from its not_after on, not before")
	}
}

func TestListTampered(t *testing.T) {
	s := vectorSigner(t)
	other, err := GenerateSigner(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ks := keySet(t, s, other)
	good, err := SignList(s, vectorList())
	if err != nil {
		t.Fatal(err)
	}
	byOther, err := SignList(other, vectorList())
	if err != nil {
		t.Fatal(err)
	}
	retired := vectorSigner(t).Key()
	retired.NotAfter = day1.Add(-time.Second) // a second before the list's not_after
	g := string(good)
	sigOf := func(b []byte) string { return string(b[bytes.LastIndex(b, []byte(`"sig":"`))+7 : len(b)-2]) }
	tok, err := Issue(s, vectorClaims())
	if err != nil {
		t.Fatal(err)
	}
	tokRaw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, Prefix))
	const passA = "01936b2e-7c1a-7d3e-8f00-0123456789ab"
	v1 := `{"issued":1769911200,"entries":[{"pass":"` + passA + `","at":1769907600,"reason":"red_status","not_after":1769990400}]}`
	v2 := `{"seq":1,"issued":1769911200,"not_after":1769990400,"passes":["` + passA + `"]}`

	tests := []struct {
		name string
		data string
		keys KeySet
	}{
		{"token id removed", strings.Replace(g, `"`+textA+`",`, ``, 1), ks},
		{"token id changed", strings.Replace(g, textB, textB[:31]+"d", 1), ks},
		{"seq rolled back", strings.Replace(g, `"seq":42`, `"seq":41`, 1), ks},
		{"issued moved on", strings.Replace(g, "1769911200", "1769911201", 1), ks},
		{"validity extended", strings.Replace(g, "1769990400", "1769990401", 1), ks},
		{"whitespace inside the list", strings.Replace(g, `"tokens":`, `"tokens": `, 1), ks},
		{"kid of the other key", strings.Replace(g, s.KeyID().String(), other.KeyID().String(), 1), ks},
		{"signature of the other key", strings.Replace(g, sigOf(good), sigOf(byOther), 1), ks},
		{"unknown kid", g, keySet(t, other)},
		{"empty key set", g, KeySet{}},
		{"valid beyond its signing key", g, mustKeySet(t, retired)},
		{"token signature as list signature", strings.Replace(g, sigOf(good), base64.RawURLEncoding.EncodeToString(tokRaw[bodyLen:]), 1), ks},
		{"signature not base64url", strings.Replace(g, sigOf(good), strings.ToUpper(sigOf(good)[:10])+"+"+sigOf(good)[11:], 1), ks},
		{"kid upper case", strings.Replace(g, s.KeyID().String(), strings.ToUpper(s.KeyID().String()), 1), ks},
		{"unknown field", strings.Replace(g, `{"kid"`, `{"x":1,"kid"`, 1), ks},
		{"trailing data", g + "{}", ks},
		{"truncated", g[:len(g)-1], ks},
		{"not json", "list", ks},
		{"empty", "", ks},
		// Signed by the right key, but not a list SignList would write.
		{"version 1 list under the version 3 domain", string(signBody(s, v1)), ks},
		{"version 2 list (pass ids) under the version 3 domain", string(signBody(s, v2)), ks},
		{"unknown field in list", string(signBody(s, `{"seq":1,"issued":1769911200,"not_after":1769990400,"tokens":[],"x":1}`)), ks},
		{"no issued", string(signBody(s, `{"seq":1,"not_after":1769990400,"tokens":[]}`)), ks},
		{"no not_after", string(signBody(s, `{"seq":1,"issued":1769911200,"tokens":[]}`)), ks},
		{"stale when issued", string(signBody(s, `{"seq":1,"issued":1769911200,"not_after":1769911200,"tokens":[]}`)), ks},
		{"negative seq", string(signBody(s, `{"seq":-1,"issued":1769911200,"not_after":1769990400,"tokens":[]}`)), ks},
		{"unsorted", string(signBody(s, `{"seq":1,"issued":1769911200,"not_after":1769990400,"tokens":["`+textB+`","`+textA+`"]}`)), ks},
		{"token id twice", string(signBody(s, `{"seq":1,"issued":1769911200,"not_after":1769990400,"tokens":["`+textA+`","`+textA+`"]}`)), ks},
		{"token id upper case", string(signBody(s, `{"seq":1,"issued":1769911200,"not_after":1769990400,"tokens":["`+strings.ToUpper(textA)+`"]}`)), ks},
		{"a pass id as token id", string(signBody(s, `{"seq":1,"issued":1769911200,"not_after":1769990400,"tokens":["`+passA+`"]}`)), ks},
		{"an entry with a reason", string(signBody(s, `{"seq":1,"issued":1769911200,"not_after":1769990400,"tokens":[{"token":"`+textA+`","reason":"red_status"}]}`)), ks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := VerifyList([]byte(tt.data), tt.keys)
			if events.ErrorCode(err) != events.CodeInvalid {
				t.Fatalf("VerifyList = %+v, %v; want invalid", l, err)
			}
		})
	}
	// Whitespace in the envelope, outside the signed list, is harmless.
	spaced := strings.Replace(strings.Replace(g, `{"kid":`, "{ \"kid\" :", 1), `,"sig"`, ",\n  \"sig\"", 1)
	if _, err := VerifyList([]byte(spaced), ks); err != nil {
		t.Fatalf("VerifyList(spaced envelope) = %v", err)
	}
	if _, err := VerifyList(good, ks); err != nil {
		t.Fatalf("VerifyList(good) = %v", err)
	}
	retired.NotAfter = day1 // valid exactly until its key is
	if _, err := VerifyList(good, mustKeySet(t, retired)); err != nil {
		t.Fatalf("VerifyList(list ending with its key) = %v", err)
	}
}

func TestSignListInvalid(t *testing.T) {
	s := vectorSigner(t)
	tests := []struct {
		name  string
		edit  func(*RevocationList)
		field string
	}{
		{"no issued time", func(l *RevocationList) { l.Issued = time.Time{} }, "list.issued"},
		{"no validity", func(l *RevocationList) { l.NotAfter = time.Time{} }, "list.not_after"},
		{"stale when issued", func(l *RevocationList) { l.NotAfter = l.Issued.Add(999 * time.Millisecond) }, "list.not_after"},
		{"valid beyond the key", func(l *RevocationList) { l.NotAfter = s.NotAfter().Add(time.Second) }, "list.not_after"},
		{"token id twice", func(l *RevocationList) { l.Tokens[1] = l.Tokens[0] }, "list.tokens[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := vectorList()
			tt.edit(&l)
			b, err := SignList(s, l)
			var e *events.Error
			if !errors.As(err, &e) || e.Code != events.CodeInvalid || e.Field != tt.field {
				t.Fatalf("SignList = %s, %v; want invalid %s", b, err, tt.field)
			}
		})
	}
	l := vectorList()
	if _, err := SignList(s, l); err != nil || l.Tokens[0] != tokB {
		t.Fatalf("SignList changed its argument's token ids or failed: %v, %v", l.Tokens, err)
	}
}
