package sealtest

// This file wraps transparency-dev/formats' note, whose name collides with
// golang.org/x/mod/sumdb/note's (sealtest.go imports that one; imports
// are per file), so that the tests using both need no import alias.

import (
	"testing"

	"github.com/transparency-dev/formats/note"

	"github.com/onebook/onebook/events/seal"
)

// Witness is a witness's Ed25519 key in the forms a test needs.
type Witness struct {
	Skey   string      // the signer key, as seal.GenerateKey writes it
	Vkey   string      // its verifier key, of note's Ed25519 type (0x01)
	Key    string      // the same key as a cosignature/v1 verifier key (type 0x04), as --witness-push reads it
	Signer note.Signer // formats' cosignature/v1 signer of Skey
}

// NewWitness makes a witness key named name, failing the test on error.
func NewWitness(t testing.TB, name string) Witness {
	t.Helper()
	skey, vkey, err := seal.GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := CosigV1Key(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return Witness{Skey: skey, Vkey: vkey, Key: key, Signer: signer}
}

// CosigV1Key is formats' cosignature/v1 verifier key of the Ed25519
// verifier key vkey.
func CosigV1Key(vkey string) (string, error) {
	return note.VKeyToCosignatureV1(vkey)
}

// Verifier is golang.org/x/mod/sumdb/note's Verifier, named here so that
// this package need not import that note too.
type Verifier interface {
	Name() string
	KeyHash() uint32
	Verify(msg, sig []byte) bool
}

// CosigV1Verifier is formats' verifier of cosignature/v1 signatures by the
// key (cosignature/v1 or plain Ed25519).
func CosigV1Verifier(key string) (Verifier, error) {
	return note.NewVerifierForCosignatureV1(key)
}
