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
