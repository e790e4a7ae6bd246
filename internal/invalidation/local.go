package invalidation

import "context"

// local is the in-process Epochs: right for one process per store, and
// the fallback of every node for its own changes.
type local struct{ t *table }

// NewLocal returns Epochs that only this process sees. An account never
// bumped has epoch 0.
func NewLocal() Epochs { return &local{t: newTable()} }

func (l *local) Epoch(_ context.Context, accountID string) uint64 { return l.t.get(accountID) }

func (l *local) Bump(_ context.Context, accountID string) error {
	l.t.bump(accountID)
	return nil
}

func (l *local) Status() error { return nil }
func (l *local) Close() error  { return nil }

// Shared reports whether e's bumps are seen by other processes, so that a
// cache in front of a store that other processes change may keep its
// entries longer than SPEC §9's one-second bound.
func Shared(e Epochs) bool {
	_, ok := e.(*local)
	return !ok
}
