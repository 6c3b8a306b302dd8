// Package orgs holds the event schemas of organisations: hospitals that
// report cases, CDCs, and (for donations) donors, logistics companies and
// warehouses. An organisation registers with its certification details and
// acts only once an admin has approved it.
package orgs

import (
	"regexp"
	"slices"

	"github.com/onebook/onebook/events"
)

// Event types and the aggregate kind.
const (
	TypeRegistered = "org.registered"
	TypeApproved   = "org.approved"
	Kind           = "org"
)

// Register adds the organisation events to r.
func Register(r *events.Registry) {
	events.Register[Registered](r, TypeRegistered, Kind, 1)
	events.Register[Approved](r, TypeApproved, Kind, 1)
}

// Organisation kinds.
const (
	Hospital  = "hospital"
	CDC       = "cdc"
	Donor     = "donor"
	Logistics = "logistics"
	Warehouse = "warehouse"
	Charity   = "charity"
)

// Kinds lists the organisation kinds.
func Kinds() []string { return []string{Hospital, CDC, Donor, Logistics, Warehouse, Charity} }

// licence is the shape of a unified social credit code (统一社会信用代码,
// GB 32100-2015): 18 characters of digits and capital letters other than
// I, O, Z, S, V. Its check character is verified by ValidLicence.
var licence = regexp.MustCompile(`^[0-9A-HJ-NPQRTUWXY]{18}$`)

// ValidLicence reports whether s is a unified social credit code with a
// correct check character (GB 32100-2015 §5: weights 3^i mod 31 over the
// first 17 characters; check = 31 - sum mod 31, 31 written as 0).
func ValidLicence(s string) bool {
	if !licence.MatchString(s) {
		return false
	}
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	weights := [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	sum := 0
	for i := 0; i < 17; i++ {
		v := indexOf(alphabet, s[i])
		if v < 0 {
			return false
		}
		sum += v * weights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return alphabet[c] == s[17]
}

func indexOf(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

// Registered: an organisation registered. DocsHash is the SHA-256 (hex) of
// the certification documents it submitted; the documents stay outside the
// ledger.
type Registered struct {
	Kind     string        `json:"kind" disclose:"public"`
	Name     string        `json:"name" disclose:"public"`
	Region   events.Region `json:"region" disclose:"public"`  // where it is, as precise as known
	Licence  string        `json:"licence" disclose:"public"` // unified social credit code
	DocsHash string        `json:"docs_hash" disclose:"public"`
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (p Registered) Validate() error {
	if !slices.Contains(Kinds(), p.Kind) {
		return events.Invalid("kind", "unknown organisation kind %q (one of %v)", p.Kind, Kinds())
	}
	if n := len([]rune(p.Name)); n < 2 || len(p.Name) > 128 {
		return events.Invalid("name", "a name of 2 characters to 128 bytes is required")
	}
	if _, err := events.ParseRegion(string(p.Region)); err != nil {
		return events.Invalid("region", "%v", err)
	}
	if !ValidLicence(p.Licence) {
		return events.Invalid("licence", "%q is not a unified social credit code (18 characters with a valid check character)", p.Licence)
	}
	if !hexSHA256.MatchString(p.DocsHash) {
		return events.Invalid("docs_hash", "must be the lowercase hex SHA-256 of the certification documents")
	}
	return nil
}

// Approved: an admin checked the certification and approved the
// organisation.
type Approved struct {
	Note string `json:"note,omitempty" disclose:"public"`
}

func (p Approved) Validate() error {
	if len(p.Note) > 500 {
		return events.Invalid("note", "at most 500 bytes")
	}
	return nil
}
