package passes

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/residents"
)

// fakeVault stands in for backend/personal: "encryption" is base64 JSON,
// which is enough to test the domain's use of it (the real vault has tests
// of its own).
type fakeVault struct {
	mu       sync.Mutex
	shredded map[string]bool
}

func newFakeVault() *fakeVault { return &fakeVault{shredded: map[string]bool{}} }

func (v *fakeVault) Normalize(name, id, phone string) (accounts.Personal, error) {
	switch {
	case strings.TrimSpace(name) == "":
		return accounts.Personal{}, events.Invalid("name", "required")
	case len(id) != 18:
		return accounts.Personal{}, events.Invalid("id_number", "must have 18 characters")
	case len(phone) != 11:
		return accounts.Personal{}, events.Invalid("phone", "must have 11 digits")
	}
	return accounts.Personal{Name: strings.TrimSpace(name), IDNumber: strings.ToUpper(id), Phone: phone}, nil
}

func (v *fakeVault) NormalizePhone(phone string) (string, error) {
	if len(phone) != 11 {
		return "", events.Invalid("phone", "must have 11 digits")
	}
	return phone, nil
}

func (v *fakeVault) Seal(ctx context.Context, pid string, d accounts.Personal) (residents.Sealed, error) {
	b, _ := json.Marshal(d)
	return residents.Sealed{KeyID: "k-" + pid, Ciphertext: base64.StdEncoding.EncodeToString(b), IDIndex: v.Index("id", d.IDNumber), PhoneIndex: v.Index("phone", d.Phone)}, nil
}

func (v *fakeVault) Open(ctx context.Context, pid string, s residents.Sealed) (accounts.Personal, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.shredded[pid] {
		return accounts.Personal{}, events.Errorf(events.CodeNotFound, "erased")
	}
	b, _ := base64.StdEncoding.DecodeString(s.Ciphertext)
	var d accounts.Personal
	return d, json.Unmarshal(b, &d)
}

func (v *fakeVault) Shred(ctx context.Context, pid string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.shredded[pid] = true
	return nil
}

func (v *fakeVault) Index(kind, value string) string {
	m := hmac.New(sha256.New, []byte("test index key"))
	m.Write([]byte(kind + ":" + value))
	return hex.EncodeToString(m.Sum(nil))
}

// fakeTokens stands in for backend/passtoken: a token is "T." + JSON +
// "." + HMAC; the real signed format has tests of its own.
type fakeTokens struct{}

func (fakeTokens) Issue(c PassClaims) (string, error) {
	b, _ := json.Marshal(c)
	body := base64.RawURLEncoding.EncodeToString(b)
	return "T." + body + "." + fakeSig(body), nil
}

func fakeSig(body string) string {
	m := hmac.New(sha256.New, []byte("test token key"))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

func (fakeTokens) Verify(tok string, now time.Time) (PassClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != "T" {
		return PassClaims{}, &Denial{Reason: DenyMalformed}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c PassClaims
	if err != nil || json.Unmarshal(b, &c) != nil {
		return PassClaims{}, &Denial{Reason: DenyMalformed}
	}
	if parts[2] != fakeSig(parts[1]) {
		return c, &Denial{Reason: DenyForged}
	}
	if now.After(c.NotAfter) {
		return c, &Denial{Reason: DenyExpired}
	}
	if now.Before(c.NotBefore) {
		return c, &Denial{Reason: DenyNotYetValid}
	}
	return c, nil
}
