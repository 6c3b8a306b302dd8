package seal

import (
	"context"
	"crypto/ed25519"
	"testing"
)

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
