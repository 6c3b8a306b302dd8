package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/backend/passtoken"
)

// passTokens adapts backend/passtoken to what the pass service and the API
// need: issuing and checking tokens, and serving keys and revocations to
// offline scanners.
type passTokens struct {
	signer *passtoken.Signer
	keys   passtoken.KeySet
	state  *passes.State
	ttl    time.Duration // token lifetime: a revoked pass's tokens are all dead ttl after revocation
	now    func() time.Time
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

func newPassTokens(signer *passtoken.Signer, state *passes.State, ttl time.Duration) (*passTokens, error) {
	keys, err := passtoken.NewKeySet(signer.Key())
	if err != nil {
		return nil, err
	}
	return &passTokens{signer: signer, keys: keys, state: state, ttl: ttl, now: time.Now}, nil
}

func (t *passTokens) Issue(c passes.PassClaims) (string, error) {
	return passtoken.Issue(t.signer, passtoken.Claims{PassID: c.PassID, Visitor: c.Visitor, Community: c.Community, NotBefore: c.NotBefore, NotAfter: c.NotAfter})
}

func (t *passTokens) Verify(token string, now time.Time) (passes.PassClaims, error) {
	c, err := passtoken.Verify(token, t.keys, nil, now)
	pc := passes.PassClaims{PassID: c.PassID, Visitor: c.Visitor, Community: c.Community, NotBefore: c.NotBefore, NotAfter: c.NotAfter}
	var d *passtoken.Denied
	if errors.As(err, &d) {
		return pc, &passes.Denial{Reason: string(d.Reason)}
	}
	return pc, err
}

func (t *passTokens) KeysJSON() ([]byte, error) { return json.Marshal(t.keys) }

// RevocationsJSON builds and signs the current revocation list.
func (t *passTokens) RevocationsJSON(ctx context.Context) ([]byte, error) {
	now := t.now().UTC().Truncate(time.Second)
	l := passtoken.RevocationList{Issued: now}
	for _, p := range t.state.Revoked(now.Add(-t.ttl)) {
		at := p.RevokedAt.UTC().Truncate(time.Second)
		if at.After(now) {
			at = now
		}
		// Tokens are issued for at most ttl, so none issued before the
		// revocation outlives at + ttl: the entry can go after that.
		end := p.NotAfter
		if e := p.RevokedAt.Add(t.ttl + 5*time.Minute); e.Before(end) {
			end = e
		}
		if !end.After(now) {
			continue
		}
		l.Entries = append(l.Entries, passtoken.Revoked{PassID: p.ID, At: at, Reason: p.Revoked, NotAfter: end.UTC().Truncate(time.Second)})
	}
	sort.Slice(l.Entries, func(i, j int) bool { return l.Entries[i].PassID < l.Entries[j].PassID })
	return passtoken.SignList(t.signer, l)
}
