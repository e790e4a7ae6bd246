package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// fullWindow is how long after a write was refused for lack of space the
// store still reports itself not ready: a tiny probe write can fit where
// real writes do not, and a load balancer should not flap between the two.
const fullWindow = 5 * time.Second

// probeEvery is how often Ready writes, at most: /readyz is open to anyone,
// and must not be a way to hammer the one writer.
const probeEvery = time.Second

// probe is the last write probe's result, reused for probeEvery.
type probe struct {
	mu  sync.Mutex
	at  time.Time
	err error
	n   int64 // probes written, for tests
}

// storageErr turns a write's error into the storage sentinel where one
// applies: SQLITE_FULL (SQLite's answer to ENOSPC when it writes) or
// ENOSPC itself becomes storage.ErrStorageFull, and the time is noted for
// Ready.
func (s *Store) storageErr(err error) error {
	if err == nil || !isFull(err) || errors.Is(err, storage.ErrStorageFull) {
		return err
	}
	s.fullAt.Store(s.clock().UnixNano())
	return fmt.Errorf("%w: %w", storage.ErrStorageFull, err)
}

// isFull reports whether err is a write refused for lack of space.
func isFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}

func (s *Store) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// Ready reports whether the store answers reads and accepts writes: it
// reads, then rewrites one row through the normal writer (so a read-only
// file or a full disk fails it) at most once per probeEvery, reusing the
// last result in between; and it fails for fullWindow after any write
// was refused for lack of space.
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
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO health_probe (id, at) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET at = excluded.at`, s.clock().UnixMilli())
		return err
	})
	if ctx.Err() != nil {
		return err // cut short by the caller: it says nothing about the store
	}
	p.at, p.err = s.clock(), err
	p.n++
	return err
}

// quickCheck runs PRAGMA quick_check and refuses a corrupt store, saying
// how to restore it: serving from it would answer 500 on the damaged
// pages and keep acknowledging writes into a damaged file.
func (s *Store) quickCheck(ctx context.Context, path string) error {
	corrupt := func(detail string) error {
		return fmt.Errorf("sqlite: %s is corrupt (PRAGMA quick_check: %s); the server will not use it. "+
			"Stop every process using it, then restore it from a backup (removing %[1]s-wal and %[1]s-shm), "+
			"or salvage what is readable with `sqlite3 %[1]s .recover | sqlite3 %[1]s.recovered` and move %[1]s.recovered in its place",
			path, detail)
	}
	rows, err := s.r.QueryContext(ctx, `PRAGMA quick_check(5)`)
	if err != nil {
		if isCorrupt(err) {
			return corrupt(err.Error())
		}
		return fmt.Errorf("sqlite: quick_check %s: %w", path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("sqlite: quick_check %s: %w", path, err)
		}
		if line != "ok" {
			problems = append(problems, strings.Join(strings.Fields(line), " "))
		}
	}
	if err := rows.Err(); err != nil {
		if isCorrupt(err) {
			return corrupt(err.Error())
		}
		return fmt.Errorf("sqlite: quick_check %s: %w", path, err)
	}
	if len(problems) > 0 {
		return corrupt(strings.Join(problems, "; "))
	}
	return nil
}

// isCorrupt reports whether err says the file is damaged or not a
// database at all.
func isCorrupt(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return true
		}
	}
	return false
}
