package migrate

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
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
// It only reads: a database without goose's version table has every
// migration pending, and the table is not created (goose's own status
// would create it), so that an operator may look before allowing DDL.
func Status(ctx context.Context, db *sql.DB, d Dialect, fsys fs.FS) ([]Migration, error) {
	if ok, err := versionTableExists(ctx, db, d); err != nil {
		return nil, fmt.Errorf("migrate: status: %w", err)
	} else if !ok {
		return Sources(fsys)
	}
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

// Sources lists the migrations of fsys, oldest first, none applied: what
// Status reports of a database that has none, without reading one.
func Sources(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return nil, fmt.Errorf("migrate: %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: name})
	}
	slices.SortFunc(out, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	return out, nil
}

// versionTableExists reports whether goose's version table is in db (in
// the current schema on PostgreSQL).
func versionTableExists(ctx context.Context, db *sql.DB, d Dialect) (bool, error) {
	if d == SQLite {
		// goose has no existence query for SQLite.
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, goose.DefaultTablename).Scan(&n)
		return n > 0, err
	}
	s, err := database.NewStore(d, goose.DefaultTablename)
	if err != nil {
		return false, err
	}
	if x, ok := s.(database.StoreExtender); ok {
		ok, err := x.TableExists(ctx, db)
		if !errors.Is(err, errors.ErrUnsupported) {
			return ok, err
		}
	}
	return true, nil // unknown: let goose find out
}
