package seal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/lease"
	"github.com/onebook/onebook/events/ledger"
)

// SealerConfig configures a Sealer.
type SealerConfig struct {
	Ledger      string       // ledger stream; default "LEDGER"
	Signer      note.Signer  // signs checkpoints; must match Checkpoints' verifier key
	Tiles       *Tiles       // where the tree's hashes go
	Checkpoints *Checkpoints // where signed checkpoints go

	// Leases is the lease bucket (lease.OpenBucket). With it, only the
	// sealer holding the lease LeaseKey seals; without it, sealers rely on
	// the checkpoint fence alone (fine for one process and for tests).
	Leases   jetstream.KeyValue
	LeaseKey string        // default "seal." + Ledger
	Holder   string        // who this sealer is in the lease; default host:pid
	LeaseTTL time.Duration // default: the bucket's TTL

	BatchSize int           // leaves hashed in memory before tiles are written; default 4096
	Interval  time.Duration // minimum time between checkpoints while events keep arriving; default 500ms
	Logger    *slog.Logger
}

// Status is what a sealer last did.
type Status struct {
	Active         bool      // holds the lease and is sealing
	Size           uint64    // size of the latest checkpoint it published or resumed from
	Root           tlog.Hash // its root hash
	CheckpointTime time.Time // when that checkpoint was stored
	Published      int       // checkpoints this sealer has published
	Err            string    // the last error that stopped sealing, if any
}

// Sealer extends the Merkle tree as events arrive in the ledger and
// publishes signed checkpoints. Run one per ledger; with a lease bucket,
// starting more is safe and gives fail-over.
type Sealer struct {
	cfg SealerConfig
	js  jetstream.JetStream
	log *slog.Logger

	mu     sync.Mutex
	status Status

	// afterTiles, when set by tests, runs after tiles are written and
	// before the checkpoint is published, to simulate a crash there.
	afterTiles func() error
}

// NewSealer checks cfg and returns a sealer; Run or SealTo start it.
func NewSealer(js jetstream.JetStream, cfg SealerConfig) (*Sealer, error) {
	if cfg.Ledger == "" {
		cfg.Ledger = "LEDGER"
	}
	if cfg.Signer == nil || cfg.Tiles == nil || cfg.Checkpoints == nil {
		return nil, errors.New("sealer: Signer, Tiles and Checkpoints are required")
	}
	// A checkpoint that our own readers cannot verify would stop the
	// ledger's proofs; refuse a mismatched key now rather than then.
	probe := Checkpoint{Origin: cfg.Signer.Name(), Hash: emptyHash}
	msg, err := Sign(probe, cfg.Signer)
	if err != nil {
		return nil, fmt.Errorf("sealer: %w", err)
	}
	if _, err := cfg.Checkpoints.open(0, time.Time{}, msg); err != nil {
		return nil, fmt.Errorf("sealer: signing key %q does not match the verifier key %q", cfg.Signer.Name(), cfg.Checkpoints.VerifierKey())
	}
	if cfg.LeaseKey == "" {
		cfg.LeaseKey = "seal." + cfg.Ledger
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		cfg.Holder = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 4096
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Sealer{cfg: cfg, js: js, log: cfg.Logger.With("component", "sealer", "ledger", cfg.Ledger, "holder", cfg.Holder)}, nil
}

// Status returns what the sealer last did.
func (s *Sealer) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *Sealer) setStatus(f func(*Status)) {
	s.mu.Lock()
	f(&s.status)
	s.mu.Unlock()
}

var errLeaseLost = errors.New("seal lease lost")

