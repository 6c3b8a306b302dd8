package personal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
)

// An IDPermutation maps the 16-byte ids of one domain (UUIDs) to
// pseudonyms of the same size and back: AES-256 of the one block, a keyed
// pseudorandom permutation, under a key derived from the index key and the
// domain. Without that key a pseudonym is neither equal to nor computable
// from its id, nor the reverse; with it, the service goes back from a
// pseudonym to the id without keeping a table. It is what lets a pass token
// name its pass in 16 bytes (DomainQR) without showing the pass id of the
// public ledger: a keyed hash could not be reversed, and a table of every
// pass's hash would have to be kept and shared by every replica.
//
// An IDPermutation is immutable and safe for concurrent use.
type IDPermutation struct {
	block cipher.Block
}

// NewIDPermutation returns the permutation of domain under indexKey (32
// bytes, the key of the blind indexes, which never changes: neither do the
// pseudonyms).
func NewIDPermutation(indexKey []byte, domain string) (IDPermutation, error) {
	if len(indexKey) != KeySize {
		return IDPermutation{}, fmt.Errorf("personal: index key has %d bytes, want %d", len(indexKey), KeySize)
	}
	m := hmac.New(sha256.New, indexKey)
	m.Write([]byte("permutation\x00" + domain))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return IDPermutation{}, fmt.Errorf("personal: permutation of %s: %w", domain, err)
	}
	return IDPermutation{block: block}, nil
}

// IDPermutation returns the vault's permutation of domain.
func (v *Vault) IDPermutation(domain string) (IDPermutation, error) {
	return NewIDPermutation(v.index, domain)
}

// Pseudonym returns id's pseudonym.
func (p IDPermutation) Pseudonym(id [16]byte) [16]byte {
	var out [16]byte
	p.block.Encrypt(out[:], id[:])
	return out
}

// Reveal returns the id whose pseudonym is pseudonym. Every 16 bytes are
// some id's pseudonym: a caller that needs a known id looks the result up.
func (p IDPermutation) Reveal(pseudonym [16]byte) [16]byte {
	var out [16]byte
	p.block.Decrypt(out[:], pseudonym[:])
	return out
}
