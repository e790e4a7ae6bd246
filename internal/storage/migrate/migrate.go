package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Dialect is the SQL dialect of a backend.
type Dialect = goose.Dialect

// The dialects of the backends.
const (
	SQLite   = goose.DialectSQLite3
	Postgres = goose.DialectPostgres
)

// LockID is the PostgreSQL advisory lock key the migrations hold
// ("orchestrator migrate" hashed into a bigint, fixed forever so that
// every version of the binary takes the same lock).
const LockID int64 = 0x6f72636d6967 // "orcmig"

// Migration is one migration and whether the database has it.
type Migration struct {
	Version   int64
	Name      string // the file name
	Applied   bool
	AppliedAt time.Time // zero when not applied
}

// provider opens goose on db with the migrations of fsys (a folder of
// NNNNN_name.sql files at its root).
func provider(db *sql.DB, d Dialect, fsys fs.FS) (*goose.Provider, error) {
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if d == Postgres {
		// Ten nodes starting together: the first migrates, the others
		// wait on the lock (retried for up to 5 minutes), then find
		// nothing to do.
		l, err := lock.NewPostgresSessionLocker(lock.WithLockID(LockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(l))
	}
	return goose.NewProvider(d, db, fsys, opts...)
}

// Up applies every pending migration and returns the versions it
// applied.
func Up(ctx context.Context, db *sql.DB, d Dialect, fsys fs.FS) ([]int64, error) {
	p, err := provider(db, d, fsys)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	applied := make([]int64, 0, len(res))
	for _, r := range res {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// Pending reports how many migrations the database lacks.
func Pending(ctx context.Context, db *sql.DB, d Dialect, fsys fs.FS) (int, error) {
	st, err := Status(ctx, db, d, fsys)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range st {
		if !m.Applied {
			n++
		}
	}
	return n, nil
}

// Status lists every migration, oldest first, with whether it is applied.
func Status(ctx context.Context, db *sql.DB, d Dialect, fsys fs.FS) ([]Migration, error) {
	p, err := provider(db, d, fsys)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: status: %w", err)
	}
	out := make([]Migration, 0, len(st))
	for _, s := range st {
		out = append(out, Migration{
			Version: s.Source.Version, Name: s.Source.Path,
			Applied: s.State == goose.StateApplied, AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}
