package ccs

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// DefaultDocumentCacheBytes bounds the document cache when Config leaves
// it unset: 32 MiB of heap hold the property that v1 reads of 100,000
// accounts' documents ask for (about 270 bytes each), or about 16,000
// whole documents of ten properties (issue 18; it was 16 MiB, which held
// a tenth of those single properties' documents).
const DefaultDocumentCacheBytes = 32 << 20

// docCache keeps recently read documents (all their properties as the
// store returned them, or the one property a read asked for) so that hot
// documents are served without a query.
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

// cachedDoc is what the cache knows of a document. A whole document
// holds its properties ordered by name, including ones that expired since
// it was read: readers filter by their clock. A single property entry
// (single != nil) knows one property only, the one a read of one name (v1
// GET of a property) asked for, and whether the document has it: such a
// read caches what it read rather than the whole document, so that a
// cache of a given weight serves about ten times as many documents read
// that way (an account's document each at 100,000 accounts; issue 18). A
// read of another name, or of the whole document, then reads and caches
// the whole document.
//
// A single property entry is small and nearly free for the garbage
// collector: the struct, and one pointer-free buffer with its name and
// value (with the node and the key's one string, four heap objects of
// about 250 bytes in all). A read it serves builds the one-element answer.
type cachedDoc struct {
	props []storage.ContextProperty // whole document: every property
	// firstExpiry is the earliest ExpiresAt in ms (0: none expires); of
	// a single property entry, its property's.
	firstExpiry int64
	single      []byte // single property entry: the name, then the value when found
	nameLen     int
	found       bool
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
			// property and 250 a document; a single property entry 250
			// bytes and its name and value: BenchmarkDocumentCacheAccounts).
			Weigher: func(k storage.ContextKey, d *cachedDoc) uint32 {
				if d.single != nil {
					return uint32(min(250+len(k.AccountID)+len(k.Namespace)+len(k.SessionID)+len(d.single), 1<<31))
				}
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

// newSingleProperty is the entry of a read of the one property name,
// which found props (that property, or nothing). It copies name and value:
// the caller's name may share the memory of a whole request path.
func newSingleProperty(name string, props []storage.ContextProperty) *cachedDoc {
	d := &cachedDoc{nameLen: len(name), found: len(props) == 1}
	n := len(name)
	if d.found {
		n += len(props[0].Value)
		d.firstExpiry = props[0].ExpiresAt.UnixMilli()
		if props[0].ExpiresAt.IsZero() {
			d.firstExpiry = 0
		}
	}
	d.single = make([]byte, 0, n)
	d.single = append(d.single, name...)
	if d.found {
		d.single = append(d.single, props[0].Value...)
	}
	return d
}

// serves reports whether d answers a read of names (nil: every property).
func (d *cachedDoc) serves(names []string) bool {
	return d.single == nil || len(names) == 1 && string(d.single[:d.nameLen]) == names[0]
}

// ownKey returns k with its strings copied into one allocation, so that a
// cached entry does not keep alive the request path they were cut from.
func ownKey(k storage.ContextKey) storage.ContextKey {
	var sb strings.Builder
	sb.Grow(len(k.AccountID) + len(k.Namespace) + len(k.SessionID))
	sb.WriteString(k.AccountID)
	sb.WriteString(k.Namespace)
	sb.WriteString(k.SessionID)
	b, a, n := sb.String(), len(k.AccountID), len(k.Namespace)
	return storage.ContextKey{AccountID: b[:a], Namespace: b[a : a+n], SessionID: b[a+n:]}
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
	if sh.epoch != epoch {
		return
	}
	if doc.single != nil {
		// A whole document cached meanwhile (by a read that began after
		// this one's epoch, so as fresh) serves this read and more.
		if old, ok := d.c.GetIfPresent(k); ok && old.single == nil {
			return
		}
	}
	d.c.Set(ownKey(k), doc)
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
	if doc.single != nil {
		// It serves only a read of its name (serves).
		if !doc.found || !allLive {
			return []storage.ContextProperty{}
		}
		p := storage.ContextProperty{Name: names[0], Value: doc.single[doc.nameLen:]}
		if doc.firstExpiry != 0 {
			p.ExpiresAt = time.UnixMilli(doc.firstExpiry).UTC()
		}
		return []storage.ContextProperty{p}
	}
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
