package accounts

import (
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// authCache remembers authenticated keys and credentials so the hot path
// does not read the store on every request. It is bounded, keyed by the
// keyed hash of a key (never the key itself) or by user ID, and
// revocation-aware: every entry records its account and the account's
// epoch (invalidation.Epochs) taken before the store was read, and every
// change to an account's credentials bumps that account's epoch before
// the change is acknowledged, so no entry read before a change is ever
// used after it. Other accounts' entries stay: one regeneration does not
// send every account back to the store.
//
// accts remembers, by account id, whether an account exists, for the
// unauthenticated service discovery route: a deletion bumps the
// account's epoch, a creation the newCredentials epoch, as for creds.
type authCache struct {
	keys  *otter.Cache[[32]byte, keyEntry]
	creds *otter.Cache[string, credEntry]
	accts *otter.Cache[string, acctEntry]
}

// keyEntry is a key's owner, in as few bytes and pointers as the v1 guard
// needs (KeyOwner): about 160 bytes a key with its cache node, where a
// whole storage.Account took 205, so that the keys of 100,000 accounts in
// use stay cheap to hold and for the garbage collector to mark (issue 18).
type keyEntry struct {
	id                           string
	v2                           bool
	created, upgraded, retiredAt int64  // Unix ms; 0: none
	epoch                        uint64 // of id
}

// unixMS is t in Unix milliseconds, 0 for the zero time (as stored).
func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromUnixMS is the inverse of unixMS.
func fromUnixMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func newKeyEntry(a storage.Account, retiredAt time.Time, epoch uint64) keyEntry {
	return keyEntry{id: a.ID, v2: a.AuthVersion == storage.AuthV2, created: unixMS(a.CreatedAt), upgraded: unixMS(a.UpgradedAt), retiredAt: unixMS(retiredAt), epoch: epoch}
}

// owner is the KeyOwner e remembers.
func (e keyEntry) owner() KeyOwner {
	o := KeyOwner{ID: e.id, AuthVersion: storage.AuthV1, CreatedAt: fromUnixMS(e.created), UpgradedAt: fromUnixMS(e.upgraded)}
	if e.v2 {
		o.AuthVersion = storage.AuthV2
	}
	return o
}

type credEntry struct {
	cred  storage.Credential
	found bool
	owner string // cred.AccountID, or newCredentials when not found
	epoch uint64 // of owner
}

type acctEntry struct {
	found bool
	owner string // the account id, or newCredentials when not found
	epoch uint64 // of owner
}

// newCredentials is the epoch key of user IDs and account ids that were
// not found: a remembered "no such user" or "no such account" is dropped
// when credentials or accounts are created (Create, Upgrade). It is no
// account ID (those are digits).
const newCredentials = "+new"

const (
	cacheSize = 200_000
	cacheTTL  = 5 * time.Minute
)

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{
		keys: otter.Must(&otter.Options[[32]byte, keyEntry]{
			MaximumSize: cacheSize, ExpiryCalculator: otter.ExpiryWriting[[32]byte, keyEntry](ttl),
			StatsRecorder: stats.NewCounter(),
		}),
		creds: otter.Must(&otter.Options[string, credEntry]{
			MaximumSize: cacheSize, ExpiryCalculator: otter.ExpiryWriting[string, credEntry](ttl),
			StatsRecorder: stats.NewCounter(),
		}),
		accts: otter.Must(&otter.Options[string, acctEntry]{
			MaximumSize: cacheSize, ExpiryCalculator: otter.ExpiryWriting[string, acctEntry](ttl),
			StatsRecorder: stats.NewCounter(),
		}),
	}
}

// CacheStats returns the hits, misses and evictions (for size or expiry)
// of the caches of authenticated API keys, of credentials by user ID and
// of accounts by id (service discovery), for the metrics.
func (s *Service) CacheStats() (keys, creds, accts stats.Stats) {
	c := s.cache
	return c.keys.Stats(), c.creds.Stats(), c.accts.Stats()
}

// SharedStoreCacheTTL is how long credentials are remembered when other
// processes change the same store (PostgreSQL) and no shared Epochs tells
// this process of their changes: an entry is re-read from the store at
// least this often (SPEC §9's bound while no invalidation is shared).
const SharedStoreCacheTTL = time.Second
