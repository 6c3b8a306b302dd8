package events

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Public by design, or sealed.
//
// The ledger is public so that anyone can check it was never rewritten; an
// audit needs the bytes' hashes, not their meaning. So every top-level
// field of every payload is declared, with a struct tag, either
//
//	disclose:"public"   meant for everyone (a donation, a need, a rule), or
//	disclose:"sealed"   about a person or a case: encrypted.
//
// Registration panics on a field without the tag, so a new field cannot
// reach the ledger in clear by omission. On append (Registry.New) the
// sealed fields of a payload are taken out, encrypted together with
// AES-256-GCM under a fresh data key of that one event, and replaced by one
// member "sealed": {"box", "key", "to"}:
//
//   - box: the sealed fields as a JSON object, padded to a multiple of
//     SealPadding bytes (lengths tell little), encrypted under the data
//     key. The data key is used for this one box only, so the nonce is
//     zero; the additional data binds the box to the event id and type.
//   - key: the data key wrapped by the key of the subject the event is
//     about (a person, a case card), by the Keyring.
//   - to: which subject, encrypted by the Keyring, so that equal subjects
//     do not show as equal strings: the ledger links no two events of one
//     person for whoever lacks the keys.
//
// Destroying a subject's key (crypto-shredding) makes every box sealed to
// it unreadable while every leaf hash still verifies. Handing out one
// event's data key (an export bundle does, for the entries it cites)
// discloses that event and nothing else.
//
// Payloads recorded before sealing existed carry their sealed fields in
// clear; Decode reads them as they are (see the README on existing
// ledgers).

// Disclosure tag values.
const (
	Public = "public"
	Sealed = "sealed"
)

// SealedMember is the payload member that holds the sealed fields.
const SealedMember = "sealed"

// SealPadding is the block the sealed plaintext is padded to.
const SealPadding = 64

// Box is the sealed part of a payload as it stands in the ledger.
type Box struct {
	Box string `json:"box"` // base64: AES-256-GCM(data key, zero nonce, fields)
	Key string `json:"key"` // base64: the data key wrapped under the subject's key
	To  string `json:"to"`  // base64: the subject, encrypted by the keyring
}

// Wrapped is a data key wrapped for a subject, as a Keyring returns it.
type Wrapped struct {
	Key []byte // the wrapped data key
	To  []byte // the encrypted subject reference
}

// A Keyring keeps the keys of the subjects that sealed events are about.
// The backend's keyring is the personal-data vault (backend/personal); an
// export bundle's recipient has a keyring of the data keys the bundle
// discloses (DataKeys). A Keyring is safe for concurrent use: exports
// open many events' fields at once.
type Keyring interface {
	// Wrap wraps dataKey, the key of event eventID, under the key of
	// subject (creating that key if the subject has none).
	Wrap(ctx context.Context, subject, eventID string, dataKey []byte) (Wrapped, error)
	// Unwrap returns the data key of event eventID. An error wrapping
	// ErrErased means the subject's key was destroyed.
	Unwrap(ctx context.Context, eventID string, w Wrapped) ([]byte, error)
}

// ErrErased is wrapped by a Keyring's error when the key a box was sealed
// to has been destroyed: the box is unreadable for good.
var ErrErased = errors.New("the subject's key was destroyed (erased)")

// ErrNoKey is returned by Decode for a sealed payload when the registry has
// no keyring that can open it.
var ErrNoKey = &Error{Code: CodeForbidden, Message: "the event's payload is sealed and no key to it is held here"}

// disclosure is the split of a payload type's JSON fields.
type disclosure struct {
	public []string
	sealed []string
}

