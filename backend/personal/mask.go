package personal

import (
	"strings"
	"unicode"
)

// The masks below are what views and exports show by default: enough for a
// gate guard or a government analyst to tell people apart in a short list,
// not enough to identify anyone. They accept any string (also one that
// would not parse) and never return more of it than the rule allows.

// MaskName keeps the first character of a Chinese name and replaces each
// other character with "*" (张三 → 张*, 欧阳娜娜 → 欧***); a name in another
// script keeps its first letter followed by a fixed "***" (John Smith →
// J***), so that its length does not show. A one-character name becomes
// "*".
func MaskName(s string) string {
	r := []rune(strings.TrimSpace(s))
	switch {
	case len(r) == 0:
		return ""
	case len(r) == 1:
		return "*"
	case unicode.Is(unicode.Han, r[0]):
		return string(r[0]) + strings.Repeat("*", len(r)-1)
	}
	for _, c := range r {
		if unicode.IsLetter(c) {
			return string(c) + "***"
		}
	}
	return "***"
}

// MaskID keeps the first 6 (the region of issue) and the last 4 characters
// of an ID number and stars the rest, birth date included:
// 110105********1234. Anything too short to keep 10 characters and still
// hide one is starred entirely.
func MaskID(s string) string {
	r := []rune(strings.ToUpper(strings.TrimSpace(narrowString(s))))
	if len(r) < 11 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:6]) + strings.Repeat("*", len(r)-10) + string(r[len(r)-4:])
}

// MaskPhone keeps the first 3 and the last 4 digits of a mobile number:
// 138****5678. A number that does not parse keeps the same 3 and 4
// characters if it has at least 8, and is starred entirely otherwise.
func MaskPhone(s string) string {
	if p, err := ParsePhone(s); err == nil {
		return p.s[:3] + "****" + p.s[7:]
	}
	r := []rune(strings.TrimSpace(s))
	if len(r) < 8 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:3]) + strings.Repeat("*", len(r)-7) + string(r[len(r)-4:])
}
