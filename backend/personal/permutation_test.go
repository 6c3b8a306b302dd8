package personal

import (
	"encoding/hex"
	"testing"

	"github.com/google/uuid"
)

// TestIDPermutation: a known answer computed independently with OpenSSL
// (HMAC-SHA256 for the key, AES-256-ECB of the one block), the way back,
// and domains and keys that do not share pseudonyms.
func TestIDPermutation(t *testing.T) {
	key := []byte("permutation test index key......")
	id := [16]byte(uuid.MustParse("01936b2e-7c1a-7d3e-8f00-0123456789ab"))
	qr, err := NewIDPermutation(key, DomainQR)
	if err != nil {
		t.Fatal(err)
	}
	p := qr.Pseudonym(id)
	// openssl dgst -sha256 -mac HMAC -macopt hexkey:<key> of "permutation\0qr",
	// then openssl enc -aes-256-ecb -nopad of the id under it.
	if got, want := hex.EncodeToString(p[:]), "029118f6d6a47cde1996f5055726c85b"; got != want {
		t.Fatalf("pseudonym %s, want %s", got, want)
	}
	if qr.Reveal(p) != id {
		t.Fatalf("Reveal(Pseudonym(id)) = %x, want %x", qr.Reveal(p), id)
	}
	other, _ := NewIDPermutation(key, DomainDonations)
	otherKey, _ := NewIDPermutation([]byte("another index key..............."), DomainQR)
	for name, q := range map[string]IDPermutation{"another domain": other, "another key": otherKey} {
		if q.Pseudonym(id) == p || q.Reveal(p) == id {
			t.Errorf("%s gives the same pseudonym", name)
		}
	}
	if _, err := NewIDPermutation(key[:31], DomainQR); err == nil {
		t.Error("a 31-byte key was accepted")
	}
}