// disclosureOf reads the disclose tags of payload type t, panicking (at
// registration) on a field without one.
func disclosureOf(typ string, t reflect.Type) disclosure {
	var d disclosure
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			// An embedded struct's fields are promoted into the payload's
			// JSON object; its tag discloses them all alike.
			tag := f.Tag.Get("disclose")
			for _, inner := range reflect.VisibleFields(f.Type) {
				n, _, _ := strings.Cut(inner.Tag.Get("json"), ",")
				if !inner.IsExported() || n == "-" || inner.Anonymous {
					continue
				}
				if n == "" {
					n = inner.Name
				}
				switch tag {
				case Public:
					d.public = append(d.public, n)
				case Sealed:
					d.sealed = append(d.sealed, n)
				default:
					panic(fmt.Sprintf("events: %s: embedded field %s has no disclose tag", typ, f.Name))
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == SealedMember {
			panic(fmt.Sprintf("events: %s: a payload field may not be named %q", typ, SealedMember))
		}
		switch f.Tag.Get("disclose") {
		case Public:
			d.public = append(d.public, name)
		case Sealed:
			d.sealed = append(d.sealed, name)
		default:
			panic(fmt.Sprintf("events: %s: field %s has no disclose:\"public\" or disclose:\"sealed\" tag", typ, name))
		}
	}
	return d
}

// Disclosure returns the public and the sealed JSON fields of event type
// typ, in declaration order (nil, nil for an unknown type).
func (r *Registry) Disclosure(typ string) (public, sealed []string) {
	s := r.schemas[typ]
	if s == nil {
		return nil, nil
	}
	return slices.Clone(s.disclose.public), slices.Clone(s.disclose.sealed)
}

// WithKeyring returns a registry that knows the same types and seals and
// opens payloads with k.
func (r *Registry) WithKeyring(k Keyring) *Registry {
	return &Registry{schemas: r.schemas, keyring: k}
}

// seal moves the sealed fields of raw (a payload of schema s) into a box
// sealed to subject.
func (r *Registry) seal(ctx context.Context, s *schema, eventID, subject string, raw []byte) ([]byte, error) {
	if len(s.disclose.sealed) == 0 {
		return raw, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, Errorf(CodeInternal, "event %s: split payload: %v", s.typ, err)
	}
	hidden := make(map[string]json.RawMessage, len(s.disclose.sealed))
	for _, name := range s.disclose.sealed {
		if v, ok := fields[name]; ok {
			hidden[name] = v
			delete(fields, name)
		}
	}
	if len(hidden) == 0 {
		return raw, nil // every sealed field was omitted as empty
	}
	if r.keyring == nil {
		return nil, Errorf(CodeInternal, "event %s has sealed fields and this registry has no keyring", s.typ)
	}
	if subject == "" {
		return nil, Errorf(CodeInternal, "event %s has sealed fields and names no subject to seal them to (Meta.SealTo)", s.typ)
	}
	plain, err := json.Marshal(hidden)
	if err != nil {
		return nil, Errorf(CodeInternal, "event %s: encode sealed fields: %v", s.typ, err)
	}
	dataKey := make([]byte, 32)
	rand.Read(dataKey)
	defer clear(dataKey)
	box, err := boxSeal(dataKey, eventID, s.typ, pad(plain))
	if err != nil {
		return nil, err
	}
	w, err := r.keyring.Wrap(ctx, subject, eventID, dataKey)
	if err != nil {
		return nil, fmt.Errorf("event %s: wrap its data key: %w", s.typ, err)
	}
	b, err := json.Marshal(Box{Box: b64(box), Key: b64(w.Key), To: b64(w.To)})
	if err != nil {
		return nil, Errorf(CodeInternal, "event %s: encode box: %v", s.typ, err)
	}
	fields[SealedMember] = b
	out, err := json.Marshal(fields)
	if err != nil {
		return nil, Errorf(CodeInternal, "event %s: encode payload: %v", s.typ, err)
	}
	return out, nil
}

// Open returns the payload of e with its sealed fields opened and merged
// back in, as JSON (not upcast).
func (r *Registry) Open(ctx context.Context, e Event) (raw json.RawMessage, withheld bool, err error) {
	o, err := r.OpenFields(ctx, e)
	if err != nil || o.Fields == nil {
		return e.Payload, false, err
	}
	raw, err = json.Marshal(o.Fields)
	return raw, o.Withheld, err
}

// Opened is a payload's fields with its sealed ones opened.
type Opened struct {
	Fields   map[string]json.RawMessage // nil: the payload has no box (e.Payload is all there is)
	Key      []byte                     // the event's data key; nil without a box or when withheld
	Withheld bool                       // the subject's key was destroyed: Fields are the public ones
}

// OpenFields opens e's box once and returns its fields and data key: what
// an exporter needs of a cited entry, without opening it twice.
func (r *Registry) OpenFields(ctx context.Context, e Event) (Opened, error) {
	start, end, ok := findBox(e.Payload)
	if !ok {
		return Opened{}, nil
	}
	box, w, err := parseBox(e.Payload[start+len(boxKey) : end])
	if err != nil {
		return Opened{}, err
	}
	dataKey, err := r.unwrap(ctx, e.ID, w)
	switch {
	case errors.Is(err, ErrErased):
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(withoutBox(e.Payload, start, end), &fields); err != nil {
			return Opened{}, Invalid("payload", "event %s: %v", e.Type, err)
		}
		return Opened{Fields: fields, Withheld: true}, nil
	case err != nil:
		return Opened{}, fmt.Errorf("event %s %s: %w", e.Type, e.ID, err)
	}
	plain, err := boxOpen(dataKey, e.ID, e.Type, box)
	if err != nil {
		return Opened{}, err
	}
	// One decode of both halves as one object; if that fails, or a field
	// was in both (fewer fields than members), decode them apart to say
	// what is wrong.
	if all, ok := joinOpened(e.Payload, start, end, plain); ok {
		var fields map[string]json.RawMessage
		if json.Unmarshal(all, &fields) == nil && len(fields) == countMembers(all) {
			return Opened{Fields: fields, Key: dataKey}, nil
		}
	}
	var fields, hidden map[string]json.RawMessage
	if err := json.Unmarshal(withoutBox(e.Payload, start, end), &fields); err != nil {
		return Opened{}, Invalid("payload", "event %s: %v", e.Type, err)
	}
	if err := json.Unmarshal(plain, &hidden); err != nil {
		return Opened{}, Invalid("payload.sealed", "event %s: sealed fields are not a JSON object", e.ID)
	}
	for k, v := range hidden {
		if _, dup := fields[k]; dup {
			return Opened{}, Invalid("payload.sealed", "event %s: field %s is both public and sealed", e.ID, k)
		}
		fields[k] = v
	}
	return Opened{Fields: fields, Key: dataKey}, nil
}

// joinOpened returns one JSON object with the members of payload other
// than its box (findBox's span start:end) and then those of plain, an
// opened box (its padding is insignificant spaces), built in one
// allocation (every projector and exporter joins one per sealed event).
// ok is false when either is not an object's text.
func joinOpened(payload []byte, start, end int, plain []byte) (joined []byte, ok bool) {
	before, after := boxGap(payload, start, end)
	n := len(before) + len(after)
	plain = bytes.TrimRight(plain, " ")
	if n < 2 || len(before) == 0 || before[0] != '{' || len(after) == 0 || after[len(after)-1] != '}' ||
		len(plain) < 2 || plain[0] != '{' || plain[len(plain)-1] != '}' {
		return nil, false
	}
	switch {
	case n == 2: // no public member
		return plain, true
	case len(plain) == 2: // no sealed member
		return append(append(make([]byte, 0, n), before...), after...), true
	}
	joined = make([]byte, 0, n+len(plain))
	joined = append(append(joined, before...), after[:len(after)-1]...)
	return append(append(joined, ','), plain[1:]...), true
}

// countMembers counts the members of obj, a JSON object without
// insignificant whitespace.
func countMembers(obj []byte) int {
	if len(obj) <= 2 {
		return 0
	}
	n, depth := 1, 0
	for i := 0; i < len(obj); i++ {
		switch obj[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			if depth == 1 {
				n++
			}
		case '"':
			i = stringEnd(obj, i) - 1
		}
	}
	return n
}

// stringEnd returns the index just past the JSON string starting at b[i]
// (len(b) if it does not end).
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// DataKey returns the data key of a sealed event, for a bundle that
// discloses it; nil if e has no sealed box.
func (r *Registry) DataKey(ctx context.Context, e Event) ([]byte, error) {
	start, end, ok := findBox(e.Payload)
	if !ok {
		return nil, nil
	}
	_, w, err := parseBox(e.Payload[start+len(boxKey) : end])
	if err != nil {
		return nil, err
	}
	return r.unwrap(ctx, e.ID, w)
}

// unwrap returns the data key of event id from its wrapped form w; without
// a keyring, ErrNoKey.
func (r *Registry) unwrap(ctx context.Context, id string, w Wrapped) ([]byte, error) {
	if r.keyring == nil {
		return nil, ErrNoKey
	}
	return r.keyring.Unwrap(ctx, id, w)
}

// IsSealed reports whether e's payload carries a sealed box.
func IsSealed(e Event) bool {
	_, _, ok := findBox(e.Payload)
	return ok
}

// In a payload without insignificant whitespace (canonical bytes, or as
// json.Marshal writes them) a box reads exactly so, and nothing inside a
// string can (quotes there are escaped).
const (
	boxKey       = `"` + SealedMember + `":`
	sealedMarker = boxKey + `{"box":"`
)

// findBox finds the box of payload, a JSON object without insignificant
// whitespace: the member "sealed" of the object itself, not of one nested
// in it. The member spans payload[start:end]; its value starts at
// start+len(boxKey). It is read without a JSON decoder: every projector
// and exporter looks for one per event.
func findBox(payload []byte) (start, end int, ok bool) {
	if !bytes.Contains(payload, []byte(sealedMarker)) {
		return 0, 0, false
	}
	depth := 0
	for i := 0; i < len(payload); i++ {
		switch payload[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			if depth == 1 && (payload[i-1] == '{' || payload[i-1] == ',') && bytes.HasPrefix(payload[i:], []byte(sealedMarker)) {
				// Base64 holds no quote: the box ends at the first "}.
				n := bytes.Index(payload[i+len(sealedMarker):], []byte(`"}`))
				if n < 0 {
					return 0, 0, false
				}
				return i, i + len(sealedMarker) + n + 2, true
			}
			i = stringEnd(payload, i) - 1
		}
	}
	return 0, 0, false
}

// withoutBox returns a copy of payload without its box (findBox's span)
// and the comma that separated it.
func withoutBox(payload []byte, start, end int) []byte {
	before, after := boxGap(payload, start, end)
	return append(append(make([]byte, 0, len(before)+len(after)), before...), after...)
}

// boxGap returns what is left of payload either side of its box
// (findBox's span) and the comma that separated it.
func boxGap(payload []byte, start, end int) (before, after []byte) {
	switch {
	case payload[start-1] == ',':
		return payload[:start-1], payload[end:]
	case end < len(payload) && payload[end] == ',':
		return payload[:start], payload[end+1:]
	default:
		return payload[:start], payload[end:]
	}
}

// parseBox reads a box in its one canonical form,
// {"box":"<base64>","key":"<base64>","to":"<base64>"}: exactly the three
// members in RFC 8785 order, nothing smuggled beside them. Base64 needs no
// JSON escaping, so the form is fixed and read without a JSON decoder
// (every projector reads one per event).
func parseBox(raw json.RawMessage) ([]byte, Wrapped, error) {
	// Made only when needed: parseBox runs for every sealed event read.
	bad := func() error {
		return Invalid("payload.sealed", "not a sealed box: it must be exactly {\"box\",\"key\",\"to\"} of base64 strings")
	}
	rest, ok := bytes.CutPrefix(raw, []byte(`{"box":"`))
	if !ok {
		return nil, Wrapped{}, bad()
	}
	b64box, rest, ok := bytes.Cut(rest, []byte(`","key":"`))
	if !ok {
		return nil, Wrapped{}, bad()
	}
	b64key, rest, ok := bytes.Cut(rest, []byte(`","to":"`))
	if !ok {
		return nil, Wrapped{}, bad()
	}
	b64to, ok := bytes.CutSuffix(rest, []byte(`"}`))
	if !ok {
		return nil, Wrapped{}, bad()
	}
	enc := base64.StdEncoding
	buf := make([]byte, enc.DecodedLen(len(b64box))+enc.DecodedLen(len(b64key))+enc.DecodedLen(len(b64to)))
	dec := func(b []byte) ([]byte, error) {
		n, err := enc.Decode(buf, b)
		out := buf[:n:n]
		buf = buf[enc.DecodedLen(len(b)):]
		return out, err
	}
	box, err1 := dec(b64box)
	key, err2 := dec(b64key)
	to, err3 := dec(b64to)
	if err := errors.Join(err1, err2, err3); err != nil || len(box) < 16 {
		return nil, Wrapped{}, bad()
	}
	return box, Wrapped{Key: key, To: to}, nil
}

const boxADPrefix = "onebook/event-box/v1\x00"

func boxAD(eventID, typ string) []byte {
	ad := make([]byte, 0, len(boxADPrefix)+len(eventID)+1+len(typ))
	ad = append(append(ad, boxADPrefix...), eventID...)
	return append(append(ad, 0), typ...)
}

func boxSeal(dataKey []byte, eventID, typ string, plain []byte) ([]byte, error) {
	aead, err := gcm(dataKey)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, make([]byte, aead.NonceSize()), plain, boxAD(eventID, typ)), nil
}

