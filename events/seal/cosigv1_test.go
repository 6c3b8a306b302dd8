package seal

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/transparency-dev/formats/note"
)

// The cosignature/v1 code is checked against transparency-dev/formats, the
// C2SP reference implementation: same verifier key, signatures each side
// makes verify on the other side.
func TestCosigV1AgainstFormats(t *testing.T) {
	skey, vkey, err := GenerateKey("witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	want, err := note.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	// "PRIVATE+KEY+<name>+<hash>+<base64>"; the base64 may hold "+".
	seed, err := base64.StdEncoding.DecodeString(strings.SplitN(skey, "+", 5)[4])
	if err != nil || len(seed) != 33 {
		t.Fatalf("signer key %q: %v", skey, err)
	}
	priv := ed25519.NewKeyFromSeed(seed[1:])
	if got := CosigV1Key("witness.example/w1", priv.Public().(ed25519.PublicKey)); got != want {
		t.Fatalf("CosigV1Key = %q, formats says %q", got, want)
	}
	theirs, err := note.NewVerifierForCosignatureV1(want)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := NewWitnessVerifier(want)
	if err != nil {
		t.Fatal(err)
	}
	if ours.KeyHash() != theirs.KeyHash() || ours.Name() != theirs.Name() {
		t.Fatalf("key hash %08x name %q, formats %08x %q", ours.KeyHash(), ours.Name(), theirs.KeyHash(), theirs.Name())
	}
	text := []byte("onebook.test/ledger\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	signer, err := note.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	theirSig, err := signer.Sign(text)
	if err != nil {
		t.Fatal(err)
	}
	line := SignCosigV1("witness.example/w1", priv, text, 1_700_000_000)
	ourSig, _ := base64.StdEncoding.DecodeString(strings.Fields(line)[2])
	if binary.BigEndian.Uint32(ourSig) != theirs.KeyHash() {
		t.Fatal("SignCosigV1's key hash differs from formats'")
	}
	if ts, ok := CosigV1Time(line); !ok || ts != 1_700_000_000 {
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
		if _, err := NewWitnessVerifier(bad); err == nil {
			t.Errorf("NewWitnessVerifier(%q) accepted", bad)
		}
	}
}

// A cosignature/v1 line returned by a witness is stored by Add and served
// by Attach as a further signature line of the checkpoint.
func TestCosignaturesCosigV1(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pub, priv, _ := ed25519.GenerateKey(nil)
	key := CosigV1Key("cdc.example/witness", pub)
	cos, err := OpenCosignatures(ctx, e.js, e.cps, CosignaturesConfig{Witnesses: []string{key}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cps := sealAt(t, e, 4, 9)
	text := noteText(cps[1].Note)
	line := SignCosigV1("cdc.example/witness", priv, []byte(text), 1_800_000_000)
	if _, names, err := cos.Add(ctx, []byte(text+"\n"+line)); err != nil || len(names) != 1 {
		t.Fatalf("add: %v %v", names, err)
	}
	got, err := cos.NoteAt(ctx, 9)
	if err != nil || string(got) != string(cps[1].Note)+line {
		t.Fatalf("served %q, %v", got, err)
	}
	// The same line over the other checkpoint's text is refused.
	if _, _, err := cos.Add(ctx, []byte(noteText(cps[0].Note)+"\n"+line)); err == nil {
		t.Fatal("a cosignature over another text was stored")
	}
	if got, _ := cos.NoteAt(ctx, 4); string(got) != string(cps[0].Note) {
		t.Fatalf("size 4 served %q", got)
	}
}
