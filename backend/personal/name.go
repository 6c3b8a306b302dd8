package personal

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/onebook/onebook/events"
)

// Name is a person's name as on their identity document: Chinese names,
// names of ethnic minorities and foreigners with the separating dot
// ("阿沛·阿旺晋美"), Latin names.
//
// The zero value is not a valid name. String masks it (see [MaskName]);
// Value is the name in clear.
type Name struct{ s string }

// maxNameRunes bounds a name; the longest names on Chinese documents
// (transliterated minority and foreign names) stay well below it.
const maxNameRunes = 64

// ParseName validates and normalises s: surrounding white space trimmed,
// inner runs of white space made one space, the look-alikes of the
// separating dot (•, ・, ‧, ∙, ⋅) made "·" (U+00B7, the dot of the Ministry
// of Public Security's standard), 1 to 64 characters, at least one letter.
// Control and invisible formatting characters are refused (they can
// reorder or hide what a view shows), and so are digits and "*": a name
// with an asterisk is almost surely a masked one sent back by mistake.
func ParseName(s string) (Name, error) {
	if !utf8.ValidString(s) {
		return Name{}, events.Invalid("name", "is not valid UTF-8")
	}
	var b strings.Builder
	n, letters, space := 0, 0, false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case unicode.IsControl(r):
			return Name{}, events.Invalid("name", "contains a control character (%U)", r)
		case unicode.Is(unicode.Cf, r):
			return Name{}, events.Invalid("name", "contains an invisible formatting character (%U)", r)
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsDigit(r):
			return Name{}, events.Invalid("name", "contains a digit")
		case r == '*':
			return Name{}, events.Invalid("name", "contains '*'; a masked name cannot be registered")
		case unicode.IsLetter(r):
			letters++
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		switch r {
		case '•', '・', '‧', '∙', '⋅', '･':
			r = '·'
		}
		b.WriteRune(r)
		n++
	}
	switch {
	case n == 0:
		return Name{}, events.Invalid("name", "required")
	case n > maxNameRunes:
		return Name{}, events.Invalid("name", "has %d characters, at most %d allowed", n, maxNameRunes)
	case letters == 0:
		return Name{}, events.Invalid("name", "must contain a letter")
	}
	return Name{b.String()}, nil
}

// Value returns the name in clear. Handle it as personal data.
func (n Name) Value() string { return n.s }

// String returns the masked name (see [MaskName]).
func (n Name) String() string { return MaskName(n.s) }

// GoString masks the name for %#v as well.
func (n Name) GoString() string { return fmt.Sprintf("personal.Name(%q)", n.String()) }
