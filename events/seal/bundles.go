package seal

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
)

// Bundles serves the entry bundles of C2SP tlog-tiles (/tile/entries/N):
// the canonical bytes of the bundle's events, each after its length
// (AppendEntry), read from a ledger reader (the public one, which withholds
// what it must).
//
// A full bundle never changes, so its bytes are kept once assembled:
// auditors, witnesses and monitors fetch the same bundles again and again,
// and assembling one reads 256 events from the ledger. The cache is bounded
// in bytes (the least recently served bundles go first), not in bundles,
// because a bundle's size follows its events'. Partial bundles, at the
// edge of the log, are assembled on every request: they grow.
//
// A Bundles is safe for concurrent use.
type Bundles struct {
	r     events.Reader
	mu    sync.Mutex // guards size and the trim of cache
	cache *lru.Cache[int64, []byte]
	size  int64 // bytes in cache
	max   int64
	// last is the size of the last full bundle assembled: the next one's
	// buffer starts that large, rather than growing entry by entry.
	last atomic.Int64
}

// DefaultBundleCache is the byte budget of NewBundles's cache when none is
// given: a few hundred bundles of typical events.
const DefaultBundleCache = 64 << 20

// NewBundles returns the entry bundles of r, keeping up to maxBytes of full
// ones (DefaultBundleCache if maxBytes <= 0).
func NewBundles(r events.Reader, maxBytes int64) *Bundles {
	if maxBytes <= 0 {
		maxBytes = DefaultBundleCache
	}
	b := &Bundles{r: r, max: maxBytes}
	// The count bound is never the one reached first: a bundle holds at
	// least 256 entries of at least two bytes each.
	b.cache, _ = lru.NewWithEvict(int(maxBytes/512)+1, func(_ int64, v []byte) { b.size -= int64(len(v)) })
	return b
}

// Read returns the bytes of entry bundle t (t.L is ignored; t.W entries
// from leaf t.N·256). The caller checks that the bundle lies within a
// signed checkpoint. The slice is shared with the cache: do not modify it.
func (b *Bundles) Read(ctx context.Context, t tlog.Tile) ([]byte, error) {
	full := t.W == 1<<TileHeight
	if full {
		if body, ok := b.cached(t.N); ok {
			return body, nil
		}
	}
	first := uint64(t.N) << TileHeight
	body := make([]byte, 0, max(t.W*512, int(b.last.Load())*t.W/(1<<TileHeight)+4096))
	got := 0
	err := b.r.Scan(ctx, first+1, first+uint64(t.W), func(rec events.Recorded) error {
		got++
		var err error
		body, err = AppendEntry(body, rec.Raw)
		return err
	})
	if err != nil {
		return nil, err
	}
	if got != t.W {
		// Never serve (or keep) a short bundle: its hash would not be the
		// tree's.
		return nil, &events.Error{Code: events.CodeUnavailable, Message: fmt.Sprintf("entry bundle %d: the ledger gave %d of its %d events", t.N, got, t.W)}
	}
	if full {
		b.last.Store(int64(len(body)))
		b.keep(t.N, body)
	}
	return body, nil
}

func (b *Bundles) cached(n int64) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cache.Get(n)
}

// keep caches a full bundle and evicts the least recently served ones
// until the cache is within its budget. A bundle larger than the whole
// budget is not kept.
func (b *Bundles) keep(n int64, body []byte) {
	if int64(len(body)) > b.max {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cache.Contains(n) {
		return
	}
	b.size += int64(len(body))
	b.cache.Add(n, body) // may evict by count: the callback keeps size right
	for b.size > b.max {
		b.cache.RemoveOldest()
	}
}

// Size returns the bytes held by the cache.
func (b *Bundles) Size() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size
}