// boxOpen opens box in place: the plaintext overwrites it.
func boxOpen(dataKey []byte, eventID, typ string, box []byte) ([]byte, error) {
	aead, err := gcm(dataKey)
	if err != nil {
		return nil, Invalid("payload.sealed", "event %s: bad data key", eventID)
	}
	plain, err := aead.Open(box[:0], make([]byte, aead.NonceSize()), box, boxAD(eventID, typ))
	if err != nil {
		return nil, Invalid("payload.sealed", "event %s: the sealed box does not open with its data key: altered, or not this event's", eventID)
	}
	return plain, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, Errorf(CodeInternal, "data key: %v", err)
	}
	return cipher.NewGCM(b)
}

// pad appends spaces (insignificant in JSON) up to a multiple of
// SealPadding.
func pad(b []byte) []byte {
	n := (len(b)/SealPadding + 1) * SealPadding
	return append(b, bytes.Repeat([]byte{' '}, n-len(b))...)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// DataKeys is a keyring of disclosed data keys, by event id: what an export
// bundle's recipient holds. It opens exactly the events it has keys for; a
// nil key stands for an event whose subject was erased.
type DataKeys map[string][]byte

func (k DataKeys) Wrap(context.Context, string, string, []byte) (Wrapped, error) {
	return Wrapped{}, Errorf(CodeForbidden, "disclosed data keys cannot seal new events")
}

func (k DataKeys) Unwrap(_ context.Context, eventID string, _ Wrapped) ([]byte, error) {
	dk, ok := k[eventID]
	switch {
	case !ok:
		return nil, ErrNoKey
	case dk == nil:
		return nil, fmt.Errorf("event %s: %w", eventID, ErrErased)
	}
	return bytes.Clone(dk), nil
}

// MemoryKeyring keeps subject keys in memory only: for tests and tools
// that start from nothing. Erase destroys a subject's key as the vault's
// Shred does.
type MemoryKeyring struct {
	mu   sync.Mutex
	keys map[string]cipher.AEAD
	ref  cipher.AEAD // encrypts subject references
}

// NewMemoryKeyring returns an empty in-memory keyring.
func NewMemoryKeyring() *MemoryKeyring {
	return &MemoryKeyring{keys: map[string]cipher.AEAD{}, ref: randomAEAD()}
}

func randomAEAD() cipher.AEAD {
	k := make([]byte, 32)
	rand.Read(k)
	a, _ := gcm(k) // a 32-byte key never fails
	return a
}

func (m *MemoryKeyring) Wrap(_ context.Context, subject, eventID string, dataKey []byte) (Wrapped, error) {
	m.mu.Lock()
	k, ok := m.keys[subject]
	if !ok {
		k = randomAEAD()
		m.keys[subject] = k
	}
	m.mu.Unlock()
	key, err := WrapKey(k, "memory\x00"+subject, eventID, dataKey)
	if err != nil {
		return Wrapped{}, err
	}
	to, err := SealRef(m.ref, eventID, subject)
	return Wrapped{Key: key, To: to}, err
}

func (m *MemoryKeyring) Unwrap(_ context.Context, eventID string, w Wrapped) ([]byte, error) {
	subject, err := OpenRef(m.ref, eventID, w.To)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	k, ok := m.keys[subject]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("subject %s: %w", subject, ErrErased)
	}
	return UnwrapKey(k, "memory\x00"+subject, eventID, w.Key)
}

