package passtoken

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onebook/onebook/events"
)

// algEd25519 is the only "alg" of a key in version 1.
const algEd25519 = "Ed25519"

const keyIDDomain = "onebook pass key v1\x00"

// KeyID names a signing key inside a token: the first 4 bytes, big-endian,
// of SHA-256("onebook pass key v1\x00" || public key). Its text form is 8
// lower-case hex digits.
type KeyID uint32

func (id KeyID) String() string { return fmt.Sprintf("%08x", uint32(id)) }

func keyIDOf(pub ed25519.PublicKey) KeyID {
	h := sha256.New()
	h.Write([]byte(keyIDDomain))
	h.Write(pub)
	return KeyID(binary.BigEndian.Uint32(h.Sum(nil)))
}

func parseKeyID(s string) (KeyID, bool) {
	if len(s) != 8 || strings.ToLower(s) != s {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 32)
	return KeyID(v), err == nil
}

// A Signer signs passes and revocation lists. Its NotAfter bounds everything
// it signs (the zero time: no bound). A Signer is safe for concurrent use.
type Signer struct {
	id       KeyID
	priv     ed25519.PrivateKey
	notAfter time.Time
}

// GenerateSigner returns a new Signer with a key from crypto/rand, trusted
// until notAfter (rounded down to the second; zero: no bound).
func GenerateSigner(notAfter time.Time) (*Signer, error) {
	_, priv, err := ed25519.GenerateKey(nil) // nil: crypto/rand
	if err != nil {
		return nil, err
	}
	return NewSigner(priv.Seed(), notAfter)
}

// NewSigner returns the Signer of a 32-byte Ed25519 seed (RFC 8032 §5.1.5),
// trusted until notAfter (rounded down to the second; zero: no bound).
func NewSigner(seed []byte, notAfter time.Time) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, events.Errorf(events.CodeInvalid, "passtoken: seed has %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	if !notAfter.IsZero() {
		if notAfter.Unix() <= 0 {
			return nil, events.Errorf(events.CodeInvalid, "passtoken: key not_after %s is before 1970", notAfter)
		}
		notAfter = time.Unix(notAfter.Unix(), 0).UTC()
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return &Signer{id: keyIDOf(priv.Public().(ed25519.PublicKey)), priv: priv, notAfter: notAfter}, nil
}

// KeyID returns the id of s's key.
func (s *Signer) KeyID() KeyID { return s.id }

// NotAfter returns the end of s's trust (zero: none).
func (s *Signer) NotAfter() time.Time { return s.notAfter }

// Key returns the public half of s, for the KeySet that scanners hold.
func (s *Signer) Key() Key {
	return Key{Public: slices.Clone(s.priv.Public().(ed25519.PublicKey)), NotAfter: s.notAfter}
}

func (s *Signer) sign(domain string, msg []byte) []byte {
	m := make([]byte, 0, len(domain)+len(msg))
	m = append(append(m, domain...), msg...)
	return ed25519.Sign(s.priv, m)
}

func verify(pub ed25519.PublicKey, domain string, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	m := make([]byte, 0, len(domain)+len(msg))
	m = append(append(m, domain...), msg...)
	return ed25519.Verify(pub, m, sig)
}

const signerTextPrefix = "PASS+PRIVATE+KEY+"

// EncodeSigner returns the text form of s for a secret store:
//
//	PASS+PRIVATE+KEY+<key id>+<not_after, unix seconds, 0: none>+<seed, base64url>
//
// It is the private key: never log it.
func EncodeSigner(s *Signer) string {
	var na int64
	if !s.notAfter.IsZero() {
		na = s.notAfter.Unix()
	}
	return fmt.Sprintf("%s%s+%d+%s", signerTextPrefix, s.id, na, base64.RawURLEncoding.EncodeToString(s.priv.Seed()))
}

// ParseSigner reads the text form written by EncodeSigner, checking that the
// key id matches the key.
func ParseSigner(text string) (*Signer, error) {
	bad := events.Errorf(events.CodeInvalid, "passtoken: malformed signer key")
	rest, ok := strings.CutPrefix(strings.TrimSpace(text), signerTextPrefix)
	if !ok {
		return nil, bad
	}
	f := strings.Split(rest, "+")
	if len(f) != 3 {
		return nil, bad
	}
	id, ok := parseKeyID(f[0])
	na, err1 := strconv.ParseInt(f[1], 10, 64)
	seed, err2 := base64.RawURLEncoding.Strict().DecodeString(f[2])
	if !ok || err1 != nil || err2 != nil || na < 0 || len(seed) != ed25519.SeedSize {
		return nil, bad
	}
	var notAfter time.Time
	if na != 0 {
		notAfter = time.Unix(na, 0)
	}
	s, err := NewSigner(seed, notAfter)
	if err != nil {
		return nil, err
	}
	if s.id != id {
		return nil, events.Errorf(events.CodeInvalid, "passtoken: signer key id %s does not match its key (%s)", id, s.id)
	}
	return s, nil
}

// Key is a public verification key. NotAfter (zero: no bound) ends its
// trust: tokens it signed are expired from then on, and revocation lists it
// signed must not be valid beyond it.
type Key struct {
	Public   ed25519.PublicKey
	NotAfter time.Time
}

