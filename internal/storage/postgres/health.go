package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// fullWindow is how long after a write was refused for lack of space the
// store still reports itself not ready (as the SQLite backend does).
const fullWindow = 5 * time.Second

// probeEvery is how often Ready writes, at most: /readyz is open to
// anyone, and must not be a way to hammer the shared database.
const probeEvery = time.Second

// probe is the last write probe's result, reused for probeEvery.
type probe struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// Ready reports whether the store answers reads and accepts writes: it
// pings, then rewrites the health_probe row (so a read-only standby or a
// full disk fails it) at most once per probeEvery, reusing the last
// result in between; and it fails for fullWindow after any write was
// refused for lack of space. A server that does not answer gives an
// error wrapping storage.ErrUnavailable.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return fmt.Errorf("store does not answer: %w", err)
	}
	if err := s.writeProbe(ctx); err != nil {
		return fmt.Errorf("store refuses writes: %w", err)
	}
	if at := s.fullAt.Load(); at != 0 {
		if ago := s.clock().Sub(time.Unix(0, at)); ago < fullWindow {
			return fmt.Errorf("%w: a write was refused for lack of space %v ago", storage.ErrStorageFull, ago.Round(time.Millisecond))
		}
	}
	return nil
}

// writeProbe rewrites the health_probe row, or returns the result of the
// last probe when it is younger than probeEvery. Concurrent callers wait
// for one probe and share its result.
func (s *Store) writeProbe(ctx context.Context) error {
	p := &s.probe
	p.mu.Lock()
	defer p.mu.Unlock()
	if age := s.clock().Sub(p.at); !p.at.IsZero() && age >= 0 && age < probeEvery {
		return p.err
	}
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO health_probe (id, at) VALUES (1, $1)
			ON CONFLICT (id) DO UPDATE SET at = excluded.at`, s.clock().UnixMilli())
		return err
	})
	if ctx.Err() != nil {
		return err // cut short by the caller: it says nothing about the store
	}
	p.at, p.err = s.clock(), err
	return err
}