// Erase destroys subject's key.
func (m *MemoryKeyring) Erase(subject string) {
	m.mu.Lock()
	delete(m.keys, subject)
	m.mu.Unlock()
}

// NewAEAD returns AES-256-GCM under key: what WrapKey, UnwrapKey, SealRef
// and OpenRef take, made once per key by a keyring.
func NewAEAD(key []byte) (cipher.AEAD, error) { return gcm(key) }

// WrapKey wraps an event's data key under a subject's key (AES-256-GCM,
// random nonce), bound to the key's name and the event id: a wrapped key
// copied into another event does not unwrap. Keyrings share it.
func WrapKey(aead cipher.AEAD, keyName, eventID string, dataKey []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(dataKey)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, dataKey, wrapAD(keyName, eventID)), nil
}

// UnwrapKey undoes WrapKey.
func UnwrapKey(aead cipher.AEAD, keyName, eventID string, wrapped []byte) ([]byte, error) {
	ns := aead.NonceSize()
	if len(wrapped) < ns {
		return nil, Invalid("payload.sealed.key", "event %s: wrapped key truncated", eventID)
	}
	dk, err := aead.Open(nil, wrapped[:ns], wrapped[ns:], wrapAD(keyName, eventID))
	if err != nil {
		return nil, Invalid("payload.sealed.key", "event %s: the data key does not unwrap with its subject's key", eventID)
	}
	return dk, nil
}

