package storecopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/orchestrator/orchestrator/internal/datadir"
	"github.com/orchestrator/orchestrator/internal/storage/migrate"
	"github.com/orchestrator/orchestrator/internal/storage/postgres"
)

// DBFile is the name of the SQLite store in a data directory.
const DBFile = "orchestrator.db"

// Errors Copy returns, wrapped with the details; test them with errors.Is.
var (
	// ErrNotMigrated: the SQLite store lacks a table or column that is
	// copied (an older version wrote it and no server has migrated it).
	ErrNotMigrated = errors.New("source store is not fully migrated")
	// ErrUnknownSchema: the SQLite store has a table or column this
	// version does not copy (a newer version wrote it).
	ErrUnknownSchema = errors.New("source store has a schema this version does not know")
	// ErrTargetNotEmpty: a table of the target already holds rows.
	ErrTargetNotEmpty = errors.New("target database is not empty")
	// ErrMismatch: a table read back from the target differs from the
	// source; nothing was committed.
	ErrMismatch = errors.New("copy does not match the source")
)

// Options tune Copy. The zero value is ready to use.
type Options struct {
	// Progress, when set, is called after each table is copied, before
	// the verification.
	Progress func(table string, rows int64, took time.Duration)
	// LockTimeout bounds the wait for the target's table locks, held
	// by a server already using it (0: 30 seconds).
	LockTimeout time.Duration

	// afterTable, for tests, runs in the copy's transaction after each
	// table is copied; an error aborts the copy.
	afterTable func(ctx context.Context, tx pgx.Tx, table string) error
}

// Report is what Copy did, table by table in copy order.
type Report struct {
	Tables   []TableReport
	Duration time.Duration
}

// TableReport is the result of one table: its source rows and checksum
// (hex SHA-256 of the rows in key order, each value encoded canonically),
// and the same read back from the target.
type TableReport struct {
	Name           string
	Rows           int64
	Checksum       string
	TargetRows     int64
	TargetChecksum string
	OK             bool // the target's rows and checksum equal the source's
}

