package provincelogs

import (
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/seal"
)

// Link is one checked step of a chain.
type Link struct {
	What  string `json:"what"`
	Proof int    `json:"proof_hashes"` // hashes in its proof
}

// ChainReport is the chain from a national checkpoint down to one province
// event, every link checked.
type ChainReport struct {
	Province events.Region `json:"province"`
	Index    uint64        `json:"index"` // leaf index of the event in the province log
	Event    string        `json:"event"` // its id and type
	Links    []Link        `json:"links"`
}

// Chain checks that the national checkpoint rep.National (from Audit)
// commits to province event index of province code: the national entry
// recording the first province checkpoint that covers the event is in the
// national tree (an inclusion proof from the national tiles), that
// checkpoint is signed with the province's key (Audit checked it), and the
// event's bytes, as the province serves them, are in the tree that
// checkpoint commits to (an inclusion proof from the province's tiles).
// The first covering checkpoint is used because it is the earliest moment
// the nation committed to the event. A broken link is an error with code
// events.CodeInvalid.
func Chain(ctx context.Context, rep Report, national, province Log, code events.Region, index uint64) (ChainReport, error) {
	out := ChainReport{Province: code, Index: index}
	var rec *Recorded
	for i := range rep.Provinces {
		if rep.Provinces[i].Code != code {
			continue
		}
		for j := range rep.Provinces[i].records {
			if r := &rep.Provinces[i].records[j]; r.Checkpoint.Size > index {
				rec = r
				break
			}
		}
	}
	if rec == nil {
		return out, events.Errorf(events.CodeNotFound, "no checkpoint of province %s recorded in the national log covers event %d", code, index)
	}
	// National checkpoint → national entry.
	natEntry, err := national.Entry(ctx, rec.Index, rep.National.Size)
	if err != nil {
		return out, fmt.Errorf("national entry %d: %w", rec.Index, err)
	}
	leaf, proof, err := national.ProveInclusion(ctx, rec.Index, rep.National.Size)
	if err != nil {
		return out, fmt.Errorf("national inclusion proof of entry %d: %w", rec.Index, err)
	}
	if err := includes(rep.National, rec.Index, natEntry, leaf, proof); err != nil {
		return out, fmt.Errorf("national entry %d: %w", rec.Index, err)
	}
	out.Links = append(out.Links, Link{What: fmt.Sprintf("national checkpoint %s size %d (root %s) includes national entry %d",
		rep.National.Origin, rep.National.Size, b64(rep.National.Hash), rec.Index), Proof: len(proof)})
	out.Links = append(out.Links, Link{What: fmt.Sprintf("national entry %d records province %s's checkpoint %s size %d (root %s), signed with its key",
		rec.Index, code, rec.Checkpoint.Origin, rec.Checkpoint.Size, b64(rec.Checkpoint.Hash))})
	// Province checkpoint → province event.
	raw, err := province.Entry(ctx, index, rec.Checkpoint.Size)
	if err != nil {
		return out, fmt.Errorf("province %s entry %d: %w", code, index, err)
	}
	leaf, proof, err = province.ProveInclusion(ctx, index, rec.Checkpoint.Size)
	if err != nil {
		return out, fmt.Errorf("province %s inclusion proof of event %d: %w", code, index, err)
	}
	if err := includes(rec.Checkpoint, index, raw, leaf, proof); err != nil {
		return out, fmt.Errorf("province %s event %d: %w", code, index, err)
	}
	e, err := events.Parse(raw)
	if err != nil {
		return out, fmt.Errorf("province %s event %d: %w", code, index, err)
	}
	out.Event = e.ID + " " + e.Type
	out.Links = append(out.Links, Link{What: fmt.Sprintf("province checkpoint size %d includes event %d (%s %s)",
		rec.Checkpoint.Size, index, e.Type, e.ID), Proof: len(proof)})
	return out, nil
}

// includes checks that raw hashes to the served leaf and that the
// inclusion proof leads from it to cp's root.
func includes(cp seal.Checkpoint, index uint64, raw []byte, leaf tlog.Hash, proof tlog.RecordProof) error {
	if tlog.RecordHash(raw) != leaf {
		return events.Invalid("entry", "the served bytes of entry %d do not hash to its leaf in the served tiles", index)
	}
	return seal.VerifyInclusion(cp, index, leaf, proof)
}
