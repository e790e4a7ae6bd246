package sqlite

import (
	"context"
	"time"
)

// SetNow sets the clock of s's readiness window.
func SetNow(s *Store, now func() time.Time) { s.now = now }

// RefuseWrites makes the writer connection read-only (PRAGMA query_only),
// as a store file the process cannot write would be.
func RefuseWrites(s *Store) error {
	_, err := s.w.ExecContext(context.Background(), `PRAGMA query_only = 1`)
	return err
}

// Probes is the number of write probes Ready has run.
func Probes(s *Store) int64 {
	s.probe.mu.Lock()
	defer s.probe.mu.Unlock()
	return s.probe.n
}

// CacheSizes are the page cache settings (PRAGMA cache_size) of the
// writer and of a reader connection.
func CacheSizes(s *Store) (writer, reader int64, err error) {
	ctx := context.Background()
	if err = s.w.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&writer); err == nil {
		err = s.r.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&reader)
	}
	return writer, reader, err
}