// Copy copies the SQLite store of the data directory fromDir into the
// empty PostgreSQL database at toURL, whose schema it migrates first. It
// holds fromDir's lock throughout, so no server writes the store
// meanwhile, and fails at once if a server holds it. The copy is one
// transaction, committed only once every table's rows and checksum read
// back from the target equal the source's; on any error the target keeps
// no rows. The report lists every table copied (or, on ErrMismatch, each
// table's comparison).
func Copy(ctx context.Context, fromDir, toURL string, opts Options) (Report, error) {
	start := time.Now()
	if toURL == "" {
		// pgx would fall back to libpq's defaults: name the target.
		return Report{}, errors.New("storecopy: no target database URL")
	}
	path := filepath.Join(fromDir, DBFile)
	fi, err := os.Stat(path)
	if err != nil {
		return Report{}, fmt.Errorf("storecopy: no store to copy: %w", err)
	}
	if fi.Size() == 0 {
		return Report{}, fmt.Errorf("storecopy: the store %s is empty (0 bytes): nothing to copy", path)
	}
	lock, err := datadir.Acquire(fromDir)
	if err != nil {
		return Report{}, fmt.Errorf("storecopy: %w", err)
	}
	defer lock.Release()

	src, err := openSource(path)
	if err != nil {
		return Report{}, err
	}
	defer src.Close()
	// One read transaction: every table from the same snapshot.
	stx, err := src.BeginTx(ctx, nil)
	if err != nil {
		return Report{}, fmt.Errorf("storecopy: source %s: %w", path, err)
	}
	defer stx.Rollback()
	if err := checkSource(ctx, stx, path, fromDir); err != nil {
		return Report{}, err
	}

	cfg, err := pgx.ParseConfig(toURL)
	if err != nil {
		return Report{}, fmt.Errorf("storecopy: target URL: %w", err)
	}
	if err := migrateTarget(ctx, cfg.Copy()); err != nil {
		return Report{}, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return Report{}, fmt.Errorf("storecopy: target: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	rep, err := copyAll(ctx, stx, conn, opts)
	rep.Duration = time.Since(start)
	return rep, err
}

// openSource opens the SQLite file read-only: the copy never changes the
// store it copies.
func openSource(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("storecopy: source %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// checkSource makes sure the SQLite store has exactly the tables and
// columns that are copied: a missing one means a store no server of this
// version has migrated yet, an extra one data that this version would
// leave behind.
func checkSource(ctx context.Context, tx *sql.Tx, path, dir string) error {
	have := map[string]map[string]string{} // table → column → declared type
	rows, err := tx.QueryContext(ctx, `SELECT m.name, p.name, p.type FROM sqlite_schema m, pragma_table_info(m.name) p WHERE m.type = 'table'`)
	if err != nil {
		return fmt.Errorf("storecopy: source %s: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t, c, typ string
		if err := rows.Scan(&t, &c, &typ); err != nil {
			return fmt.Errorf("storecopy: source %s: %w", path, err)
		}
		if have[t] == nil {
			have[t] = map[string]string{}
		}
		have[t][c] = strings.ToUpper(typ)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storecopy: source %s: %w", path, err)
	}
	notMigrated := func(what string) error {
		return fmt.Errorf("storecopy: %w: %s %s; start `orchestrator serve --data %s` once with this version (it migrates the store on start), stop it, then copy again", ErrNotMigrated, path, what, dir)
	}
	known := map[string]bool{}
	for _, t := range tables {
		known[t.name] = true
		cols, ok := have[t.name]
		if !ok {
			return notMigrated("has no table " + t.name)
		}
		want := map[string]bool{}
		for _, c := range t.cols {
			if c.rowid {
				continue
			}
			want[c.name] = true
			typ, ok := cols[c.name]
			if !ok {
				return notMigrated(fmt.Sprintf("has no column %s.%s", t.name, c.name))
			}
			if typ != c.kind.sqlite() {
				return fmt.Errorf("storecopy: %w: %s column %s.%s is %s, want %s", ErrUnknownSchema, path, t.name, c.name, typ, c.kind.sqlite())
			}
		}
		for c := range cols {
			if !want[c] {
				return fmt.Errorf("storecopy: %w: %s has a column %s.%s that this version does not copy; copy with the orchestrator version that last served it", ErrUnknownSchema, path, t.name, c)
			}
		}
	}
	for t := range have {
		if !known[t] && !skippedSource[t] && !strings.HasPrefix(t, "sqlite_") {
			return fmt.Errorf("storecopy: %w: %s has a table %s that this version does not copy; copy with the orchestrator version that last served it", ErrUnknownSchema, path, t)
		}
	}
	return nil
}

// sqlite is the declared type of the kind's columns in SQLite.
func (k kind) sqlite() string {
	switch k {
	case text:
		return "TEXT"
	case blob:
		return "BLOB"
	}
	return "INTEGER"
}

// postgres is the kind's data type in PostgreSQL's information_schema.
func (k kind) postgres() string {
	switch k {
	case text:
		return "text"
	case blob:
		return "bytea"
	}
	return "bigint"
}

// migrateTarget brings the target's schema up to date (under the
// migrations' advisory lock, so a server starting meanwhile waits).
func migrateTarget(ctx context.Context, cfg *pgx.ConnConfig) error {
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if _, err := migrate.Up(ctx, db, migrate.Postgres, postgres.Migrations()); err != nil {
		return fmt.Errorf("storecopy: target: %w", err)
	}
	return nil
}

// copyAll copies every table in one transaction of conn, verifies them
// and commits.
func copyAll(ctx context.Context, stx *sql.Tx, conn *pgx.Conn, opts Options) (rep Report, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return rep, fmt.Errorf("storecopy: target: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // after Commit: a no-op

	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", timeout.Milliseconds())); err != nil {
		return rep, fmt.Errorf("storecopy: target: %w", err)
	}
	if err := checkTarget(ctx, tx); err != nil {
		return rep, err
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.name
	}
	// EXCLUSIVE: others may read, nobody writes between the emptiness
	// check and the commit (a server started on the target meanwhile
	// waits, then finds the copied data).
	if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN EXCLUSIVE MODE"); err != nil {
		return rep, fmt.Errorf("storecopy: target: lock the tables (is a server using the target?): %w", err)
	}
	if err := checkEmpty(ctx, tx); err != nil {
		return rep, err
	}
	committing := false
	defer func() {
		if err != nil && !errors.Is(err, ErrMismatch) && !committing {
			err = fmt.Errorf("%w (rolled back: the target holds no data)", err)
		}
	}()

	// The target's triggers keep ccs_usage (and, should any be added,
	// other derived rows) as rows are written; here the source's derived
	// rows are copied as they are, so the triggers are off for the copy.
	// ALTER TABLE ... DISABLE TRIGGER USER needs only ownership of the
	// tables (the user that migrated them), not superuser as
	// session_replication_role = replica would, and it leaves the
	// foreign key checks on. It is transactional: a rollback, or a
	// crash, leaves the triggers enabled.
	for _, t := range tables {
		if _, err := tx.Exec(ctx, "ALTER TABLE "+t.name+" DISABLE TRIGGER USER"); err != nil {
			return rep, fmt.Errorf("storecopy: target: disable the triggers of %s (the copying user must own the tables, as the user that migrated them does): %w", t.name, err)
		}
	}
	sums := make([]*checksum, len(tables))
	for i, t := range tables {
		began := time.Now()
		sums[i], err = copyTable(ctx, stx, tx, t)
		if err != nil {
			return rep, err
		}
		if opts.afterTable != nil {
			if err := opts.afterTable(ctx, tx, t.name); err != nil {
				return rep, fmt.Errorf("storecopy: after %s: %w", t.name, err)
			}
		}
		if opts.Progress != nil {
			opts.Progress(t.name, sums[i].rows, time.Since(began))
		}
	}
	for _, t := range tables {
		if t.identity == "" {
			continue
		}
		// The next generated value follows the largest copied one.
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), coalesce((SELECT max(%s) FROM %s), 0) + 1, false)`,
			t.name, t.identity, t.identity, t.name)
		if _, err := tx.Exec(ctx, q); err != nil {
			return rep, fmt.Errorf("storecopy: target: advance %s.%s: %w", t.name, t.identity, err)
		}
	}
	for _, t := range tables {
		if _, err := tx.Exec(ctx, "ALTER TABLE "+t.name+" ENABLE TRIGGER USER"); err != nil {
			return rep, fmt.Errorf("storecopy: target: enable the triggers of %s: %w", t.name, err)
		}
	}

	var bad []string
	for i, t := range tables {
		got, err := readTarget(ctx, tx, t)
		if err != nil {
			return rep, err
		}
		r := TableReport{
			Name: t.name, Rows: sums[i].rows, Checksum: sums[i].sum(),
			TargetRows: got.rows, TargetChecksum: got.sum(),
		}
		r.OK = r.Rows == r.TargetRows && r.Checksum == r.TargetChecksum
		if !r.OK {
			bad = append(bad, t.name)
		}
		rep.Tables = append(rep.Tables, r)
	}
	if len(bad) > 0 {
		return rep, fmt.Errorf("storecopy: %w in %s (rolled back: the target holds no data)", ErrMismatch, strings.Join(bad, ", "))
	}
	committing = true
	if err := tx.Commit(ctx); err != nil {
		// A connection lost during the commit leaves its outcome
		// unknown: do not claim the target is empty.
		return rep, fmt.Errorf("storecopy: target: commit: %w (if the connection was lost, the copy may or may not be committed: count the target's accounts)", err)
	}
	return rep, nil
}

// checkTarget makes sure the target's tables have exactly the copied
// columns, of the expected types, after the migrations.
func checkTarget(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema()`)
	if err != nil {
		return fmt.Errorf("storecopy: target: %w", err)
	}
	have := map[string]map[string]string{}
	var t, c, typ string
	_, err = pgx.ForEachRow(rows, []any{&t, &c, &typ}, func() error {
		if have[t] == nil {
			have[t] = map[string]string{}
		}
		have[t][c] = typ
		return nil
	})
	if err != nil {
		return fmt.Errorf("storecopy: target: %w", err)
	}
	for _, t := range tables {
		cols := have[t.name]
		var got []string
		for c := range cols {
			got = append(got, c)
		}
		want := t.names()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("storecopy: target table %s has columns %v, want %v (a schema this version does not know)", t.name, got, want)
		}
		for _, c := range t.cols {
			if cols[c.name] != c.kind.postgres() {
				return fmt.Errorf("storecopy: target column %s.%s is %s, want %s", t.name, c.name, cols[c.name], c.kind.postgres())
			}
		}
	}
	return nil
}

// checkEmpty refuses a target that holds a row in any copied table.
func checkEmpty(ctx context.Context, tx pgx.Tx) error {
	parts := make([]string, len(tables))
	for i, t := range tables {
		parts[i] = fmt.Sprintf("SELECT '%s', count(*) FROM %s", t.name, t.name)
	}
	rows, err := tx.Query(ctx, strings.Join(parts, " UNION ALL "))
	if err != nil {
		return fmt.Errorf("storecopy: target: %w", err)
	}
	var (
		full []string
		name string
		n    int64
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error {
		if n > 0 {
			full = append(full, fmt.Sprintf("%s has %d %s", name, n, plural(n, "row")))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storecopy: target: %w", err)
	}
	if len(full) > 0 {
		return fmt.Errorf("storecopy: %w (%s): copy only into a database no server has used (a server started on it creates signing keys); nothing was written", ErrTargetNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

func plural(n int64, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// copyTable streams one table from SQLite into PostgreSQL with COPY,
// hashing the rows as they go.
func copyTable(ctx context.Context, stx *sql.Tx, tx pgx.Tx, t table) (*checksum, error) {
	rows, err := stx.QueryContext(ctx, t.sourceQuery())
	if err != nil {
		return nil, fmt.Errorf("storecopy: read %s: %w", t.name, err)
	}
	defer rows.Close()
	s := &source{rows: rows, t: t, sum: newChecksum(), raw: make([]any, len(t.cols)), ptrs: make([]any, len(t.cols))}
	for i := range s.raw {
		s.ptrs[i] = &s.raw[i]
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.names(), s)
	if err != nil {
		return nil, fmt.Errorf("storecopy: copy %s: %w", t.name, err)
	}
	if n != s.sum.rows {
		return nil, fmt.Errorf("storecopy: copy %s: read %d rows, PostgreSQL wrote %d", t.name, s.sum.rows, n)
	}
	return s.sum, nil
}

// source is a pgx.CopyFromSource over a SQLite query. CopyFrom calls it
// from one goroutine and waits for it before it returns.
type source struct {
	rows *sql.Rows
	t    table
	sum  *checksum
	raw  []any
	ptrs []any
}

func (s *source) Next() bool { return s.rows.Next() }

func (s *source) Values() ([]any, error) {
	if err := s.rows.Scan(s.ptrs...); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.t.name, err)
	}
	// CopyFrom encodes the values before it asks for the next row, but a
	// fresh slice costs little and assumes nothing.
	out := make([]any, len(s.raw))
	for i, c := range s.t.cols {
		v, err := normalize(c, s.raw[i])
		if err != nil {
			return nil, fmt.Errorf("%s row %s: %w", s.t.name, s.key(), err)
		}
		out[i] = v
	}
	s.sum.add(out)
	return out, nil
}

func (s *source) Err() error { return s.rows.Err() }

// key describes the current row by its key, for errors.
func (s *source) key() string {
	var b strings.Builder
	for i, k := range s.t.key {
		if i > 0 {
			b.WriteString(", ")
		}
		idx := slices.Index(s.t.names(), k)
		fmt.Fprintf(&b, "%s=%q", k, fmt.Sprint(s.raw[idx]))
	}
	return "(" + b.String() + ")"
}

// readTarget reads a table back from the target in key order and hashes
// it as the source was.
func readTarget(ctx context.Context, tx pgx.Tx, t table) (*checksum, error) {
	rows, err := tx.Query(ctx, t.targetQuery())
	if err != nil {
		return nil, fmt.Errorf("storecopy: verify %s: %w", t.name, err)
	}
	defer rows.Close()
	sum := newChecksum()
	row := make([]any, len(t.cols))
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, fmt.Errorf("storecopy: verify %s: %w", t.name, err)
		}
		for i, c := range t.cols {
			if row[i], err = normalize(c, vals[i]); err != nil {
				return nil, fmt.Errorf("storecopy: verify %s: %w", t.name, err)
			}
		}
		sum.add(row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storecopy: verify %s: %w", t.name, err)
	}
	return sum, nil
}
