package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/onebook/onebook/events"
)

// Sessions issues and checks the bearer tokens clients carry after signing
// in: JWTs (RFC 7519) signed with HMAC-SHA256 under a key only the backend
// replicas share, expiring after a TTL.
type Sessions struct {
	key []byte
	ttl time.Duration
	now func() time.Time
	// Audience is the cell the sessions belong to in a deployment with a
	// ledger per province (partition.Name: "p31"), "" for the single
	// ledger. Each cell has its own key already; the audience makes a
	// token of one cell worthless in another even where keys were shared
	// (a copied data folder, one secret mounted everywhere): a token names
	// its cell (RFC 7519 "aud") and is refused elsewhere, and sessions
	// without an audience refuse every token that names one.
	Audience string
	// Valid, if set, is asked about every verified session: a disabled
	// account's or a signed-out one's is refused (accounts.Service.SessionValid).
	Valid func(p Principal, issued time.Time) error
}

// NewSessions returns a session issuer. now may be nil (time.Now).
func NewSessions(key []byte, ttl time.Duration, now func() time.Time) (*Sessions, error) {
	if len(key) < 32 {
		return nil, errors.New("session key must be at least 32 bytes")
	}
	if now == nil {
		now = time.Now
	}
	return &Sessions{key: key, ttl: ttl, now: now}, nil
}

type claims struct {
	Role   Role          `json:"role"`
	Scope  events.Region `json:"scope,omitempty"`
	OpenID string        `json:"oid,omitempty"`
	Org    string        `json:"org,omitempty"`
	// IssuedNano is the issue time in nanoseconds: "iat" has seconds only,
	// too coarse to tell a session issued right after a sign-out from one
	// issued right before it.
	IssuedNano int64 `json:"iatn,omitempty"`
	jwt.RegisteredClaims
}

const issuer = "onebook"

// Issue returns a signed token for p and its expiry.
func (s *Sessions) Issue(p Principal) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(s.ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Role: p.Role, Scope: p.Scope, OpenID: p.OpenID, Org: p.Org, IssuedNano: now.UnixNano(),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Subject: p.Subject, Audience: audience(s.Audience),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign session: %w", err)
	}
	return signed, exp, nil
}

// Verify checks a token and returns its principal; any problem is
// CodeUnauthorized with a message that says which.
func (s *Sessions) Verify(token string) (Principal, error) {
	var c claims
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer), jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.now)}
	if s.Audience != "" {
		opts = append(opts, jwt.WithAudience(s.Audience))
	}
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.key, nil }, opts...)
	if err == nil && s.Audience == "" && len(c.Audience) > 0 {
		err = fmt.Errorf("a session of %q where sessions have no audience", c.Audience)
	}
	if err != nil {
		msg := "invalid session token"
		if errors.Is(err, jwt.ErrTokenExpired) {
			msg = "session expired; sign in again"
		}
		return Principal{}, &events.Error{Code: events.CodeUnauthorized, Message: msg, Err: err}
	}
	if c.Subject == "" || c.Role == "" {
		return Principal{}, &events.Error{Code: events.CodeUnauthorized, Message: "invalid session token"}
	}
	p := Principal{Subject: c.Subject, Role: c.Role, Scope: c.Scope, OpenID: c.OpenID, Org: c.Org}
	if s.Valid != nil {
		if err := s.Valid(p, time.Unix(0, c.IssuedNano)); err != nil {
			return Principal{}, err
		}
	}
	return p, nil
}

// audience is the "aud" claim of a token of cell: none for the single
// ledger, whose tokens stay as they were.
func audience(cell string) jwt.ClaimStrings {
	if cell == "" {
		return nil
	}
	return jwt.ClaimStrings{cell}
}

// LoadOrCreateKey reads a secret key file, creating it with size random
// bytes (mode 0600) on first use.
func LoadOrCreateKey(path string, size int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < size {
			return nil, fmt.Errorf("key file %s is shorter than %d bytes", path, size)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	b = make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write key %s: %w", path, err)
	}
	return b, nil
}
