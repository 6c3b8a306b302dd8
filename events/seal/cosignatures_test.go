package seal

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/events"
)

// testWitness is a witness key pair.
type testWitness struct {
	signer note.Signer
	vkey   string
}

func newTestWitness(t testing.TB, name string) testWitness {
	t.Helper()
	skey, vkey, err := GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := LoadSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return testWitness{signer: s, vkey: vkey}
}

// cosign adds the witness's signature to a signed checkpoint note, as
// ops witness does: open with the log's key, sign the same text.
func (w testWitness) cosign(t testing.TB, msg []byte, logKey string) []byte {
	t.Helper()
	v, err := note.NewVerifier(logKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	out, err := note.Sign(&note.Note{Text: n.Text, Sigs: n.Sigs}, w.signer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sealAt seals the ledger of e at each of sizes in turn (appending events
// as needed) and returns the checkpoints.
func sealAt(t *testing.T, e *env, sizes ...int) []SignedCheckpoint {
	t.Helper()
	e.appendEvents(t, 0, sizes[len(sizes)-1])
	var out []SignedCheckpoint
	for _, n := range sizes {
		sc, err := e.sealer(t, nil).SealTo(context.Background(), uint64(n))
		if err != nil || sc.Size != uint64(n) {
			t.Fatalf("seal to %d: %+v %v", n, sc.Checkpoint, err)
		}
		out = append(out, sc)
	}
	return out
}

func TestCheckpointBySize(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.cps.BySize(ctx, 0); events.ErrorCode(err) != events.CodeNotFound {
		t.Fatalf("empty stream: %v", err)
	}
	cps := sealAt(t, e, 1, 2, 5, 9, 10, 17, 30)
	for _, want := range cps {
		got, err := e.cps.BySize(ctx, want.Size)
		if err != nil || got.Seq != want.Seq || string(got.Note) != string(want.Note) {
			t.Fatalf("size %d: got seq %d, want %d: %v", want.Size, got.Seq, want.Seq, err)
		}
	}
	for _, size := range []uint64{0, 3, 4, 11, 29, 31, 1000} {
		if _, err := e.cps.BySize(ctx, size); events.ErrorCode(err) != events.CodeNotFound {
			t.Errorf("size %d was never published: %v", size, err)
		}
	}
	// A forged message in the middle of the stream sends the search to the
	// fallback scan, which still finds every checkpoint.
	forger := newTestWitness(t, testOrigin)
	forged, _ := Sign(Checkpoint{Origin: testOrigin, Size: 31, Hash: [32]byte{1}}, forger.signer)
	if _, err := e.js.PublishMsg(ctx, &nats.Msg{Subject: "seal.checkpoint", Data: forged}); err != nil {
		t.Fatal(err)
	}
	// A genuine checkpoint after it (the lookup does not read tiles, so
	// its root need not be right).
	genuine, _ := Sign(Checkpoint{Origin: testOrigin, Size: 40, Hash: [32]byte{2}}, e.signer)
	if _, err := e.js.PublishMsg(ctx, &nats.Msg{Subject: "seal.checkpoint", Data: genuine}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.cps.BySize(ctx, 40); err != nil || string(got.Note) != string(genuine) {
		t.Fatalf("size 40: %v", err)
	}
	for _, want := range cps {
		if got, err := e.cps.BySize(ctx, want.Size); err != nil || got.Seq != want.Seq {
			t.Fatalf("after forgery, size %d: %v", want.Size, err)
		}
	}
	if _, err := e.cps.BySize(ctx, 31); events.ErrorCode(err) != events.CodeNotFound {
		t.Fatalf("forged size 31 found: %v", err)
	}
}

func TestCosignatures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cdc, auditor, stranger := newTestWitness(t, "cdc.example/witness"), newTestWitness(t, "auditor.example/witness"), newTestWitness(t, "stranger.example/witness")
	cos, err := OpenCosignatures(ctx, e.js, e.cps, CosignaturesConfig{Witnesses: []string{cdc.vkey, auditor.vkey}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cps := sealAt(t, e, 3, 8)
	old, latest := cps[0], cps[1]

	// Nothing stored yet: the note is served as published.
	if got, err := cos.Attach(ctx, latest.Note, latest.Size); err != nil || string(got) != string(latest.Note) {
		t.Fatalf("attach with none stored: %q %v", got, err)
	}

	// A witness cosigns the latest checkpoint.
	size, names, err := cos.Add(ctx, cdc.cosign(t, latest.Note, e.vkey))
	if err != nil || size != latest.Size || len(names) != 1 || names[0] != "cdc.example/witness" {
		t.Fatalf("add: %d %v %v", size, names, err)
	}
	// Both witnesses at once, on the older checkpoint; just their lines,
	// without onebook's signature, are enough.
	both := cdc.cosign(t, old.Note, e.vkey)
	n, _ := note.Open(both, verifiers(t, cdc.vkey))
	bothOnly, _ := note.Sign(&note.Note{Text: n.Text}, cdc.signer, auditor.signer)
	if _, names, err := cos.Add(ctx, bothOnly); err != nil || len(names) != 2 {
		t.Fatalf("add both: %v %v", names, err)
	}
	// Adding again is harmless.
	if _, _, err := cos.Add(ctx, cdc.cosign(t, latest.Note, e.vkey)); err != nil {
		t.Fatalf("add again: %v", err)
	}

	served, err := cos.Attach(ctx, latest.Note, latest.Size)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(served), "\n— ") != 2 {
		t.Fatalf("served note:\n%s", served)
	}
	// A client that knows only onebook's key still verifies it.
	if _, _, err := OpenCheckpoint(served, verifiers(t, e.vkey), testOrigin); err != nil {
		t.Fatalf("onebook key only: %v", err)
	}
	// One that knows both keys sees both signatures verified.
	n, err = note.Open(served, verifiers(t, e.vkey, cdc.vkey, auditor.vkey))
	if err != nil || len(n.Sigs) != 2 || n.Sigs[0].Name != testOrigin || n.Sigs[1].Name != "cdc.example/witness" {
		t.Fatalf("both keys: %+v %v", n, err)
	}
	// By size, with both witnesses.
	at, err := cos.NoteAt(ctx, old.Size)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := note.Open(at, verifiers(t, e.vkey, cdc.vkey, auditor.vkey)); err != nil || len(n.Sigs) != 3 {
		t.Fatalf("note at %d: %+v %v\n%s", old.Size, n, err, at)
	}
	if _, err := cos.NoteAt(ctx, 5); events.ErrorCode(err) != events.CodeNotFound {
		t.Fatalf("note at unpublished size: %v", err)
	}

	// Refusals.
	check := func(name string, msg []byte, code events.Code) {
		t.Helper()
		if _, _, err := cos.Add(ctx, msg); events.ErrorCode(err) != code {
			t.Errorf("%s: got %v, want code %s", name, err, code)
		}
	}
	check("unknown witness", stranger.cosign(t, latest.Note, e.vkey), events.CodeForbidden)
	check("only onebook's signature", latest.Note, events.CodeForbidden)
	bad := cdc.cosign(t, latest.Note, e.vkey)
	i := strings.LastIndex(string(bad), " ") + 20 // past the key hash
	if bad[i] == 'A' {
		bad[i] = 'B'
	} else {
		bad[i] = 'A'
	}
	check("bad signature", bad, events.CodeInvalid)
	check("not a note", []byte("hello\n"), events.CodeInvalid)
	// A checkpoint onebook never published: a size it skipped, a size
	// beyond the latest, a different root at a published size (a fork),
	// another log's origin.
	sign := func(cp Checkpoint) []byte {
		msg, err := note.Sign(&note.Note{Text: FormatCheckpoint(cp)}, cdc.signer)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	check("unpublished size", sign(Checkpoint{Origin: testOrigin, Size: 5, Hash: old.Hash}), events.CodeNotFound)
	check("beyond the latest", sign(Checkpoint{Origin: testOrigin, Size: 99, Hash: old.Hash}), events.CodeNotFound)
	check("fork", sign(Checkpoint{Origin: testOrigin, Size: latest.Size, Hash: old.Hash}), events.CodeConflict)
	check("other log", sign(Checkpoint{Origin: "other/log", Size: latest.Size, Hash: latest.Hash}), events.CodeInvalid)

	// A cosignature written into the bucket behind the store's back that
	// does not verify is not served, and All names it.
	kv, err := e.js.KeyValue(ctx, "ledger_cosignatures")
	if err != nil {
		t.Fatal(err)
	}
	w := cos.Witnesses()[1] // auditor
	forgedLine := strings.Replace(string(cdcLine(t, served)), "cdc.example/witness", "auditor.example/witness", 1)
	if _, err := kv.Put(ctx, cosigKey(latest.Size, w), []byte(forgedLine)); err != nil {
		t.Fatal(err)
	}
	if got, err := cos.For(ctx, latest.Size, latest.Note); err != nil || len(got) != 1 || got[0].Witness != "cdc.example/witness" {
		t.Fatalf("for, with a forged line stored: %+v %v", got, err)
	}
	var good, invalid int
	for co, err := range cos.All(ctx) {
		switch {
		case err == nil:
			good++
		case events.ErrorCode(err) == events.CodeInvalid:
			invalid++
			if co.Witness != "auditor.example/witness" || co.Size != latest.Size {
				t.Errorf("invalid: %+v %v", co, err)
			}
		default:
			t.Fatal(err)
		}
	}
	if good != 3 || invalid != 1 {
		t.Fatalf("all: %d good, %d invalid", good, invalid)
	}

	// Without witnesses configured, nothing is accepted, and stored
	// cosignatures of witnesses no longer configured are not served.
	none, err := OpenCosignatures(ctx, e.js, e.cps, CosignaturesConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := none.Add(ctx, cdc.cosign(t, latest.Note, e.vkey)); events.ErrorCode(err) != events.CodeForbidden {
		t.Fatalf("no witnesses: %v", err)
	}
	if got, err := none.Attach(ctx, latest.Note, latest.Size); err != nil || string(got) != string(latest.Note) {
		t.Fatalf("no witnesses, attach: %q %v", got, err)
	}
}

func TestParseWitnesses(t *testing.T) {
	w := newTestWitness(t, "cdc.example/witness")
	if ws, err := ParseWitnesses([]string{" " + w.vkey + " ", ""}); err != nil || len(ws) != 1 || ws[0].Name != "cdc.example/witness" {
		t.Fatalf("%+v %v", ws, err)
	}
	if _, err := ParseWitnesses([]string{w.vkey, w.vkey}); err == nil {
		t.Fatal("a witness listed twice is accepted")
	}
	if _, err := ParseWitnesses([]string{"not a key"}); err == nil {
		t.Fatal("a bad key is accepted")
	}
}

func verifiers(t testing.TB, keys ...string) note.Verifiers {
	t.Helper()
	var vs []note.Verifier
	for _, k := range keys {
		v, err := note.NewVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...)
}

// cdcLine is the cdc witness's signature line in a served note.
func cdcLine(t testing.TB, msg []byte) []byte {
	t.Helper()
	for _, l := range strings.SplitAfter(string(msg), "\n") {
		if strings.HasPrefix(l, "— cdc.example/witness ") {
			return []byte(l)
		}
	}
	t.Fatalf("no cdc line in\n%s", msg)
	return nil
}
