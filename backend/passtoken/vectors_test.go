package passtoken

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// vectorsFile is testdata/vectors.json: the known-answer vectors of this
// package as data, for the other implementation of the format, the
// mini-program's offline verifier (miniprogram/test/unit/passtoken.test.ts).
// Regenerate with ONEBOOK_UPDATE_VECTORS=1 go test ./backend/passtoken -run TestVectorsFile.
type vectorsFile struct {
	Comment        string        `json:"comment"`
	PublicKeyHex   string        `json:"public_key_hex"`
	KID            string        `json:"kid"`
	KeySet         string        `json:"key_set"`
	KeyNotAfter    int64         `json:"key_not_after"`
	Tokens         []vectorToken `json:"tokens"`
	UnknownKey     string        `json:"unknown_key_token"`
	RevocationList string        `json:"revocation_list"`
	List           wireList      `json:"list"`
}

type vectorToken struct {
	Name      string `json:"name"`
	Token     string `json:"token"`
	TokenID   string `json:"token_id,omitempty"` // format 2
	PassID    string `json:"pass_id,omitempty"`  // format 1
	Visitor   bool   `json:"visitor"`
	Community string `json:"community"`
	NotBefore int64  `json:"not_before"`
	NotAfter  int64  `json:"not_after"`
}

func TestVectorsFile(t *testing.T) {
	s := vectorSigner(t)
	h := sha256.Sum256([]byte("passtoken vectors other key"))
	other, err := NewSigner(h[:], time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := json.Marshal(keySet(t, s))
	if err != nil {
		t.Fatal(err)
	}
	list, err := SignList(s, vectorList())
	if err != nil {
		t.Fatal(err)
	}
	want := vectorsFile{
		Comment:        "Known-answer vectors of backend/passtoken, checked by TestVectorsFile; the mini-program's verifier must agree.",
		PublicKeyHex:   hex.EncodeToString(s.Key().Public),
		KID:            s.KeyID().String(),
		KeySet:         string(ks),
		KeyNotAfter:    s.NotAfter().Unix(),
		RevocationList: string(list),
		List:           wireList{Seq: 42, Issued: day0.Add(2 * time.Hour).Unix(), NotAfter: day1.Unix(), Tokens: []string{textA, textB}},
	}
	for _, c := range []struct {
		name string
		c    Claims
	}{
		{"resident", vectorClaims()},
		{"visitor", Claims{TokenID: tokC, Visitor: true, Community: "310104002003", NotBefore: day0.Add(time.Hour), NotAfter: day0.Add(3 * time.Hour)}},
		{"format1", formatOneClaims()},
	} {
		tok, err := issue(s, c.c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(tok, keySet(t, s), nil, c.c.NotBefore); err != nil {
			t.Fatal(err)
		}
		v := vectorToken{Name: c.name, Token: tok, PassID: c.c.PassID, Visitor: c.c.Visitor, Community: string(c.c.Community),
			NotBefore: c.c.NotBefore.Unix(), NotAfter: c.c.NotAfter.Unix()}
		if !c.c.FormatOne() {
			v.TokenID = c.c.TokenID.String()
		}
		want.Tokens = append(want.Tokens, v)
	}
	if want.UnknownKey, err = Issue(other, vectorClaims()); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if os.Getenv("ONEBOOK_UPDATE_VECTORS") == "1" {
		if err := os.WriteFile("testdata/vectors.json", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b) {
		t.Fatalf("testdata/vectors.json is not what this package computes; regenerate it (see vectorsFile) and check the mini-program's verifier:\n%s", b)
	}
}
