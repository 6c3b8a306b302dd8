package passtoken

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
)

const (
	passA = "01936b2e-7c1a-7d3e-8f00-0123456789ab"
	passB = "01936b2e-7c1a-7d3e-8f00-0123456789ac"
	passC = "01936b2f-0000-7000-8000-000000000000"
)

func vectorList() RevocationList {
	return RevocationList{
		Issued: day0.Add(2 * time.Hour),
		Entries: []Revoked{ // not sorted: SignList sorts
			{PassID: passB, At: day0.Add(time.Hour), Reason: "red_status", NotAfter: day1},
			{PassID: passA, At: day0.Add(90 * time.Minute), Reason: "lost_phone", NotAfter: day1},
		},
	}
}

// signBody signs arbitrary list bytes the way SignList does, for lists that
// SignList would refuse to write.
func signBody(s *Signer, body string) []byte {
	sig := base64.RawURLEncoding.EncodeToString(s.sign(listDomain, []byte(body)))
	return []byte(`{"kid":"` + s.KeyID().String() + `","list":` + body + `,"sig":"` + sig + `"}`)
}

// TestListKnownAnswer pins the signed form; the signature was computed
// independently with Node's crypto.
func TestListKnownAnswer(t *testing.T) {
	s := vectorSigner(t)
	got, err := SignList(s, vectorList())
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"kid":"d7cacaaa","list":{"issued":1769911200,"entries":[` +
		`{"pass":"01936b2e-7c1a-7d3e-8f00-0123456789ab","at":1769909400,"reason":"lost_phone","not_after":1769990400},` +
		`{"pass":"01936b2e-7c1a-7d3e-8f00-0123456789ac","at":1769907600,"reason":"red_status","not_after":1769990400}]},` +
		`"sig":"BVWxCus6OZZww6by-IgfAhFkTgJGYb3iibhEvBCd7S6cW-4QWmI05qFUE0iLs1kpU12smspkBhSggLaZ7R4NCg"}`
	if string(got) != want {
		t.Fatalf("signed list\n got %s\nwant %s", got, want)
	}
}

func TestListRoundTrip(t *testing.T) {
	s := vectorSigner(t)
	ks := keySet(t, s)
	tests := []struct {
		name string
		in   RevocationList
	}{
		{"empty", RevocationList{Issued: day0}},
		{"two", vectorList()},
		{"sub-second times truncated", RevocationList{Issued: day0.Add(time.Hour + 500*time.Millisecond),
			Entries: []Revoked{{PassID: passC, At: day0.Add(time.Hour + 400*time.Millisecond), Reason: "moved_out", NotAfter: day1.Add(time.Millisecond)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := SignList(s, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := VerifyList(b, ks)
			if err != nil {
				t.Fatalf("VerifyList(%s): %v", b, err)
			}
			if !got.Issued.Equal(tt.in.Issued.Truncate(time.Second)) || len(got.Entries) != len(tt.in.Entries) {
				t.Fatalf("got %+v, want %+v", got, tt.in)
			}
			for i := 1; i < len(got.Entries); i++ {
				if got.Entries[i-1].PassID >= got.Entries[i].PassID {
					t.Fatalf("entries not sorted: %+v", got.Entries)
				}
			}
			chk := got.Checker()
			for _, e := range tt.in.Entries {
				if r, why := chk.Revoked(e.PassID); !r || why != e.Reason {
					t.Errorf("Revoked(%s) = %v, %q; want true, %q", e.PassID, r, why, e.Reason)
				}
			}
			if r, _ := chk.Revoked("00000000-0000-0000-0000-000000000000"); r {
				t.Error("a pass not on the list is revoked")
			}
			again, err := SignList(s, got)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("signing the verified list again gives other bytes:\n%s\n%s", b, again)
			}
		})
	}
}

// TestListVerifiedThroughToken: a pass on a verified list is denied at the
// gate.
func TestListVerifiedThroughToken(t *testing.T) {
	s := vectorSigner(t)
	ks := keySet(t, s)
	b, err := SignList(s, vectorList())
	if err != nil {
		t.Fatal(err)
	}
	l, err := VerifyList(b, ks)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Issue(s, vectorClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(tok, ks, l.Checker(), day0.Add(3*time.Hour)); err == nil || err.(*Denied).Reason != ReasonRevoked || err.(*Denied).Detail != "lost_phone" {
		t.Fatalf("Verify = %v, want revoked: lost_phone", err)
	}
}

func TestListTampered(t *testing.T) {
	s := vectorSigner(t)
	other, err := GenerateSigner(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ks := keySet(t, s, other)
	good, err := SignList(s, vectorList())
	if err != nil {
		t.Fatal(err)
	}
	byOther, err := SignList(other, vectorList())
	if err != nil {
		t.Fatal(err)
	}
	retired := vectorSigner(t).Key()
	retired.NotAfter = day0.Add(2 * time.Hour) // the list's Issued
	g := string(good)
	sigOf := func(b []byte) string { return string(b[bytes.LastIndex(b, []byte(`"sig":"`))+7 : len(b)-2]) }
	tok, err := Issue(s, vectorClaims())
	if err != nil {
		t.Fatal(err)
	}
	tokRaw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, Prefix))

	tests := []struct {
		name string
		data string
		keys KeySet
	}{
		{"entry removed", strings.Replace(g, `{"pass":"01936b2e-7c1a-7d3e-8f00-0123456789ab","at":1769909400,"reason":"lost_phone","not_after":1769990400},`, ``, 1), ks},
		{"reason changed", strings.Replace(g, "red_status", "moved_out", 1), ks},
		{"issued moved on", strings.Replace(g, "1769911200", "1769911201", 1), ks},
		{"pass id changed", strings.Replace(g, "0123456789ac", "0123456789ad", 1), ks},
		{"whitespace inside the list", strings.Replace(g, `"entries":`, `"entries": `, 1), ks},
		{"kid of the other key", strings.Replace(g, s.KeyID().String(), other.KeyID().String(), 1), ks},
		{"signature of the other key", strings.Replace(g, sigOf(good), sigOf(byOther), 1), ks},
		{"unknown kid", g, keySet(t, other)},
		{"empty key set", g, KeySet{}},
		{"signing key retired when issued", g, mustKeySet(t, retired)},
		{"token signature as list signature", strings.Replace(g, sigOf(good), base64.RawURLEncoding.EncodeToString(tokRaw[bodyLen:]), 1), ks},
		{"signature not base64url", strings.Replace(g, sigOf(good), strings.ToUpper(sigOf(good)[:10])+"+"+sigOf(good)[11:], 1), ks},
		{"kid upper case", strings.Replace(g, s.KeyID().String(), strings.ToUpper(s.KeyID().String()), 1), ks},
		{"unknown field", strings.Replace(g, `{"kid"`, `{"x":1,"kid"`, 1), ks},
		{"trailing data", g + "{}", ks},
		{"truncated", g[:len(g)-1], ks},
		{"not json", "list", ks},
		{"empty", "", ks},
		// Signed by the right key, but not a list SignList would write.
		{"unknown field in list", string(signBody(s, `{"issued":1769911200,"entries":[],"x":1}`)), ks},
		{"no issued", string(signBody(s, `{"entries":[]}`)), ks},
		{"unsorted", string(signBody(s, `{"issued":1769911200,"entries":[`+
			`{"pass":"`+passB+`","at":1769907600,"reason":"red_status","not_after":1769990400},`+
			`{"pass":"`+passA+`","at":1769909400,"reason":"lost_phone","not_after":1769990400}]}`)), ks},
		{"pass twice", string(signBody(s, `{"issued":1769911200,"entries":[`+
			`{"pass":"`+passA+`","at":1769907600,"reason":"red_status","not_after":1769990400},`+
			`{"pass":"`+passA+`","at":1769909400,"reason":"lost_phone","not_after":1769990400}]}`)), ks},
		{"pass id upper case", string(signBody(s, `{"issued":1769911200,"entries":[{"pass":"`+strings.ToUpper(passA)+`","at":1769907600,"reason":"red_status","not_after":1769990400}]}`)), ks},
		{"revoked after issued", string(signBody(s, `{"issued":1769911200,"entries":[{"pass":"`+passA+`","at":1769911201,"reason":"red_status","not_after":1769990400}]}`)), ks},
		{"reason with space", string(signBody(s, `{"issued":1769911200,"entries":[{"pass":"`+passA+`","at":1769907600,"reason":"red status","not_after":1769990400}]}`)), ks},
		{"no not_after", string(signBody(s, `{"issued":1769911200,"entries":[{"pass":"`+passA+`","at":1769907600,"reason":"red_status"}]}`)), ks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := VerifyList([]byte(tt.data), tt.keys)
			if events.ErrorCode(err) != events.CodeInvalid {
				t.Fatalf("VerifyList = %+v, %v; want invalid", l, err)
			}
		})
	}
	// Whitespace in the envelope, outside the signed list, is harmless.
	spaced := strings.Replace(strings.Replace(g, `{"kid":`, "{ \"kid\" :", 1), `,"sig"`, ",\n  \"sig\"", 1)
	if _, err := VerifyList([]byte(spaced), ks); err != nil {
		t.Fatalf("VerifyList(spaced envelope) = %v", err)
	}
	if _, err := VerifyList(good, ks); err != nil {
		t.Fatalf("VerifyList(good) = %v", err)
	}
}

