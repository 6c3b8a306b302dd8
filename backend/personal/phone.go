package personal

import (
	"fmt"
	"strings"

	"github.com/onebook/onebook/events"
)

// Phone is a valid mainland China mobile number, normalised to its 11
// digits (no country code, no separators).
//
// The zero value is not a valid number. String masks it (see [MaskPhone]);
// Value is the number in clear.
type Phone struct{ s string }

// ParsePhone validates s as a mainland mobile number: 11 digits starting
// with 13–19. It accepts a +86, 0086 or 86 country code, spaces and dashes
// between digits, and full-width digits, and drops them all.
func ParsePhone(s string) (Phone, error) {
	s = narrowString(s)
	b := make([]byte, 0, 16)
	plus := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b = append(b, byte(r))
		case r == ' ' || r == '-':
		case r == '+' && len(b) == 0 && !plus && strings.HasPrefix(s[i:], "+86"):
			plus = true // the country code follows as digits; dropped below
		case r == '+':
			return Phone{}, events.Invalid("phone", "only mainland China (+86) mobile numbers are accepted")
		default:
			return Phone{}, events.Invalid("phone", "may contain only digits, spaces, dashes and a +86 prefix")
		}
	}
	switch {
	case plus:
		b = b[2:]
	case len(b) == 13 && string(b[:2]) == "86":
		b = b[2:]
	case len(b) == 15 && string(b[:4]) == "0086":
		b = b[4:]
	}
	switch {
	case len(b) == 0:
		return Phone{}, events.Invalid("phone", "required")
	case len(b) != 11:
		return Phone{}, events.Invalid("phone", "must have 11 digits (a mainland mobile number), has %d", len(b))
	case b[0] != '1' || b[1] < '3':
		return Phone{}, events.Invalid("phone", "a mainland mobile number starts with 13 to 19")
	}
	return Phone{string(b)}, nil
}

// Value returns the 11 digits in clear. Handle them as personal data.
func (p Phone) Value() string { return p.s }

// String returns the masked number, 138****5678.
func (p Phone) String() string { return MaskPhone(p.s) }

// GoString masks the number for %#v as well.
func (p Phone) GoString() string { return fmt.Sprintf("personal.Phone(%q)", p.String()) }
