package app

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/backend/passtoken"
	"github.com/onebook/onebook/backend/personal"
)

// passTokens adapts backend/passtoken to what the pass service and the API
// need: issuing and checking tokens, and serving keys and revocations to
// offline scanners. Tokens and the revocation list name a pass by its token
// id, the pass id's pseudonym in the QR domain (ids): the pass service
// sees pass ids only, the public token ids only.
type passTokens struct {
	signer *passtoken.Signer
	keys   passtoken.KeySet
	ids    personal.IDPermutation // pass id ↔ token id
	state  *passes.State
	ttl    time.Duration // token lifetime: a revoked pass's tokens are all dead ttl after revocation
	now    func() time.Time

	mu   sync.Mutex
	list signedList // the last list signed; zero until the first request
}

// loadPassSigner reads the pass signing key, creating it on first start.
func loadPassSigner(path string) (*passtoken.Signer, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return passtoken.ParseSigner(strings.TrimSpace(string(b)))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read pass key: %w", err)
	}
	s, err := passtoken.GenerateSigner(time.Time{})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(passtoken.EncodeSigner(s)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write pass key: %w", err)
	}
	return s, nil
}

func newPassTokens(signer *passtoken.Signer, ids personal.IDPermutation, state *passes.State, ttl time.Duration) (*passTokens, error) {
	keys, err := passtoken.NewKeySet(signer.Key())
	if err != nil {
		return nil, err
	}
	return &passTokens{signer: signer, keys: keys, ids: ids, state: state, ttl: ttl, now: time.Now}, nil
}

// tokenID is the token id of the pass passID.
func (t *passTokens) tokenID(passID string) (passtoken.TokenID, error) {
	id, err := uuid.Parse(passID)
	if err != nil {
		return passtoken.TokenID{}, fmt.Errorf("pass id %q: %w", passID, err)
	}
	return t.ids.Pseudonym(id), nil
}

func (t *passTokens) Issue(c passes.PassClaims) (string, error) {
	id, err := t.tokenID(c.PassID)
	if err != nil {
		return "", err
	}
	return passtoken.Issue(t.signer, passtoken.Claims{TokenID: id, Visitor: c.Visitor, Community: c.Community, NotBefore: c.NotBefore, NotAfter: c.NotAfter})
}

// Verify checks the token and names its pass: the pass whose token id it
// carries, or (a token of format 1, issued before token ids, admitted
// until it expires) the pass id it carries. Revocations are the pass
// service's check, against its state.
func (t *passTokens) Verify(token string, now time.Time) (passes.PassClaims, error) {
	c, err := passtoken.Verify(token, t.keys, nil, now)
	var d *passtoken.Denied
	if errors.As(err, &d) {
		return passes.PassClaims{}, &passes.Denial{Reason: string(d.Reason)}
	}
	if err != nil {
		return passes.PassClaims{}, err
	}
	pc := passes.PassClaims{PassID: c.PassID, Visitor: c.Visitor, Community: c.Community, NotBefore: c.NotBefore, NotAfter: c.NotAfter}
	if !c.FormatOne() {
		pc.PassID = uuid.UUID(t.ids.Reveal(c.TokenID)).String()
	}
	return pc, nil
}

func (t *passTokens) KeysJSON() ([]byte, error) { return json.Marshal(t.keys) }

// listValidity is how long a signed revocation list stays current. A new
// list is signed once half of it has passed, so that a scanner fetching the
// list at any time gets one that stays current for at least half of it.
const listValidity = 24 * time.Hour

// signedList is the revocation list as served, kept until it changes.
type signedList struct {
	body  []byte
	etag  string    // strong entity tag of body
	seq   uint64    // the pass state's RevokedSeq it reflects
	renew time.Time // sign again from then on: half its validity, or the first pass leaving the list
}

// Revocations returns the signed revocation list and its entity tag. The
// list is signed when it changes (a revocation, or a revoked pass whose
// tokens have all expired) or half its validity has passed, not on every
// request: between those, every request gets the same bytes, so scanners
// polling with If-None-Match get 304 and the signing key is not a
// per-request cost.
func (t *passTokens) Revocations(ctx context.Context) (body []byte, etag string, err error) {
	now := t.now()
	seq := t.state.RevokedSeq()
	t.mu.Lock()
	defer t.mu.Unlock()
	if l := t.list; l.body != nil && l.seq == seq && now.Before(l.renew) {
		return l.body, l.etag, nil
	}
	l, err := t.signList(now)
	if err != nil {
		return nil, "", fmt.Errorf("sign the revocation list: %w", err)
	}
	t.list = l
	return l.body, l.etag, nil
}

// signList builds and signs the revocation list of now.
func (t *passTokens) signList(now time.Time) (signedList, error) {
	now = now.UTC().Truncate(time.Second)
	revoked, seq := t.state.Revoked(now.Add(-t.ttl))
	l := passtoken.RevocationList{Seq: seq, Issued: now, NotAfter: now.Add(listValidity)}
	if na := t.signer.NotAfter(); !na.IsZero() && l.NotAfter.After(na) {
		l.NotAfter = na.UTC().Truncate(time.Second)
	}
	renew := now.Add(l.NotAfter.Sub(now) / 2)
	for _, p := range revoked {
		// Tokens are issued for at most ttl, so none issued before the
		// revocation outlives RevokedAt + ttl: the pass can leave then.
		end := p.NotAfter
		if e := p.RevokedAt.Add(t.ttl + 5*time.Minute); e.Before(end) {
			end = e
		}
		if !end.After(now) {
			continue
		}
		id, err := t.tokenID(p.ID)
		if err != nil {
			return signedList{}, err
		}
		l.Tokens = append(l.Tokens, id)
		if end.Before(renew) {
			renew = end
		}
	}
	body, err := passtoken.SignList(t.signer, l)
	if err != nil {
		return signedList{}, err
	}
	sum := sha256.Sum256(body)
	return signedList{body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`, seq: seq, renew: renew}, nil
}
