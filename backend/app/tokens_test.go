package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/backend/passtoken"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
)

// TestRevocationListSignedWhenItChanges: the list is signed again only
// when a revocation lands, a revoked pass's tokens have all expired, or
// half its validity has passed; in between every request gets the same
// bytes and entity tag. The list names pass ids only.
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
	tokens, err := newPassTokens(signer, state, ttl)
	if err != nil {
		t.Fatal(err)
	}
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
		if a.etag == b.etag || !b.list.Newer(a.list) || !slices.Equal(b.list.Passes, passes) {
			t.Fatalf("%s: got %+v (etag %s), after %+v (etag %s); want passes %v", step, b.list, b.etag, a.list, a.etag, passes)
		}
	}

	first := fetch()
	if len(first.list.Passes) != 0 || first.list.Seq != 0 || !first.list.Issued.Equal(t0) || !first.list.NotAfter.Equal(t0.Add(listValidity)) {
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
