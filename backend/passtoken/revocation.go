package passtoken

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/events"
)

const listDomain = "onebook revocations v1\x00"

// ExpiredGrace is how long a revoked pass stays on the list after its own
// NotAfter, so that a scanner whose clock runs late by less than this, once
// it holds a list without the pass, still finds the pass expired.
const ExpiredGrace = 24 * time.Hour

// RevocationList names the passes that must no longer open a gate. The
// backend builds it from pass.revoked events, signs it with SignList and
// serves it; scanners keep the newest list they have verified (by Issued)
// and never replace it with an older one.
//
// An entry may be dropped from a list issued at or after its NotAfter +
// ExpiredGrace: by then Verify denies every token of that pass as expired, so
// the list need not name it (see Prune). Times are carried to the second.
type RevocationList struct {
	Issued  time.Time
	Entries []Revoked
}

// Revoked is one entry of a RevocationList.
type Revoked struct {
	PassID string    // canonical lower-case UUID
	At     time.Time // when the pass was revoked; not after the list's Issued
	// Reason is the revocation reason of the pass.revoked event
	// ("moved_out", "red_status", "lost_phone", ...): 1 to 32 of a-z and '_'.
	Reason string
	// NotAfter is the latest not-after of any token issued for the pass.
	NotAfter time.Time
}

// Prune returns l without the entries it may drop: those with
// NotAfter + ExpiredGrace <= Issued.
func (l RevocationList) Prune() RevocationList {
	out := RevocationList{Issued: l.Issued, Entries: make([]Revoked, 0, len(l.Entries))}
	for _, e := range l.Entries {
		if l.Issued.Before(e.NotAfter.Add(ExpiredGrace)) {
			out.Entries = append(out.Entries, e)
		}
	}
	return out
}

// RevocationChecker tells whether a pass is revoked, and why.
type RevocationChecker interface {
	Revoked(passID string) (revoked bool, reason string)
}

// Checker returns an in-memory RevocationChecker of l's entries. Build it
// from a list that VerifyList returned.
func (l RevocationList) Checker() RevocationChecker {
	m := make(revocationSet, len(l.Entries))
	for _, e := range l.Entries {
		m[e.PassID] = e.Reason
	}
	return m
}

type revocationSet map[string]string

func (m revocationSet) Revoked(passID string) (bool, string) {
	why, ok := m[passID]
	return ok, why
}

// wireList is the JSON form of a RevocationList, times in unix seconds:
//
//	{"issued":…,"entries":[{"pass":"…","at":…,"reason":"…","not_after":…}]}
type wireList struct {
	Issued  int64       `json:"issued"`
	Entries []wireEntry `json:"entries"`
}

type wireEntry struct {
	Pass     string `json:"pass"`
	At       int64  `json:"at"`
	Reason   string `json:"reason"`
	NotAfter int64  `json:"not_after"`
}

// signedList is the served document: the list bytes with who signed them.
type signedList struct {
	KID  string          `json:"kid"`
	List json.RawMessage `json:"list"`
	Sig  string          `json:"sig"`
}

