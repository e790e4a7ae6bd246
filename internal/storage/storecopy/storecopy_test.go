package storecopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/orchestrator/orchestrator/internal/datadir"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// t0 is a fixed time with millisecond precision, as the stores keep it.
var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// newSource creates a data directory whose store is written through the
// SQLite Store by fill, then closed, as a stopped server leaves it.
func newSource(t testing.TB, fill func(s *sqlite.Store)) string {
	t.Helper()
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	fill(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func account(id string, v2 bool) storage.NewAccount {
	n := storage.NewAccount{
		Account: storage.Account{ID: id, Name: "Acct " + id, AuthVersion: storage.AuthV1, CreatedAt: t0},
		APIKey:  storage.APIKey{AccountID: id, Hash: []byte("hash-" + id), Sealed: []byte("sealed\x00\xff-" + id), CreatedAt: t0},
	}
	if v2 {
		n.Account.AuthVersion = storage.AuthV2
		n.Credential = &storage.Credential{AccountID: id, UserID: "user-" + id, SecretHash: []byte("secret-" + id), Seed: []byte("seed-" + id), CreatedAt: t0}
		n.ConsoleUser = &storage.ConsoleUser{AccountID: id, Email: "ops@" + id + ".example", PasswordHash: "$argon2id$v=19$" + id, CreatedAt: t0}
	}
	return n
}

// fillAll writes a bit of everything, the way the services do. The ids
// sort differently by bytes ("Zeta" < "alpha" < "émile") than by most
// locales, so the checksums' order is tested too.
func fillAll(t testing.TB) func(s *sqlite.Store) {
	return func(s *sqlite.Store) {
		ctx := context.Background()
		for _, n := range []storage.NewAccount{account("alpha", true), account("Zeta", false), account("émile", true)} {
			must(t, s.CreateAccount(ctx, n))
		}
		// A rotated v1 key, the old one in its grace.
		must(t, s.RotateAPIKey(ctx, storage.APIKey{AccountID: "Zeta", Hash: []byte("hash-Zeta-2"), Sealed: []byte("sealed-Zeta-2"), CreatedAt: t0.Add(time.Hour)}, t0.Add(25*time.Hour)))
		// A regeneration with a grace (pending) and one without (hard).
		_, err := s.ReplaceCredential(ctx, storage.Credential{AccountID: "alpha", UserID: "user-alpha", SecretHash: []byte("secret-2"), Seed: []byte("seed-2"), CreatedAt: t0.Add(time.Hour)}, t0.Add(2*time.Hour))
		must(t, err)
		must(t, s.RevokeToken(ctx, storage.RevokedToken{AccountID: "alpha", JTI: "0190f1e2-0000-7000-8000-000000000001", ExpiresAt: t0.Add(24 * time.Hour)}, t0, 0))
		_, err = s.ReplaceCredential(ctx, storage.Credential{AccountID: "émile", UserID: "user-émile", SecretHash: []byte("secret-3"), Seed: []byte("seed-3"), CreatedAt: t0.Add(time.Hour)}, t0)
		must(t, err)
		// Keys added in an order their kids do not sort in, two signing
		// from the same millisecond.
		for _, kid := range []string{"k3", "k1", "k2"} {
			must(t, s.AddSigningKey(ctx, storage.SigningKey{KID: kid, Alg: "RS256", Private: []byte("sealed-private-" + kid), CreatedAt: t0, SignsFrom: t0.Add(time.Hour)}))
		}
		must(t, s.DeleteSigningKey(ctx, "k1"))
		must(t, s.AddSigningKey(ctx, storage.SigningKey{KID: "k0", Alg: "ES256", Private: []byte("sealed-private-k0"), CreatedAt: t0, SignsFrom: t0.Add(time.Hour)}))
		for i, action := range []string{"api_key.view", "api_key.regenerate", "credential.regenerate"} {
			must(t, s.AppendAudit(ctx, storage.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), AccountID: "alpha", Actor: "operator", Action: action, Address: "192.0.2.1"}))
		}
		must(t, s.PutNamespace(ctx, "alpha", storage.ContextNamespace{Name: "ns", CreatedAt: t0, TTL: time.Hour, HasTTL: true}, storage.ContextQuota{}))
		must(t, s.PutNamespace(ctx, "émile", storage.ContextNamespace{Name: "forever", CreatedAt: t0}, storage.ContextQuota{}))
		must(t, s.MergeProperties(ctx, storage.ContextMerge{
			Key:        storage.ContextKey{AccountID: "alpha", Namespace: "ns", SessionID: "s1"},
			Properties: []storage.ContextProperty{{Name: "a", Value: []byte(`1`)}, {Name: "b", Value: []byte(`{"x":"ü"}`)}},
			TTL:        10 * time.Minute, HasTTL: true, Now: t0,
		}))
		must(t, s.MergeProperties(ctx, storage.ContextMerge{
			Key:        storage.ContextKey{AccountID: "émile", Namespace: "forever", SessionID: "s2"},
			Properties: []storage.ContextProperty{{Name: "z", Value: []byte(`"zz"`)}},
			Now:        t0,
		}))
		must(t, s.DeleteProperties(ctx, storage.ContextKey{AccountID: "alpha", Namespace: "ns", SessionID: "s1"}, []string{"a"}))
		for _, id := range []string{"p1", "p2", "p3"} {
			_, err := s.CreatePolicy(ctx, storage.Policy{AccountID: "alpha", ID: id, Revision: "r1", Body: []byte(`{"id":"` + id + `"}`), CreatedAt: t0, UpdatedAt: t0}, 100)
			must(t, err)
		}
		must(t, s.DeletePolicy(ctx, "alpha", "p2"))
		var es []storage.PolicyEvaluation
		for i := range 5 {
			// Appended out of time order: seq, not time, is the order.
			es = append(es, storage.PolicyEvaluation{Time: t0.Add(time.Duration(5-i) * time.Second), AccountID: "alpha", ConversationID: "c1", PolicyID: "p1", State: "TRUE"})
		}
		must(t, s.AppendEvaluations(ctx, es, 1000))
		must(t, s.PutAccountAttributes(ctx, storage.AccountAttributes{AccountID: "alpha", Revision: "a1", Body: []byte(`{"vipSkill":42}`), UpdatedAt: t0}))
	}
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func openSQLite(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := openSource(filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// pgRows and sqliteRows read a query's rows as strings, for diffs.
func pgRows(t testing.TB, c *pgx.Conn, q string) [][]string {
	t.Helper()
	rows, err := c.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strs(vals))
	}
	must(t, rows.Err())
	return out
}

func sqliteRows(t testing.TB, db *sql.DB, q string) [][]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		must(t, rows.Scan(ptrs...))
		out = append(out, strs(vals))
	}
	must(t, rows.Err())
	return out
}