func TestSignListInvalid(t *testing.T) {
	s := vectorSigner(t)
	tests := []struct {
		name  string
		edit  func(*RevocationList)
		field string
	}{
		{"no issued time", func(l *RevocationList) { l.Issued = time.Time{} }, "list.issued"},
		{"issued when the key is retired", func(l *RevocationList) { l.Issued = s.NotAfter() }, "list.issued"},
		{"pass twice", func(l *RevocationList) { l.Entries[1].PassID = l.Entries[0].PassID }, "list.entries[1].pass"},
		{"bad pass id", func(l *RevocationList) { l.Entries[0].PassID = "p1" }, "list.entries[1].pass"},
		{"empty reason", func(l *RevocationList) { l.Entries[0].Reason = "" }, "list.entries[1].reason"},
		{"revoked in the future", func(l *RevocationList) { l.Entries[0].At = l.Issued.Add(time.Second) }, "list.entries[1].at"},
		{"no revocation time", func(l *RevocationList) { l.Entries[0].At = time.Time{} }, "list.entries[1].at"},
		{"no pass not_after", func(l *RevocationList) { l.Entries[0].NotAfter = time.Time{} }, "list.entries[1].not_after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := vectorList()
			tt.edit(&l)
			b, err := SignList(s, l)
			var e *events.Error
			if !errors.As(err, &e) || e.Code != events.CodeInvalid || e.Field != tt.field {
				t.Fatalf("SignList = %s, %v; want invalid %s", b, err, tt.field)
			}
		})
	}
}

func TestPrune(t *testing.T) {
	l := RevocationList{Issued: day1.Add(ExpiredGrace), Entries: []Revoked{
		{PassID: passA, NotAfter: day1},                                 // expired a grace ago: dropped
		{PassID: passB, NotAfter: day1.Add(time.Second)},                // one second short: kept
		{PassID: passC, NotAfter: day1.Add(ExpiredGrace + time.Hour*5)}, // live: kept
	}}
	got := l.Prune()
	if !got.Issued.Equal(l.Issued) || len(got.Entries) != 2 || got.Entries[0].PassID != passB || got.Entries[1].PassID != passC {
		t.Fatalf("Prune = %+v", got)
	}
	if len(l.Entries) != 3 {
		t.Fatal("Prune changed its receiver")
	}
}
