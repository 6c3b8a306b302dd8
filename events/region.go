package events

import (
	"slices"
	"strings"
)

// Region is an administrative division code after GB/T 2260, extended downwards
// the way Chinese statistics codes are: 2 digits name a province, 4 a city
// (prefecture), 6 a district (county), 9 a street (township) and 12 a
// community (village committee). Because the code of a division is a prefix of
// the codes of every division inside it, a scope check is a prefix check.
type Region string

// National is the scope of the whole country (national CDC, national
// review). It is not a GB/T 2260 code; it covers every region.
const National Region = "CN"

// regionLengths are the only lengths a region code may have.
var regionLengths = [...]int{2, 4, 6, 9, 12}

// ParseRegion validates s as a region code.
func ParseRegion(s string) (Region, error) {
	if s == string(National) {
		return National, nil
	}
	ok := false
	for _, n := range regionLengths {
		if len(s) == n {
			ok = true
			break
		}
	}
	if !ok {
		return "", Invalid("region", "region code %q must have 2, 4, 6, 9 or 12 digits", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", Invalid("region", "region code %q must be digits only", s)
		}
	}
	if s[:2] == "00" {
		return "", Invalid("region", "region code %q has no province", s)
	}
	return Region(s), nil
}

// Covers reports whether r is r2 or contains it.
func (r Region) Covers(r2 Region) bool {
	if r == National {
		return r2 != ""
	}
	return r != "" && strings.HasPrefix(string(r2), string(r))
}

// Province returns the 2-digit province code of r.
func (r Region) Province() Region {
	if len(r) < 2 {
		return ""
	}
	return r[:2]
}

// Parent returns the region directly above r, or "" for a province.
func (r Region) Parent() Region {
	for i := len(regionLengths) - 1; i > 0; i-- {
		if len(r) == regionLengths[i] {
			return r[:regionLengths[i-1]]
		}
	}
	return ""
}

// provinces are the 2-digit codes of GB/T 2260's provincial divisions
// (including Taiwan 71, Hong Kong 81 and Macao 82).
func provinces() []string {
	return []string{"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
		"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"}
}

// KnownProvince reports whether r lies in a province of GB/T 2260. onebook
// does not ship the full division table (it changes every year), so finer
// codes are checked for shape only.
func KnownProvince(r Region) bool {
	return len(r) >= 2 && slices.Contains(provinces(), string(r[:2]))
}