func strs(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case []byte:
			out[i] = fmt.Sprintf("%q", v)
		case nil:
			out[i] = "NULL"
		default:
			out[i] = fmt.Sprint(v)
		}
	}
	return out
}

// counts are the rows of every copied table in the target.
func counts(t testing.TB, c *pgx.Conn) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, tb := range tables {
		var n int64
		must(t, c.QueryRow(context.Background(), "SELECT count(*) FROM "+tb.name).Scan(&n))
		out[tb.name] = n
	}
	return out
}

func TestCopy(t *testing.T) {
	ctx := context.Background()
	dir := newSource(t, fillAll(t))
	dsn, _ := pgtest.Schema(t)
	var progress []string
	rep, err := Copy(ctx, dir, dsn, Options{Progress: func(table string, rows int64, _ time.Duration) {
		progress = append(progress, fmt.Sprintf("%s:%d", table, rows))
	}})
	if err != nil {
		t.Fatal(err)
	}
	src := openSQLite(t, dir)
	pg := connect(t, dsn)

	// Every table, with the source's row count, verified.
	if len(rep.Tables) != len(tables) || len(progress) != len(tables) {
		t.Fatalf("report has %d tables, progress %d; want %d", len(rep.Tables), len(progress), len(tables))
	}
	got := counts(t, pg)
	for i, r := range rep.Tables {
		var n int64
		must(t, src.QueryRow("SELECT count(*) FROM "+r.Name).Scan(&n))
		if r.Name != tables[i].name || !r.OK || r.Rows != n || r.TargetRows != n || got[r.Name] != n || r.Checksum != r.TargetChecksum || len(r.Checksum) != 64 {
			t.Errorf("report %+v, target has %d rows; want %s with the source's %d rows, verified", r, got[r.Name], tables[i].name, n)
		}
		if n == 0 {
			t.Errorf("source table %s is empty: the test copies nothing of it", r.Name)
		}
	}

	// Spot checks: each column as the services wrote it.
	for _, c := range []struct{ what, sqlite, pg string }{
		{"sealed API keys, old one retired",
			`SELECT hash, account_id, sealed, created_at, retired_at FROM api_keys WHERE account_id = 'Zeta' ORDER BY created_at`,
			`SELECT hash, account_id, sealed, created_at, retired_at FROM api_keys WHERE account_id = 'Zeta' ORDER BY created_at`},
		{"revocation columns",
			`SELECT account_id, secret_hash, seed, revoked_before_ms, pending_before_ms, pending_at FROM credentials ORDER BY account_id`,
			`SELECT account_id, secret_hash, seed, revoked_before_ms, pending_before_ms, pending_at FROM credentials ORDER BY account_id COLLATE "C"`},
		{"revoked tokens",
			`SELECT account_id, jti, expires_at FROM revoked_tokens ORDER BY account_id, jti`,
			`SELECT account_id, jti, expires_at FROM revoked_tokens ORDER BY account_id COLLATE "C", jti COLLATE "C"`},
		{"signing keys in the order added",
			`SELECT kid, alg, private FROM signing_keys ORDER BY signs_from, rowid`,
			`SELECT kid, alg, private FROM signing_keys ORDER BY signs_from, seq`},
		{"property expiry and value",
			`SELECT account_id, namespace, session_id, name, value, expires_at, size FROM ccs_properties ORDER BY account_id, name`,
			`SELECT account_id, namespace, session_id, name, value, expires_at, size FROM ccs_properties ORDER BY account_id COLLATE "C", name`},
		{"namespace TTLs (NULL and not)",
			`SELECT account_id, name, ttl_ms FROM ccs_namespaces ORDER BY account_id`,
			`SELECT account_id, name, ttl_ms FROM ccs_namespaces ORDER BY account_id COLLATE "C"`},
		{"ccs_usage exactly",
			`SELECT account_id, properties, bytes FROM ccs_usage ORDER BY account_id`,
			`SELECT account_id, properties, bytes FROM ccs_usage ORDER BY account_id COLLATE "C"`},
		{"policy positions",
			`SELECT id, position, revision, body FROM policies ORDER BY position`,
			`SELECT id, position, revision, body FROM policies ORDER BY position`},
		{"account attributes",
			`SELECT account_id, revision, body, updated_at FROM account_attributes ORDER BY account_id`,
			`SELECT account_id, revision, body, updated_at FROM account_attributes ORDER BY account_id COLLATE "C"`},
		{"evaluations in append order",
			`SELECT time, state FROM policy_evaluations ORDER BY rowid`,
			`SELECT time, state FROM policy_evaluations ORDER BY seq`},
		{"audit seq",
			`SELECT seq, action FROM audit_log ORDER BY seq`,
			`SELECT seq, action FROM audit_log ORDER BY seq`},
	} {
		if diff := cmp.Diff(sqliteRows(t, src, c.sqlite), pgRows(t, pg, c.pg)); diff != "" {
			t.Errorf("%s (-sqlite +postgres):\n%s", c.what, diff)
		}
	}
	var expires int64
	must(t, pg.QueryRow(ctx, `SELECT expires_at FROM ccs_properties WHERE account_id = 'alpha' AND name = 'b'`).Scan(&expires))
	if want := t0.Add(10 * time.Minute).UnixMilli(); expires != want {
		t.Errorf("expires_at = %d, want %d (merge time + TTL)", expires, want)
	}
	if diff := cmp.Diff([][]string{{"k3"}, {"k2"}, {"k0"}}, pgRows(t, pg, `SELECT kid FROM signing_keys ORDER BY seq`)); diff != "" {
		t.Errorf("signing keys by seq (-want +got):\n%s", diff)
	}

	// The target lives on: identities continue after the copied values,
	// and the usage triggers are on again.
	var seq int64
	must(t, pg.QueryRow(ctx, `INSERT INTO audit_log (time, account_id, actor, action, address) VALUES (1, 'alpha', 'x', 'y', 'z') RETURNING seq`).Scan(&seq))
	if seq != 4 {
		t.Errorf("new audit seq = %d, want 4", seq)
	}
	must(t, pg.QueryRow(ctx, `INSERT INTO signing_keys (kid, alg, private, created_at, signs_from) VALUES ('k9', 'RS256', '', 0, 0) RETURNING seq`).Scan(&seq))
	if seq != 5 { // k0 was the 4th key added (rowid 4; k1's 2 is gone)
		t.Errorf("new signing key seq = %d, want 5", seq)
	}
	must(t, pg.QueryRow(ctx, `INSERT INTO policy_evaluations (account_id, time, conversation_id, policy_id, state) VALUES ('alpha', 0, 'c', 'p', 'TRUE') RETURNING seq`).Scan(&seq))
	if seq != 6 {
		t.Errorf("new evaluation seq = %d, want 6", seq)
	}
	var before, after int64
	must(t, pg.QueryRow(ctx, `SELECT properties FROM ccs_usage WHERE account_id = 'émile'`).Scan(&before))
	_, err = pg.Exec(ctx, `INSERT INTO ccs_properties VALUES ('émile', 'forever', 's2', 'y', '1', 0, 5)`)
	must(t, err)
	must(t, pg.QueryRow(ctx, `SELECT properties FROM ccs_usage WHERE account_id = 'émile'`).Scan(&after))
	if after != before+1 {
		t.Errorf("ccs_usage properties %d → %d after an insert: the triggers are not back on", before, after)
	}
}

// The source store is not changed by a copy, and a second copy of it is
// refused by the now full target.
func TestCopyRefusesNonEmptyTarget(t *testing.T) {
	ctx := context.Background()
	dir := newSource(t, fillAll(t))
	dsn, _ := pgtest.Schema(t)
	_, err := Copy(ctx, dir, dsn, Options{})
	must(t, err)
	pg := connect(t, dsn)
	before := counts(t, pg)

	_, err = Copy(ctx, dir, dsn, Options{})
	if !errors.Is(err, ErrTargetNotEmpty) || !strings.Contains(err.Error(), "accounts has 3 rows") || !strings.Contains(err.Error(), "signing_keys has 3 rows") {
		t.Fatalf("second copy: %v; want ErrTargetNotEmpty naming the tables and counts", err)
	}
	if diff := cmp.Diff(before, counts(t, pg)); diff != "" {
		t.Errorf("refused copy changed the target (-before +after):\n%s", diff)
	}

	// One row anywhere is enough.
	dsn2, _ := pgtest.Schema(t)
	pg2 := connect(t, dsn2)
	_, err = Copy(ctx, newSource(t, func(*sqlite.Store) {}), dsn2, Options{}) // migrates; copies nothing
	must(t, err)
	_, err = pg2.Exec(ctx, `INSERT INTO signing_keys (kid, alg, private, created_at, signs_from) VALUES ('k', 'RS256', '', 0, 0)`)
	must(t, err)
	_, err = Copy(ctx, dir, dsn2, Options{})
	if !errors.Is(err, ErrTargetNotEmpty) || !strings.Contains(err.Error(), "signing_keys has 1 row)") {
		t.Fatalf("copy into a target with one signing key: %v", err)
	}
	if got := counts(t, pg2); got["accounts"] != 0 || got["signing_keys"] != 1 {
		t.Errorf("refused copy changed the target: %v", got)
	}
}

// A copy that fails after some tables, or whose verification finds a
// difference, leaves the target empty, with its triggers on.
func TestCopyAllOrNothing(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	for _, c := range []struct {
		name     string
		source   string // SQL run on the closed source store
		hook     func(ctx context.Context, tx pgx.Tx, table string) error
		want     error
		msg      string
		mismatch string
	}{
		{name: "fails mid-copy", want: boom, hook: func(_ context.Context, _ pgx.Tx, table string) error {
			if table == "ccs_properties" {
				return boom
			}
			return nil
		}},
		// Rows PostgreSQL refuses, late in the copy: an orphan (SQLite
		// enforces foreign keys only where a connection asks it to) and
		// a NUL character, which PostgreSQL text cannot hold.
		{name: "orphan row", source: `INSERT INTO policy_log_counts VALUES ('gone', 1)`, msg: "policy_log_counts"},
		{name: "NUL in text", source: `UPDATE ccs_properties SET value = '"a' || char(0) || 'b"' WHERE name = 'z'`, msg: "ccs_properties"},
		{name: "target differs", want: ErrMismatch, mismatch: "accounts", hook: func(ctx context.Context, tx pgx.Tx, table string) error {
			if table != tables[len(tables)-1].name {
				return nil
			}
			_, err := tx.Exec(ctx, `UPDATE accounts SET name = 'tampered' WHERE id = 'alpha'`)
			return err
		}},
		{name: "extra row", want: ErrMismatch, mismatch: "audit_log", hook: func(ctx context.Context, tx pgx.Tx, table string) error {
			if table != "audit_log" {
				return nil
			}
			_, err := tx.Exec(ctx, `INSERT INTO audit_log (seq, time, account_id, actor, action, address) VALUES (1000, 1, 'a', 'b', 'c', 'd')`)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := newSource(t, fillAll(t))
			if c.source != "" {
				db, err := sql.Open("sqlite", filepath.Join(dir, DBFile))
				must(t, err)
				_, err = db.Exec(c.source)
				must(t, err)
				db.Close()
			}
			dsn, _ := pgtest.Schema(t)
			rep, err := Copy(ctx, dir, dsn, Options{afterTable: c.hook})
			if err == nil || c.want != nil && !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Copy: %v, want %v mentioning %q", err, c.want, c.msg)
			}
			t.Logf("Copy: %v", err)
			if c.mismatch != "" {
				for _, r := range rep.Tables {
					if r.OK == (r.Name == c.mismatch) {
						t.Errorf("report %+v: want only %s not OK", r, c.mismatch)
					}
				}
			}
			pg := connect(t, dsn)
			for name, n := range counts(t, pg) {
				if n != 0 {
					t.Errorf("failed copy left %d rows in %s", n, name)
				}
			}
			rows, err := pg.Query(ctx, `SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'D'`)
			must(t, err)
			disabled, err := pgx.CollectRows(rows, pgx.RowTo[string])
			must(t, err)
			if len(disabled) > 0 {
				t.Errorf("triggers left disabled: %v", disabled)
			}
			if c.source == "" {
				// The same target takes the copy afterwards.
				_, err = Copy(ctx, dir, dsn, Options{})
				must(t, err)
			}
		})
	}
}

