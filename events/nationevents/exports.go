package nationevents

import (
	"crypto/sha256"
	"encoding/json"
	"strings"

	"github.com/google/uuid"

	"github.com/onebook/onebook/events"
)

// Exports of the national views. The national cell has no accounts: its
// views are public by design, and a bundle of them (backend/exports) is
// the nation's signed, offline-verifiable statement of what its log
// says. Issuing one is an act of the national cell's operator, who holds
// its seal key; each is recorded, before it is written, as an Exported
// event naming the office that asked for it and why.
const (
	TypeExported = "nation.exported"
	KindExport   = "national_export"
)

// Exported records one export bundle of a national view, made against
// the national checkpoint of size TreeSize. By names the office or role
// that made it (public, as a staff account's label is: name an office,
// not a person).
type Exported struct {
	View     string            `json:"view" disclose:"public"`
	Format   string            `json:"format" disclose:"public"`
	Query    map[string]string `json:"query" disclose:"public"`
	TreeSize uint64            `json:"tree_size" disclose:"public"`
	By       string            `json:"by" disclose:"public"`
	Reason   string            `json:"reason" disclose:"public"`
}

// Validate checks that the record names its view, its tree, who made it
// and why.
func (p Exported) Validate() error {
	if !events.IsToken(p.View) {
		return events.Invalid("view", "a view name, got %q", p.View)
	}
	if p.Format != "csv" && p.Format != "xlsx" {
		return events.Invalid("format", "must be csv or xlsx")
	}
	if p.TreeSize == 0 || p.TreeSize >= maxSize {
		return events.Invalid("tree_size", "the size of the national checkpoint the bundle is made against (1 to 2^53)")
	}
	if n := len([]rune(strings.TrimSpace(p.By))); n < 2 || len(p.By) > 100 {
		return events.Invalid("by", "the office or role that exports (2 characters to 100 bytes)")
	}
	if n := len([]rune(strings.TrimSpace(p.Reason))); n < 4 || len(p.Reason) > 500 {
		return events.Invalid("reason", "say why you export (4 characters to 500 bytes)")
	}
	if len(p.Query) > 8 {
		return events.Invalid("query", "at most 8 parameters")
	}
	for k, v := range p.Query {
		if len(k) > 32 || len(v) > 200 {
			return events.Invalid("query", "parameter %q too long", k)
		}
	}
	return nil
}

// ExportAggregate is the aggregate of an export: one per export, its id
// derived from what it records, so that the same export of the same tree
// by the same office for the same reason, retried, is recorded once.
func ExportAggregate(p Exported) (events.Aggregate, string, error) {
	raw, err := json.Marshal(p) // deterministic: fields in order, map keys sorted
	if err != nil {
		return events.Aggregate{}, "", events.Errorf(events.CodeInternal, "encode the export record: %v", err)
	}
	h := sha256.Sum256(raw)
	id := uuid.NewHash(sha256.New(), uuid.NameSpaceURL, []byte(TypeExported+"\n"+string(h[:])), 8).String()
	return events.Aggregate{Kind: KindExport, ID: id}, id, nil
}
