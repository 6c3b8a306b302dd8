package passtoken

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/events"
)

// The seed of RFC 8032 §7.1 TEST 1, so that another implementation (the
// scanner's) can check the public key first: d75a9801…f707511a.
const vectorSeed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"

var (
	day0 = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	day1 = day0.Add(24 * time.Hour)
)

func vectorSigner(t testing.TB) *Signer {
	t.Helper()
	seed, _ := hex.DecodeString(vectorSeed)
	s, err := NewSigner(seed, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// vectorTokenID is the token id of the known-answer token: 16 bytes the
// issuer would derive from a pass id (which this package never sees).
var vectorTokenID = TokenID{0x5f, 0x1c, 0x0a, 0x3e, 0x9b, 0x7d, 0x4c, 0x2e, 0x8a, 0x6f, 0x1b, 0x3d, 0x5c, 0x7e, 0x9a, 0x0b}

func vectorClaims() Claims {
	return Claims{TokenID: vectorTokenID, Community: "110105001001", NotBefore: day0, NotAfter: day1}
}

// formatOneClaims are the claims of the format-1 known answer, which named
// its pass by the pass id.
func formatOneClaims() Claims {
	return Claims{PassID: "01936b2e-7c1a-7d3e-8f00-0123456789ab", Community: "110105001001", NotBefore: day0, NotAfter: day1}
}

func keySet(t testing.TB, signers ...*Signer) KeySet {
	t.Helper()
	var keys []Key
	for _, s := range signers {
		keys = append(keys, s.Key())
	}
	ks, err := NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// TestKnownAnswer pins formats 2 and 1. If it fails, a format has changed
// and every pass in the field with it: bump the version instead. The
// expected values were computed independently with Node's crypto (Ed25519,
// SHA-256) from the layouts in the package documentation.
func TestKnownAnswer(t *testing.T) {
	s := vectorSigner(t)
	if got, want := hex.EncodeToString(s.Key().Public), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"; got != want {
		t.Fatalf("public key %s, want %s (RFC 8032 TEST 1)", got, want)
	}
	const wantKID = "d7cacaaa"
	if got := s.KeyID().String(); got != wantKID {
		t.Errorf("key id %s, want %s", got, wantKID)
	}
	tests := []struct {
		name     string
		claims   Claims
		issue    func(*Signer, Claims) (string, error)
		wantBody string
		want     string
	}{
		{"format 2", vectorClaims(), Issue,
			"02" + "d7cacaaa" + "5f1c0a3e9b7d4c2e8a6f1b3d5c7e9a0b" + "00" + "19a2c4fc29" + "697e9780" + "697fe900",
			"OB2.AtfKyqpfHAo-m31MLopvGz1cfpoLABmixPwpaX6XgGl_6QDlTnkLELv-EIAgWl6buSMO031d1bFz3VWhmSxgpzxVvVILhVKsqHd1Sicy2pnOWw_JLp6D_7zk41cAKEhr6nwP"},
		{"format 1", formatOneClaims(), issue,
			"01" + "d7cacaaa" + "01936b2e7c1a7d3e8f000123456789ab" + "00" + "19a2c4fc29" + "697e9780" + "697fe900",
			"OB1.AdfKyqoBk2sufBp9Po8AASNFZ4mrABmixPwpaX6XgGl_6QAZwSflpaojgfGXVx7Wwi6LyNXeETbm4ZmkOmr-HU7LPB4JYy5VL9dW-JmDgvEQTXizKEdO3QHLTzAnxO0iogIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := tt.issue(s, tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := base64.RawURLEncoding.DecodeString(tok[len(Prefix):])
			if got := hex.EncodeToString(raw[:bodyLen]); got != tt.wantBody {
				t.Errorf("body\n got %s\nwant %s", got, tt.wantBody)
			}
			if tok != tt.want {
				t.Errorf("token\n got %s\nwant %s", tok, tt.want)
			}
			if len(tok) != Len || Len != 136 {
				t.Errorf("token has %d characters, Len = %d, want 136", len(tok), Len)
			}
			c, err := Verify(tt.want, keySet(t, s), nil, day0.Add(time.Hour))
			if err != nil || c != tt.claims {
				t.Fatalf("Verify(vector) = %+v, %v", c, err)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	s := vectorSigner(t)
	ks := keySet(t, s)
	tests := []struct {
		name string
		in   Claims
		want Claims // zero: same as in
	}{
		{"resident", vectorClaims(), Claims{}},
		{"visitor", Claims{TokenID: TokenID{0: 0xff, 15: 0xff}, Visitor: true, Community: "999999999999", NotBefore: day0, NotAfter: day0.Add(2 * time.Hour)}, Claims{}},
		{"smallest community, zero token id", Claims{Community: "010000000000", NotBefore: time.Unix(0, 0).UTC(), NotAfter: day1}, Claims{}},
		{"rounded inwards, to UTC", Claims{TokenID: vectorTokenID, Community: "110105001001",
			NotBefore: day0.Add(-time.Nanosecond).In(events.China()), NotAfter: day1.Add(999 * time.Millisecond)}, vectorClaims()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == (Claims{}) {
				want = tt.in
			}
			tok, err := Issue(s, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(tok) != Len {
				t.Fatalf("token has %d characters, want %d", len(tok), Len)
			}
			pc, kid, err := Parse(tok)
			if err != nil || pc != want || kid != s.KeyID() {
				t.Fatalf("Parse = %+v, %s, %v; want %+v, %s", pc, kid, err, want, s.KeyID())
			}
			vc, err := Verify(tok, ks, nil, want.NotBefore)
			if err != nil || vc != want {
				t.Fatalf("Verify = %+v, %v; want %+v", vc, err, want)
			}
		})
	}
}

func TestIssueInvalid(t *testing.T) {
	s := vectorSigner(t)
	tests := []struct {
		name  string
		edit  func(*Claims)
		field string
	}{
		{"format 1: a pass id", func(c *Claims) { c.PassID = formatOneClaims().PassID }, "pass_id"},
		{"format 1: a pass id, no token id", func(c *Claims) { *c = formatOneClaims() }, "pass_id"},
		{"district not community", func(c *Claims) { c.Community = "110105" }, "community"},
		{"community no province", func(c *Claims) { c.Community = "001234567890" }, "community"},
		{"community not digits", func(c *Claims) { c.Community = "11010500100x" }, "community"},
		{"empty window", func(c *Claims) { c.NotAfter = c.NotBefore }, "not_after"},
		{"window empty after rounding", func(c *Claims) {
			c.NotBefore = day0.Add(100 * time.Millisecond)
			c.NotAfter = day0.Add(900 * time.Millisecond)
		}, "not_after"},
		{"before 1970", func(c *Claims) { c.NotBefore = time.Unix(-1, 0) }, "not_before"},
		{"after 2106", func(c *Claims) { c.NotAfter = time.Unix(1<<32, 0) }, "not_after"},
		{"outlives key", func(c *Claims) { c.NotAfter = s.NotAfter().Add(time.Second) }, "not_after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := vectorClaims()
			tt.edit(&c)
			tok, err := Issue(s, c)
			var e *events.Error
			if !errors.As(err, &e) || e.Code != events.CodeInvalid || e.Field != tt.field {
				t.Fatalf("Issue = %q, %v; want invalid %s", tok, err, tt.field)
			}
		})
	}
	if _, err := Issue(nil, vectorClaims()); err == nil {
		t.Fatal("Issue(nil signer) succeeded")
	}
}

// reencode replaces the raw bytes of tok by edit's result, keeping the
// text form valid.
func reencode(tok string, edit func(raw []byte) []byte) string {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, Prefix))
	if err != nil {
		panic(err)
	}
	return Prefix + base64.RawURLEncoding.EncodeToString(edit(raw))
}

// resign replaces the body of tok by edit's result and signs it again with s,
// for structural faults behind a valid signature.
func resign(s *Signer, tok string, edit func(body []byte)) string {
	return reencode(tok, func(raw []byte) []byte {
		body := raw[:bodyLen]
		edit(body)
		return append(body, s.sign(domainOf(body[0]), body)...)
	})
}

type fixedRevocations map[TokenID]bool

func (m fixedRevocations) Revoked(id TokenID) bool { return m[id] }

func TestVerifyDenied(t *testing.T) {
	s := vectorSigner(t)
	other, err := GenerateSigner(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// A signer whose key retires in the middle of the pass's day, listed
	// with a later NotAfter than it signed with would not be allowed, so
	// build its set from a Key with an earlier NotAfter.
	short := vectorSigner(t)
	shortKey := short.Key()
	shortKey.NotAfter = day0.Add(12 * time.Hour)

	good, err := Issue(s, vectorClaims())
	if err != nil {
		t.Fatal(err)
	}
	fromOther, err := Issue(other, vectorClaims())
	if err != nil {
		t.Fatal(err)
	}
	ks := keySet(t, s)
	mid := day0.Add(time.Hour)
	revoked := fixedRevocations{vectorTokenID: true}

	tests := []struct {
		name    string
		tok     string
		keys    KeySet
		revoked RevocationChecker
		now     time.Time
		want    Reason // "" = allowed
	}{
		{"good", good, ks, fixedRevocations{TokenID{}: true}, mid, ""},
		{"first second", good, ks, nil, day0, ""},
		{"last second", good, ks, nil, day1.Add(-time.Second), ""},
		{"not yet valid", good, ks, nil, day0.Add(-time.Second), ReasonNotYetValid},
		{"expired at not_after", good, ks, nil, day1, ReasonExpired},
		{"expired long ago", good, ks, nil, day1.AddDate(1, 0, 0), ReasonExpired},
		{"key retired", good, mustKeySet(t, shortKey), nil, day0.Add(12 * time.Hour), ReasonExpired},
		{"key not yet retired", good, mustKeySet(t, shortKey), nil, day0.Add(12*time.Hour - time.Second), ""},
		{"revoked", good, ks, revoked, mid, ReasonRevoked},
		{"expired wins over revoked", good, ks, revoked, day1, ReasonExpired},
		{"other key", fromOther, ks, nil, mid, ReasonForged},
		{"unknown kid", reencode(good, func(r []byte) []byte { r[1] ^= 0xff; return r }), keySet(t, s, other), nil, mid, ReasonForged},
		{"empty key set", good, KeySet{}, nil, mid, ReasonForged},
		{"flipped signature bit", reencode(good, func(r []byte) []byte { r[bodyLen+10] ^= 0x04; return r }), ks, nil, mid, ReasonForged},
		{"flipped last bit", reencode(good, func(r []byte) []byte { r[rawLen-1] ^= 0x01; return r }), ks, nil, mid, ReasonForged},
		{"flipped token id bit", reencode(good, func(r []byte) []byte { r[7] ^= 0x10; return r }), ks, nil, mid, ReasonForged},
		{"visitor flag set", reencode(good, func(r []byte) []byte { r[21] = holderVisitor; return r }), ks, nil, mid, ReasonForged},
		{"extended not_after", reencode(good, func(r []byte) []byte { r[31]++; return r }), ks, nil, mid, ReasonForged},
		{"signature of other key spliced", reencode(good, func(r []byte) []byte {
			o, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(fromOther, Prefix))
			return append(r[:bodyLen], o[bodyLen:]...)
		}), keySet(t, s, other), nil, mid, ReasonForged},
		{"signed without domain", reencode(good, func(r []byte) []byte {
			return append(r[:bodyLen], ed25519.Sign(s.priv, r[:bodyLen])...)
		}), ks, nil, mid, ReasonForged},
		{"wrong prefix", "OB3." + strings.TrimPrefix(good, Prefix), ks, nil, mid, ReasonMalformed},
		{"format 1 prefix on format 2", PrefixFormat1 + strings.TrimPrefix(good, Prefix), ks, nil, mid, ReasonMalformed},
		{"lower-case prefix", "ob2." + strings.TrimPrefix(good, Prefix), ks, nil, mid, ReasonMalformed},
		{"no prefix", strings.TrimPrefix(good, Prefix), ks, nil, mid, ReasonMalformed},
		{"empty", "", ks, nil, mid, ReasonMalformed},
		{"prefix only", Prefix, ks, nil, mid, ReasonMalformed},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(good), ks, nil, mid, ReasonMalformed},
		{"padding", good[:Len-1] + "=", ks, nil, mid, ReasonMalformed},
		{"newline inside", good[:40] + "\n" + good[41:], ks, nil, mid, ReasonMalformed},
		{"space", good[:Len-1] + " ", ks, nil, mid, ReasonMalformed},
		{"truncated by one character", good[:Len-1], ks, nil, mid, ReasonMalformed},
		{"truncated to the body", reencode(good, func(r []byte) []byte { return r[:bodyLen] }), ks, nil, mid, ReasonMalformed},
		{"trailing character", good + "A", ks, nil, mid, ReasonMalformed},
		{"trailing bytes", reencode(good, func(r []byte) []byte { return append(r, 0, 0, 0) }), ks, nil, mid, ReasonMalformed},
		{"trailing newline", good + "\n", ks, nil, mid, ReasonMalformed},
		{"version 3 byte", resign(s, good, func(b []byte) { b[0] = 3 }), ks, nil, mid, ReasonMalformed},
		{"version 1 byte behind the format 2 prefix", resign(s, good, func(b []byte) { b[0] = 1 }), ks, nil, mid, ReasonMalformed},
		{"holder kind 2", resign(s, good, func(b []byte) { b[21] = 2 }), ks, nil, mid, ReasonMalformed},
		{"community 10^12", resign(s, good, func(b []byte) { putUint40(b[22:27], maxCommunity+1) }), ks, nil, mid, ReasonMalformed},
		{"community without province", resign(s, good, func(b []byte) { putUint40(b[22:27], 1234567890) }), ks, nil, mid, ReasonMalformed},
		{"empty window", resign(s, good, func(b []byte) { copy(b[31:35], b[27:31]) }), ks, nil, mid, ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Verify(tt.tok, tt.keys, tt.revoked, tt.now)
			if tt.want == "" {
				if err != nil || c != vectorClaims() {
					t.Fatalf("Verify = %+v, %v; want allowed", c, err)
				}
				return
			}
			var d *Denied
			if !errors.As(err, &d) || d.Reason != tt.want {
				t.Fatalf("Verify = %+v, %v; want denied %s", c, err, tt.want)
			}
			if c != (Claims{}) {
				t.Fatalf("denied Verify returned claims %+v", c)
			}
			if tt.want == ReasonRevoked && !strings.Contains(d.Detail, vectorTokenID.String()) {
				t.Fatalf("revoked detail %q, want the token id", d.Detail)
			}
			if tt.want == ReasonMalformed {
				if _, _, err := Parse(tt.tok); !errors.As(err, &d) || d.Reason != ReasonMalformed {
					t.Fatalf("Parse = %v, want malformed", err)
				}
			}
		})
	}
}

