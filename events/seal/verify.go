package seal

import (
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
)

// VerifyInclusion checks that proof shows the leaf with hash leaf at index
// to be in the tree that cp commits to (RFC 6962 §2.1.1). It is what an
// auditor runs holding only a verified checkpoint and an event's canonical
// bytes (leaf = tlog.RecordHash(bytes)). A failed check has code
// events.CodeInvalid.
func VerifyInclusion(cp Checkpoint, index uint64, leaf tlog.Hash, proof tlog.RecordProof) error {
	if index >= cp.Size {
		return events.Invalid("index", "leaf index %d is not below tree size %d", index, cp.Size)
	}
	if err := tlog.CheckRecord(proof, int64(cp.Size), cp.Hash, int64(index), leaf); err != nil {
		return &events.Error{Code: events.CodeInvalid, Field: "proof", Message: "inclusion proof does not verify against the checkpoint", Err: err}
	}
	return nil
}

// VerifyConsistency checks that proof shows the tree of old to be a prefix
// of the tree of new (RFC 6962 §2.1.2): nothing old committed to was changed
// or removed. Checkpoints of different origins are never consistent. The
// empty tree is a prefix of every tree, with an empty proof. A failed check
// has code events.CodeInvalid.
func VerifyConsistency(old, new Checkpoint, proof tlog.TreeProof) error {
	if old.Origin != new.Origin {
		return events.Invalid("checkpoint", "checkpoints of different logs (%q, %q)", old.Origin, new.Origin)
	}
	if old.Size > new.Size {
		return events.Invalid("checkpoint", "old tree size %d is larger than new tree size %d", old.Size, new.Size)
	}
	if old.Size == 0 {
		if old.Hash != emptyHash || len(proof) != 0 {
			return events.Invalid("proof", "consistency proof from the empty tree does not verify")
		}
		return nil
	}
	if err := tlog.CheckTree(proof, int64(new.Size), new.Hash, int64(old.Size), old.Hash); err != nil {
		return &events.Error{Code: events.CodeInvalid, Field: "proof", Message: "consistency proof does not verify: the trees differ", Err: err}
	}
	return nil
}
