package seal

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
)

func hexHash(t testing.TB, s string) tlog.Hash {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		t.Fatalf("bad hex hash %q", s)
	}
	var h tlog.Hash
	copy(h[:], b)
	return h
}

// The RFC 6962 test vectors used by certificate-transparency and
// transparency-dev/merkle (testonly/constants.go, proof/verify_test.go):
// eight leaves, the root of every prefix, and some audit paths and
// consistency proofs.
var (
	rfcLeaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	rfcRoots  = []string{
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", // empty tree
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	// leaf index is 0-based here (the source numbers leaves from 1).
	rfcInclusion = []struct {
		index, size uint64
		proof       []string
	}{
		{0, 1, nil},
		{0, 8, []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
		{5, 8, []string{"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
		{2, 3, []string{"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
		{1, 5, []string{"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
	}
	rfcConsistency = []struct {
		old, new uint64
		proof    []string
	}{
		{1, 1, nil},
		{1, 8, []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
		{6, 8, []string{"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
		{2, 5, []string{"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
		{6, 7, []string{"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
	}
)

func rfcLeafBytes(t testing.TB) [][]byte {
	out := make([][]byte, len(rfcLeaves))
	for i, s := range rfcLeaves {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func hashes(t testing.TB, ss []string) []tlog.Hash {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		out[i] = hexHash(t, s)
	}
	return out
}

// TestRFC6962Vectors checks the hashing the seal relies on, and the
// client-side checks, against the published vectors, without any storage.
func TestRFC6962Vectors(t *testing.T) {
	if emptyHash != hexHash(t, rfcRoots[0]) {
		t.Fatalf("empty tree hash %x", emptyHash)
	}
	// Leaf hash is SHA-256(0x00 || data) (RFC 6962 §2.1).
	if got := tlog.RecordHash(nil); got != hexHash(t, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d") {
		t.Fatalf("leaf hash of empty input %x", got)
	}
	m := newMemTree(rfcLeafBytes(t))
	for n, want := range rfcRoots {
		if got := m.root(int64(n)); got != hexHash(t, want) {
			t.Errorf("root of %d leaves = %x, want %s", n, got, want)
		}
	}
	cp := func(n uint64) Checkpoint {
		return Checkpoint{Origin: testOrigin, Size: n, Hash: hexHash(t, rfcRoots[n])}
	}
	for _, v := range rfcInclusion {
		leaf := tlog.RecordHash(rfcLeafBytes(t)[v.index])
		proof := tlog.RecordProof(hashes(t, v.proof))
		if err := VerifyInclusion(cp(v.size), v.index, leaf, proof); err != nil {
			t.Errorf("inclusion %d in %d: %v", v.index, v.size, err)
		}
		if len(proof) > 0 {
			bad := append(tlog.RecordProof(nil), proof...)
			bad[0][0] ^= 1
			if err := VerifyInclusion(cp(v.size), v.index, leaf, bad); events.ErrorCode(err) != events.CodeInvalid {
				t.Errorf("corrupted inclusion proof %d in %d accepted: %v", v.index, v.size, err)
			}
		}
		if err := VerifyInclusion(cp(v.size), v.size, leaf, proof); events.ErrorCode(err) != events.CodeInvalid {
			t.Errorf("index %d = size accepted: %v", v.size, err)
		}
		// And the proof tlog computes is the published one.
		got, err := tlog.ProveRecord(int64(v.size), int64(v.index), m)
		if err != nil || len(got) != len(proof) {
			t.Fatalf("ProveRecord(%d, %d) = %v, %v", v.size, v.index, got, err)
		}
		for i := range got {
			if got[i] != proof[i] {
				t.Errorf("ProveRecord(%d, %d)[%d] = %x, want %x", v.size, v.index, i, got[i], proof[i])
			}
		}
	}
	for _, v := range rfcConsistency {
		proof := tlog.TreeProof(hashes(t, v.proof))
		if err := VerifyConsistency(cp(v.old), cp(v.new), proof); err != nil {
			t.Errorf("consistency %d→%d: %v", v.old, v.new, err)
		}
		if v.old != v.new {
			wrong := cp(v.new)
			wrong.Hash = hexHash(t, rfcRoots[v.new-1])
			if err := VerifyConsistency(cp(v.old), wrong, proof); err == nil {
				t.Errorf("consistency %d→%d accepted against the wrong root", v.old, v.new)
			}
		}
	}
	if err := VerifyConsistency(cp(0), cp(8), nil); err != nil {
		t.Errorf("empty tree is a prefix of every tree: %v", err)
	}
	if err := VerifyConsistency(cp(5), cp(3), nil); events.ErrorCode(err) != events.CodeInvalid {
		t.Errorf("shrinking tree accepted: %v", err)
	}
	other := cp(8)
	other.Origin = "elsewhere"
	if err := VerifyConsistency(cp(8), other, nil); events.ErrorCode(err) != events.CodeInvalid {
		t.Errorf("checkpoints of different origins accepted: %v", err)
	}
}

func TestCheckpointFormat(t *testing.T) {
	// The example of https://c2sp.org/tlog-checkpoint.
	const text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
	c, err := ParseCheckpoint(text)
	if err != nil {
		t.Fatal(err)
	}
	if c.Origin != "example.com/behind-the-sofa" || c.Size != 20852163 || FormatCheckpoint(c) != text {
		t.Fatalf("round trip: %+v %q", c, FormatCheckpoint(c))
	}
	if c2, err := ParseCheckpoint(text + "ext line\n"); err != nil || c2 != c {
		t.Fatalf("extension line: %+v %v", c2, err)
	}
	for _, bad := range []string{
		"",
		"example.com\n1\n",
		"example.com\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",    // no final newline
		"\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",             // no origin
		"example.com\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", // leading zero
		"example.com\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		"example.com\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		"example.com\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2\n",   // short hash
		"example.com\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n", // URL alphabet
		"example.com\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
	} {
		if _, err := ParseCheckpoint(bad); events.ErrorCode(err) != events.CodeInvalid {
			t.Errorf("ParseCheckpoint(%q) = %v, want invalid", bad, err)
		}
	}
}

func TestSignAndOpen(t *testing.T) {
	skey, vkey, err := GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, vkey2, err := LoadSigner(skey + "\n")
	if err != nil || vkey2 != vkey {
		t.Fatalf("LoadSigner: %v, verifier %q want %q", err, vkey2, vkey)
	}
	for range 32 { // base64 key material often contains '+', the field separator
		sk, vk, _ := GenerateKey(testOrigin)
		if _, vk2, err := LoadSigner(sk); err != nil || vk2 != vk {
			t.Fatalf("LoadSigner(%s): %v, %q want %q", sk, err, vk2, vk)
		}
	}
	if !strings.HasPrefix(vkey, testOrigin+"+") {
		t.Fatalf("verifier key %q", vkey)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	c := Checkpoint{Origin: testOrigin, Size: 8, Hash: hexHash(t, rfcRoots[8])}
	msg, err := Sign(c, signer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(msg), FormatCheckpoint(c)+"\n— "+testOrigin+" ") {
		t.Fatalf("signed note:\n%s", msg)
	}
	got, n, err := OpenCheckpoint(msg, note.VerifierList(v), testOrigin)
	if err != nil || got != c || len(n.Sigs) != 1 {
		t.Fatalf("OpenCheckpoint: %+v %v", got, err)
	}

	// Signed by another key with the same name: rejected.
	oskey, ovkey, _ := GenerateKey(testOrigin)
	osigner, _, _ := LoadSigner(oskey)
	forged, err := Sign(c, osigner)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = OpenCheckpoint(forged, note.VerifierList(v), testOrigin)
	var unverified *note.UnverifiedNoteError
	if events.ErrorCode(err) != events.CodeInvalid || !errors.As(err, &unverified) {
		t.Fatalf("checkpoint signed by another key: %v", err)
	}
	// A key of the same name and hash but a different value is caught
	// as a bad signature; here, the other key's verifier rejects ours.
	ov, _ := note.NewVerifier(ovkey)
	if _, _, err := OpenCheckpoint(msg, note.VerifierList(ov), testOrigin); events.ErrorCode(err) != events.CodeInvalid {
		t.Fatalf("checkpoint opened with the wrong verifier: %v", err)
	}
	// A changed body: the signature no longer matches.
	tampered := []byte(strings.Replace(string(msg), "\n8\n", "\n9\n", 1))
	if _, _, err := OpenCheckpoint(tampered, note.VerifierList(v), testOrigin); events.ErrorCode(err) != events.CodeInvalid {
		t.Fatalf("tampered checkpoint: %v", err)
	}
	// Right key, wrong log.
	if _, _, err := OpenCheckpoint(msg, note.VerifierList(v), "other.example/log"); events.ErrorCode(err) != events.CodeInvalid {
		t.Fatalf("wrong origin: %v", err)
	}
	if _, _, err := LoadSigner("PRIVATE+KEY+x+00000000+AAAA"); err == nil || strings.Contains(err.Error(), "AAAA") {
		t.Fatalf("bad key: %v", err)
	}
}
