package seal

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/events"
)

func TestWitnessPolicy(t *testing.T) {
	logSK, _, err := GenerateKey("onebook.test/ledger")
	if err != nil {
		t.Fatal(err)
	}
	logSigner, _, err := LoadSigner(logSK)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := Sign(Checkpoint{Origin: "onebook.test/ledger", Size: 12, Hash: [32]byte{1}}, logSigner)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Sign(Checkpoint{Origin: "onebook.test/ledger", Size: 13, Hash: [32]byte{2}}, logSigner)
	if err != nil {
		t.Fatal(err)
	}
	text := []byte(noteText(msg))
	type wit struct {
		key  string // verifier key
		line string // its cosignature on msg
		bad  string // its cosignature on another checkpoint
	}
	mk := func(name string, plain bool) wit {
		sk, vk, err := GenerateKey(name)
		if err != nil {
			t.Fatal(err)
		}
		_, priv, err := PrivateKey(sk)
		if err != nil {
			t.Fatal(err)
		}
		if plain {
			s, _, _ := LoadSigner(sk)
			n, err := note.Sign(&note.Note{Text: string(text)}, s)
			if err != nil {
				t.Fatal(err)
			}
			o, _ := note.Sign(&note.Note{Text: noteText(other)}, s)
			return wit{vk, string(n[len(text)+1:]), string(o[len(noteText(other))+1:])}
		}
		return wit{CosigV1Key(name, priv.Public().(ed25519.PublicKey)), SignCosigV1(name, priv, text, 1_700_000_000),
			SignCosigV1(name, priv, []byte(noteText(other)), 1_700_000_000)}
	}
	a, b, c := mk("a.test/w", false), mk("b.test/w", false), mk("c.test/w", true)
	stranger := mk("d.test/w", false)
	keys := []string{a.key, b.key, c.key}
	for _, tt := range []struct {
		name    string
		lines   []string
		k       int
		have    string
		missing string // "" if met
	}{
		{"all three", []string{a.line, b.line, c.line}, 3, "a.test/w,b.test/w,c.test/w", ""},
		{"two of three wanted", []string{a.line, c.line}, 2, "a.test/w,c.test/w", ""},
		{"two of three, three wanted", []string{a.line, c.line}, 3, "a.test/w,c.test/w", "b.test/w"},
		{"none", nil, 1, "", "a.test/w, b.test/w, c.test/w"},
		{"quorum 0", nil, 0, "", ""},
		{"a stranger does not count", []string{stranger.line, a.line}, 2, "a.test/w", "b.test/w, c.test/w"},
		{"a cosignature of another checkpoint does not count", []string{a.bad, b.line, c.bad}, 2, "b.test/w", "a.test/w, c.test/w"},
		{"a line twice counts once", []string{a.line, a.line}, 2, "a.test/w", "b.test/w, c.test/w"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseWitnessPolicy(keys, tt.k)
			if err != nil {
				t.Fatal(err)
			}
			have, err := p.Check([]byte(string(msg) + strings.Join(tt.lines, "")))
			if strings.Join(have, ",") != tt.have {
				t.Errorf("cosigned by %v, want %s", have, tt.have)
			}
			switch {
			case tt.missing == "" && err != nil:
				t.Errorf("policy not met: %v", err)
			case tt.missing != "" && (events.ErrorCode(err) != events.CodeForbidden || !strings.Contains(err.Error(), "missing: "+tt.missing+")")):
				t.Errorf("err %v, want missing %s", err, tt.missing)
			}
		})
	}
	if _, err := ParseWitnessPolicy(keys, 4); err == nil {
		t.Error("a quorum larger than the witnesses")
	}
	if _, err := ParseWitnessPolicy([]string{"nonsense"}, 1); err == nil {
		t.Error("a malformed key")
	}
}

// Witnessed picks the newest checkpoint every witness cosigned, else the
// one with the most cosignatures, with its cosignatures attached; and it
// meets a policy that the latest checkpoint would not.
func TestWitnessed(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	cdc, auditor := newTestWitness(t, "cdc.example/witness"), newTestWitness(t, "auditor.example/witness")
	keys := []string{cdc.vkey, auditor.vkey}
	cos, err := OpenCosignatures(ctx, e.js, e.cps, CosignaturesConfig{Witnesses: keys, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cps := sealAt(t, e, 3, 5, 8, 13)
	pick := func() SignedCheckpoint {
		t.Helper()
		sc, err := cos.Witnessed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	if sc := pick(); sc.Size != 13 {
		t.Fatalf("nothing cosigned: size %d, want the latest", sc.Size)
	}
	add := func(w testWitness, sc SignedCheckpoint) {
		t.Helper()
		if _, _, err := cos.Add(ctx, w.cosign(t, sc.Note, e.vkey)); err != nil {
			t.Fatal(err)
		}
	}
	add(cdc, cps[0])
	add(auditor, cps[0])
	add(cdc, cps[2])
	if sc := pick(); sc.Size != 3 {
		t.Fatalf("size %d, want 3 (the newest cosigned by both)", sc.Size)
	}
	add(auditor, cps[1])
	add(auditor, cps[2])
	sc := pick()
	if sc.Size != 8 {
		t.Fatalf("size %d, want 8", sc.Size)
	}
	p, err := ParseWitnessPolicy(keys, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Check(sc.Note); err != nil {
		t.Fatalf("the witnessed checkpoint does not meet 2 of 2: %v", err)
	}
	if _, err := p.Check(cps[3].Note); err == nil {
		t.Fatal("the uncosigned latest checkpoint meets 2 of 2")
	}
	// A witness that is down: the one with the most cosignatures.
	cps = append(cps, sealAt(t, e, 21)...)
	add(cdc, cps[4])
	if sc := pick(); sc.Size != 8 {
		t.Fatalf("size %d, want 8 (two cosignatures beat one)", sc.Size)
	}
}
