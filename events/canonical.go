package events

import (
	"bytes"
	"strconv"
	"time"

	"github.com/gowebpki/jcs"
)

// Checking canonical bytes without re-encoding them.
//
// Parse must refuse every byte string that is not exactly what Canonical
// produces. The straightforward check re-encodes the event (a general
// RFC 8785 canonicaliser over the payload) and compares; it was a third of
// a projector's CPU per event. parseCanonical checks the same property by
// reading the bytes once, and is only allowed to say yes: wherever it is
// not certain (a key outside plain ASCII, nesting deeper than
// maxCanonicalDepth, anything unexpected) it says no, and Parse falls back
// to re-encoding, which then accepts or names the problem. So Parse
// accepts exactly what it accepted before; FuzzParseCanonical and
// FuzzCanonicalPayload check that whatever the fast path accepts, the
// re-encoding path accepts too, as the same event.

// maxCanonicalDepth bounds the nesting the fast check follows; deeper
// payloads (none of onebook's) take the re-encoding path.
const maxCanonicalDepth = 32

// The envelope as Canonical writes it: the literal text between its
// fields, in order.
const (
	envActorID   = `{"actor":{"id":"`
	envRole      = `","role":"`
	envAggID     = `"},"aggregate":{"id":"`
	envKind      = `","kind":"`
	envID        = `"},"id":"`
	envPayload   = `","payload":`
	envRegion    = `,"region":"`
	envTime      = `","time":"`
	envType      = `","type":"`
	envVersion   = `","v":`
	envClose     = `}`
	envMaxFields = 512 // room for the envelope's bytes besides the payload: a gate scan's take about 240
)

// appendCanonical appends the canonical bytes of e, whose payload is
// already in RFC 8785 form, to b. Validate must have accepted e: it
// restricts every envelope string to characters JCS leaves unescaped.
func appendCanonical(b []byte, e *Event, payload []byte) []byte {
	b = append(b, envActorID...)
	b = append(b, e.Actor.ID...)
	b = append(b, envRole...)
	b = append(b, e.Actor.Role...)
	b = append(b, envAggID...)
	b = append(b, e.Aggregate.ID...)
	b = append(b, envKind...)
	b = append(b, e.Aggregate.Kind...)
	b = append(b, envID...)
	b = append(b, e.ID...)
	b = append(b, envPayload...)
	b = append(b, payload...)
	b = append(b, envRegion...)
	b = append(b, e.Region...)
	b = append(b, envTime...)
	b = e.Time.AppendFormat(b, timeFormat)
	b = append(b, envType...)
	b = append(b, e.Type...)
	b = append(b, envVersion...)
	b = strconv.AppendInt(b, int64(e.Version), 10)
	return append(b, envClose...)
}

// timeFormat is how Canonical writes the time: RFC 3339 in UTC, with as
// many fractional digits as needed.
const timeFormat = "2006-01-02T15:04:05.999999999Z07:00"

// parseCanonical reads b in the layout appendCanonical writes. It returns
// ok only if b is exactly the canonical bytes of the event it returns;
// otherwise the caller must decide by re-encoding (see above).
func parseCanonical(b []byte) (e Event, ok bool) {
	r := canonicalReader{b: b, rest: b}
	if !r.head(&e) {
		return Event{}, false
	}
	r.rest = r.rest[len(envPayload):]
	end, ok := canonicalValue(r.rest, 0, 0)
	if !ok || len(r.rest) == 0 || r.rest[0] != '{' {
		return Event{}, false
	}
	at := len(b) - len(r.rest) // where the payload starts in b
	payload := r.rest[:end]
	r.rest = r.rest[end:]
	region, ok := r.cut(envRegion, envTime)
	if !ok {
		return Event{}, false
	}
	e.Region = Region(region)
	if e.Time, ok = r.time(); !ok {
		return Event{}, false
	}
	if e.Type, ok = r.cut(envType, envVersion); !ok {
		return Event{}, false
	}
	if e.Version, ok = r.version(); !ok {
		return Event{}, false
	}
	e.Payload = payload
	if e.Validate() != nil {
		return Event{}, false
	}
	// Written back, the envelope must give the very same bytes: this
	// checks the time's and the version's form, and that no field held a
	// separator. The payload, checked above where it stands in b, is left
	// out: written back too, it was half the cost of parsing a sealed
	// event (its box is most of its bytes).
	var buf [envMaxFields]byte
	env := appendCanonical(buf[:0], &e, nil)
	if len(env) != len(b)-len(payload) || !bytes.Equal(env[:at], b[:at]) || !bytes.Equal(env[at:], b[at+len(payload):]) {
		return Event{}, false
	}
	e.Payload = bytes.Clone(payload)
	return e, true
}

// canonicalReader reads the fields of b in the layout appendCanonical
// writes; rest is what is left of b to read.
type canonicalReader struct {
	b, rest []byte
}

// cut cuts the next field: the text up to sep, after the literal prefix
// that precedes it.
func (r *canonicalReader) cut(prefix, sep string) (string, bool) {
	var ok bool
	if r.rest, ok = bytes.CutPrefix(r.rest, []byte(prefix)); !ok {
		return "", false
	}
	i := bytes.Index(r.rest, []byte(sep))
	if i < 0 {
		return "", false
	}
	s := string(r.rest[:i])
	r.rest = r.rest[i:]
	return s, true
}

