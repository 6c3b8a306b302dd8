package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/gowebpki/jcs"
)

// MaxEventSize bounds the canonical bytes of one event. The stream is
// configured with the same limit so the bound holds end to end. It is one
// byte short of 64 KiB because a C2SP tlog-tiles entry bundle writes each
// entry's length as a uint16.
const MaxEventSize = 64<<10 - 1

// Aggregate names the consistency boundary an event belongs to: a pass, a
// person, a gate, a donation. Events of one aggregate are totally ordered and
// appended with optimistic concurrency on it.
type Aggregate struct {
	Kind string `json:"kind"` // lower-case token: [a-z][a-z0-9_]*
	ID   string `json:"id"`   // token: [A-Za-z0-9_-]{1,64}
}

func (a Aggregate) String() string { return a.Kind + "/" + a.ID }

// Actor is who caused an event: a role and the id of the account in it.
// System processes use role "system".
type Actor struct {
	Role string `json:"role"`
	ID   string `json:"id"`
}

// Event is the one envelope of every fact onebook records. Its canonical bytes
// (see Canonical) are what the ledger stores and the Merkle seal hashes; they
// are produced once, at append, and never re-encoded afterwards.
type Event struct {
	ID        string          `json:"id"`   // UUID (v7 when generated here); doubles as the dedup key
	Type      string          `json:"type"` // e.g. "pass.scanned"
	Version   int             `json:"v"`    // schema version of Payload
	Aggregate Aggregate       `json:"aggregate"`
	Region    Region          `json:"region"`
	Actor     Actor           `json:"actor"`
	Time      time.Time       `json:"time"` // when it happened (client time for offline scans), UTC
	Payload   json.RawMessage `json:"payload"`
}

// NewID returns a fresh time-ordered event id (UUIDv7, RFC 9562).
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// Validate checks the envelope, not the payload (see Registry for that).
func (e *Event) Validate() error {
	if _, err := uuid.Parse(e.ID); err != nil || len(e.ID) != 36 {
		return Invalid("id", "event id %q is not a UUID in canonical form", e.ID)
	}
	if !isKind(e.Type, true) {
		return Invalid("type", "event type %q must be dot-separated lower-case words", e.Type)
	}
	if e.Version < 1 {
		return Invalid("v", "schema version must be at least 1, got %d", e.Version)
	}
	if !isKind(e.Aggregate.Kind, false) {
		return Invalid("aggregate.kind", "aggregate kind %q must be a lower-case word", e.Aggregate.Kind)
	}
	if !IsToken(e.Aggregate.ID) {
		return Invalid("aggregate.id", "aggregate id %q must be 1-64 of [A-Za-z0-9_-]", e.Aggregate.ID)
	}
	if _, err := ParseRegion(string(e.Region)); err != nil {
		return err
	}
	if !isKind(e.Actor.Role, false) {
		return Invalid("actor.role", "actor role %q must be a lower-case word", e.Actor.Role)
	}
	if e.Actor.ID != "" && !IsToken(e.Actor.ID) {
		return Invalid("actor.id", "actor id %q must be 1-64 of [A-Za-z0-9_-]", e.Actor.ID)
	}
	if e.Time.IsZero() {
		return Invalid("time", "time is required")
	}
	if e.Time.Location() != time.UTC {
		return Invalid("time", "time must be UTC")
	}
	if y := e.Time.Year(); y < 1 || y > 9999 {
		return Invalid("time", "year %d is outside 1–9999", y)
	}
	if len(e.Payload) == 0 || e.Payload[0] != '{' {
		return Invalid("payload", "payload must be a JSON object")
	}
	return nil
}

// Subject is the JetStream subject the event is stored under:
// ledger.<region>.<aggregate-kind>.<aggregate-id>. Consumers filter on it
// (by region prefix is not possible with tokens, by exact region and kind is).
func (e *Event) Subject() string {
	return SubjectPrefix + "." + string(e.Region) + "." + e.Aggregate.Kind + "." + e.Aggregate.ID
}

// SubjectPrefix is the first token of every ledger subject.
const SubjectPrefix = "ledger"

// Canonical returns the canonical bytes of e: JSON canonicalized per RFC 8785
// (JCS: sorted keys, no insignificant whitespace, ES6 number form), with the
// time in RFC 3339 UTC. These bytes are what gets stored and hashed.
func (e *Event) Canonical() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	// Only the payload needs a general RFC 8785 canonicalizer, and only
	// when it is not in canonical form already (canonicalValue: a payload
	// that is, is its own canonical form). The envelope is written
	// directly, its keys in sorted order: Validate restricts every
	// envelope string to ASCII letters, digits and "._-" (and the RFC 3339
	// time), which JCS leaves unescaped. This is several times faster than
	// canonicalizing the whole envelope, and TestCanonicalFastPath checks
	// it gives the same bytes.
	payload := []byte(e.Payload)
	if end, ok := canonicalValue(payload, 0, 0); !ok || end != len(payload) {
		var err error
		if payload, err = jcs.Transform(e.Payload); err != nil {
			return nil, Invalid("payload", "not valid JSON: %v", err)
		}
	}
	b := appendCanonical(make([]byte, 0, envMaxFields+len(payload)), e, payload)
	if len(b) > MaxEventSize {
		return nil, Errorf(CodeTooLarge, "event is %d bytes, the limit is %d", len(b), MaxEventSize)
	}
	return b, nil
}

// Parse decodes canonical event bytes as stored in the ledger. It refuses
// bytes that are not in canonical form, so that one event has exactly one
// byte representation and therefore one leaf hash.
func Parse(b []byte) (Event, error) {
	if len(b) > MaxEventSize {
		return Event{}, Errorf(CodeTooLarge, "event is %d bytes, the limit is %d", len(b), MaxEventSize)
	}
	if e, ok := parseCanonical(b); ok {
		return e, nil
	}
	return parseReencoding(b)
}

// parseReencoding is Parse by decoding b and re-encoding the event: the
// definition of Parse, and the path of every byte string the fast check
// (parseCanonical) is not certain of, including every one refused.
func parseReencoding(b []byte) (Event, error) {
	var e Event
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, Invalid("", "event is not a valid envelope: %v", err)
	}
	if dec.More() {
		return e, Invalid("", "trailing data after event")
	}
	e.Time = e.Time.UTC()
	// Re-encoding and comparing is stricter than checking JCS form alone:
	// encoding/json matches keys case-insensitively and accepts times
	// that do not round-trip, so only the bytes Canonical itself would
	// produce are accepted.
	canon, err := e.Canonical()
	if err != nil {
		return e, err
	}
	if !bytes.Equal(canon, b) {
		return e, Invalid("", "event bytes are not canonical (RFC 8785 with the envelope's field names)")
	}
	return e, nil
}

// isKind reports whether s is a lower-case word ([a-z][a-z0-9_]*), or with
// dotted set, such words joined by dots.
func isKind(s string, dotted bool) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	start := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case (c >= '0' && c <= '9') || c == '_':
			if start {
				return false
			}
		case c == '.' && dotted:
			if start {
				return false
			}
			start = true
			continue
		default:
			return false
		}
		start = false
	}
	return !start
}

// IsToken reports whether s can stand as one NATS subject token and an id:
// 1 to 64 of [A-Za-z0-9_-]. Aggregate and actor ids always are, so views may
// build document keys from them, split on other characters.
func IsToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// String is for logs.
func (e *Event) String() string {
	return fmt.Sprintf("%s %s v%d %s", e.ID, e.Type, e.Version, e.Aggregate)
}