// Run seals until ctx ends, then returns nil. It waits for the lease,
// resumes from the latest checkpoint and follows the ledger, publishing a
// checkpoint at the end of a batch of events but no more often than
// Interval while events keep arriving, and always once it has caught up.
// After an error or a lost lease it releases the lease, waits a little and
// starts over from the latest checkpoint: every step is safe to repeat.
func (s *Sealer) Run(ctx context.Context) error {
	backoff := time.Second
	for {
		start := time.Now()
		_, err := s.session(ctx, -1)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, errLeaseLost), errors.Is(err, errFenced):
			s.log.Warn("sealer stepped down", "err", err)
		default:
			s.log.Error("sealer stopped; will resume from the latest checkpoint", "err", err, "retry_in", backoff)
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// SealTo seals until the tree has at least size leaves (waiting for the
// ledger to have that many events) and returns the checkpoint it ends with.
// It takes the lease if one is configured. Benchmarks use it to measure
// sealing throughput on an already filled ledger.
func (s *Sealer) SealTo(ctx context.Context, size uint64) (SignedCheckpoint, error) {
	return s.session(ctx, int64(size))
}

// session holds the lease (if configured) for one run of sealing, from
// resumption to error, loss of lease, end of ctx, or reaching until (>= 0).
func (s *Sealer) session(ctx context.Context, until int64) (SignedCheckpoint, error) {
	if s.cfg.Leases != nil {
		l, err := lease.Acquire(ctx, s.cfg.Leases, s.cfg.LeaseKey, s.cfg.Holder, s.cfg.LeaseTTL)
		if err != nil {
			return SignedCheckpoint{}, err
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := l.Release(rctx); err != nil {
				s.log.Warn("could not release the seal lease; it will expire", "err", err)
			}
		}()
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() {
			select {
			case <-l.Lost():
				cancel(errLeaseLost)
			case <-ctx.Done():
			}
		}()
	}
	s.setStatus(func(st *Status) { st.Active = true })
	defer s.setStatus(func(st *Status) { st.Active = false })

	cp, err := s.seal(ctx, until)
	if cause := context.Cause(ctx); errors.Is(cause, errLeaseLost) {
		err = errLeaseLost
	}
	if err != nil && ctx.Err() == nil || errors.Is(err, errLeaseLost) {
		s.setStatus(func(st *Status) { st.Err = err.Error() })
	}
	return cp, err
}

// state is the sealer's view of the tree. Tiles in the store cover tree;
// the leaves past it (up to n) are held in memory as their stored hashes,
// which is all that extending the tree needs: tlog.StoredHashes reads at
// most log n earlier hashes, and those come from the tiles.
type state struct {
	tree   tlog.Tree        // the tiles cover this tree
	cp     SignedCheckpoint // latest published checkpoint; Seq 0 if none
	n      int64            // leaves hashed so far (>= tree.N)
	base   int64            // tlog.StoredHashIndex(0, tree.N): first in-memory index
	hashes []tlog.Hash      // stored hashes from base on
	old    tlog.HashReader  // hashes below base, from tiles authenticated against tree
}

// ReadHashes implements tlog.HashReader over memory and tiles.
func (st *state) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var oldIdx []int64
	var oldPos []int
	for i, x := range indexes {
		if x >= st.base {
			j := x - st.base
			if j >= int64(len(st.hashes)) {
				return nil, fmt.Errorf("seal: stored hash %d is not computed yet", x)
			}
			out[i] = st.hashes[j]
			continue
		}
		oldIdx = append(oldIdx, x)
		oldPos = append(oldPos, i)
	}
	if len(oldIdx) > 0 {
		hs, err := st.old.ReadHashes(oldIdx)
		if err != nil {
			return nil, err
		}
		for k, i := range oldPos {
			out[i] = hs[k]
		}
	}
	return out, nil
}

func (s *Sealer) newState(ctx context.Context, tree tlog.Tree, cp SignedCheckpoint) *state {
	return &state{
		tree: tree, cp: cp, n: tree.N,
		base: tlog.StoredHashIndex(0, tree.N),
		old:  tlog.TileHashReader(tree, s.cfg.Tiles.Reader(ctx)),
	}
}

// add appends the leaf with hash h.
func (st *state) add(h tlog.Hash) error {
	hs, err := tlog.StoredHashesForRecordHash(st.n, h, st)
	if err != nil {
		return fmt.Errorf("seal: hash leaf %d: %w", st.n, err)
	}
	st.hashes = append(st.hashes, hs...)
	st.n++
	return nil
}

// flush writes the tiles for the leaves held in memory and moves the
// tree up to them.
func (s *Sealer) flush(ctx context.Context, st *state) error {
	if st.n == st.tree.N {
		return nil
	}
	root, err := tlog.TreeHash(st.n, st)
	if err != nil {
		return fmt.Errorf("seal: tree hash at %d: %w", st.n, err)
	}
	tiles := tlog.NewTiles(TileHeight, st.tree.N, st.n)
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		if data[i], err = tlog.ReadTileData(t, st); err != nil {
			return fmt.Errorf("seal: tile %s: %w", t.Path(), err)
		}
	}
	if err := s.cfg.Tiles.write(ctx, st.tree.N, tiles, data); err != nil {
		return err
	}
	st.tree = tlog.Tree{N: st.n, Hash: root}
	st.base = tlog.StoredHashIndex(0, st.n)
	st.hashes = st.hashes[:0]
	st.old = tlog.TileHashReader(st.tree, s.cfg.Tiles.Reader(ctx))
	return nil
}

