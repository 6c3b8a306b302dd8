package api

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
)

// checkpoint serves the latest signed checkpoint as a C2SP signed note, or
// with ?size=N the published checkpoint of that size, each with the
// cosignatures witnesses submitted for it as further signature lines.
func (h *handlers) checkpoint(c *fiber.Ctx) error {
	ctx := c.UserContext()
	var msg []byte
	if c.Query("size") != "" {
		size, err := uintParam(c, "size", true)
		if err != nil {
			return err
		}
		if h.cfg.Cosignatures == nil {
			return events.Errorf(events.CodeNotFound, "checkpoints by size are not served here")
		}
		if msg, err = h.cfg.Cosignatures.NoteAt(ctx, size); err != nil {
			return err
		}
	} else {
		note, size, _, err := h.cfg.Ledger.Latest(ctx)
		if err != nil {
			return err
		}
		msg = note
		if h.cfg.Cosignatures != nil {
			// Without its cosignatures the note is still onebook's
			// signed checkpoint: serve it rather than fail.
			if cosigned, err := h.cfg.Cosignatures.Attach(ctx, note, size); err != nil {
				h.cfg.Log.Warn("checkpoint served without cosignatures", "size", size, "err", err)
			} else {
				msg = cosigned
			}
		}
	}
	c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(msg)
}

// maxCosignedNote bounds the body of POST /ledger/cosignatures: a
// checkpoint note with a few signature lines is well under 1 KiB.
const maxCosignedNote = 64 << 10

// CosignResult is the answer to POST /ledger/cosignatures.
type CosignResult struct {
	Size      uint64   `json:"size"`      // tree size of the cosigned checkpoint
	Witnesses []string `json:"witnesses"` // names of the witnesses whose cosignatures were stored
}

// cosign accepts a checkpoint note cosigned by a configured witness (the
// text exactly as published, with the witness's signature line; onebook's
// own line may be kept) and stores the cosignature.
func (h *handlers) cosign(c *fiber.Ctx) error {
	if h.cfg.Cosignatures == nil {
		return events.Errorf(events.CodeForbidden, "this server accepts no cosignatures")
	}
	body := c.Body()
	if len(body) > maxCosignedNote {
		return events.Errorf(events.CodeTooLarge, "a cosigned checkpoint note is at most %d bytes", maxCosignedNote)
	}
	size, names, err := h.cfg.Cosignatures.Add(c.UserContext(), body)
	if err != nil {
		return err
	}
	return c.JSON(CosignResult{Size: size, Witnesses: names})
}

// key serves the checkpoint verifier key in signed-note verifier-key format.
func (h *handlers) key(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
	return c.SendString(h.cfg.Ledger.VerifierKey() + "\n")
}

// InclusionProof is the body of GET /ledger/proof/inclusion. Hashes are
// standard base64, as in the checkpoint.
type InclusionProof struct {
	Index    uint64   `json:"index"`
	Size     uint64   `json:"size"`
	LeafHash string   `json:"leaf_hash"`
	Proof    []string `json:"proof"`
}

// ConsistencyProof is the body of GET /ledger/proof/consistency.
type ConsistencyProof struct {
	Old   uint64   `json:"old"`
	New   uint64   `json:"new"`
	Proof []string `json:"proof"`
}

func (h *handlers) inclusion(c *fiber.Ctx) error {
	index, err := uintParam(c, "index", true)
	if err != nil {
		return err
	}
	size, err := h.sizeParam(c, "size")
	if err != nil {
		return err
	}
	if index >= size {
		return events.Invalid("index", "index %d is not below tree size %d", index, size)
	}
	leaf, proof, err := h.cfg.Ledger.ProveInclusion(c.UserContext(), index, size)
	if err != nil {
		return err
	}
	return c.JSON(InclusionProof{Index: index, Size: size, LeafHash: b64(leaf), Proof: hashes(proof)})
}

func (h *handlers) consistency(c *fiber.Ctx) error {
	oldSize, err := uintParam(c, "old", true)
	if err != nil {
		return err
	}
	newSize, err := h.sizeParam(c, "new")
	if err != nil {
		return err
	}
	if oldSize > newSize {
		return events.Invalid("old", "old size %d is larger than new size %d", oldSize, newSize)
	}
	proof, err := h.cfg.Ledger.ProveConsistency(c.UserContext(), oldSize, newSize)
	if err != nil {
		return err
	}
	return c.JSON(ConsistencyProof{Old: oldSize, New: newSize, Proof: hashes(proof)})
}

// event serves the canonical bytes of the event at leaf index N, exactly as
// hashed into the seal, so a client can recompute the leaf hash.
func (h *handlers) event(c *fiber.Ctx) error {
	index, err := strconv.ParseUint(c.Params("index"), 10, 63)
	if err != nil {
		return events.Invalid("index", "index must be a non-negative integer, got %q", c.Params("index"))
	}
	rec, err := h.cfg.Events.Read(c.UserContext(), index+1)
	if err != nil {
		return err
	}
	leaf := tlog.RecordHash(rec.Raw)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Set("X-Onebook-Leaf-Hash", b64(leaf))
	c.Set("X-Onebook-Leaf-Hash-Hex", hex.EncodeToString(leaf[:]))
	return c.Send(rec.Raw)
}

// sizeParam reads a tree size; absent means the latest checkpoint's size.
func (h *handlers) sizeParam(c *fiber.Ctx, name string) (uint64, error) {
	if c.Query(name) == "" {
		_, size, _, err := h.cfg.Ledger.Latest(c.UserContext())
		return size, err
	}
	return uintParam(c, name, true)
}

func uintParam(c *fiber.Ctx, name string, required bool) (uint64, error) {
	s := c.Query(name)
	if s == "" {
		if required {
			return 0, events.Invalid(name, "query parameter %s is required", name)
		}
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, events.Invalid(name, "%s must be a non-negative integer, got %q", name, s)
	}
	return n, nil
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func hashes(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = b64(h)
	}
	return out
}