// ID returns the key id of k.
func (k Key) ID() KeyID { return keyIDOf(k.Public) }

// KeySet is the set of public keys a scanner trusts, by key id. The zero
// KeySet is empty. A KeySet is immutable and safe for concurrent use.
type KeySet struct {
	keys []Key // sorted by id, ids unique
}

// NewKeySet returns the set of keys. Every key must be a 32-byte Ed25519
// public key with NotAfter in whole seconds after 1970 (or zero), and no two
// keys may share a key id.
func NewKeySet(keys ...Key) (KeySet, error) {
	ks := KeySet{keys: make([]Key, 0, len(keys))}
	for _, k := range keys {
		if len(k.Public) != ed25519.PublicKeySize {
			return KeySet{}, events.Errorf(events.CodeInvalid, "passtoken: public key has %d bytes, want %d", len(k.Public), ed25519.PublicKeySize)
		}
		if !k.NotAfter.IsZero() && (k.NotAfter.Unix() <= 0 || k.NotAfter.Nanosecond() != 0) {
			return KeySet{}, events.Errorf(events.CodeInvalid, "passtoken: key %s: not_after must be whole seconds after 1970", k.ID())
		}
		if !k.NotAfter.IsZero() {
			k.NotAfter = k.NotAfter.UTC()
		}
		ks.keys = append(ks.keys, Key{Public: slices.Clone(k.Public), NotAfter: k.NotAfter})
	}
	slices.SortFunc(ks.keys, func(a, b Key) int { return cmpKeyID(a.ID(), b.ID()) })
	for i := 1; i < len(ks.keys); i++ {
		if ks.keys[i].ID() == ks.keys[i-1].ID() {
			return KeySet{}, events.Errorf(events.CodeInvalid, "passtoken: key id %s appears twice", ks.keys[i].ID())
		}
	}
	return ks, nil
}

func cmpKeyID(a, b KeyID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Keys returns the keys of ks in key id order.
func (ks KeySet) Keys() []Key {
	out := make([]Key, len(ks.keys))
	for i, k := range ks.keys {
		out[i] = Key{Public: slices.Clone(k.Public), NotAfter: k.NotAfter}
	}
	return out
}

// Lookup returns the key with id.
func (ks KeySet) Lookup(id KeyID) (Key, bool) {
	i, ok := slices.BinarySearchFunc(ks.keys, id, func(k Key, id KeyID) int { return cmpKeyID(k.ID(), id) })
	if !ok {
		return Key{}, false
	}
	return ks.keys[i], true
}

type jsonKey struct {
	KID       string `json:"kid"`
	Alg       string `json:"alg"`
	PublicKey string `json:"public_key"`
	NotAfter  int64  `json:"not_after,omitempty"`
}

type jsonKeySet struct {
	Keys []jsonKey `json:"keys"`
}

// MarshalJSON returns the form served to scanners, keys in key id order:
//
//	{"keys":[{"kid":"1a2b3c4d","alg":"Ed25519","public_key":"<base64url, 32 bytes>","not_after":<unix seconds>}]}
//
// not_after is left out for a key without bound.
func (ks KeySet) MarshalJSON() ([]byte, error) {
	out := jsonKeySet{Keys: make([]jsonKey, 0, len(ks.keys))}
	for _, k := range ks.keys {
		jk := jsonKey{KID: k.ID().String(), Alg: algEd25519, PublicKey: base64.RawURLEncoding.EncodeToString(k.Public)}
		if !k.NotAfter.IsZero() {
			jk.NotAfter = k.NotAfter.Unix()
		}
		out.Keys = append(out.Keys, jk)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the form written by MarshalJSON strictly: no unknown
// fields, alg "Ed25519", each kid the id of its key, no kid twice.
func (ks *KeySet) UnmarshalJSON(b []byte) error {
	var in jsonKeySet
	if err := decodeStrict(b, &in); err != nil {
		return events.Errorf(events.CodeInvalid, "passtoken: key set: %v", err)
	}
	keys := make([]Key, 0, len(in.Keys))
	for i, jk := range in.Keys {
		pub, err := base64.RawURLEncoding.Strict().DecodeString(jk.PublicKey)
		switch {
		case jk.Alg != algEd25519:
			return events.Invalid(fmt.Sprintf("keys[%d].alg", i), "unsupported alg %q", jk.Alg)
		case err != nil || len(pub) != ed25519.PublicKeySize:
			return events.Invalid(fmt.Sprintf("keys[%d].public_key", i), "want %d bytes in base64url", ed25519.PublicKeySize)
		case jk.KID != keyIDOf(pub).String():
			return events.Invalid(fmt.Sprintf("keys[%d].kid", i), "kid %q is not the id of its key (%s)", jk.KID, keyIDOf(pub))
		case jk.NotAfter < 0:
			return events.Invalid(fmt.Sprintf("keys[%d].not_after", i), "negative not_after")
		}
		k := Key{Public: pub}
		if jk.NotAfter != 0 {
			k.NotAfter = time.Unix(jk.NotAfter, 0).UTC()
		}
		keys = append(keys, k)
	}
	set, err := NewKeySet(keys...)
	if err != nil {
		return err
	}
	*ks = set
	return nil
}

// decodeStrict decodes exactly one JSON value with no unknown fields.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}
