package passtoken

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/events"
)

// listDomain separates list signatures from token signatures. Version 2
// dropped each entry's reason and revocation time (a reason such as
// red_status told every holder of the public list a resident's health) and
// added the list's sequence and validity.
const listDomain = "onebook revocations v2\x00"

// RevocationList names the passes that must no longer open a gate, and
// nothing else about them: a scanner refuses a token whose pass is listed,
// and needs neither why nor when the pass was revoked. The list is public
// (anyone can fetch it, and it sits on every scanner phone), so it says no
// more than that.
//
// The backend builds it from pass.revoked events, signs it with SignList
// when it changes (a revocation, or a revoked pass whose tokens have all
// expired and so leaves the list) and before it goes stale, and serves the
// same signed bytes until then. A scanner keeps the newest list it has
// verified (Newer) and never replaces it with an older one. Times are
// carried to the second.
type RevocationList struct {
	// Seq is the ledger sequence of the newest pass revocation the list
	// reflects, 0 before the first. Lists of the same Seq name the same
	// revocations, less those that expired by their Issued: anyone can
	// check a list against the ledger up to Seq.
	Seq uint64
	// Issued is when the list was signed.
	Issued time.Time
	// NotAfter is the first second at which the list is stale: a scanner
	// holding no newer list still refuses what it lists, but must tell its
	// operator that passes revoked since may open the gate (Stale).
	NotAfter time.Time
	// Passes are the revoked pass ids, canonical lower-case UUIDs.
	Passes []string
}

// Newer reports whether l supersedes old: it reflects a later revocation,
// or the same revocations issued later.
func (l RevocationList) Newer(old RevocationList) bool {
	return l.Seq > old.Seq || l.Seq == old.Seq && l.Issued.After(old.Issued)
}

// Stale reports whether l is out of date at now (at or after its NotAfter).
func (l RevocationList) Stale(now time.Time) bool { return !now.Before(l.NotAfter) }

// RevocationChecker tells whether a pass is revoked.
type RevocationChecker interface {
	Revoked(passID string) bool
}

// Checker returns an in-memory RevocationChecker of l's passes. Build it
// from a list that VerifyList returned.
func (l RevocationList) Checker() RevocationChecker {
	m := make(revocationSet, len(l.Passes))
	for _, id := range l.Passes {
		m[id] = struct{}{}
	}
	return m
}

type revocationSet map[string]struct{}

func (m revocationSet) Revoked(passID string) bool {
	_, ok := m[passID]
	return ok
}

// wireList is the JSON form of a RevocationList, times in unix seconds:
//
//	{"seq":…,"issued":…,"not_after":…,"passes":["…",…]}
type wireList struct {
	Seq      uint64   `json:"seq"`
	Issued   int64    `json:"issued"`
	NotAfter int64    `json:"not_after"`
	Passes   []string `json:"passes"`
}

// signedList is the served document: the list bytes with who signed them.
type signedList struct {
	KID  string          `json:"kid"`
	List json.RawMessage `json:"list"`
	Sig  string          `json:"sig"`
}

// SignList returns the signed, compact JSON form of l (see the package
// documentation), passes sorted. It fails with an events CodeInvalid error
// if a pass id is malformed or appears twice, l is not valid for a second
// after it is issued, or l is valid beyond the signer's NotAfter.
func SignList(s *Signer, l RevocationList) ([]byte, error) {
	if s == nil {
		return nil, events.Errorf(events.CodeInternal, "passtoken: no signer")
	}
	w := wireList{Seq: l.Seq, Issued: unixOrZero(l.Issued), NotAfter: unixOrZero(l.NotAfter), Passes: slices.Clone(l.Passes)}
	if w.Passes == nil {
		w.Passes = []string{} // "passes":[], not null
	}
	slices.Sort(w.Passes)
	if err := w.check(); err != nil {
		return nil, err
	}
	if !s.notAfter.IsZero() && w.NotAfter > s.notAfter.Unix() {
		return nil, events.Invalid("list.not_after", "list valid beyond its signing key's not_after")
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode revocation list: %w", err)
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
// as they appear in data, the list must not be valid beyond that key's
// NotAfter, and the list must be well formed (as SignList writes it). Every
// failure is an events CodeInvalid error. Whether the list is stale is the
// caller's check (Stale), as is whether it is newer than the one it holds
// (Newer).
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
	if !k.NotAfter.IsZero() && w.NotAfter > k.NotAfter.Unix() {
		return RevocationList{}, events.Invalid("list.not_after", "list valid beyond its signing key's not_after")
	}
	return RevocationList{
		Seq:      w.Seq,
		Issued:   time.Unix(w.Issued, 0).UTC(),
		NotAfter: time.Unix(w.NotAfter, 0).UTC(),
		Passes:   slices.Clip(w.Passes),
	}, nil
}

// check validates the list: an issued time, a validity of at least a
// second, canonical pass ids in strictly ascending order.
func (w *wireList) check() error {
	if w.Issued <= 0 {
		return events.Invalid("list.issued", "issued time is required")
	}
	if w.NotAfter <= w.Issued {
		return events.Invalid("list.not_after", "the list must be valid after it is issued")
	}
	for i, p := range w.Passes {
		if id, err := uuid.Parse(p); err != nil || id.String() != p {
			return events.Invalid(fmt.Sprintf("list.passes[%d]", i), "pass id %q is not a UUID in canonical lower-case form", p)
		}
		if i > 0 && w.Passes[i-1] >= p {
			return events.Invalid(fmt.Sprintf("list.passes[%d]", i), "passes must be sorted, each once (%s)", p)
		}
	}
	return nil
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