func mustKeySet(t *testing.T, keys ...Key) KeySet {
	t.Helper()
	ks, err := NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestDeniedErrorCode(t *testing.T) {
	tests := []struct {
		reason Reason
		code   events.Code
	}{
		{ReasonMalformed, events.CodeInvalid},
		{ReasonForged, events.CodeForbidden},
		{ReasonExpired, events.CodeForbidden},
		{ReasonNotYetValid, events.CodeForbidden},
		{ReasonRevoked, events.CodeForbidden},
		{ReasonOutdated, events.CodeForbidden},
		{ReasonWrongCommunity, events.CodeForbidden},
	}
	for _, tt := range tests {
		var err error = &Denied{Reason: tt.reason, Detail: "x"}
		if got := events.ErrorCode(err); got != tt.code {
			t.Errorf("ErrorCode(%s) = %s, want %s", tt.reason, got, tt.code)
		}
		if want := "pass denied: " + string(tt.reason) + ": x"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
	}
}

func TestCheckCommunity(t *testing.T) {
	c := vectorClaims()
	if err := c.CheckCommunity("110105001001"); err != nil {
		t.Fatalf("own community: %v", err)
	}
	for _, gate := range []events.Region{"110105001002", "110105", ""} {
		var d *Denied
		if err := c.CheckCommunity(gate); !errors.As(err, &d) || d.Reason != ReasonWrongCommunity {
			t.Errorf("gate %q: %v, want wrong_community", gate, err)
		}
	}
}

// TestFormatOne: a token of format 1 (the pass id at offset 5, issued
// before token ids) opens without a revocation list, as the backend checks
// it (against its own state) until it expires, and is refused as outdated
// against any list, which names token ids and cannot clear it.
func TestFormatOne(t *testing.T) {
	s := vectorSigner(t)
	ks := keySet(t, s)
	old, err := issue(s, formatOneClaims())
	if err != nil {
		t.Fatal(err)
	}
	mid := day0.Add(time.Hour)
	tests := []struct {
		name    string
		revoked RevocationChecker
		now     time.Time
		want    Reason
	}{
		{"no list: admitted", nil, mid, ""},
		{"an empty list: outdated", fixedRevocations{}, mid, ReasonOutdated},
		{"a list naming its bytes as a token id: outdated", fixedRevocations{TokenID(uuid.MustParse(formatOneClaims().PassID)): true}, mid, ReasonOutdated},
		{"expired before outdated", fixedRevocations{}, day1, ReasonExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Verify(old, ks, tt.revoked, tt.now)
			if tt.want == "" {
				if err != nil || c != formatOneClaims() || !c.FormatOne() {
					t.Fatalf("Verify = %+v, %v; want the format-1 claims", c, err)
				}
				return
			}
			var d *Denied
			if !errors.As(err, &d) || d.Reason != tt.want {
				t.Fatalf("Verify = %+v, %v; want %s", c, err, tt.want)
			}
		})
	}
	if c, _, err := Parse(old); err != nil || c.PassID != formatOneClaims().PassID || c.TokenID != (TokenID{}) {
		t.Fatalf("Parse = %+v, %v", c, err)
	}
}

func TestParseTokenID(t *testing.T) {
	if id, err := ParseTokenID(vectorTokenID.String()); err != nil || id != vectorTokenID {
		t.Fatalf("ParseTokenID(%s) = %x, %v", vectorTokenID, id, err)
	}
	for _, bad := range []string{"", "5f1c0a3e9b7d4c2e8a6f1b3d5c7e9a0", "5F1C0A3E9B7D4C2E8A6F1B3D5C7E9A0B", "5f1c0a3e-9b7d-4c2e-8a6f-1b3d5c7e9a0b", "5f1c0a3e9b7d4c2e8a6f1b3d5c7e9a0g"} {
		if _, err := ParseTokenID(bad); events.ErrorCode(err) != events.CodeInvalid {
			t.Errorf("ParseTokenID(%q) = %v, want invalid", bad, err)
		}
	}
}