// checkpoint writes pending tiles and publishes a checkpoint for the tree,
// unless the latest checkpoint already covers it.
func (s *Sealer) checkpoint(ctx context.Context, st *state) error {
	if err := s.flush(ctx, st); err != nil {
		return err
	}
	if st.cp.Seq != 0 && st.cp.Size == uint64(st.tree.N) {
		return nil
	}
	if s.afterTiles != nil {
		if err := s.afterTiles(); err != nil {
			return err
		}
	}
	cp := Checkpoint{Origin: s.cfg.Signer.Name(), Size: uint64(st.tree.N), Hash: st.tree.Hash}
	signed, err := Sign(cp, s.cfg.Signer)
	if err != nil {
		return err
	}
	sc, err := s.cfg.Checkpoints.append(ctx, signed, cp, st.cp.Seq)
	if err != nil {
		return err
	}
	st.cp = sc
	s.setStatus(func(x *Status) {
		x.Size, x.Root, x.CheckpointTime, x.Err = sc.Size, sc.Hash, sc.Time, ""
		x.Published++
	})
	s.log.Debug("checkpoint", "size", sc.Size, "root", sc.Hash.String(), "seq", sc.Seq)
	return nil
}

// seal resumes from the latest checkpoint and follows the ledger.
func (s *Sealer) seal(ctx context.Context, until int64) (SignedCheckpoint, error) {
	st, ledgerSize, err := s.resume(ctx)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	s.log.Info("sealer active", "size", st.tree.N, "root", st.tree.Hash.String(), "ledger_size", ledgerSize)
	if until >= 0 && st.n >= until {
		if st.cp.Seq == 0 {
			err = s.checkpoint(ctx, st)
		}
		return st.cp, err
	}

	it, closeLedger, err := s.follow(ctx, uint64(st.n)+1)
	if err != nil {
		return st.cp, err
	}
	defer closeLedger()

	caughtUp := ledgerSize <= uint64(st.n)
	for {
		if until >= 0 && st.n >= until {
			err := s.checkpoint(ctx, st) // before reading st.cp, which it updates
			return st.cp, err
		}
		m, err := s.next(ctx, it, st, caughtUp)
		if err != nil {
			return st.cp, err
		}
		if m == nil {
			continue
		}
		if caughtUp, err = s.take(ctx, st, m); err != nil {
			return st.cp, err
		}
	}
}

// follow reads the ledger from sequence from on, through an ordered
// consumer that done stops and deletes.
func (s *Sealer) follow(ctx context.Context, from uint64) (it jetstream.MessagesContext, done func(), err error) {
	cons, err := s.js.OrderedConsumer(ctx, s.cfg.Ledger, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
	})
	if err != nil {
		return nil, nil, &events.Error{Code: events.CodeUnavailable, Message: "read ledger " + s.cfg.Ledger, Err: err}
	}
	deleteConsumer := func() {
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = s.js.DeleteConsumer(dctx, s.cfg.Ledger, info.Name)
			cancel()
		}
	}
	// Bound the client's buffer by bytes, not messages: events may be up
	// to events.MaxEventSize each.
	it, err = cons.Messages(jetstream.PullMaxBytes(16 << 20))
	if err != nil {
		deleteConsumer()
		return nil, nil, &events.Error{Code: events.CodeUnavailable, Message: "read ledger " + s.cfg.Ledger, Err: err}
	}
	stop := context.AfterFunc(ctx, it.Stop)
	return it, func() {
		stop()
		it.Stop()
		deleteConsumer()
	}, nil
}

// next waits for the ledger's next message. Idle with news (caught up,
// with events the last checkpoint does not cover), it checkpoints when
// Interval has passed since the last one, unless more events come first;
// it then returns no message, for the caller to look again.
func (s *Sealer) next(ctx context.Context, it jetstream.MessagesContext, st *state, caughtUp bool) (jetstream.Msg, error) {
	var m jetstream.Msg
	var err error
	dirty := st.cp.Seq == 0 || st.n > int64(st.cp.Size)
	if dirty && caughtUp {
		wait := time.Until(st.cp.Time.Add(s.cfg.Interval))
		if wait <= 0 {
			return nil, s.checkpoint(ctx, st)
		}
		m, err = it.Next(jetstream.NextMaxWait(wait))
		if errors.Is(err, nats.ErrTimeout) {
			return nil, nil
		}
	} else {
		m, err = it.Next()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &events.Error{Code: events.CodeUnavailable, Message: "read ledger " + s.cfg.Ledger, Err: err}
	}
	return m, nil
}

