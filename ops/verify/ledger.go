// Package verify checks that the ledger, its seal and the projections all
// say the same thing: it replays the ledger, recomputes the Merkle root at
// every stored checkpoint, and recomputes every projection document.
package verify

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
)

// Checkpoint is a stored checkpoint whose signature has been checked.
type Checkpoint struct {
	Size uint64
	Hash tlog.Hash
}

// Mismatch is a checkpoint whose root is not the root of the ledger at its
// size: the ledger was changed after it was signed, or the checkpoint is a
// fork.
type Mismatch struct {
	Size     uint64 `json:"size"`
	Signed   string `json:"signed_root"`
	Computed string `json:"computed_root"`
}

// LedgerReport is the outcome of the ledger pass.
type LedgerReport struct {
	Size        uint64     `json:"size"` // events replayed
	Root        string     `json:"root"` // base64 root of the whole ledger
	Checkpoints int        `json:"checkpoints_checked"`
	Mismatches  []Mismatch `json:"mismatches,omitempty"`
	Beyond      []uint64   `json:"beyond_ledger,omitempty"` // checkpoint sizes larger than the ledger: events were removed
}

// OK reports whether every checkpoint matches the replayed ledger.
func (r LedgerReport) OK() bool { return len(r.Mismatches) == 0 && len(r.Beyond) == 0 }

// Ledger replays events 1..size of the ledger stream in order, hashes each
// as an RFC 6962 leaf into a compact range (O(log n) memory), and at each
// checkpoint's size compares the computed root with the signed one. Hashing
// runs on its own goroutine so that reading and hashing overlap.
//
// progress, if not nil, is called now and then with the number of events done.
func Ledger(ctx context.Context, js jetstream.JetStream, stream string, size uint64, cps []Checkpoint, progress func(uint64)) (LedgerReport, error) {
	cps = append([]Checkpoint(nil), cps...)
	sort.Slice(cps, func(i, j int) bool { return cps[i].Size < cps[j].Size })
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := &replay{cps: cps, rng: rf.NewEmptyRange(0)}
	if err := r.check(); err != nil { // checkpoints of size 0
		return r.rep, err
	}
	batches := make(chan [][]byte, 8)
	hashed := make(chan error, 1)
	go func() { hashed <- r.hash(batches, progress) }()
	scanErr := readLedger(ctx, js, stream, size, batches)
	hashErr := <-hashed
	if scanErr != nil {
		return r.rep, scanErr
	}
	if hashErr != nil {
		return r.rep, hashErr
	}
	if r.rng.End() != size {
		return r.rep, fmt.Errorf("read %d events, the ledger reported %d", r.rng.End(), size)
	}
	r.rep.Size = size
	root, err := rootOf(r.rng)
	if err != nil {
		return r.rep, err
	}
	r.rep.Root = b64(root)
	for ; r.next < len(r.cps); r.next++ {
		r.rep.Beyond = append(r.rep.Beyond, r.cps[r.next].Size)
	}
	return r.rep, nil
}

// replay is a pass of Ledger: the compact range over the leaves hashed so
// far, the checkpoints by size and the next one to compare.
type replay struct {
	cps  []Checkpoint
	rng  *compact.Range
	next int
	rep  LedgerReport
}

// check compares the root of the range with each checkpoint of its size.
func (r *replay) check() error {
	for r.next < len(r.cps) && r.cps[r.next].Size == r.rng.End() {
		root, err := rootOf(r.rng)
		if err != nil {
			return err
		}
		r.rep.Checkpoints++
		if root != r.cps[r.next].Hash {
			r.rep.Mismatches = append(r.rep.Mismatches, Mismatch{Size: r.cps[r.next].Size, Signed: b64(r.cps[r.next].Hash), Computed: b64(root)})
		}
		r.next++
	}
	return nil
}

// hash appends each event of each batch to the range as a leaf, checking
// the checkpoints it reaches. After an error it drains the batches, so the
// reader never blocks.
func (r *replay) hash(batches <-chan [][]byte, progress func(uint64)) error {
	var err error
	for b := range batches {
		if err != nil {
			continue // drain
		}
		for _, raw := range b {
			h := tlog.RecordHash(raw)
			if err = r.rng.Append(h[:], nil); err != nil {
				break
			}
			if err = r.check(); err != nil {
				break
			}
		}
		if progress != nil && err == nil {
			progress(r.rng.End())
		}
	}
	return err
}

// readLedger sends events 1..size of the stream, gap-free, in batches of
// up to 1024, and closes batches.
func readLedger(ctx context.Context, js jetstream.JetStream, stream string, size uint64, batches chan<- [][]byte) error {
	const batchSize = 1024
	defer close(batches)
	batch := make([][]byte, 0, batchSize)
	var want uint64 = 1
	err := ledger.ScanStream(ctx, js, stream, nil, 1, size, func(r events.Recorded) error {
		if r.Seq != want {
			return fmt.Errorf("ledger has a gap: expected sequence %d, read %d", want, r.Seq)
		}
		want++
		batch = append(batch, r.Raw)
		if len(batch) == batchSize {
			batches <- batch
			batch = make([][]byte, 0, batchSize)
		}
		return nil
	})
	if len(batch) > 0 {
		batches <- batch
	}
	return err
}

func rootOf(r *compact.Range) (tlog.Hash, error) {
	var h tlog.Hash
	if r.End() == 0 {
		copy(h[:], rfc6962.DefaultHasher.EmptyRoot())
		return h, nil
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return h, err
	}
	copy(h[:], root)
	return h, nil
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }
