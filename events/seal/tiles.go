package seal

import (
	"context"
	"errors"
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/onebook/onebook/events"
)

// TileHeight is the height of stored tiles: a full tile holds 2^8 = 256
// hashes (8 KiB), as in the Go checksum database and C2SP tlog-tiles. Any
// proof then touches O(log n) tiles: one per tile level on the path, plus the
// right-edge tiles that authenticate them against the checkpoint.
const TileHeight = 8

// TilesConfig configures tile storage.
type TilesConfig struct {
	Bucket     string // JetStream KV bucket; default "ledger_tiles"
	Replicas   int    // 1 on a single machine, 3 in a cluster
	CacheTiles int    // tiles kept in memory per process; default 1024 (8 MiB)
}

func (c TilesConfig) withDefaults() TilesConfig {
	if c.Bucket == "" {
		c.Bucket = "ledger_tiles"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.CacheTiles == 0 {
		c.CacheTiles = 1024
	}
	return c
}

// Tiles stores the Merkle tree's hashes as tlog tiles of height TileHeight
// in a JetStream KV bucket.
//
// A full tile never changes once written, so it is stored under its tlog
// path (tile/8/L/NNN) and written with create-only semantics. A partial tile
// at the right edge of the tree grows as the tree grows; it is stored under
// one key per tile position (tile/8/L/NNN.p) holding the widest data written
// so far, not one key per width. That is enough for every tree size, because
// stored hashes are append-only: the hashes of a tree of size n are a prefix
// of those of any larger tree, so the tile a tree of size n needs at a
// position (width w) is the first w hashes of any wider tile at that
// position. Proofs against an old checkpoint are therefore served from the
// latest tiles. Once a position is full its partial key is deleted; readers
// that find it missing or too narrow fall back to the full tile.
//
// The in-process cache follows the same rule: it keeps, per position, the
// widest data seen, and answers any request for that width or less.
type Tiles struct {
	kv    jetstream.KeyValue
	cache *lru.Cache[tilePos, []byte]
}

type tilePos struct {
	L int
	N int64
}

// OpenTiles creates the tile bucket if needed and returns the tile store.
func OpenTiles(ctx context.Context, js jetstream.JetStream, cfg TilesConfig) (*Tiles, error) {
	cfg = cfg.withDefaults()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:       cfg.Bucket,
		Description:  "onebook ledger seal: Merkle tree tiles (tlog, height 8)",
		History:      1,
		Storage:      jetstream.FileStorage,
		Replicas:     cfg.Replicas,
		MaxValueSize: 2 * tlog.HashSize << TileHeight, // a full tile, with room for the subject and headers
	})
	if err != nil {
		return nil, fmt.Errorf("tile bucket %s: %w", cfg.Bucket, err)
	}
	return newTiles(kv, cfg.CacheTiles)
}

func newTiles(kv jetstream.KeyValue, cacheTiles int) (*Tiles, error) {
	cache, err := lru.New[tilePos, []byte](cacheTiles)
	if err != nil {
		return nil, fmt.Errorf("tile cache: %w", err)
	}
	return &Tiles{kv: kv, cache: cache}, nil
}

func fullKey(t tlog.Tile) string {
	t.W = 1 << uint(t.H)
	return t.Path()
}

func partialKey(t tlog.Tile) string { return fullKey(t) + ".p" }

func isFull(t tlog.Tile) bool { return t.W == 1<<uint(t.H) }

// Reader returns a tlog.TileReader over the store whose reads use ctx.
// Wrap it in tlog.TileHashReader to read hashes authenticated against a
// checkpoint.
func (ts *Tiles) Reader(ctx context.Context) tlog.TileReader {
	return tileReader{ctx: ctx, ts: ts}
}

type tileReader struct {
	ctx context.Context
	ts  *Tiles
}

func (r tileReader) Height() int                                   { return TileHeight }
func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) { return r.ts.Read(r.ctx, tiles) }

// SaveTiles is a no-op: tiles come from our own store and are cached on read.
func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// Read returns the data of each tile, in order. Tiles not in the cache are
// fetched concurrently. The slices are shared with the cache: do not
// modify them.
func (ts *Tiles) Read(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	var miss []int
	for i, t := range tiles {
		if t.H != TileHeight {
			return nil, fmt.Errorf("tile %s: height %d, the store has %d", t.Path(), t.H, TileHeight)
		}
		if d, ok := ts.cache.Get(tilePos{t.L, t.N}); ok && len(d) >= t.W*tlog.HashSize {
			out[i] = d[:t.W*tlog.HashSize]
			continue
		}
		miss = append(miss, i)
	}
	if len(miss) == 0 {
		return out, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, i := range miss {
		g.Go(func() error {
			d, err := ts.fetch(gctx, tiles[i])
			out[i] = d
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// fetch reads one tile from the bucket: a partial tile from its position's
// partial key, falling back to the full tile when that position has filled
// up since (see Tiles).
func (ts *Tiles) fetch(ctx context.Context, t tlog.Tile) ([]byte, error) {
	want := t.W * tlog.HashSize
	keys := []string{fullKey(t)}
	if !isFull(t) {
		keys = []string{partialKey(t), fullKey(t)}
	}
	for _, key := range keys {
		e, err := ts.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, &events.Error{Code: events.CodeUnavailable, Message: "read ledger tile " + key, Err: err}
		}
		d := e.Value()
		if len(d)%tlog.HashSize != 0 || len(d) > tlog.HashSize<<TileHeight {
			return nil, &events.Error{Code: events.CodeInternal, Message: fmt.Sprintf("ledger tile %s has %d bytes", key, len(d))}
		}
		ts.remember(t, d)
		if len(d) >= want {
			return d[:want], nil
		}
	}
	return nil, &events.Error{Code: events.CodeInternal, Message: "ledger tile " + t.Path() + " is missing"}
}

// remember caches d for t's position unless something wider is cached.
func (ts *Tiles) remember(t tlog.Tile, d []byte) {
	pos := tilePos{t.L, t.N}
	if old, ok := ts.cache.Peek(pos); ok && len(old) >= len(d) {
		return
	}
	ts.cache.Add(pos, d)
}

// write stores the tiles that changed when the tree grew from oldSize to
// the size tiles were computed for (tlog.NewTiles). Rewriting is idempotent:
// tiles are content at fixed positions, so a sealer that crashed after some
// of them can write them all again. A stored tile that disagrees with the
// new data means the ledger or the tiles were changed behind the seal's
// back; that is reported, never overwritten.
func (ts *Tiles) write(ctx context.Context, oldSize int64, tiles []tlog.Tile, data [][]byte) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, t := range tiles {
		if isFull(t) {
			g.Go(func() error { return ts.putFull(gctx, t, data[i]) })
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Partial tiles after full ones, so that a reader never finds a
	// position's partial key gone before its full tile exists.
	for i, t := range tiles {
		if !isFull(t) {
			if err := ts.widen(ctx, t, data[i]); err != nil {
				return err
			}
		}
	}
	for _, t := range tiles {
		if !isFull(t) {
			continue
		}
		// The position was partial in the old tree: its partial key is
		// now superseded by the full tile. (A partial key written by a
		// sealer that crashed before its checkpoint can outlive this; it
		// is a correct prefix, so it costs only its bytes.)
		oldW := oldSize>>uint(t.L*TileHeight) - t.N<<TileHeight
		if oldW > 0 && oldW < 1<<TileHeight {
			if err := ts.kv.Delete(ctx, partialKey(t)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
				return &events.Error{Code: events.CodeUnavailable, Message: "delete superseded tile " + partialKey(t), Err: err}
			}
		}
	}
	return nil
}

func (ts *Tiles) putFull(ctx context.Context, t tlog.Tile, d []byte) error {
	key := fullKey(t)
	_, err := ts.kv.Create(ctx, key, d)
	if errors.Is(err, jetstream.ErrKeyExists) {
		e, gerr := ts.kv.Get(ctx, key)
		if gerr != nil {
			return &events.Error{Code: events.CodeUnavailable, Message: "read ledger tile " + key, Err: gerr}
		}
		if string(e.Value()) != string(d) {
			return conflictingTile(key)
		}
		err = nil
	}
	if err != nil {
		return &events.Error{Code: events.CodeUnavailable, Message: "write ledger tile " + key, Err: err}
	}
	ts.remember(t, d)
	return nil
}

// widen stores d at t's partial key unless the key already holds data at
// least as wide. The compare-and-set keeps the key monotone even if a
// sealer that has lost its lease is still writing older, narrower data.
func (ts *Tiles) widen(ctx context.Context, t tlog.Tile, d []byte) error {
	key := partialKey(t)
	for attempt := 0; ; attempt++ {
		e, err := ts.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			_, err = ts.kv.Create(ctx, key, d)
		case err != nil:
			return &events.Error{Code: events.CodeUnavailable, Message: "read ledger tile " + key, Err: err}
		default:
			old := e.Value()
			if !samePrefix(old, d) {
				return conflictingTile(key)
			}
			if len(old) >= len(d) {
				ts.remember(t, old)
				return nil
			}
			_, err = ts.kv.Update(ctx, key, d, e.Revision())
		}
		if err == nil {
			ts.remember(t, d)
			return nil
		}
		if attempt < 5 && (errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)) {
			continue // a concurrent writer; look again
		}
		return &events.Error{Code: events.CodeUnavailable, Message: "write ledger tile " + key, Err: err}
	}
}

func conflictingTile(key string) error {
	return &events.Error{Code: events.CodeInternal, Message: "ledger tile " + key +
		" already holds different hashes: the ledger or the seal's tiles were changed"}
}
