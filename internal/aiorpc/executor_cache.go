package aiorpc

import (
	"container/heap"
	"sync"
	"time"

	"github.com/http-connector/http-connector/internal/mqttclient"
)

// responseCache de-duplicates requests. Two requests are duplicates when
// they have the same correlation data and response topic (Go
// internal/caching/cache.go; .NET CommandResponseCache.cs FullCorrelationId;
// Rust executor.rs CacheKey). A request's entry lives until the request's
// message expiry (command-timeouts.md: "the cache retention time equals the
// message expiry"; Go and .NET; Rust adds 60 s), error responses included
// (Go and Rust cache them). Only duplicates are answered from it: an
// equivalent request (same payload, new correlation data) runs again, as for
// a command that is not idempotent (command-cache.md). When more than max
// entries are live, the one expiring first goes, as .NET bounds its cache by
// MaxEntryCount.
type responseCache struct {
	max int

	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	order   expiryHeap
}

type cacheKey struct{ responseTopic, correlation string }

type cacheEntry struct {
	key     cacheKey
	expires time.Time
	done    bool
	resp    *mqttclient.Message // nil: the request got no response
	// waiting holds the expiry of each duplicate that arrived while the
	// original was under way.
	waiting []time.Time
	index   int // in order
}

type cacheState int

const (
	cacheNew      cacheState = iota // registered now, under way
	cacheInFlight                   // a duplicate of a request under way
	cacheDone                       // a duplicate of an answered request
)

func newResponseCache(max int) *responseCache {
	return &responseCache{max: max, entries: make(map[cacheKey]*cacheEntry)}
}

// lookup finds the entry of a request arriving at now that expires at
// expires. For a new request it registers one (cacheNew), which complete
// must end. A duplicate of a request under way is noted (cacheInFlight) and
// gets the response when complete returns it; for a duplicate of an
// answered request lookup returns the response sent (nil for none).
func (c *responseCache) lookup(responseTopic string, correlation []byte, now, expires time.Time) (*cacheEntry, *mqttclient.Message, cacheState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.order) > 0 && !now.Before(c.order[0].expires) {
		c.remove(c.order[0])
	}
	k := cacheKey{responseTopic: responseTopic, correlation: string(correlation)}
	if e, ok := c.entries[k]; ok {
		if !e.done {
			e.waiting = append(e.waiting, expires)
			return e, nil, cacheInFlight
		}
		return e, e.resp, cacheDone
	}
	e := &cacheEntry{key: k, expires: expires}
	c.entries[k] = e
	heap.Push(&c.order, e)
	for len(c.entries) > c.max {
		c.remove(c.order[0])
	}
	return e, nil, cacheNew
}

// complete records the response to the request of entry e (nil for none)
// and returns the expiries of the duplicates waiting for it.
func (c *responseCache) complete(e *cacheEntry, resp *mqttclient.Message) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.done, e.resp = true, resp
	waiting := e.waiting
	e.waiting = nil
	return waiting
}

// len is the number of live entries.
func (c *responseCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// remove drops an entry; c.mu is held.
func (c *responseCache) remove(e *cacheEntry) {
	delete(c.entries, e.key)
	heap.Remove(&c.order, e.index)
}

// expiryHeap orders entries by expiry, earliest first.
type expiryHeap []*cacheEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *expiryHeap) Push(x any) {
	e := x.(*cacheEntry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
