package passtoken

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/events"
)

// Prefix starts every version-1 token, so that a scanner recognises a pass
// among the other QR codes it may be shown.
const Prefix = "OB1."

// Len is the length of a version-1 token in characters: the prefix and 99
// bytes in unpadded base64url.
const Len = len(Prefix) + (rawLen*8+5)/6

const (
	version1    = 0x01
	bodyLen     = 35 // everything before the signature
	rawLen      = bodyLen + ed25519.SignatureSize
	tokenDomain = "onebook pass v1\x00"

	holderResident = 0x00
	holderVisitor  = 0x01

	maxCommunity = 999_999_999_999
	maxUnix      = 1<<32 - 1
)

// Claims are what a pass token says. They carry no personal data: the pass
// id leads to its holder only through the ledger.
type Claims struct {
	// PassID is the pass's UUID in canonical lower-case form
	// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), the aggregate id of its
	// pass.issued event. A refreshed token may keep the pass id.
	PassID string
	// Visitor marks a visitor's temporary pass; false is a resident's pass.
	Visitor bool
	// Community is the 12-digit code of the community whose gates the pass
	// opens.
	Community events.Region
	// NotBefore is the first second of validity; NotAfter the first second
	// of invalidity. Issue rounds NotBefore up and NotAfter down to whole
	// seconds, and an issuer should set NotBefore a few minutes in the past
	// to absorb scanner clocks that run late.
	NotBefore, NotAfter time.Time
}

// CheckCommunity reports, as a *Denied with ReasonWrongCommunity, a pass that
// belongs to another community than the gate's.
func (c Claims) CheckCommunity(community events.Region) error {
	if c.Community != community {
		return &Denied{Reason: ReasonWrongCommunity, Detail: fmt.Sprintf("pass for %s, gate in %s", c.Community, community)}
	}
	return nil
}

// Reason says why a pass was denied. The values are stable: they are
// recorded in pass.scanned events and shown at the gate.
type Reason string

const (
	ReasonMalformed      Reason = "malformed"       // not a version-1 token
	ReasonForged         Reason = "forged"          // unknown key id or bad signature
	ReasonNotYetValid    Reason = "not_yet_valid"   // before NotBefore
	ReasonExpired        Reason = "expired"         // at or after NotAfter, or its key's NotAfter
	ReasonRevoked        Reason = "revoked"         // on the revocation list
	ReasonWrongCommunity Reason = "wrong_community" // see Claims.CheckCommunity
)

// Denied is the error of a pass that must not open the gate.
type Denied struct {
	Reason Reason
	// Detail is for logs: which check failed and on what. A revocation's
	// reason is not on the list, so it is not here either.
	Detail string
}

func (d *Denied) Error() string {
	if d.Detail == "" {
		return "pass denied: " + string(d.Reason)
	}
	return "pass denied: " + string(d.Reason) + ": " + d.Detail
}

// Unwrap gives the events error vocabulary's view of the denial: invalid for
// a malformed token, forbidden otherwise, so that events.ErrorCode maps it.
func (d *Denied) Unwrap() error {
	code := events.CodeForbidden
	if d.Reason == ReasonMalformed {
		code = events.CodeInvalid
	}
	return &events.Error{Code: code, Message: "pass denied: " + string(d.Reason)}
}

