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
	rep := LedgerReport{}
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	rng := rf.NewEmptyRange(0)
	next := 0 // next checkpoint to compare

	check := func() error {
		for next < len(cps) && cps[next].Size == rng.End() {
			root, err := rootOf(rng)
			if err != nil {
				return err
			}
			rep.Checkpoints++
			if root != cps[next].Hash {
				rep.Mismatches = append(rep.Mismatches, Mismatch{Size: cps[next].Size, Signed: b64(cps[next].Hash), Computed: b64(root)})
			}
			next++
		}
		return nil
	}
	if err := check(); err != nil { // checkpoints of size 0
		return rep, err
	}

	const batchSize = 1024
	batches := make(chan [][]byte, 8)
	hashed := make(chan error, 1)
	go func() {
		var err error
		for b := range batches {
			if err != nil {
				continue // drain
			}
			for _, raw := range b {
				h := tlog.RecordHash(raw)
				if err = rng.Append(h[:], nil); err != nil {
					break
				}
				if err = check(); err != nil {
					break
				}
			}
			if progress != nil && err == nil {
				progress(rng.End())
			}
		}
		hashed <- err
	}()

	batch := make([][]byte, 0, batchSize)
	var want uint64 = 1
	scanErr := ledger.ScanStream(ctx, js, stream, nil, 1, size, func(r events.Recorded) error {
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
	close(batches)
	hashErr := <-hashed
	if scanErr != nil {
		return rep, scanErr
	}
	if hashErr != nil {
		return rep, hashErr
	}
	if rng.End() != size {
		return rep, fmt.Errorf("read %d events, the ledger reported %d", rng.End(), size)
	}
	rep.Size = size
	root, err := rootOf(rng)
	if err != nil {
		return rep, err
	}
	rep.Root = b64(root)
	for ; next < len(cps); next++ {
		rep.Beyond = append(rep.Beyond, cps[next].Size)
	}
	return rep, nil
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