func TestCopyRefusesSource(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		alter string // SQL run on the closed store
		want  error
		msg   string
	}{
		{name: "not migrated", alter: `ALTER TABLE credentials DROP COLUMN pending_at`, want: ErrNotMigrated, msg: "has no column credentials.pending_at"},
		{name: "missing table", alter: `DROP TABLE ccs_usage`, want: ErrNotMigrated, msg: "has no table ccs_usage"},
		{name: "newer column", alter: `ALTER TABLE accounts ADD COLUMN region TEXT`, want: ErrUnknownSchema, msg: "accounts.region"},
		{name: "newer table", alter: `CREATE TABLE webhooks (id TEXT)`, want: ErrUnknownSchema, msg: "table webhooks"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := newSource(t, fillAll(t))
			db, err := sql.Open("sqlite", filepath.Join(dir, DBFile))
			must(t, err)
			_, err = db.Exec(c.alter)
			must(t, err)
			db.Close()
			// No target is touched: an unreachable URL is never dialled.
			_, err = Copy(ctx, dir, "postgres://nobody@127.0.0.1:1/none", Options{})
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Copy: %v; want %v mentioning %q", err, c.want, c.msg)
			}
		})
	}

	t.Run("server running", func(t *testing.T) {
		dir := newSource(t, fillAll(t))
		l, err := datadir.Acquire(dir)
		must(t, err)
		defer l.Release()
		_, err = Copy(ctx, dir, "postgres://nobody@127.0.0.1:1/none", Options{})
		if !errors.Is(err, datadir.ErrInUse) || !strings.Contains(err.Error(), "stop it first") {
			t.Fatalf("Copy of a locked directory: %v; want datadir.ErrInUse", err)
		}
	})
	t.Run("no store", func(t *testing.T) {
		_, err := Copy(ctx, t.TempDir(), "postgres://nobody@127.0.0.1:1/none", Options{})
		if err == nil || !strings.Contains(err.Error(), "no store to copy") {
			t.Fatalf("Copy of an empty directory: %v", err)
		}
	})
}

