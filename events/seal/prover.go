package seal

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
)

// Prover answers proof requests from the stored tiles and checkpoints. It
// keeps no state but a cache, so any number of backend replicas can run one
// next to the single active Sealer.
//
// Every hash it reads is authenticated against a signed checkpoint
// (tlog.TileHashReader), so a damaged or forged tile yields an error, never
// a proof that does not verify.
type Prover struct {
	cps   *Checkpoints
	tiles *Tiles

	mu     sync.Mutex
	latest SignedCheckpoint // the newest checkpoint seen; proofs for sizes up to it need no fetch
}

// NewProver returns a prover over cps and tiles.
func NewProver(cps *Checkpoints, tiles *Tiles) *Prover {
	return &Prover{cps: cps, tiles: tiles}
}

// VerifierKey is the checkpoint signer's verifier key (signed-note format),
// served at GET /ledger/key.
func (p *Prover) VerifierKey() string { return p.cps.VerifierKey() }

// Checkpoint returns the latest checkpoint, CodeNotFound if there is none yet.
func (p *Prover) Checkpoint(ctx context.Context) (SignedCheckpoint, error) {
	m, err := p.cps.stream.GetLastMsgForSubject(ctx, p.cps.subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return SignedCheckpoint{}, events.Errorf(events.CodeNotFound, "the ledger has no checkpoint yet")
	}
	if err != nil {
		return SignedCheckpoint{}, &events.Error{Code: events.CodeUnavailable, Message: "read latest checkpoint", Err: err}
	}
	p.mu.Lock()
	cached := p.latest
	p.mu.Unlock()
	if cached.Seq == m.Sequence {
		return cached, nil // verified before
	}
	sc, err := p.cps.open(m.Sequence, m.Time, m.Data)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	p.mu.Lock()
	if sc.Seq > p.latest.Seq {
		p.latest = sc
	}
	p.mu.Unlock()
	return sc, nil
}

// Latest returns the latest signed checkpoint note and what it says.
func (p *Prover) Latest(ctx context.Context) (note []byte, size uint64, root tlog.Hash, err error) {
	sc, err := p.Checkpoint(ctx)
	if err != nil {
		return nil, 0, tlog.Hash{}, err
	}
	return sc.Note, sc.Size, sc.Hash, nil
}

// covering returns a checkpoint of at least size leaves: the cached one
// if it is large enough (hashes authenticated against it are as good as
// against a newer one), else the latest.
func (p *Prover) covering(ctx context.Context, size uint64) (SignedCheckpoint, error) {
	p.mu.Lock()
	cached := p.latest
	p.mu.Unlock()
	if cached.Seq != 0 && cached.Size >= size {
		return cached, nil
	}
	sc, err := p.Checkpoint(ctx)
	if err != nil {
		return sc, err
	}
	if sc.Size < size {
		return sc, events.Errorf(events.CodeNotFound, "tree size %d is not sealed yet; the latest checkpoint has size %d", size, sc.Size)
	}
	return sc, nil
}

func (p *Prover) reader(ctx context.Context, cp SignedCheckpoint) tlog.HashReader {
	return tlog.TileHashReader(cp.Tree(), p.tiles.Reader(ctx))
}

// ProveInclusion returns the leaf hash at index and the RFC 6962 inclusion
// proof (audit path) of it in the tree of size size, which must be covered
// by a checkpoint. Check it with VerifyInclusion.
func (p *Prover) ProveInclusion(ctx context.Context, index, size uint64) (tlog.Hash, tlog.RecordProof, error) {
	if index >= size {
		return tlog.Hash{}, nil, events.Invalid("index", "leaf index %d is not below tree size %d", index, size)
	}
	cp, err := p.covering(ctx, size)
	if err != nil {
		return tlog.Hash{}, nil, err
	}
	r := p.reader(ctx, cp)
	leaf, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(index))})
	if err != nil {
		return tlog.Hash{}, nil, proofErr(err, "leaf hash %d", index)
	}
	proof, err := tlog.ProveRecord(int64(size), int64(index), r)
	if err != nil {
		return tlog.Hash{}, nil, proofErr(err, "inclusion proof of %d in %d", index, size)
	}
	return leaf[0], proof, nil
}

// ProveConsistency returns the RFC 6962 consistency proof that the tree of
// size old is a prefix of the tree of size new; new must be covered by a
// checkpoint. Check it with VerifyConsistency.
func (p *Prover) ProveConsistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error) {
	if old > new {
		return nil, events.Invalid("old", "old tree size %d is larger than new tree size %d", old, new)
	}
	cp, err := p.covering(ctx, new)
	if err != nil {
		return nil, err
	}
	if old == 0 {
		return tlog.TreeProof{}, nil // the empty tree is a prefix of every tree
	}
	proof, err := tlog.ProveTree(int64(new), int64(old), p.reader(ctx, cp))
	if err != nil {
		return nil, proofErr(err, "consistency proof of %d in %d", old, new)
	}
	return proof, nil
}

// TreeHash returns the root hash of the tree of the first size leaves; size
// must be covered by a checkpoint. Exports use it to state what an exported
// range hashes to.
func (p *Prover) TreeHash(ctx context.Context, size uint64) (tlog.Hash, error) {
	cp, err := p.covering(ctx, size)
	if err != nil {
		return tlog.Hash{}, err
	}
	if size == cp.Size {
		return cp.Hash, nil
	}
	h, err := tlog.TreeHash(int64(size), p.reader(ctx, cp))
	if err != nil {
		return tlog.Hash{}, proofErr(err, "tree hash at %d", size)
	}
	return h, nil
}

// proofErr keeps *events.Error values (tile store unavailable, tile
// missing) and classifies the rest, which come from authentication of
// tiles against the checkpoint failing, as internal.
func proofErr(err error, format string, args ...any) error {
	var e *events.Error
	if errors.As(err, &e) {
		return err
	}
	return &events.Error{Code: events.CodeInternal, Message: "compute " + fmt.Sprintf(format, args...), Err: err}
}

// ReadTiles returns the data of stored hash tiles (height TileHeight), for
// the tlog-tiles routes; the caller checks that they lie within a signed
// checkpoint.
func (p *Prover) ReadTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	return p.tiles.Read(ctx, tiles)
}
