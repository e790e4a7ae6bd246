package invalidation

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

const (
	shardCount = 256
	// shardLimit bounds the accounts remembered per shard. A shard that
	// fills up forgets them all and raises its floor instead: those
	// accounts' entries are read again once, and memory stays bounded
	// (256 × 4096 accounts) however many accounts change over a lifetime.
	shardLimit = 4096
)

// table holds the per-account epochs of one process. Every value it hands
// out comes from one counter, so an account's epoch only grows: a bump
// sets it to a fresh stamp, a flush raises a floor under every account.
// Reads take a shard's read lock only: 256 shards keep parallel readers
// of different accounts apart.
type table struct {
	seed  maphash.Seed
	seq   atomic.Uint64 // the last stamp handed out
	floor atomic.Uint64 // every account's epoch is at least this
	shard [shardCount]shard
}

type shard struct {
	mu    sync.RWMutex
	m     map[string]uint64
	floor uint64
	_     [24]byte // keeps shards on separate cache lines
}

func newTable() *table { return &table{seed: maphash.MakeSeed()} }

func (t *table) shardOf(account string) *shard {
	return &t.shard[maphash.String(t.seed, account)%shardCount]
}

// get returns the account's epoch.
func (t *table) get(account string) uint64 {
	floor := t.floor.Load()
	sh := t.shardOf(account)
	sh.mu.RLock()
	v, ok := sh.m[account]
	if !ok {
		v = sh.floor
	}
	sh.mu.RUnlock()
	return max(v, floor)
}

// bump gives the account a fresh epoch.
func (t *table) bump(account string) {
	sh := t.shardOf(account)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	stamp := t.seq.Add(1)
	if len(sh.m) >= shardLimit {
		sh.m, sh.floor = nil, stamp
		return
	}
	if sh.m == nil {
		sh.m = make(map[string]uint64)
	}
	sh.m[account] = stamp
}

// flush gives every account a fresh epoch at once.
func (t *table) flush() { t.floor.Store(t.seq.Add(1)) }
