package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

	"github.com/orchestrator/orchestrator/internal/storage/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the schema migrations of the SQLite backend, for
// package migrate.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the folder is embedded at build time
	}
	return sub
}

// legacyTable is where the runner before goose recorded the migrations it
// had applied: one row per file name without ".sql" ("0001_accounts"),
// applied_at in ms since the epoch.
//
// It is kept after adoption, never written again: a store upgraded from
// the last release that had that runner (all of 0001…0007 applied) can
// still be opened by that release if the upgrade is rolled back. The
// goose table is the record from then on.
const legacyTable = "schema_migrations"

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func tableExists(ctx context.Context, q querier, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	return n > 0, err
}

// gooseAdopted reports whether goose's version table records a migration.
func gooseAdopted(ctx context.Context, q querier) (bool, error) {
	if ok, err := tableExists(ctx, q, goose.DefaultTablename); err != nil || !ok {
		return false, err
	}
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM `+goose.DefaultTablename+` WHERE version_id > 0`).Scan(&n)
	return n > 0, err
}

// legacyApplied reads the legacy table: the versions it records, each
// with the time it was applied, checked against the migration files. It
// is empty when there is no such table.
func legacyApplied(ctx context.Context, q querier) (map[int64]time.Time, error) {
	if ok, err := tableExists(ctx, q, legacyTable); err != nil || !ok {
		return nil, err
	}
	sources, err := migrate.Sources(Migrations())
	if err != nil {
		return nil, err
	}
	byName := make(map[string]int64, len(sources))
	for _, m := range sources {
		byName[strings.TrimSuffix(m.Name, ".sql")] = m.Version
	}
	rows, err := q.QueryContext(ctx, `SELECT version, applied_at FROM `+legacyTable+` ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[int64]time.Time{}
	for rows.Next() {
		var name string
		var at int64
		if err := rows.Scan(&name, &at); err != nil {
			return nil, err
		}
		v, ok := byName[name]
		if !ok {
			// Guessing what an unknown migration did would be worse
			// than stopping.
			return nil, fmt.Errorf("%s records migration %q, which this version does not have", legacyTable, name)
		}
		applied[v] = time.UnixMilli(at).UTC().Truncate(time.Second) // goose keeps seconds
	}
	return applied, rows.Err()
}

// adoptLegacy records in goose's version table, as applied, the
// migrations that the runner before goose applied to db, so that goose
// runs only the others. It does so once, in one transaction: when the
// legacy table records some and goose's records none (a goose table with
// only goose's zero row, as a goose status leaves it, counts as none).
// The migrations themselves are not run again.
func adoptLegacy(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE on the writer
	if err != nil {
		return err
	}
	defer tx.Rollback()
	applied, err := legacyApplied(ctx, tx)
	if err != nil || len(applied) == 0 {
		return err
	}
	if ok, err := gooseAdopted(ctx, tx); err != nil || ok {
		return err
	}
	exists, err := tableExists(ctx, tx, goose.DefaultTablename)
	if err != nil {
		return err
	}
	if !exists {
		// The table and its zero row, as goose creates them.
		store, err := database.NewStore(migrate.SQLite, goose.DefaultTablename)
		if err != nil {
			return err
		}
		if err := store.CreateVersionTable(ctx, tx); err != nil {
			return err
		}
		if err := store.Insert(ctx, tx, database.InsertRequest{Version: 0}); err != nil {
			return err
		}
	}
	sources, err := migrate.Sources(Migrations())
	if err != nil {
		return err
	}
	for _, m := range sources { // oldest first, as goose would have applied them
		at, ok := applied[m.Version]
		if !ok {
			continue
		}
		// tstamp in goose's format (datetime('now')), keeping when the
		// migration was really applied.
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+goose.DefaultTablename+` (version_id, is_applied, tstamp) VALUES (?, 1, ?)`,
			m.Version, at.Format(time.DateTime)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// migrateUp applies the pending migrations on the writer db, after
// adopting what the runner before goose applied, and returns the
// versions it applied. Each migration runs in its own transaction.
func migrateUp(ctx context.Context, db *sql.DB) ([]int64, error) {
	if err := adoptLegacy(ctx, db); err != nil {
		return nil, fmt.Errorf("adopt %s: %w", legacyTable, err)
	}
	return migrate.Up(ctx, db, migrate.SQLite, Migrations())
}

// Migrate opens (creating if needed) the database file at path, applies
// its pending migrations, closes it and returns the versions applied. It
// is what Open does, for `orchestrator store migrate`; the caller holds
// the data directory's lock.
func Migrate(ctx context.Context, path string) ([]int64, error) {
	s, applied, err := open(ctx, path)
	if err != nil {
		return nil, err
	}
	return applied, s.Close()
}

// MigrationStatus lists the migrations of the database file at path,
// oldest first, with whether each is applied. It only reads, and may run
// while a server uses the file: a missing file has every migration
// pending (and is not created), and a store the runner before goose
// migrated is reported as Open would adopt it.
func MigrationStatus(ctx context.Context, path string) ([]migrate.Migration, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return migrate.Sources(Migrations())
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db, err := openReadOnly(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	st, err := migrationStatus(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migration status of %s: %w", path, err)
	}
	return st, nil
}

func migrationStatus(ctx context.Context, db *sql.DB) ([]migrate.Migration, error) {
	if ok, err := gooseAdopted(ctx, db); err != nil {
		return nil, err
	} else if ok {
		return migrate.Status(ctx, db, migrate.SQLite, Migrations())
	}
	applied, err := legacyApplied(ctx, db)
	if err != nil {
		return nil, err
	}
	st, err := migrate.Sources(Migrations())
	if err != nil {
		return nil, err
	}
	for i, m := range st {
		if at, ok := applied[m.Version]; ok {
			st[i].Applied, st[i].AppliedAt = true, at
		}
	}
	return st, nil
}

// openReadOnly opens the existing database file at path for reading
// only (query_only); a server may be using it meanwhile. Not mode=ro: a
// read-only connection leaves the -wal and -shm files it had to create,
// where the last read-write one to close removes them.
func openReadOnly(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "rw") // never creates the file
	q.Add("_pragma", "query_only(1)")
	q.Add("_pragma", "busy_timeout(10000)")
	return sql.Open("sqlite", "file:"+path+"?"+q.Encode())
}

// HoldsData reports whether the store at path holds an account or a
// signing key: what a server writes, sealed with its secret key, from its
// first start on. A store that `orchestrator store migrate` created ahead
// of the first start holds only the schema. It only reads.
func HoldsData(ctx context.Context, path string) (bool, error) {
	db, err := openReadOnly(path)
	if err != nil {
		return false, err
	}
	defer db.Close()
	for _, table := range []string{"accounts", "signing_keys"} {
		if ok, err := tableExists(ctx, db, table); err != nil || !ok {
			if err != nil {
				return false, fmt.Errorf("sqlite: %s: %w", path, err)
			}
			continue
		}
		var some bool
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+`)`).Scan(&some); err != nil {
			return false, fmt.Errorf("sqlite: %s: %w", path, err)
		}
		if some {
			return true, nil
		}
	}
	return false, nil
}
