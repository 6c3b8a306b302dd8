package passtoken

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/onebook/onebook/events"
)

// listDomain separates list signatures from token signatures. Version 2
// dropped each entry's reason and revocation time (a reason such as
// red_status told every holder of the public list a resident's health) and
// added the list's sequence and validity; version 3 names token ids instead
// of pass ids (a pass id is an aggregate id of the public ledger).
const listDomain = "onebook revocations v3\x00"

// RevocationList names the passes that must no longer open a gate, by
// their token ids, and nothing else about them: a scanner refuses a token
// whose token id is listed,
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
	// Tokens are the token ids of the revoked passes.
	Tokens []TokenID
}

// Newer reports whether l supersedes old: it reflects a later revocation,
// or the same revocations issued later.
func (l RevocationList) Newer(old RevocationList) bool {
	return l.Seq > old.Seq || l.Seq == old.Seq && l.Issued.After(old.Issued)
}

// Stale reports whether l is out of date at now (at or after its NotAfter).
func (l RevocationList) Stale(now time.Time) bool { return !now.Before(l.NotAfter) }

// RevocationChecker tells whether the pass of a token id is revoked.
type RevocationChecker interface {
	Revoked(id TokenID) bool
}

// Checker returns an in-memory RevocationChecker of l's token ids. Build
// it from a list that VerifyList returned.
func (l RevocationList) Checker() RevocationChecker {
	m := make(revocationSet, len(l.Tokens))
	for _, id := range l.Tokens {
		m[id] = struct{}{}
	}
	return m
}

type revocationSet map[TokenID]struct{}

func (m revocationSet) Revoked(id TokenID) bool {
	_, ok := m[id]
	return ok
}

// wireList is the JSON form of a RevocationList, times in unix seconds:
//
//	{"seq":…,"issued":…,"not_after":…,"tokens":["…",…]}
type wireList struct {
	Seq      uint64   `json:"seq"`
	Issued   int64    `json:"issued"`
	NotAfter int64    `json:"not_after"`
	Tokens   []string `json:"tokens"`
}

// signedList is the served document: the list bytes with who signed them.
type signedList struct {
	KID  string          `json:"kid"`
	List json.RawMessage `json:"list"`
	Sig  string          `json:"sig"`
}

// SignList returns the signed, compact JSON form of l (see the package
// documentation), token ids sorted. It fails with an events CodeInvalid
// error if a token id appears twice, l is not valid for a second
// after it is issued, or l is valid beyond the signer's NotAfter.
func SignList(s *Signer, l RevocationList) ([]byte, error) {
	if s == nil {
		return nil, events.Errorf(events.CodeInternal, "passtoken: no signer")
	}
	w := wireList{Seq: l.Seq, Issued: unixOrZero(l.Issued), NotAfter: unixOrZero(l.NotAfter), Tokens: make([]string, 0, len(l.Tokens))} // "tokens":[], not null
	for _, id := range l.Tokens {
		w.Tokens = append(w.Tokens, id.String())
	}
	slices.Sort(w.Tokens)
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
	ids := make([]TokenID, len(w.Tokens))
	for i, s := range w.Tokens {
		ids[i], _ = ParseTokenID(s) // check has parsed each
	}
	return RevocationList{
		Seq:      w.Seq,
		Issued:   time.Unix(w.Issued, 0).UTC(),
		NotAfter: time.Unix(w.NotAfter, 0).UTC(),
		Tokens:   ids,
	}, nil
}

// check validates the list: an issued time, a validity of at least a
// second, token ids in their text form in strictly ascending order.
func (w *wireList) check() error {
	if w.Issued <= 0 {
		return events.Invalid("list.issued", "issued time is required")
	}
	if w.NotAfter <= w.Issued {
		return events.Invalid("list.not_after", "the list must be valid after it is issued")
	}
	for i, p := range w.Tokens {
		if _, err := ParseTokenID(p); err != nil {
			return events.Invalid(fmt.Sprintf("list.tokens[%d]", i), "token id %q is not 32 lower-case hex digits", p)
		}
		if i > 0 && w.Tokens[i-1] >= p {
			return events.Invalid(fmt.Sprintf("list.tokens[%d]", i), "token ids must be sorted, each once (%s)", p)
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
