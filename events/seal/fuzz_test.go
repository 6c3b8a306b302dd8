package seal

import (
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// FuzzParseCheckpoint checks that the checkpoint parser never panics and
// that whatever it accepts formats back to a body it accepts again with the
// same meaning.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add("onebook.local/ledger\n42\nq5tXRy8Rj2H4H4eqDeXcdiA2qT0bQ5NjdKVE8SUyxR0=\n")
	f.Add("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nextension line\n")
	f.Add("o\n-1\nAAAA\n")
	f.Add("\n\n\n")
	f.Fuzz(func(t *testing.T, text string) {
		cp, err := ParseCheckpoint(text)
		if err != nil {
			return
		}
		again, err := ParseCheckpoint(FormatCheckpoint(cp))
		if err != nil || again != cp {
			t.Fatalf("accepted %q, but its formatted form gives %+v, %v", text, again, err)
		}
	})
}

// FuzzOpenCheckpoint feeds arbitrary notes to the verifier: nothing but a
// note signed by the key may open.
func FuzzOpenCheckpoint(f *testing.F) {
	skey, vkey, err := GenerateKey("onebook.local/ledger")
	if err != nil {
		f.Fatal(err)
	}
	signer, _, err := LoadSigner(skey)
	if err != nil {
		f.Fatal(err)
	}
	good, err := Sign(Checkpoint{Origin: "onebook.local/ledger", Size: 7, Hash: emptyHash}, signer)
	if err != nil {
		f.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("onebook.local/ledger\n7\nAAAA\n\n— onebook.local/ledger AAAA\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		cp, _, err := OpenCheckpoint(msg, note.VerifierList(v), "onebook.local/ledger")
		if err != nil {
			return
		}
		// Anything that opens must carry a valid signature over exactly
		// the body that was parsed.
		n, err := note.Open(msg, note.VerifierList(v))
		if err != nil {
			t.Fatalf("OpenCheckpoint accepted a note note.Open rejects: %v", err)
		}
		if again, err := ParseCheckpoint(n.Text); err != nil || again != cp {
			t.Fatalf("opened %+v but the signed text says %+v (%v)", cp, again, err)
		}
	})
}
