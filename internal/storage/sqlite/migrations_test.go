package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/migrate"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// legacyAt is when the legacy runner of the fixture applied migrations.
var legacyAt = time.Date(2026, 3, 4, 5, 6, 7, 890e6, time.UTC)

// legacyStore creates, at path, the store the migration runner before
// goose (sqlite.go up to 54a28fe) left after applying the first n
// migration files: the same pragmas on one connection, each whole file
// executed in one transaction together with its schema_migrations row
// (version = the file name without ".sql", applied_at in ms). goose's
// annotations are SQL comments to it.
// migrationCount is the number of migration files: goose applies them
// all to a new store, and after the legacy runner's on adoption.
func migrationCount(t *testing.T) int {
	t.Helper()
	names, err := fs.Glob(sqlite.Migrations(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}

func legacyStore(t *testing.T, path string, n int) *sql.DB {
	t.Helper()
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(sqlite.Migrations(), "*.sql")
	if err != nil || len(names) < n {
		t.Fatalf("migrations %v, %v; want at least %d", names, err, n)
	}
	slices.Sort(names)
	for _, name := range names[:n] {
		body, err := fs.ReadFile(sqlite.Migrations(), name)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			strings.TrimSuffix(name, ".sql"), legacyAt.UnixMilli()); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// putLegacyData writes rows into the tables of a store at version 5 or
// later, as the code of those versions would have.
func putLegacyData(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, q := range []string{
		`INSERT INTO accounts (id, name, auth_version, created_at, upgraded_at) VALUES ('7', 'Acme', 'v2', 1700000000000, 1700000001000)`,
		`INSERT INTO api_keys (hash, account_id, sealed, created_at) VALUES (X'0102', '7', X'0304', 1700000000000)`,
		`INSERT INTO credentials (account_id, user_id, secret_hash, seed, created_at, revoked_before_ms, pending_before_ms, pending_at)
			VALUES ('7', 'user-7', X'05', X'06', 1700000000000, 1700000002000, 1700000003000, 1700000004000)`,
		`INSERT INTO audit_log (time, account_id, actor, action, address) VALUES (1700000000000, '7', 'operator', 'account.create', '127.0.0.1')`,
		`INSERT INTO ccs_namespaces (account_id, name, created_at, ttl_ms) VALUES ('7', 'shop', 1700000000000, NULL)`,
		`INSERT INTO ccs_sessions (account_id, namespace, session_id, created_at, updated_at, ttl_ms, size) VALUES ('7', 'shop', 'conv-1', 1700000000000, 1700000000000, NULL, 23)`,
		`INSERT INTO ccs_properties (account_id, namespace, session_id, name, value, expires_at, size) VALUES ('7', 'shop', 'conv-1', 'cart', '3', 0, 9)`,
		`INSERT INTO ccs_properties (account_id, namespace, session_id, name, value, expires_at, size) VALUES ('7', 'shop', 'conv-1', 'tier', '"gold"', 0, 14)`,
		`INSERT INTO policy_evaluations (account_id, time, conversation_id, policy_id, state) VALUES ('7', 1700000000000, 'conv-1', 'p1', 'matched')`,
		`INSERT INTO policy_log_counts (account_id, n) VALUES ('7', 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// dump returns every row of every table of db but the migration records,
// as text, table by table.
func dump(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	var tables []string
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('schema_migrations', 'goose_db_version', 'sqlite_sequence')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], fmt.Sprintf("%v", vals))
		}
		rows.Close()
		slices.Sort(out[table])
	}
	return out
}

// schema returns the SQL of every table, index and trigger of db but the
// migration records.
func schema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT type, name, coalesce(sql, '') FROM sqlite_master
		WHERE name NOT IN ('schema_migrations', 'goose_db_version', 'sqlite_sequence') AND name NOT LIKE 'sqlite_autoindex_schema_migrations%'
		ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ, name, sql string
		if err := rows.Scan(&typ, &name, &sql); err != nil {
			t.Fatal(err)
		}
		out = append(out, typ+" "+name+": "+sql)
	}
	return out
}

type gooseRow struct {
	Version int64
	Applied bool
	Tstamp  string
}

func gooseRows(t *testing.T, path string) []gooseRow {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT version_id, is_applied, CAST(tstamp AS TEXT) FROM goose_db_version ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []gooseRow
	for rows.Next() {
		var r gooseRow
		if err := rows.Scan(&r.Version, &r.Applied, &r.Tstamp); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestOpenAdoptsLegacyStore opens stores that the runner before goose
// migrated, fully and up to 0005: goose must record what that runner
// applied without running it again, apply only the rest, and leave the
// data as it was.
func TestOpenAdoptsLegacyStore(t *testing.T) {
	for _, n := range []int{7, 5} {
		t.Run(fmt.Sprintf("at %d", n), func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "orchestrator.db")
			db := legacyStore(t, path, n)
			putLegacyData(t, db)
			before := dump(t, db)
			db.Close()

			// The status of the legacy store, read without changing it.
			st, err := sqlite.MigrationStatus(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range st {
				if want := m.Version <= int64(n); m.Applied != want {
					t.Errorf("legacy status: %d applied = %v, want %v", m.Version, m.Applied, want)
				}
				if m.Applied && !m.AppliedAt.Equal(legacyAt.Truncate(time.Second)) {
					t.Errorf("legacy status: %d applied at %v, want %v", m.Version, m.AppliedAt, legacyAt)
				}
			}

			s, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			acct, err := s.GetAccount(ctx, "7")
			if err != nil || acct.Name != "Acme" {
				t.Errorf("GetAccount = %+v, %v", acct, err)
			}
			cred, err := s.CredentialByUserID(ctx, "user-7")
			if err != nil || cred.AccountID != "7" {
				t.Errorf("CredentialByUserID = %+v, %v", cred, err)
			}
			props, err := s.GetProperties(ctx, storage.ContextKey{AccountID: "7", Namespace: "shop", SessionID: "conv-1"}, nil, time.Now())
			if err != nil || len(props) != 2 {
				t.Errorf("GetProperties = %+v, %v", props, err)
			}
			// 0006 counted what was there (n = 5) or the triggers did (n = 7).
			want := storage.ContextUsage{Properties: 2, Bytes: (64 + 4) + (64 + 4 + 6) + (64 + 4 + 6 + 4 + 1) + (64 + 4 + 6 + 4 + 6)}
			if got, err := s.ContextUsage(ctx, "7"); err != nil || got != want {
				t.Errorf("ContextUsage = %+v, %v; want %+v", got, err, want)
			}
			s.Close()

			db, err = sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			after := dump(t, db)
			// 0010 added last_used_at (0: never used) as the last column.
			for _, table := range []string{"api_keys", "credentials"} {
				for i, row := range after[table] {
					after[table][i] = strings.TrimSuffix(row, " 0]") + "]"
				}
			}
			for table, rows := range before {
				if diff := cmp.Diff(rows, after[table]); diff != "" {
					t.Errorf("table %s changed (-before +after):\n%s", table, diff)
				}
			}
			var kept int
			if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&kept); err != nil || kept != n {
				t.Errorf("schema_migrations holds %d rows (%v), want the %d it had: kept, not written", kept, err, n)
			}

			// Reopened: nothing runs twice.
			s, err = sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			got := gooseRows(t, path)
			if len(got) != 1+migrationCount(t) || got[0].Version != 0 {
				t.Fatalf("goose_db_version = %+v, want the zero row and versions 1 to %d", got, migrationCount(t))
			}
			for i, r := range got[1:] {
				if r.Version != int64(i+1) || !r.Applied {
					t.Errorf("goose_db_version row %d = %+v, want version %d applied once", i+1, r, i+1)
				}
				if r.Version <= int64(n) && r.Tstamp != legacyAt.Format(time.DateTime) {
					t.Errorf("adopted version %d: tstamp %q, want when the legacy runner applied it (%s)", r.Version, r.Tstamp, legacyAt.Format(time.DateTime))
				}
			}
			st, err = sqlite.MigrationStatus(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range st {
				if !m.Applied || m.AppliedAt.IsZero() {
					t.Errorf("status after Open: %+v, want applied", m)
				}
			}
		})
	}
}

// TestGooseSchemaIsLegacySchema checks that the annotations changed
// nothing: goose's run of the files builds the very schema the legacy
// runner built from them.
func TestGooseSchemaIsLegacySchema(t *testing.T) {
	dir := t.TempDir()
	legacy := legacyStore(t, filepath.Join(dir, "legacy.db"), migrationCount(t))
	path := filepath.Join(dir, "goose.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if diff := cmp.Diff(schema(t, legacy), schema(t, db)); diff != "" {
		t.Errorf("schema (-legacy runner +goose):\n%s", diff)
	}
}

// A legacy store whose goose table was created by a goose status (only
// the zero row) is adopted all the same.
func TestOpenAdoptsDespiteEmptyGooseTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orchestrator.db")
	db := legacyStore(t, path, 7)
	for _, q := range []string{
		`CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('now')))`,
		`INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := gooseRows(t, path); len(got) != 1+migrationCount(t) {
		t.Errorf("goose_db_version = %+v, want the zero row and versions 1 to %d", got, migrationCount(t))
	}
}

// A legacy table naming a migration this version does not have stops
// Open, and changes nothing.
func TestOpenRefusesUnknownLegacyMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orchestrator.db")
	db := legacyStore(t, path, 7)
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES ('0008_future', 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := sqlite.Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), `"0008_future"`) {
		t.Fatalf("Open = %v, want an error naming 0008_future", err)
	}
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'goose_db_version'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("goose_db_version created (%d, %v) by a refused adoption", n, err)
	}
}

func TestMigrationStatusFreshAndMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "orchestrator.db")
	st, err := sqlite.MigrationStatus(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	want := []migrate.Migration{
		{Version: 1, Name: "0001_accounts.sql"}, {Version: 2, Name: "0002_context.sql"},
		{Version: 3, Name: "0003_policies.sql"}, {Version: 4, Name: "0004_policy_logs.sql"},
		{Version: 5, Name: "0005_revocation.sql"}, {Version: 6, Name: "0006_context_quota.sql"},
		{Version: 7, Name: "0007_health_probe.sql"}, {Version: 8, Name: "0008_account_attributes.sql"},
		{Version: 9, Name: "0009_revoked_tokens.sql"}, {Version: 10, Name: "0010_last_used.sql"},
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("status of a missing file (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("status created the database file")
	}
	applied, err := sqlite.Migrate(ctx, path)
	var all []int64
	for _, m := range want {
		all = append(all, m.Version)
	}
	if err != nil || !slices.Equal(applied, all) {
		t.Fatalf("Migrate = %v, %v; want %v", applied, err, all)
	}
	if applied, err := sqlite.Migrate(ctx, path); err != nil || len(applied) != 0 {
		t.Fatalf("Migrate again = %v, %v; want none", applied, err)
	}
	st, err = sqlite.MigrationStatus(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st {
		if !m.Applied || time.Since(m.AppliedAt) > time.Minute {
			t.Errorf("after Migrate: %+v, want applied just now", m)
		}
	}
}
