package accounts

import (
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// authCache remembers authenticated keys and credentials so the hot path
// does not read the store on every request. It is bounded, keyed by the
// keyed hash of a key (never the key itself) or by user ID, and
// revocation-aware: every entry records the epoch it was read in, and any
// change to any account's credentials bumps the epoch before the change is
// acknowledged, so no entry read before a change is ever used after it.
// Changes are rare (regenerate, upgrade, delete), so dropping everything on
// each is cheap and leaves no window.
type authCache struct {
	epoch atomic.Uint64
	keys  *otter.Cache[[32]byte, keyEntry]
	creds *otter.Cache[string, credEntry]
}

type keyEntry struct {
	account   storage.Account
	retiredAt time.Time
	epoch     uint64
}

type credEntry struct {
	cred  storage.Credential
	found bool
	epoch uint64
}

const (
	cacheSize = 200_000
	cacheTTL  = 5 * time.Minute
)

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{
		keys: otter.Must(&otter.Options[[32]byte, keyEntry]{
			MaximumSize: cacheSize, ExpiryCalculator: otter.ExpiryWriting[[32]byte, keyEntry](ttl),
		}),
		creds: otter.Must(&otter.Options[string, credEntry]{
			MaximumSize: cacheSize, ExpiryCalculator: otter.ExpiryWriting[string, credEntry](ttl),
		}),
	}
}

// SharedStoreCacheTTL is how long credentials are remembered when other
// processes change the same store (PostgreSQL): their regenerations do
// not bump this process's epoch, so an entry is re-read from the store at
// least this often (SPEC §9's bound while no invalidation is shared).
const SharedStoreCacheTTL = time.Second

// invalidate makes every remembered entry stale.
func (c *authCache) invalidate() { c.epoch.Add(1) }