// SignList returns the signed, compact JSON form of l (see the package
// documentation), entries sorted by pass id. It fails with an events
// CodeInvalid error if an entry is malformed, a pass appears twice, or l is
// issued at or after the signer's NotAfter.
func SignList(s *Signer, l RevocationList) ([]byte, error) {
	if s == nil {
		return nil, events.Errorf(events.CodeInternal, "passtoken: no signer")
	}
	w := wireList{Issued: unixOrZero(l.Issued), Entries: make([]wireEntry, 0, len(l.Entries))}
	for _, e := range l.Entries {
		w.Entries = append(w.Entries, wireEntry{Pass: e.PassID, At: unixOrZero(e.At), Reason: e.Reason, NotAfter: unixOrZero(e.NotAfter)})
	}
	slices.SortFunc(w.Entries, func(a, b wireEntry) int { return strings.Compare(a.Pass, b.Pass) })
	if err := w.check(); err != nil {
		return nil, err
	}
	if !s.notAfter.IsZero() && w.Issued >= s.notAfter.Unix() {
		return nil, events.Invalid("list.issued", "list issued at or after its signing key's not_after")
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	sig := base64.RawURLEncoding.EncodeToString(s.sign(listDomain, body))
	out := make([]byte, 0, len(body)+len(sig)+40)
	out = append(out, `{"kid":"`...)
	out = append(out, s.id.String()...)
	out = append(out, `","list":`...)
	out = append(out, body...)
	out = append(out, `,"sig":"`...)
	out = append(out, sig...)
	out = append(out, `"}`...)
	return out, nil
}

// VerifyList checks a list signed by SignList against keys and returns it.
// The signature must verify with the key named by kid over the list bytes
// as they appear in data, the list must be issued before that key's
// NotAfter, and the list must be well formed (as SignList writes it). Every
// failure is an events CodeInvalid error.
func VerifyList(data []byte, keys KeySet) (RevocationList, error) {
	var sl signedList
	if err := decodeStrict(data, &sl); err != nil {
		return RevocationList{}, events.Errorf(events.CodeInvalid, "revocation list: %v", err)
	}
	kid, ok := parseKeyID(sl.KID)
	if !ok {
		return RevocationList{}, events.Invalid("kid", "malformed key id %q", sl.KID)
	}
	k, ok := keys.Lookup(kid)
	if !ok {
		return RevocationList{}, events.Invalid("kid", "unknown key id %s", kid)
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(sl.Sig)
	if err != nil || !verify(k.Public, listDomain, sl.List, sig) {
		return RevocationList{}, events.Invalid("sig", "revocation list signature does not verify with key %s", kid)
	}
	var w wireList
	if err := decodeStrict(sl.List, &w); err != nil {
		return RevocationList{}, events.Errorf(events.CodeInvalid, "revocation list: %v", err)
	}
	if err := w.check(); err != nil {
		return RevocationList{}, err
	}
	if !k.NotAfter.IsZero() && w.Issued >= k.NotAfter.Unix() {
		return RevocationList{}, events.Invalid("list.issued", "list issued at or after its signing key's not_after")
	}
	l := RevocationList{Issued: time.Unix(w.Issued, 0).UTC(), Entries: make([]Revoked, len(w.Entries))}
	for i, e := range w.Entries {
		l.Entries[i] = Revoked{PassID: e.Pass, At: time.Unix(e.At, 0).UTC(), Reason: e.Reason, NotAfter: time.Unix(e.NotAfter, 0).UTC()}
	}
	return l, nil
}

// check validates the list: positive times, entries revoked no later than
// issued, canonical pass ids in strictly ascending order, reasons of 1 to 32
// characters a-z and '_'.
func (w *wireList) check() error {
	if w.Issued <= 0 {
		return events.Invalid("list.issued", "issued time is required")
	}
	for i, e := range w.Entries {
		field := func(f string) string { return fmt.Sprintf("list.entries[%d].%s", i, f) }
		if id, err := uuid.Parse(e.Pass); err != nil || id.String() != e.Pass {
			return events.Invalid(field("pass"), "pass id %q is not a UUID in canonical lower-case form", e.Pass)
		}
		if i > 0 && w.Entries[i-1].Pass >= e.Pass {
			return events.Invalid(field("pass"), "entries must be sorted by pass id, each pass once (%s)", e.Pass)
		}
		if e.At <= 0 || e.At > w.Issued {
			return events.Invalid(field("at"), "revocation time must be after 1970 and not after the list is issued")
		}
		if !isReason(e.Reason) {
			return events.Invalid(field("reason"), "reason must be 1 to 32 of a-z and '_', got %q", e.Reason)
		}
		if e.NotAfter <= 0 {
			return events.Invalid(field("not_after"), "the pass's not_after is required")
		}
	}
	return nil
}

func isReason(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < 'a' || s[i] > 'z') && s[i] != '_' {
			return false
		}
	}
	return true
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
