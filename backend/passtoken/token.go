package passtoken

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/events"
)

// Prefix starts every token issued now (format 2), so that a scanner
// recognises a pass among the other QR codes it may be shown. Tokens of
// format 1 start with PrefixFormat1.
const Prefix = "OB2."

// PrefixFormat1 starts a format-1 token, which carried the pass id itself.
// Format 1 is read (Parse, Verify) but no longer issued.
const PrefixFormat1 = "OB1."

// Len is the length of a token in characters, of either format: the
// prefix and 99 bytes in unpadded base64url.
const Len = len(Prefix) + (rawLen*8+5)/6

const (
	version1      = 0x01
	version2      = 0x02
	bodyLen       = 35 // everything before the signature
	rawLen        = bodyLen + ed25519.SignatureSize
	tokenDomainV1 = "onebook pass v1\x00"
	tokenDomain   = "onebook pass v2\x00"

	holderResident = 0x00
	holderVisitor  = 0x01

	maxCommunity = 999_999_999_999
	maxUnix      = 1<<32 - 1
)

// domainOf is the signing domain of a token of format version v.
func domainOf(v byte) string {
	if v == version1 {
		return tokenDomainV1
	}
	return tokenDomain
}

// TokenID names a pass in its tokens and on the revocation list. The
// issuer derives it from the pass id with a key of its own (a keyed
// pseudonym, see the package documentation), so that whoever sees a token
// learns nothing that leads to the pass's events in the public ledger. Its
// text form is 32 lower-case hex digits.
type TokenID [16]byte

func (id TokenID) String() string { return hex.EncodeToString(id[:]) }

// ParseTokenID reads the text form of a token id.
func ParseTokenID(s string) (TokenID, error) {
	var id TokenID
	if len(s) != 2*len(id) || strings.ToLower(s) != s {
		return id, events.Invalid("token_id", "token id %q is not 32 lower-case hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, events.Invalid("token_id", "token id %q is not 32 lower-case hex digits", s)
	}
	return id, nil
}

// Claims are what a pass token says. They carry no personal data, and
// (format 2) nothing that leads to the pass in the public ledger without
// the issuer's key.
type Claims struct {
	// TokenID names the pass: every token of one pass carries the same
	// token id, and the revocation list names it.
	TokenID TokenID
	// PassID is set only in the claims of a format-1 token (read by Parse
	// and Verify; TokenID is then zero): the pass's UUID in canonical
	// lower-case form, the aggregate id of its pass.issued event. Issue
	// refuses it.
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

// FormatOne reports whether c are the claims of a format-1 token, which
// named its pass by the pass id.
func (c Claims) FormatOne() bool { return c.PassID != "" }

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
	ReasonOutdated       Reason = "outdated"        // format 1, checked against a revocation list, which cannot clear it
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

// Issue returns the format-2 token of c signed by s. It fails with an
// events CodeInvalid error if c cannot be encoded: a PassID (format 1 is no
// longer issued), Community not a 12-digit region code, an empty window
// after rounding to seconds, times outside 1970..2106, or NotAfter beyond
// the signer's NotAfter.
func Issue(s *Signer, c Claims) (string, error) {
	if s == nil {
		return "", events.Errorf(events.CodeInternal, "passtoken: no signer")
	}
	if c.FormatOne() {
		return "", events.Invalid("pass_id", "tokens carrying the pass id (format 1) are no longer issued: give the pass's token id")
	}
	if !s.notAfter.IsZero() && c.NotAfter.Unix() > s.notAfter.Unix() {
		return "", events.Invalid("not_after", "pass would outlive its signing key %s (not_after %s)", s.id, s.notAfter.UTC().Format(time.RFC3339))
	}
	return issue(s, c)
}

// issue signs the token of c in the format its claims say (FormatOne).
func issue(s *Signer, c Claims) (string, error) {
	raw, err := encodeBody(s.id, c)
	if err != nil {
		return "", err
	}
	raw = append(raw, s.sign(domainOf(raw[0]), raw)...)
	prefix := Prefix
	if raw[0] == version1 {
		prefix = PrefixFormat1
	}
	return prefix + base64.RawURLEncoding.EncodeToString(raw), nil
}

// encodeBody returns bytes 0..34 of the token of c under key id kid, with
// room for the signature: format 1 if c has a PassID, else format 2.
func encodeBody(kid KeyID, c Claims) ([]byte, error) {
	version, id := byte(version2), [16]byte(c.TokenID)
	if c.FormatOne() {
		u, err := uuid.Parse(c.PassID)
		if err != nil || u.String() != c.PassID || c.TokenID != (TokenID{}) {
			return nil, events.Invalid("pass_id", "pass id %q is not a UUID in canonical lower-case form (or comes with a token id)", c.PassID)
		}
		version, id = version1, u
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
	raw[0] = version
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

// Parse decodes the structure of token (either format) without checking
// its signature or its time window: use it to route or log, never to admit.
// Any fault is a *Denied with ReasonMalformed.
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
// ReasonOutdated (a format-1 token checked against a revocation list, which
// names token ids and so cannot clear it), ReasonRevoked. A nil revoked
// means no pass is revoked (the backend checks revocations against its own
// state, and so admits format 1 until it expires). The community is not
// checked here (see Claims.CheckCommunity).
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
	if !verify(k.Public, domainOf(raw[0]), raw[:bodyLen], raw[bodyLen:]) {
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
		if c.FormatOne() {
			return Claims{}, deny(ReasonOutdated, "a format-1 token (issued before token ids) cannot be checked against the revocation list: refresh the pass")
		}
		if revoked.Revoked(c.TokenID) {
			return Claims{}, deny(ReasonRevoked, "token id %s is on the revocation list", c.TokenID)
		}
	}
	return c, nil
}

// decode checks the text form and returns the 99 raw bytes, whose version
// byte matches the prefix.
func decode(token string) ([]byte, error) {
	var version byte
	switch {
	case strings.HasPrefix(token, Prefix):
		version = version2
	case strings.HasPrefix(token, PrefixFormat1):
		version = version1
	default:
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
	if raw[0] != version {
		return nil, deny(ReasonMalformed, "format version %d behind prefix %q", raw[0], token[:len(Prefix)])
	}
	return raw, nil
}

// parseBody decodes bytes 0..34 of a token.
func parseBody(b []byte) (Claims, KeyID, error) {
	var c Claims
	switch b[0] {
	case version2:
		c.TokenID = TokenID(b[5:21])
	case version1:
		c.PassID = uuid.UUID(b[5:21]).String()
	default:
		return Claims{}, 0, deny(ReasonMalformed, "format version %d, want %d", b[0], version2)
	}
	kid := KeyID(binary.BigEndian.Uint32(b[1:5]))
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
