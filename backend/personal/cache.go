package personal

import (
	"container/list"
	"sync"
	"time"
)

// keyCache keeps recently used unwrapped data keys, least recently used
// first out, each for at most ttl. A nil *keyCache caches nothing.
//
// A key read from the bucket before a Shred must not enter the cache after
// that Shred dropped it. Every drop therefore bumps gen, and put stores
// only if gen is still what it was when the caller started reading.
type keyCache struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	gen   uint64
	ll    *list.List // of *cacheEntry, most recently used at the front
	items map[string]*list.Element
}

type cacheEntry struct {
	person  string
	key     dataKey
	expires time.Time
}

func newKeyCache(max int, ttl time.Duration) *keyCache {
	if max <= 0 || ttl <= 0 {
		return nil
	}
	return &keyCache{max: max, ttl: ttl, ll: list.New(), items: make(map[string]*list.Element)}
}

func (c *keyCache) get(person string) (dataKey, bool) {
	if c == nil {
		return dataKey{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[person]
	if !ok {
		return dataKey{}, false
	}
	e := el.Value.(*cacheEntry)
	if time.Now().After(e.expires) {
		c.ll.Remove(el)
		delete(c.items, person)
		return dataKey{}, false
	}
	c.ll.MoveToFront(el)
	return e.key, true
}

// generation is read before reading a key from the bucket; see put.
func (c *keyCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches k unless a drop happened since generation returned gen.
func (c *keyCache) put(person string, k dataKey, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	e := &cacheEntry{person: person, key: k, expires: time.Now().Add(c.ttl)}
	if el, ok := c.items[person]; ok {
		el.Value = e
		c.ll.MoveToFront(el)
		return
	}
	c.items[person] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*cacheEntry).person)
	}
}

func (c *keyCache) drop(person string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if el, ok := c.items[person]; ok {
		c.ll.Remove(el)
		delete(c.items, person)
	}
}

func (c *keyCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