func deny(r Reason, format string, args ...any) *Denied {
	return &Denied{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Issue returns the token of c signed by s. It fails with an events
// CodeInvalid error if c cannot be encoded: PassID not a canonical UUID,
// Community not a 12-digit region code, an empty window after rounding to
// seconds, times outside 1970..2106, or NotAfter beyond the signer's NotAfter.
func Issue(s *Signer, c Claims) (string, error) {
	if s == nil {
		return "", events.Errorf(events.CodeInternal, "passtoken: no signer")
	}
	if !s.notAfter.IsZero() && c.NotAfter.Unix() > s.notAfter.Unix() {
		return "", events.Invalid("not_after", "pass would outlive its signing key %s (not_after %s)", s.id, s.notAfter.UTC().Format(time.RFC3339))
	}
	raw, err := encodeBody(s.id, c)
	if err != nil {
		return "", err
	}
	raw = append(raw, s.sign(tokenDomain, raw)...)
	return Prefix + base64.RawURLEncoding.EncodeToString(raw), nil
}

// encodeBody returns bytes 0..34 of the token of c under key id kid, with
// room for the signature.
func encodeBody(kid KeyID, c Claims) ([]byte, error) {
	id, err := uuid.Parse(c.PassID)
	if err != nil || id.String() != c.PassID {
		return nil, events.Invalid("pass_id", "pass id %q is not a UUID in canonical lower-case form", c.PassID)
	}
	if r, err := events.ParseRegion(string(c.Community)); err != nil || len(r) != 12 {
		return nil, events.Invalid("community", "community must be a 12-digit region code, got %q", c.Community)
	}
	community, _ := strconv.ParseUint(string(c.Community), 10, 64)
	nb := c.NotBefore.Unix()
	if c.NotBefore.Nanosecond() != 0 {
		nb++ // round up: never valid earlier than asked
	}
	na := c.NotAfter.Unix() // round down: never valid later than asked
	switch {
	case nb < 0 || nb > maxUnix:
		return nil, events.Invalid("not_before", "not_before %s is outside 1970..2106", c.NotBefore)
	case na < 0 || na > maxUnix:
		return nil, events.Invalid("not_after", "not_after %s is outside 1970..2106", c.NotAfter)
	case na <= nb:
		return nil, events.Invalid("not_after", "validity window must be non-empty: not_before < not_after")
	}
	raw := make([]byte, bodyLen, rawLen)
	raw[0] = version1
	binary.BigEndian.PutUint32(raw[1:5], uint32(kid))
	copy(raw[5:21], id[:])
	if c.Visitor {
		raw[21] = holderVisitor
	} else {
		raw[21] = holderResident
	}
	putUint40(raw[22:27], community)
	binary.BigEndian.PutUint32(raw[27:31], uint32(nb))
	binary.BigEndian.PutUint32(raw[31:35], uint32(na))
	return raw, nil
}

// Parse decodes the structure of token without checking its signature or its
// time window: use it to route or log, never to admit. Any fault is a
// *Denied with ReasonMalformed.
func Parse(token string) (Claims, KeyID, error) {
	raw, err := decode(token)
	if err != nil {
		return Claims{}, 0, err
	}
	return parseBody(raw[:bodyLen])
}

// Verify checks token against keys, the revocation list and the time now,
// and returns its claims if the pass is good. Otherwise the error is a
// *Denied whose Reason is, for the first check that fails in this order:
// ReasonMalformed (structure), ReasonForged (unknown key id, bad signature),
// ReasonNotYetValid, ReasonExpired (past the token's or its key's NotAfter),
// ReasonRevoked. A nil revoked means no pass is revoked. The community is
// not checked here (see Claims.CheckCommunity).
func Verify(token string, keys KeySet, revoked RevocationChecker, now time.Time) (Claims, error) {
	raw, err := decode(token)
	if err != nil {
		return Claims{}, err
	}
	c, kid, err := parseBody(raw[:bodyLen])
	if err != nil {
		return Claims{}, err
	}
	k, ok := keys.Lookup(kid)
	if !ok {
		return Claims{}, deny(ReasonForged, "unknown key id %s", kid)
	}
	if !verify(k.Public, tokenDomain, raw[:bodyLen], raw[bodyLen:]) {
		return Claims{}, deny(ReasonForged, "signature does not verify with key %s", kid)
	}
	switch {
	case now.Before(c.NotBefore):
		return Claims{}, deny(ReasonNotYetValid, "valid from %s", c.NotBefore.Format(time.RFC3339))
	case !now.Before(c.NotAfter):
		return Claims{}, deny(ReasonExpired, "valid until %s", c.NotAfter.Format(time.RFC3339))
	case !k.NotAfter.IsZero() && !now.Before(k.NotAfter):
		return Claims{}, deny(ReasonExpired, "signing key %s retired at %s", kid, k.NotAfter.UTC().Format(time.RFC3339))
	}
	if revoked != nil {
		if revoked.Revoked(c.PassID) {
			return Claims{}, deny(ReasonRevoked, "pass %s is on the revocation list", c.PassID)
		}
	}
	return c, nil
}

// decode checks the text form and returns the 99 raw bytes.
func decode(token string) ([]byte, error) {
	if len(token) < len(Prefix) || token[:len(Prefix)] != Prefix {
		return nil, deny(ReasonMalformed, "not an %q token", Prefix)
	}
	if len(token) != Len {
		return nil, deny(ReasonMalformed, "token has %d characters, want %d", len(token), Len)
	}
	// The decoder skips '\r' and '\n'; allow nothing outside the alphabet.
	for i := len(Prefix); i < len(token); i++ {
		if b := token[i]; !('A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return nil, deny(ReasonMalformed, "byte %d is not base64url", i)
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token[len(Prefix):])
	if err != nil || len(raw) != rawLen {
		return nil, deny(ReasonMalformed, "bad base64url")
	}
	return raw, nil
}

// parseBody decodes bytes 0..34 of a token.
func parseBody(b []byte) (Claims, KeyID, error) {
	if b[0] != version1 {
		return Claims{}, 0, deny(ReasonMalformed, "format version %d, want %d", b[0], version1)
	}
	kid := KeyID(binary.BigEndian.Uint32(b[1:5]))
	var c Claims
	c.PassID = uuid.UUID(b[5:21]).String()
	switch b[21] {
	case holderResident:
	case holderVisitor:
		c.Visitor = true
	default:
		return Claims{}, 0, deny(ReasonMalformed, "unknown holder kind %d", b[21])
	}
	community := uint40(b[22:27])
	r := events.Region(fmt.Sprintf("%012d", community))
	if _, err := events.ParseRegion(string(r)); err != nil || community > maxCommunity {
		return Claims{}, 0, deny(ReasonMalformed, "community %d is not a 12-digit region code", community)
	}
	c.Community = r
	nb := binary.BigEndian.Uint32(b[27:31])
	na := binary.BigEndian.Uint32(b[31:35])
	if na <= nb {
		return Claims{}, 0, deny(ReasonMalformed, "empty validity window")
	}
	c.NotBefore = time.Unix(int64(nb), 0).UTC()
	c.NotAfter = time.Unix(int64(na), 0).UTC()
	return c, kid, nil
}

func putUint40(b []byte, v uint64) {
	_ = b[4]
	b[0], b[1], b[2], b[3], b[4] = byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

func uint40(b []byte) uint64 {
	_ = b[4]
	return uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
}
