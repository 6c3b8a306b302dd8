package personal

import (
	"fmt"
	"strings"
	"time"

	"github.com/onebook/onebook/events"
)

// IDNumber is a valid 18-character resident identity number (公民身份号码)
// after GB 11643-1999, normalised to ASCII digits and an upper-case X.
//
// The zero value is not a valid number. String masks it, so that printing
// or logging an IDNumber by accident does not leak it; Value is the number
// in clear.
type IDNumber struct{ s string }

// idWeights are the weights of the first 17 characters in the ISO 7064
// MOD 11-2 check (GB 11643-1999 §7.2): 2^(18-i) mod 11 for i = 1..17.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChars maps the weighted sum mod 11 to the check character.
const idCheckChars = "10X98765432"

// ParseIDNumber validates s as a resident identity number: 6-digit region
// code, 8-digit birth date (a real date, not in the future, year 1900 or
// later), 3-digit sequence code and the ISO 7064 MOD 11-2 check character.
// Surrounding spaces, full-width digits and a lower-case x are accepted.
func ParseIDNumber(s string) (IDNumber, error) {
	return parseIDNumber(s, time.Now())
}

func parseIDNumber(s string, now time.Time) (IDNumber, error) {
	s = strings.ToUpper(strings.TrimSpace(narrowString(s)))
	r := []rune(s)
	switch n := len(r); {
	case n == 0:
		return IDNumber{}, events.Invalid("id_number", "required")
	case n == 15:
		return IDNumber{}, events.Invalid("id_number", "has 15 characters: first-generation numbers are no longer valid; give the 18-character number")
	case n != 18:
		return IDNumber{}, events.Invalid("id_number", "must have 18 characters, has %d", n)
	}
	sum := 0
	for i, c := range r[:17] {
		if c < '0' || c > '9' {
			return IDNumber{}, events.Invalid("id_number", "character %d is not a digit; only the last may be X", i+1)
		}
		sum += int(c-'0') * idWeights[i]
	}
	if c := r[17]; (c < '0' || c > '9') && c != 'X' {
		return IDNumber{}, events.Invalid("id_number", "the check character must be a digit or X")
	}
	// From here on s is 18 ASCII bytes.
	if _, err := idBirth(s[6:14], now); err != nil {
		return IDNumber{}, err
	}
	if got, want := s[17], idCheckChars[sum%11]; got != want {
		return IDNumber{}, events.Invalid("id_number", "check digit is %c, expected %c", got, want)
	}
	return IDNumber{s}, nil
}

// idBirth parses the birth date field (YYYYMMDD, digits already checked).
func idBirth(f string, now time.Time) (time.Time, error) {
	y, m, d := atoi(f[:4]), atoi(f[4:6]), atoi(f[6:8])
	if y < 1900 {
		return time.Time{}, events.Invalid("id_number", "birth year %d is before 1900", y)
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return time.Time{}, events.Invalid("id_number", "birth date %04d-%02d-%02d does not exist", y, m, d)
	}
	ty, tm, td := now.In(events.China()).Date()
	if t.After(time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC)) {
		return time.Time{}, events.Invalid("id_number", "birth date %s is in the future", t.Format(time.DateOnly))
	}
	return t, nil
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// Value returns the number in clear: 18 characters, digits and maybe a
// final upper-case X. Handle it as personal data.
func (id IDNumber) Value() string { return id.s }

// String returns the masked number (see [MaskID]).
func (id IDNumber) String() string { return MaskID(id.s) }

// GoString masks the number for %#v as well.
func (id IDNumber) GoString() string { return fmt.Sprintf("personal.IDNumber(%q)", id.String()) }

// Region returns the 6-digit administrative division code of the place
// where the number was first issued (GB/T 2260 at that time; it may name a
// division that no longer exists, so do not read it as today's region).
func (id IDNumber) Region() string {
	if id.s == "" {
		return ""
	}
	return id.s[:6]
}

// Birth returns the date of birth as midnight UTC: a calendar date, not an
// instant.
func (id IDNumber) Birth() time.Time {
	if id.s == "" {
		return time.Time{}
	}
	return time.Date(atoi(id.s[6:10]), time.Month(atoi(id.s[10:12])), atoi(id.s[12:14]), 0, 0, 0, 0, time.UTC)
}

// Last4 returns the last four characters, which gate staff may ask for to
// match a pass to its holder.
func (id IDNumber) Last4() string {
	if id.s == "" {
		return ""
	}
	return id.s[14:]
}