func wrapAD(keyName, eventID string) []byte {
	return []byte("onebook/event-key/v1\x00" + keyName + "\x00" + eventID)
}

// SealRef encrypts a subject reference under refKey (random nonce, bound
// to the event id), so that the same subject reads differently in every
// event.
func SealRef(aead cipher.AEAD, eventID, subject string) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(subject)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(subject), refAD(eventID)), nil
}

// OpenRef undoes SealRef.
func OpenRef(aead cipher.AEAD, eventID string, ref []byte) (string, error) {
	ns := aead.NonceSize()
	if len(ref) < ns {
		return "", Invalid("payload.sealed.to", "event %s: subject reference truncated", eventID)
	}
	s, err := aead.Open(nil, ref[:ns], ref[ns:], refAD(eventID))
	if err != nil {
		return "", Invalid("payload.sealed.to", "event %s: the subject reference does not open here", eventID)
	}
	return string(s), nil
}

func refAD(eventID string) []byte { return []byte("onebook/event-ref/v1\x00" + eventID) }

// RefKey derives the key of subject references from a secret that never
// changes (the blind-index key): references stay readable for good.
func RefKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("onebook/event-ref-key/v1"))
	return m.Sum(nil)
}

// Subjects that are not persons. A person's subject is their person id; a
// case card's is CaseSubject(card id), so that a resident's erasure does
// not erase a report the law requires. The service subjects' keys are
// never destroyed: the records sealed to them (the data-access log, alerts,
// staff bindings, erasures, scans of unknown tokens) must outlive any one
// person, and name persons only by pseudonyms.
const (
	SubjectAccess   = "svc-access"
	SubjectAlerts   = "svc-alerts"
	SubjectStaff    = "svc-staff"
	SubjectErasures = "svc-erasures"
	SubjectGates    = "svc-gates"
)