// 1,000 accounts and 100,000 properties copy in seconds.
func TestCopyLarge(t *testing.T) {
	const accounts, perAccount = 1000, 100
	ctx := context.Background()
	began := time.Now()
	dir := newSource(t, func(s *sqlite.Store) {
		var wg sync.WaitGroup
		errs := make(chan error, accounts)
		sem := make(chan struct{}, 32) // concurrent writers share commits
		for a := range accounts {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				id := fmt.Sprintf("acct-%04d", a)
				if err := s.CreateAccount(ctx, account(id, a%2 == 0)); err != nil {
					errs <- err
					return
				}
				props := make([]storage.ContextProperty, perAccount)
				for i := range props {
					props[i] = storage.ContextProperty{Name: fmt.Sprintf("p%03d", i), Value: fmt.Appendf(nil, `{"n":%d,"s":"value of property %d"}`, i, i)}
				}
				errs <- s.MergeProperties(ctx, storage.ContextMerge{
					Key:        storage.ContextKey{AccountID: id, Namespace: "ns", SessionID: "session-" + id},
					Properties: props, TTL: time.Hour, HasTTL: a%3 == 0, Now: t0,
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
	})
	t.Logf("built the source (%d accounts, %d properties) in %v", accounts, accounts*perAccount, time.Since(began))

	dsn, _ := pgtest.Schema(t)
	rep, err := Copy(ctx, dir, dsn, Options{Progress: func(table string, rows int64, took time.Duration) {
		t.Logf("  %-18s %7d rows  %v", table, rows, took.Round(time.Millisecond))
	}})
	must(t, err)
	t.Logf("copied and verified %d accounts, %d properties in %v", accounts, accounts*perAccount, rep.Duration.Round(time.Millisecond))
	want := map[string]int64{"accounts": accounts, "ccs_properties": accounts * perAccount, "ccs_usage": accounts, "ccs_sessions": accounts}
	for _, r := range rep.Tables {
		if w, ok := want[r.Name]; ok && r.Rows != w || !r.OK {
			t.Errorf("%+v; want %d rows, verified", r, w)
		}
	}
}

// A store left by a crash, its recent writes only in the WAL, copies
// whole: the read-only open reads the WAL as a server would.
func TestCopyUncheckpointedWAL(t *testing.T) {
	ctx := context.Background()
	live := t.TempDir()
	s, err := sqlite.Open(ctx, filepath.Join(live, DBFile))
	must(t, err)
	defer s.Close()
	fillAll(t)(s)
	dir := t.TempDir()
	for _, name := range []string{DBFile, DBFile + "-wal", DBFile + "-shm"} {
		b, err := os.ReadFile(filepath.Join(live, name))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	if fi, err := os.Stat(filepath.Join(dir, DBFile+"-wal")); err != nil || fi.Size() == 0 {
		t.Fatalf("the WAL is empty (%v): the test copies a checkpointed store", err)
	}
	dsn, _ := pgtest.Schema(t)
	rep, err := Copy(ctx, dir, dsn, Options{})
	must(t, err)
	for _, r := range rep.Tables {
		if r.Rows == 0 || !r.OK {
			t.Errorf("%+v: want the rows written before the crash, verified", r)
		}
	}
}
