package ccs

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// DefaultDocumentCacheBytes bounds the document cache when Config leaves
// it unset.
const DefaultDocumentCacheBytes = 16 << 20

// docCache keeps recently read documents (all their properties, as the
// store returned them) so that hot documents are served without a query.
//
// It is correct only while every write to the store goes through this
// process's Service, which invalidates what it writes; the composition
// root turns it off for shared stores. A read that missed may cache what
// it read only if no write to a document of the same shard began since
// the read started: epochs, bumped under the shard's lock by every write,
// tell. So a read that raced a write never leaves the old content behind.
type docCache struct {
	c      *otter.Cache[storage.ContextKey, *cachedDoc]
	seed   maphash.Seed
	shards [64]docShard
}

type docShard struct {
	mu    sync.Mutex
	epoch uint64
}

// cachedDoc is a document's properties ordered by name, including ones
// that expired since it was read: readers filter by their clock.
type cachedDoc struct {
	props []storage.ContextProperty
	// firstExpiry is the earliest ExpiresAt in ms (0: none expires).
	firstExpiry int64
}

func newDocCache(maxBytes int) *docCache {
	return &docCache{
		seed: maphash.MakeSeed(),
		c: otter.Must(&otter.Options[storage.ContextKey, *cachedDoc]{
			MaximumWeight: uint64(maxBytes),
			StatsRecorder: stats.NewCounter(),
			// The heap a document takes: its cache node, key, property
			// slice and strings, measured with a heap profile (about 1.6
			// times the bytes of its names and values plus 100 bytes a
			// property and 250 a document).
			Weigher: func(k storage.ContextKey, d *cachedDoc) uint32 {
				w := 250 + len(k.AccountID) + len(k.Namespace) + len(k.SessionID)
				for _, p := range d.props {
					w += 100 + (len(p.Name)+len(p.Value))*8/5
				}
				return uint32(min(w, 1<<31))
			},
		}),
	}
}

// CacheStats returns the hits, misses and evictions of the document
// cache, for the metrics; ok is false when the cache is off.
func (s *Service) CacheStats() (st stats.Stats, ok bool) {
	if s.docs == nil {
		return stats.Stats{}, false
	}
	return s.docs.c.Stats(), true
}

func newCachedDoc(props []storage.ContextProperty) *cachedDoc {
	d := &cachedDoc{props: props}
	for _, p := range props {
		if e := p.ExpiresAt; !e.IsZero() && (d.firstExpiry == 0 || e.UnixMilli() < d.firstExpiry) {
			d.firstExpiry = e.UnixMilli()
		}
	}
	return d
}

func (d *docCache) shard(k storage.ContextKey) *docShard {
	return &d.shards[maphash.Comparable(d.seed, k)%uint64(len(d.shards))]
}

// begin returns the shard's epoch before a read of the store.
func (d *docCache) begin(k storage.ContextKey) uint64 {
	sh := d.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.epoch
}

// add caches what a read that began at epoch found, unless a write began
// meanwhile.
func (d *docCache) add(k storage.ContextKey, epoch uint64, doc *cachedDoc) {
	sh := d.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.epoch == epoch {
		d.c.Set(k, doc)
	}
}

// invalidate forgets k; called after every write to it, failed or not.
func (d *docCache) invalidate(k storage.ContextKey) {
	sh := d.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.epoch++
	d.c.Invalidate(k)
}

// invalidateWhere forgets every document that match selects (namespace
// and account deletions, which are rare).
func (d *docCache) invalidateWhere(match func(storage.ContextKey) bool) {
	for i := range d.shards {
		d.shards[i].mu.Lock()
		d.shards[i].epoch++
	}
	defer func() {
		for i := range d.shards {
			d.shards[i].mu.Unlock()
		}
	}()
	for k := range d.c.Keys() {
		if match(k) {
			d.c.Invalidate(k)
		}
	}
}

// live returns the properties of doc alive at now, only those named when
// names is not nil, in name order. It shares doc's slice when it can:
// callers must not modify the result.
func (doc *cachedDoc) live(names []string, now time.Time) []storage.ContextProperty {
	nowMS := now.UnixMilli()
	allLive := doc.firstExpiry == 0 || doc.firstExpiry > nowMS
	if names == nil && allLive {
		return doc.props
	}
	alive := func(p storage.ContextProperty) bool {
		return allLive || p.ExpiresAt.IsZero() || p.ExpiresAt.UnixMilli() > nowMS
	}
	out := []storage.ContextProperty{}
	if len(names) == 1 {
		for _, p := range doc.props {
			if p.Name == names[0] && alive(p) {
				out = append(out, p)
				break
			}
		}
		return out
	}
	var want map[string]bool
	if names != nil {
		want = make(map[string]bool, len(names))
		for _, n := range names {
			want[n] = true
		}
	}
	for _, p := range doc.props {
		if (want == nil || want[p.Name]) && alive(p) {
			out = append(out, p)
		}
	}
	return out
}
