package migrate_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/orchestrator/orchestrator/internal/storage/migrate"
	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
	"github.com/orchestrator/orchestrator/internal/storage/postgres"
)

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Ten nodes starting together on an empty database: the migrations run
// once (the advisory lock), every node sees them applied.
func TestPostgresConcurrentUp(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	ctx := context.Background()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		errs  []error
	)
	for range 10 {
		db := open(t, dsn)
		wg.Go(func() {
			applied, err := migrate.Up(ctx, db, migrate.Postgres, postgres.Migrations())
			mu.Lock()
			defer mu.Unlock()
			total += len(applied)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st, err := migrate.Status(ctx, open(t, dsn), migrate.Postgres, postgres.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	if total != len(st) {
		t.Errorf("ten nodes applied %d migrations in all; want each of the %d once", total, len(st))
	}
	for _, m := range st {
		if !m.Applied || m.AppliedAt.IsZero() {
			t.Errorf("migration %d (%s) not applied: %+v", m.Version, m.Name, m)
		}
	}
	if n, err := migrate.Pending(ctx, open(t, dsn), migrate.Postgres, postgres.Migrations()); err != nil || n != 0 {
		t.Errorf("Pending = %d, %v; want 0", n, err)
	}
}

func TestPostgresStatusBeforeUp(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	st, err := migrate.Status(context.Background(), open(t, dsn), migrate.Postgres, postgres.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	if len(st) == 0 {
		t.Fatal("no migrations listed")
	}
	for _, m := range st {
		if m.Applied {
			t.Errorf("migration %d applied on an empty schema", m.Version)
		}
	}
}

// Status only reads: on an empty schema it does not create goose's
// version table (DDL an operator may not allow before migrating).
func TestPostgresStatusCreatesNothing(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	db := open(t, dsn)
	if _, err := migrate.Status(context.Background(), db, migrate.Postgres, postgres.Migrations()); err != nil {
		t.Fatal(err)
	}
	var table sql.NullString
	if err := db.QueryRow(`SELECT to_regclass('goose_db_version')::text`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	if table.Valid {
		t.Errorf("Status created %s", table.String)
	}
}
