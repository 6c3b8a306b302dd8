package seal_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/events/seal/sealtest"
)

// The cosignature/v1 code is checked against transparency-dev/formats, the
// C2SP reference implementation: same verifier key, signatures each side
// makes verify on the other side.
func TestCosigV1AgainstFormats(t *testing.T) {
	w := sealtest.NewWitness(t, "witness.example/w1")
	want := w.Key
	// "PRIVATE+KEY+<name>+<hash>+<base64>"; the base64 may hold "+".
	seed, err := base64.StdEncoding.DecodeString(strings.SplitN(w.Skey, "+", 5)[4])
	if err != nil || len(seed) != 33 {
		t.Fatalf("signer key %q: %v", w.Skey, err)
	}
	priv := ed25519.NewKeyFromSeed(seed[1:])
	if got := seal.CosigV1Key("witness.example/w1", priv.Public().(ed25519.PublicKey)); got != want {
		t.Fatalf("CosigV1Key = %q, formats says %q", got, want)
	}
	theirs, err := sealtest.CosigV1Verifier(want)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := seal.NewWitnessVerifier(want)
	if err != nil {
		t.Fatal(err)
	}
	if ours.KeyHash() != theirs.KeyHash() || ours.Name() != theirs.Name() {
		t.Fatalf("key hash %08x name %q, formats %08x %q", ours.KeyHash(), ours.Name(), theirs.KeyHash(), theirs.Name())
	}
	text := []byte("onebook.test/ledger\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	theirSig, err := w.Signer.Sign(text)
	if err != nil {
		t.Fatal(err)
	}
	line := seal.SignCosigV1("witness.example/w1", priv, text, 1_700_000_000)
	ourSig, _ := base64.StdEncoding.DecodeString(strings.Fields(line)[2])
	if binary.BigEndian.Uint32(ourSig) != theirs.KeyHash() {
		t.Fatal("SignCosigV1's key hash differs from formats'")
	}
	if ts, ok := seal.CosigV1Time(line); !ok || ts != 1_700_000_000 {
		t.Fatalf("CosigV1Time = %d %v", ts, ok)
	}
	tampered := append([]byte(nil), ourSig[4:]...)
	binary.BigEndian.PutUint64(tampered, 1_700_000_001)
	for _, c := range []struct {
		name string
		v    interface{ Verify(msg, sig []byte) bool }
		msg  []byte
		sig  []byte
		ok   bool
	}{
		{"ours verifies formats' signature", ours, text, theirSig, true},
		{"formats verifies ours", theirs, text, ourSig[4:], true},
		{"ours verifies ours", ours, text, ourSig[4:], true},
		{"other text", ours, append([]byte("x"), text...), ourSig[4:], false},
		{"other timestamp", ours, text, tampered, false},
		{"formats: other timestamp", theirs, text, tampered, false},
		{"short", ours, text, ourSig[4:40], false},
	} {
		if got := c.v.Verify(c.msg, c.sig); got != c.ok {
			t.Errorf("%s: Verify = %v, want %v", c.name, got, c.ok)
		}
	}
	for _, bad := range []string{
		strings.Replace(want, "+", "+0", 1)[:len(want)], // wrong hash
		"w+00000000+" + base64.StdEncoding.EncodeToString(append([]byte{5}, priv.Public().(ed25519.PublicKey)...)),
		"",
	} {
		if _, err := seal.NewWitnessVerifier(bad); err == nil {
			t.Errorf("NewWitnessVerifier(%q) accepted", bad)
		}
	}
}
