package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/backend/passtoken"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
)

// TestRevocationListSignedWhenItChanges: the list is signed again only
// when a revocation lands, a revoked pass's tokens have all expired, or
// half its validity has passed; in between every request gets the same
// bytes and entity tag. The list names token ids only, never a pass id.
func TestRevocationListSignedWhenItChanges(t *testing.T) {
	const (
		passA = "01936b2e-7c1a-7d3e-8f00-0123456789ab"
		passB = "01936b2e-7c1a-7d3e-8f00-0123456789ac"
	)
	t0 := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	ttl := time.Hour
	h := sha256.Sum256([]byte("tokens test"))
	signer, err := passtoken.NewSigner(h[:], time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	state := passes.NewState()
	tokens := testTokens(t, signer, state, ttl)
	now := t0
	tokens.now = func() time.Time { return now }
	seq := uint64(0)
	apply := func(id string, p events.Payload) {
		seq++
		state.Apply(events.Recorded{Seq: seq, Event: events.Event{Aggregate: events.Aggregate{Kind: passevents.KindPass, ID: id}, Time: now}}, p)
	}
	for _, id := range []string{passA, passB} {
		apply(id, passevents.Issued{Holder: "person-" + id, HolderOf: "resident", Community: "110105001001", NotBefore: t0, NotAfter: t0.AddDate(0, 0, 30)})
	}

	type served struct {
		body []byte
		etag string
		list passtoken.RevocationList
	}
	fetch := func() served {
		t.Helper()
		b, etag, err := tokens.Revocations(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		l, err := passtoken.VerifyList(b, tokens.keys)
		if err != nil {
			t.Fatalf("served list does not verify: %v\n%s", err, b)
		}
		if bytes.Contains(b, []byte(passevents.ReasonRedStatus)) {
			t.Fatalf("served list names a revocation reason: %s", b)
		}
		for _, id := range []string{passA, passB} {
			u := uuid.MustParse(id)
			if bytes.Contains(b, []byte(id)) || bytes.Contains(b, []byte(hex.EncodeToString(u[:]))) {
				t.Fatalf("served list names pass id %s: %s", id, b)
			}
		}
		return served{b, etag, l}
	}
	same := func(step string, a, b served) {
		t.Helper()
		if !bytes.Equal(a.body, b.body) || a.etag != b.etag {
			t.Fatalf("%s: signed again:\n%s\n%s", step, a.body, b.body)
		}
	}
	changed := func(step string, a, b served, passes ...string) {
		t.Helper()
		var want []passtoken.TokenID
		for _, p := range passes {
			id, err := tokens.tokenID(p)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, id)
		}
		slices.SortFunc(want, func(x, y passtoken.TokenID) int { return bytes.Compare(x[:], y[:]) })
		if a.etag == b.etag || !b.list.Newer(a.list) || !slices.Equal(b.list.Tokens, want) {
			t.Fatalf("%s: got %+v (etag %s), after %+v (etag %s); want the token ids of %v", step, b.list, b.etag, a.list, a.etag, passes)
		}
	}

	first := fetch()
	if len(first.list.Tokens) != 0 || first.list.Seq != 0 || !first.list.Issued.Equal(t0) || !first.list.NotAfter.Equal(t0.Add(listValidity)) {
		t.Fatalf("first list %+v", first.list)
	}
	now = t0.Add(time.Minute)
	apply(passB, passevents.Issued{Holder: "x", HolderOf: "resident", Community: "110105001001", NotBefore: t0, NotAfter: t0.AddDate(0, 0, 30)}) // not a revocation
	same("an event that revokes nothing", first, fetch())

	apply(passA, passevents.Revoked{Reason: passevents.ReasonRedStatus})
	revokedAt := now
	one := fetch()
	changed("a revocation", first, one, passA)
	if one.list.Seq != seq {
		t.Fatalf("list seq %d, want the revocation's %d", one.list.Seq, seq)
	}
	now = now.Add(ttl / 2)
	same("half a token's lifetime later", one, fetch())

	now = now.Add(time.Minute)
	apply(passB, passevents.Revoked{Reason: passevents.ReasonLostPhone})
	two := fetch()
	changed("a second revocation", one, two, passA, passB)

	// passA's tokens all ended ttl (and a margin) after its revocation.
	now = revokedAt.Add(ttl + 5*time.Minute)
	expired := fetch()
	changed("a revoked pass's tokens expired", two, expired, passB)
	if expired.list.Seq != two.list.Seq {
		t.Fatalf("an expiry moved the seq: %d → %d", two.list.Seq, expired.list.Seq)
	}

	// Nothing changes for a long while: signed again at half its validity.
	now = now.Add(2 * ttl)
	quiet := fetch() // passB has expired too by now
	changed("passB expired", expired, quiet)
	now = quiet.list.Issued.Add(listValidity/2 - time.Second)
	same("just before half its validity", quiet, fetch())
	now = quiet.list.Issued.Add(listValidity / 2)
	renewed := fetch()
	changed("half its validity passed", quiet, renewed)
	if renewed.list.Stale(now) || !renewed.list.NotAfter.After(quiet.list.NotAfter) {
		t.Fatalf("renewed list %+v after %+v", renewed.list, quiet.list)
	}
}

// testTokens is the token adapter of signer over state, with the token ids
// of a fixed index key.
func testTokens(t *testing.T, signer *passtoken.Signer, state *passes.State, ttl time.Duration) *passTokens {
	t.Helper()
	ids, err := personal.NewIDPermutation([]byte("tokens test index key..........."), personal.DomainQR)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := newPassTokens(signer, ids, state, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// formatOneToken signs a token of format 1, which carried the pass id at
// offset 5 (backend/passtoken's doc.go), as the backend issued them before
// token ids: passtoken no longer issues them.
func formatOneToken(t *testing.T, s *passtoken.Signer, passID string, community uint64, nb, na time.Time) string {
	t.Helper()
	f := strings.Split(passtoken.EncodeSigner(s), "+")
	seed, err := base64.RawURLEncoding.DecodeString(f[len(f)-1])
	if err != nil {
		t.Fatal(err)
	}
	body := []byte{0x01}
	body = binary.BigEndian.AppendUint32(body, uint32(s.KeyID()))
	id := uuid.MustParse(passID)
	body = append(body, id[:]...)
	body = append(body, 0x00, byte(community>>32), byte(community>>24), byte(community>>16), byte(community>>8), byte(community))
	body = binary.BigEndian.AppendUint32(body, uint32(nb.Unix()))
	body = binary.BigEndian.AppendUint32(body, uint32(na.Unix()))
	sig := ed25519.Sign(ed25519.NewKeyFromSeed(seed), append([]byte("onebook pass v1\x00"), body...))
	return passtoken.PrefixFormat1 + base64.RawURLEncoding.EncodeToString(append(body, sig...))
}

// TestTokenNamesNoPassID: a token carries its pass's token id, which is not
// the pass id (the aggregate id of the pass's events in the public ledger)
// and from which only the key holder goes back to the pass; a token of
// format 1, issued before token ids, still names its pass online until it
// expires, while an offline check against the revocation list refuses it
// as outdated.
func TestTokenNamesNoPassID(t *testing.T) {
	const passA = "01936b2e-7c1a-7d3e-8f00-0123456789ab"
	t0 := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	h := sha256.Sum256([]byte("tokens test"))
	signer, err := passtoken.NewSigner(h[:], time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	tokens := testTokens(t, signer, passes.NewState(), time.Hour)
	claims := passes.PassClaims{PassID: passA, Community: "110105001001", NotBefore: t0, NotAfter: t0.Add(time.Hour)}
	tok, err := tokens.Issue(claims)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := passtoken.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	pass := uuid.MustParse(passA)
	raw, _ := base64.RawURLEncoding.DecodeString(tok[len(passtoken.Prefix):])
	if c.FormatOne() || c.TokenID == passtoken.TokenID(pass) || bytes.Contains(raw, pass[:]) || strings.Contains(tok, passA) {
		t.Fatalf("token %s (claims %+v) shows the pass id %s", tok, c, passA)
	}
	other := testTokens(t, signer, passes.NewState(), time.Hour)
	other.ids, _ = personal.NewIDPermutation([]byte("another index key..............."), personal.DomainQR)
	if id, _ := other.tokenID(passA); id == c.TokenID {
		t.Fatal("another index key gives the same token id")
	}
	for _, tt := range []struct{ name, tok string }{{"format 2", tok}, {"format 1", formatOneToken(t, signer, passA, 110105001001, t0, t0.Add(time.Hour))}} {
		got, err := tokens.Verify(tt.tok, t0.Add(time.Minute))
		if err != nil || got != claims {
			t.Errorf("%s: Verify = %+v, %v; want %+v", tt.name, got, err, claims)
		}
		var d *passes.Denial
		if _, err := tokens.Verify(tt.tok, t0.Add(time.Hour)); !errors.As(err, &d) || d.Reason != string(passtoken.ReasonExpired) {
			t.Errorf("%s: Verify at its not_after = %v, want expired", tt.name, err)
		}
	}
	// Offline, against the served list, format 1 is outdated.
	body, _, err := tokens.Revocations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l, err := passtoken.VerifyList(body, tokens.keys)
	if err != nil {
		t.Fatal(err)
	}
	var d *passtoken.Denied
	if _, err := passtoken.Verify(formatOneToken(t, signer, passA, 110105001001, t0, t0.Add(time.Hour)), tokens.keys, l.Checker(), t0); !errors.As(err, &d) || d.Reason != passtoken.ReasonOutdated {
		t.Fatalf("offline check of a format-1 token: %v, want outdated", err)
	}
	if _, err := passtoken.Verify(tok, tokens.keys, l.Checker(), t0); err != nil {
		t.Fatalf("offline check of a format-2 token: %v", err)
	}
}