// take adds the ledger message m, which must be the next sequence, to the
// tree, and at the end of a batch (BatchSize events, or the ledger's end)
// checkpoints when Interval has passed since the last checkpoint, or else
// writes the full tiles. It reports whether the ledger held nothing more.
func (s *Sealer) take(ctx context.Context, st *state, m jetstream.Msg) (caughtUp bool, err error) {
	md, err := m.Metadata()
	if err != nil {
		return false, fmt.Errorf("seal: ledger message metadata: %w", err)
	}
	if seq := md.Sequence.Stream; seq != uint64(st.n)+1 {
		// The tree is over a gap-free sequence; a gap means the
		// stream lost events, which the seal must not paper over.
		return false, &events.Error{Code: events.CodeInternal, Message: fmt.Sprintf("ledger %s: expected sequence %d, got %d", s.cfg.Ledger, st.n+1, seq)}
	}
	if err := st.add(tlog.RecordHash(m.Data())); err != nil {
		return false, err
	}
	caughtUp = md.NumPending == 0
	full := st.n-st.tree.N >= int64(s.cfg.BatchSize)
	if !full && !caughtUp {
		return caughtUp, nil
	}
	// End of a batch.
	if time.Since(st.cp.Time) >= s.cfg.Interval {
		return caughtUp, s.checkpoint(ctx, st)
	}
	if full {
		return caughtUp, s.flush(ctx, st)
	}
	return caughtUp, nil
}

// resume loads the latest checkpoint and checks that the tiles support it
// and the ledger is at least as long. It returns the state to extend and
// the ledger's size.
func (s *Sealer) resume(ctx context.Context) (*state, uint64, error) {
	info, err := s.js.Stream(ctx, s.cfg.Ledger)
	if err != nil {
		return nil, 0, &events.Error{Code: events.CodeUnavailable, Message: "ledger stream " + s.cfg.Ledger, Err: err}
	}
	ledgerSize := info.CachedInfo().State.LastSeq

	sc, err := s.cfg.Checkpoints.Latest(ctx)
	if events.ErrorCode(err) == events.CodeNotFound {
		return s.newState(ctx, tlog.Tree{N: 0, Hash: emptyHash}, SignedCheckpoint{}), ledgerSize, nil
	}
	if err != nil {
		return nil, 0, err
	}
	s.setStatus(func(x *Status) { x.Size, x.Root, x.CheckpointTime = sc.Size, sc.Hash, sc.Time })
	if sc.Size > ledgerSize {
		return nil, 0, &events.Error{Code: events.CodeInternal, Message: fmt.Sprintf(
			"ledger %s has %d events but checkpoint %d covers %d: the ledger was truncated or replaced", s.cfg.Ledger, ledgerSize, sc.Seq, sc.Size)}
	}
	tree := sc.Tree()
	// Reading the tree hash through the tile hash reader authenticates the
	// right-edge tiles against the signed root: the tiles we will extend
	// are the ones the checkpoint commits to.
	if _, err := tlog.TreeHash(tree.N, tlog.TileHashReader(tree, s.cfg.Tiles.Reader(ctx))); err != nil {
		if events.ErrorCode(err) == events.CodeUnavailable {
			return nil, 0, err
		}
		s.log.Warn("tiles do not support the latest checkpoint; rebuilding them from the ledger", "size", tree.N, "err", err)
		if err := s.rebuild(ctx, tree); err != nil {
			return nil, 0, err
		}
	}
	return s.newState(ctx, tree, sc), ledgerSize, nil
}

// rebuild rewrites the tiles for want from the ledger and checks that the
// ledger still hashes to want's root. A mismatch means the ledger differs
// from what was signed: the seal refuses to continue. Tiles it wrote before
// noticing can do no harm: every read of tiles is authenticated against a
// signed root, which they do not match.
func (s *Sealer) rebuild(ctx context.Context, want tlog.Tree) error {
	st := s.newState(ctx, tlog.Tree{N: 0, Hash: emptyHash}, SignedCheckpoint{})
	err := ledger.ScanStream(ctx, s.js, s.cfg.Ledger, nil, 1, uint64(want.N), func(r events.Recorded) error {
		if seq := r.Seq; seq != uint64(st.n)+1 {
			return &events.Error{Code: events.CodeInternal, Message: fmt.Sprintf("ledger %s: expected sequence %d, got %d", s.cfg.Ledger, st.n+1, seq)}
		}
		if err := st.add(tlog.RecordHash(r.Raw)); err != nil {
			return err
		}
		if st.n-st.tree.N >= int64(s.cfg.BatchSize) {
			return s.flush(ctx, st)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if st.n != want.N {
		return &events.Error{Code: events.CodeInternal, Message: fmt.Sprintf("ledger %s ends at %d, checkpoint covers %d", s.cfg.Ledger, st.n, want.N)}
	}
	root, err := tlog.TreeHash(st.n, st)
	if err != nil {
		return err
	}
	if root != want.Hash {
		return &events.Error{Code: events.CodeInternal, Message: fmt.Sprintf(
			"ledger %s does not match its signed checkpoint at size %d (root %s, ledger hashes to %s): the ledger was changed", s.cfg.Ledger, want.N, want.Hash, root)}
	}
	return s.flush(ctx, st)
}
