package seal

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// algCosigV1 is the signature type byte of a C2SP cosignature/v1 key
// (https://c2sp.org/tlog-cosignature): Ed25519 over a timestamped message.
const algCosigV1 = 0x04

// cosigV1Verifier verifies C2SP cosignature/v1 signatures. The signature
// bytes after the 4-byte key hash are an 8-byte big-endian timestamp
// (seconds since the epoch) and a 64-byte Ed25519 signature over
//
//	cosignature/v1\ntime <timestamp>\n<checkpoint text>
//
// It implements note.Verifier, so that note.Open and the cosignature store
// handle cosignature/v1 lines like any other signature line.
type cosigV1Verifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v cosigV1Verifier) Name() string    { return v.name }
func (v cosigV1Verifier) KeyHash() uint32 { return v.hash }

func (v cosigV1Verifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig)
	return ed25519.Verify(v.key, cosigV1Message(ts, msg), sig[8:])
}

// cosigV1Message is the message a cosignature/v1 signature covers.
func cosigV1Message(ts uint64, text []byte) []byte {
	m := []byte("cosignature/v1\ntime " + strconv.FormatUint(ts, 10) + "\n")
	return append(m, text...)
}

// CosigV1Time returns the timestamp of a cosignature/v1 signature line
// ("— <name> <base64>\n"); false if the line is not one.
func CosigV1Time(line string) (uint64, bool) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return 0, false
	}
	sig, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil || len(sig) != 4+8+ed25519.SignatureSize {
		return 0, false
	}
	return binary.BigEndian.Uint64(sig[4:]), true
}

// newCosigV1Verifier parses a cosignature/v1 verifier key,
// "<name>+<hex key hash>+<base64(0x04 || Ed25519 public key)>"; the key hash
// is the first 4 bytes of SHA-256(name || 0x0A || 0x04 || public key).
func newCosigV1Verifier(vkey string) (note.Verifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hexHash, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || name == "" || len(hexHash) != 8 {
		return nil, errors.New("malformed verifier key")
	}
	h, err := strconv.ParseUint(hexHash, 16, 32)
	if err != nil {
		return nil, errors.New("malformed verifier key hash")
	}
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(k) != 1+ed25519.PublicKeySize || k[0] != algCosigV1 {
		return nil, errors.New("not a cosignature/v1 (type 0x04) Ed25519 key")
	}
	if keyHash(name, k) != uint32(h) {
		return nil, errors.New("verifier key hash does not match the key")
	}
	return cosigV1Verifier{name: name, hash: uint32(h), key: ed25519.PublicKey(k[1:])}, nil
}

func keyHash(name string, key []byte) uint32 {
	s := sha256.New()
	s.Write([]byte(name + "\n"))
	s.Write(key)
	return binary.BigEndian.Uint32(s.Sum(nil))
}

// NewWitnessVerifier parses a witness's verifier key: a plain signed-note
// Ed25519 key (type 0x01, onebook's old witness protocol) or a C2SP
// cosignature/v1 key (type 0x04).
func NewWitnessVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(vkey)
	if err == nil {
		return v, nil
	}
	if v1, err1 := newCosigV1Verifier(vkey); err1 == nil {
		return v1, nil
	}
	return nil, err
}

// CosigV1Key returns the cosignature/v1 verifier key of an Ed25519 public
// key under name.
func CosigV1Key(name string, pub ed25519.PublicKey) string {
	k := append([]byte{algCosigV1}, pub...)
	return name + "+" + strconv.FormatUint(uint64(keyHash(name, k))|1<<32, 16)[1:] + "+" + base64.StdEncoding.EncodeToString(k)
}

// SignCosigV1 returns a cosignature/v1 signature line by key (named name)
// over the checkpoint text at timestamp ts.
func SignCosigV1(name string, key ed25519.PrivateKey, text []byte, ts uint64) string {
	pub := key.Public().(ed25519.PublicKey)
	sig := make([]byte, 12, 12+ed25519.SignatureSize)
	binary.BigEndian.PutUint32(sig, keyHash(name, append([]byte{algCosigV1}, pub...)))
	binary.BigEndian.PutUint64(sig[4:], ts)
	sig = append(sig, ed25519.Sign(key, cosigV1Message(ts, text))...)
	return "— " + name + " " + base64.StdEncoding.EncodeToString(sig) + "\n"
}