// head reads the fields before the payload: the actor, the aggregate and
// the event's id.
func (r *canonicalReader) head(e *Event) bool {
	var ok bool
	if e.Actor.ID, ok = r.cut(envActorID, envRole); !ok {
		return false
	}
	if e.Actor.Role, ok = r.cut(envRole, envAggID); !ok {
		return false
	}
	if e.Aggregate.ID, ok = r.cut(envAggID, envKind); !ok {
		return false
	}
	if e.Aggregate.Kind, ok = r.cut(envKind, envID); !ok {
		return false
	}
	e.ID, ok = r.cut(envID, envPayload)
	return ok
}

// time reads the time, in UTC, as the slow path reads it (encoding/json
// calls UnmarshalJSON); parseCanonical's comparison checks it writes back
// the same.
func (r *canonicalReader) time() (time.Time, bool) {
	r.rest = r.rest[len(envTime):]
	i := bytes.IndexByte(r.rest, '"')
	if i < 0 {
		return time.Time{}, false
	}
	var t time.Time
	if err := t.UnmarshalJSON(r.b[len(r.b)-len(r.rest)-1 : len(r.b)-len(r.rest)+i+1]); err != nil {
		return time.Time{}, false
	}
	r.rest = r.rest[i:]
	return t.UTC(), true
}

// version reads the version, the last field: up to nine digits.
func (r *canonicalReader) version() (int, bool) {
	r.rest = r.rest[len(envVersion):]
	v, ok := bytes.CutSuffix(r.rest, []byte(envClose))
	if !ok || len(v) == 0 || len(v) > 9 {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, false
	}
	return n, true
}

// canonicalValue checks that the JSON value at b[i:] is in RFC 8785 form
// as the jcs package writes it, and returns the index just past it. It
// says no whenever it is not certain.
func canonicalValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '{':
		return canonicalObject(b, i, depth+1)
	case c == '[':
		return canonicalArray(b, i, depth+1)
	case c == '"':
		end, _, ok := canonicalString(b, i)
		return end, ok
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	default:
		return canonicalNumber(b, i)
	}
}

func literal(b []byte, i int, lit string) (int, bool) {
	if !bytes.HasPrefix(b[i:], []byte(lit)) {
		return 0, false
	}
	return i + len(lit), true
}

// canonicalObject checks an object: no whitespace, keys in strictly
// increasing order. Keys are compared byte by byte, which is RFC 8785's
// order (UTF-16 code units) only for ASCII without escapes: any other key
// is left to the re-encoding path.
func canonicalObject(b []byte, i, depth int) (int, bool) {
	if depth > maxCanonicalDepth {
		return 0, false
	}
	i++ // {
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	var prev []byte
	for {
		end, plain, ok := canonicalString(b, i)
		if !ok || !plain {
			return 0, false
		}
		key := b[i+1 : end-1]
		if prev != nil && bytes.Compare(prev, key) >= 0 {
			return 0, false
		}
		prev = key
		if end >= len(b) || b[end] != ':' {
			return 0, false
		}
		if i, ok = canonicalValue(b, end+1, depth); !ok || i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

func canonicalArray(b []byte, i, depth int) (int, bool) {
	if depth > maxCanonicalDepth {
		return 0, false
	}
	i++ // [
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = canonicalValue(b, i, depth); !ok || i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// canonicalString checks a string as the jcs package writes one: every
// byte as it is, except '"' and '\\' and the control characters, which are
// escaped as \" \\ \b \t \n \f \r or else \u00xx in lower-case hex. (jcs
// copies bytes from 0x80 up as they are, valid UTF-8 or not, and so does
// this check.) plain reports printable ASCII without escapes.
func canonicalString(b []byte, i int) (end int, plain, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false, false
	}
	plain = true
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			continue // the common case first
		}
		switch {
		case c == '"':
			return j + 1, plain, true
		case c < 0x20:
			return 0, false, false
		case c >= 0x7f:
			plain = false
		case c == '\\':
			plain = false
			if j+1 >= len(b) {
				return 0, false, false
			}
			j++
			switch b[j] {
			case '"', '\\', 'b', 't', 'n', 'f', 'r':
			case 'u':
				if j+4 >= len(b) || b[j+1] != '0' || b[j+2] != '0' {
					return 0, false, false
				}
				hi, lo := b[j+3], b[j+4]
				if hi != '0' && hi != '1' || !(lo >= '0' && lo <= '9' || lo >= 'a' && lo <= 'f') {
					return 0, false, false
				}
				switch v := (hi-'0')<<4 | hexDigit(lo); v {
				case '\b', '\t', '\n', '\f', '\r':
					return 0, false, false // written with the short escape
				}
				j += 4
			default:
				return 0, false, false
			}
		}
	}
	return 0, false, false
}

func hexDigit(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// canonicalNumber checks a number as RFC 8785 writes it (ECMAScript's
// Number.prototype.toString). An integer of up to 15 digits without a
// leading zero is its own form (it is exact in a double); any other is
// compared with jcs.NumberToJSON of its value, as jcs does.
func canonicalNumber(b []byte, i int) (int, bool) {
	j := i
	for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e') {
		j++
	}
	tok := b[i:j]
	digits := tok
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	simple := len(digits) > 0 && len(digits) <= 15 && (digits[0] != '0' || len(tok) == 1)
	for _, c := range digits {
		if c < '0' || c > '9' {
			simple = false
			break
		}
	}
	if simple {
		return j, true
	}
	if len(tok) == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return 0, false
	}
	s, err := jcs.NumberToJSON(f)
	if err != nil || s != string(tok) {
		return 0, false
	}
	return j, true
}
