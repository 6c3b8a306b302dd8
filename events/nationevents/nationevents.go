// Package nationevents holds the event schemas of what the national cell
// itself records in the national ledger (beside the provinces' aggregate
// figures, events/aggregates): the log of logs — each province's signed
// checkpoint as the nation recorded it, and the evidence of a province
// that showed the nation two histories —, the national alerts raised and
// cleared on the provinces' figures (alerts.go), and the exports made of
// the national views (exports.go). Every field is public by design: a
// checkpoint is what a province publishes to everyone, a fork is what the
// log of logs exists to make public, an alert and an export name places,
// diseases, counts and offices, never a person.
package nationevents

import (
	"encoding/base64"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/seal"
)

// Event types and the aggregate kind. One aggregate per province log (its
// id is the province code, its region the province), so that the newest
// event of the aggregate is the nation's head of that log, read in one
// request (ledger.Store.Last), and two recorders racing on one province
// are ordered by the ledger's per-aggregate concurrency check.
const (
	TypeCheckpoint = "nation.checkpoint"
	TypeFork       = "nation.fork"
	Kind           = "province_log"
)

// Register adds the log-of-logs events to r.
func Register(r *events.Registry) {
	events.Register[Checkpoint](r, TypeCheckpoint, Kind, 1)
	events.Register[Fork](r, TypeFork, Kind, 1)
	events.Register[AlertRaised](r, TypeAlertRaised, KindAlert, 1)
	events.Register[AlertCleared](r, TypeAlertCleared, KindAlert, 1)
	events.Register[Exported](r, TypeExported, KindExport, 1)
}

// Types are the event types the national cell appends to its own ledger,
// which its routing rule admits (the provinces' figures arrive by
// sourcing, never by an append).
func Types() []string {
	return []string{TypeCheckpoint, TypeFork, TypeAlertRaised, TypeAlertCleared, TypeExported}
}

// Checkpoint records a province's signed checkpoint in the national
// ledger. Size and Root repeat what Note says, so that a reader of the
// national log need not parse notes to follow it; Validate checks that they
// agree. Proof is the RFC 6962 consistency proof from the province
// checkpoint recorded before (size Previous, 0 for the first) to this one,
// as the recorder checked it: the national log carries its own evidence
// that it recorded one linear history, whatever the province serves later.
type Checkpoint struct {
	Province string   `json:"province" disclose:"public"`
	Origin   string   `json:"origin" disclose:"public"`
	Size     uint64   `json:"size" disclose:"public"`
	Root     string   `json:"root" disclose:"public"` // standard base64 of the root hash
	Note     string   `json:"note" disclose:"public"` // the signed note, exactly as the province published it
	Previous uint64   `json:"previous_size" disclose:"public"`
	Proof    []string `json:"proof" disclose:"public"` // base64 hashes; empty when Previous is 0
}

// Fork is the evidence of a province log that is not one history: a
// checkpoint signed with the province's key that is not consistent with
// the one the nation recorded last (Recorded, the head the nation keeps).
// Reason says why: the same size with another root (self-evident), or a
// consistency proof (Proof, from Recorded's size) that does not verify.
type Fork struct {
	Province    string   `json:"province" disclose:"public"`
	Origin      string   `json:"origin" disclose:"public"`
	Recorded    string   `json:"recorded" disclose:"public"`    // signed note of the nation's head
	Conflicting string   `json:"conflicting" disclose:"public"` // signed note the head does not extend
	Proof       []string `json:"proof" disclose:"public"`
	Reason      string   `json:"reason" disclose:"public"`
}

// maxSize bounds tree sizes so that they survive JSON numbers (RFC 8785
// writes them as IEEE doubles).
const maxSize = 1 << 53

// Validate checks that the record is self-consistent: its note says what
// its fields say. Signatures are checked by the recorder and by ops verify
// with the province's key from configuration, never from the event.
func (p Checkpoint) Validate() error {
	if err := validProvince(p.Province); err != nil {
		return err
	}
	cp, err := NoteCheckpoint(p.Note, "note")
	if err != nil {
		return err
	}
	if cp.Origin != p.Origin || cp.Size != p.Size || base64.StdEncoding.EncodeToString(cp.Hash[:]) != p.Root {
		return events.Invalid("note", "the note says %s/%d, the record %s/%d: they must agree", cp.Origin, cp.Size, p.Origin, p.Size)
	}
	if p.Size >= maxSize || p.Previous > p.Size {
		return events.Invalid("previous_size", "previous size %d must not exceed size %d (< 2^53)", p.Previous, p.Size)
	}
	if _, err := DecodeProof(p.Proof, "proof"); err != nil {
		return err
	}
	if p.Previous == 0 && len(p.Proof) != 0 {
		return events.Invalid("proof", "the first record of a province log has no consistency proof")
	}
	return nil
}

// Validate checks that both notes parse and are of the fork's origin.
func (p Fork) Validate() error {
	if err := validProvince(p.Province); err != nil {
		return err
	}
	for _, n := range []struct{ field, text string }{{"recorded", p.Recorded}, {"conflicting", p.Conflicting}} {
		cp, err := NoteCheckpoint(n.text, n.field)
		if err != nil {
			return err
		}
		if cp.Origin != p.Origin {
			return events.Invalid(n.field, "checkpoint of %q, not of the fork's origin %q", cp.Origin, p.Origin)
		}
	}
	if _, err := DecodeProof(p.Proof, "proof"); err != nil {
		return err
	}
	if p.Reason == "" || len(p.Reason) > 500 {
		return events.Invalid("reason", "say why, in at most 500 bytes")
	}
	return nil
}

func validProvince(code string) error {
	if len(code) != 2 || !events.KnownProvince(events.Region(code)) {
		return events.Invalid("province", "%q is not a 2-digit GB/T 2260 province code", code)
	}
	return nil
}

// NoteCheckpoint parses the body of a signed checkpoint note without
// checking its signatures: the text before the blank line that starts the
// signature lines (C2SP signed-note). field names the note in errors.
func NoteCheckpoint(note, field string) (seal.Checkpoint, error) {
	body, _, ok := strings.Cut(note, "\n\n")
	if !ok || len(note) > 16<<10 {
		return seal.Checkpoint{}, events.Invalid(field, "not a signed note (no signature lines, or over 16 KiB)")
	}
	cp, err := seal.ParseCheckpoint(body + "\n")
	if err != nil {
		return seal.Checkpoint{}, events.Invalid(field, "%v", err)
	}
	return cp, nil
}

// EncodeProof writes proof hashes as standard base64 strings.
func EncodeProof(p tlog.TreeProof) []string {
	out := make([]string, len(p))
	for i, h := range p {
		out[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out
}

// DecodeProof reads what EncodeProof wrote; an RFC 6962 proof has at most
// 2·63 hashes.
func DecodeProof(s []string, field string) (tlog.TreeProof, error) {
	if len(s) > 126 {
		return nil, events.Invalid(field, "a consistency proof has at most 126 hashes, not %d", len(s))
	}
	out := make(tlog.TreeProof, len(s))
	for i, h := range s {
		b, err := base64.StdEncoding.Strict().DecodeString(h)
		if err != nil || len(b) != tlog.HashSize {
			return nil, events.Invalid(field, "hash %d is not 32 bytes of base64", i)
		}
		copy(out[i][:], b)
	}
	return out, nil
}