// CaseSubject is the subject of case card id.
func CaseSubject(id string) string { return "case-" + id }

// ShowsSealed reports whether e shows in clear a field its schema seals:
// an event recorded before sealing existed. Such events stay in the ledger
// (nothing can be rewritten) and open as they are, but are withheld from
// the public (PublicReader).
func (r *Registry) ShowsSealed(e Event) bool {
	s := r.schemas[e.Type]
	if s == nil || len(s.disclose.sealed) == 0 {
		return false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(e.Payload, &fields); err != nil {
		return true // not ours to judge: withhold
	}
	for _, name := range s.disclose.sealed {
		if _, ok := fields[name]; ok {
			return true
		}
	}
	return false
}

// ErrWithheld is the answer to a public read of an event recorded before
// sealing: its hash stays in the tree, its body is withheld.
var ErrWithheld = &Error{Code: CodeForbidden, Message: "this entry was recorded before personal data was sealed: " +
	"its body is withheld from the public; its leaf hash, the tiles, the checkpoints and every proof stay public"}

// PublicReader is what anonymous readers of the ledger get: r, except the
// events that show sealed fields in clear (ShowsSealed), which are withheld.
func PublicReader(r Reader, reg *Registry) Reader { return publicReader{r, reg} }

type publicReader struct {
	Reader
	reg *Registry
}

func (p publicReader) check(rec Recorded) error {
	if bytes.Contains(rec.Raw, []byte(sealedMarker)) {
		return nil // it has a box: recorded since sealing
	}
	e := rec.Event
	if e.ID == "" {
		var err error
		if e, err = Parse(rec.Raw); err != nil {
			return err
		}
	}
	if p.reg.ShowsSealed(e) {
		return ErrWithheld
	}
	return nil
}

func (p publicReader) Read(ctx context.Context, seq uint64) (Recorded, error) {
	rec, err := p.Reader.Read(ctx, seq)
	if err != nil {
		return rec, err
	}
	if err := p.check(rec); err != nil {
		return Recorded{}, err
	}
	return rec, nil
}

func (p publicReader) Scan(ctx context.Context, from, to uint64, fn func(Recorded) error) error {
	return p.Reader.Scan(ctx, from, to, func(rec Recorded) error {
		if err := p.check(rec); err != nil {
			return err
		}
		return fn(rec)
	})
}

// decodeSealed is Decode of a sealed payload at the current version,
// without merging the two halves into one JSON object first (what a
// projector does for every event): the public fields, the box cut out of
// the canonical bytes, and the opened sealed fields are decoded into the
// same value, each strictly.
func (r *Registry) decodeSealed(ctx context.Context, s *schema, e Event, start, end int) (Payload, error) {
	box, w, err := parseBox(e.Payload[start+len(boxKey) : end])
	if err != nil {
		return nil, err
	}
	dataKey, err := r.unwrap(ctx, e.ID, w)
	switch {
	case errors.Is(err, ErrErased):
		pv := reflect.New(s.goType)
		if err := strictDecode(withoutBox(e.Payload, start, end), pv.Interface()); err != nil {
			return nil, Invalid("payload", "event %s v%d: %v", e.Type, s.version, err)
		}
		return pv.Elem().Interface().(Payload), nil // the public fields only, unvalidated (see Decode)
	case err != nil:
		return nil, fmt.Errorf("event %s %s: %w", e.Type, e.ID, err)
	}
	plain, err := boxOpen(dataKey, e.ID, e.Type, box)
	clear(dataKey)
	if err != nil {
		return nil, err
	}
	// One strict decode of both halves as one object: a member in both
	// ends as the box's, as when they are decoded one after the other,
	// which is done when the joined decode fails, to say which half is at
	// fault.
	pv := reflect.New(s.goType)
	all, ok := joinOpened(e.Payload, start, end, plain)
	if !ok || strictDecode(all, pv.Interface()) != nil {
		pv = reflect.New(s.goType)
		if err := strictDecode(withoutBox(e.Payload, start, end), pv.Interface()); err != nil {
			return nil, Invalid("payload", "event %s v%d: %v", e.Type, s.version, err)
		}
		if err := strictDecode(plain, pv.Interface()); err != nil {
			return nil, Invalid("payload.sealed", "event %s v%d: %v", e.Type, s.version, err)
		}
	}
	p := pv.Elem().Interface().(Payload)
	if err := p.Validate(); err != nil {
		return nil, prefixField("payload", err)
	}
	return p, nil
}

func strictDecode(b []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}
