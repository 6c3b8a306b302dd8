package passtoken

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"testing"
	"time"
)

// The seed corpora are in testdata/fuzz: the known-answer token, tokens of
// another key and of a second trusted key, and tokens broken in each way
// the denial tests name.

// FuzzParse: Parse never panics, every failure is a malformed denial, and
// whatever it accepts is the one encoding of its claims.
func FuzzParse(f *testing.F) {
	f.Add(Prefix)
	if tok, err := Issue(fuzzSigners(f)[0], Claims{TokenID: tokB, Community: "110105001001", NotBefore: day0, NotAfter: day1}); err == nil {
		f.Add(tok) // format 2 (the stored corpus predates it)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, kid, err := Parse(token)
		if err != nil {
			var d *Denied
			if !errors.As(err, &d) || d.Reason != ReasonMalformed {
				t.Fatalf("Parse error %v is not a malformed denial", err)
			}
			return
		}
		body, err := encodeBody(kid, c)
		if err != nil {
			t.Fatalf("Parse accepted claims that Issue refuses: %+v: %v", c, err)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(token[len(Prefix):]) // either prefix
		if !bytes.Equal(body, raw[:bodyLen]) {
			t.Fatalf("claims %+v re-encode to %x, token has %x", c, body, raw[:bodyLen])
		}
	})
}

// fuzzSigners are the two trusted keys of FuzzVerify: the known-answer
// signer and a second one from a fixed seed. Neither has a NotAfter, so that
// the fuzzer's clock can roam.
func fuzzSigners(t testing.TB) []*Signer {
	var out []*Signer
	for _, seed := range []string{"vector", "second"} {
		h := sha256.Sum256([]byte("passtoken fuzz " + seed))
		s, err := NewSigner(h[:], time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// FuzzVerify: Verify never panics, denies only with a known reason, and
// accepts only a token that one of the trusted keys signed for exactly those
// claims (Ed25519 signing is deterministic, so re-issuing must give the very
// same string), inside its window and not revoked.
func FuzzVerify(f *testing.F) {
	signers := fuzzSigners(f)
	ks := keySet(f, signers...)
	revoked := fixedRevocations{tokB: true}
	f.Add(Prefix, int64(0))
	for _, id := range []TokenID{tokA, tokB} { // format 2, good and revoked
		if tok, err := Issue(signers[0], Claims{TokenID: id, Community: "110105001001", NotBefore: day0, NotAfter: day1}); err == nil {
			f.Add(tok, day0.Add(time.Hour).Unix())
		}
	}
	f.Fuzz(func(t *testing.T, token string, now int64) {
		at := time.Unix(now, 0)
		c, err := Verify(token, ks, revoked, at)
		if err != nil {
			var d *Denied
			if !errors.As(err, &d) {
				t.Fatalf("Verify error %v is not a denial", err)
			}
			switch d.Reason {
			case ReasonMalformed, ReasonForged, ReasonNotYetValid, ReasonExpired, ReasonRevoked, ReasonOutdated:
			default:
				t.Fatalf("unknown reason %q", d.Reason)
			}
			return
		}
		_, kid, _ := Parse(token)
		var signer *Signer
		for _, s := range signers {
			if s.KeyID() == kid {
				signer = s
			}
		}
		if signer == nil {
			t.Fatalf("accepted a token of unknown key %s", kid)
		}
		again, err := issue(signer, c) // either format
		if err != nil || again != token {
			t.Fatalf("accepted %q, but key %s signs those claims as %q (%v)", token, kid, again, err)
		}
		if at.Before(c.NotBefore) || !at.Before(c.NotAfter) {
			t.Fatalf("accepted at %s a pass valid %s..%s", at, c.NotBefore, c.NotAfter)
		}
		if c.FormatOne() {
			t.Fatalf("accepted format-1 pass %s against a revocation list", c.PassID)
		}
		if revoked.Revoked(c.TokenID) {
			t.Fatalf("accepted revoked token id %s", c.TokenID)
		}
	})
}

// FuzzVerifyList: VerifyList never panics, and a list it accepts was signed
// by the trusted key: signing it again gives a list that verifies to the
// same content.
func FuzzVerifyList(f *testing.F) {
	s := fuzzSigners(f)[0]
	ks := keySet(f, s)
	f.Add([]byte(`{"kid":"","list":{},"sig":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := VerifyList(data, ks)
		if err != nil {
			return
		}
		again, err := SignList(s, l)
		if err != nil {
			t.Fatalf("accepted a list that SignList refuses: %+v: %v", l, err)
		}
		l2, err := VerifyList(again, ks)
		if err != nil || l2.Seq != l.Seq || !l2.Issued.Equal(l.Issued) || !l2.NotAfter.Equal(l.NotAfter) || !slices.Equal(l2.Tokens, l.Tokens) {
			t.Fatalf("re-signed list differs: %+v, %v; accepted %+v", l2, err, l)
		}
	})
}
