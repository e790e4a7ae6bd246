package invalidation

import "context"

// Epochs gives each account a counter that only grows; a cache entry read
// at epoch e of its account is valid while Epoch(account) == e.
//
// A reader takes the epoch before it reads the store, and stores the entry
// with that epoch: a change committed in between bumps the epoch, so the
// entry is never used.
type Epochs interface {
	// Epoch returns the account's current epoch. It is on the hot path
	// (every authenticated request) and never waits on the network.
	Epoch(ctx context.Context, accountID string) uint64
	// Bump is called after a change to the account is committed and
	// before it is acknowledged. Once it returns nil, every node's Epoch
	// for that account returns a new value on every call that starts
	// afterwards. This process's Epoch changes even when it returns an
	// error.
	Bump(ctx context.Context, accountID string) error
	// Status is nil when healthy; otherwise it says why entries are being
	// re-read every second (for /readyz "degraded" and a metric).
	Status() error
	// Close releases connections and goroutines.
	Close() error
}
