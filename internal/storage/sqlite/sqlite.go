package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is the SQLite backend. It is safe for concurrent use.
//
// Writes go through one committer goroutine that owns the single writer
// connection and commits the writes queued meanwhile together: each write
// runs in its own savepoint of a shared transaction, and all are answered
// after the one commit (fsync) that makes them durable. A write that fails
// rolls back to its savepoint and leaves the others in; a commit that
// fails fails every write of the batch, so no write is acknowledged that
// is not on disk.
type Store struct {
	w *sql.DB // the single writer connection, used by the committer
	r *sql.DB // readers

	ps stmts // prepared once for the hot paths

	writes chan *writeOp
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once

	fullAt atomic.Int64     // unix ns of the last write refused for lack of space
	probe  probe            // Ready's write probe
	now    func() time.Time // nil: time.Now

	// observe is told of every commit (OnCommit); nil: nobody.
	observe atomic.Pointer[func(writes int, took time.Duration)]
}

// OnCommit sets fn to be told, from the committer, of every group commit:
// how many writes it made durable together and how long it took from
// BEGIN to the end of COMMIT (the fsync included). fn must be quick: the
// next batch waits for it.
func (s *Store) OnCommit(fn func(writes int, took time.Duration)) {
	s.observe.Store(&fn)
}

// stmts are the statements of the hot paths, prepared once: parsing SQL
// was a quarter of a Context Service request. The writer's are prepared on
// its one connection before the committer takes it, so Tx.StmtContext
// reuses them; the readers' are prepared on each reader connection on
// first use.
type stmts struct {
	// writer
	savepoint, release, rollbackTo                                                                                 *sql.Stmt
	nsInsert, nsUpsertTTL, mergeState, sessionSize, sessionInsert, propUpsert, propUpsertMany, propSize, propSizes *sql.Stmt
	keyUsed, credUsed, usageW                                                                                      *sql.Stmt
	// readers
	propGet, docGet, accountGet, keyByHash, credByUser, usageR *sql.Stmt
}

func (s *Store) prepare(ctx context.Context) error {
	var err error
	prep := func(db *sql.DB, dst **sql.Stmt, q string) {
		if err == nil {
			*dst, err = db.PrepareContext(ctx, q)
		}
	}
	prep(s.w, &s.ps.savepoint, `SAVEPOINT w`)
	prep(s.w, &s.ps.release, `RELEASE w`)
	prep(s.w, &s.ps.rollbackTo, `ROLLBACK TO w`)
	prep(s.w, &s.ps.nsInsert, `INSERT INTO ccs_namespaces (account_id, name, created_at, ttl_ms) VALUES (?,?,?,NULL)
		ON CONFLICT (account_id, name) DO NOTHING`)
	prep(s.w, &s.ps.nsUpsertTTL, `INSERT INTO ccs_namespaces (account_id, name, created_at, ttl_ms) VALUES (?,?,?,?)
		ON CONFLICT (account_id, name) DO UPDATE SET ttl_ms = excluded.ttl_ms`)
	prep(s.w, &s.ps.mergeState, `SELECT n.ttl_ms, s.ttl_ms, s.size FROM ccs_namespaces n
		LEFT JOIN ccs_sessions s ON s.account_id = n.account_id AND s.namespace = n.name AND s.session_id = ?
		WHERE n.account_id = ? AND n.name = ?`)
	prep(s.w, &s.ps.sessionSize, `UPDATE ccs_sessions SET size = ?, updated_at = ? WHERE account_id = ? AND namespace = ? AND session_id = ?`)
	prep(s.w, &s.ps.sessionInsert, `INSERT INTO ccs_sessions (account_id, namespace, session_id, created_at, updated_at, ttl_ms, size) VALUES (?,?,?,?,?,NULL,?)`)
	prep(s.w, &s.ps.propUpsert, `INSERT INTO ccs_properties (account_id, namespace, session_id, name, value, expires_at, size) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT (account_id, namespace, session_id, name) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, size = excluded.size`)
	prep(s.w, &s.ps.propUpsertMany, `INSERT INTO ccs_properties (account_id, namespace, session_id, name, value, expires_at, size)
		SELECT ?1, ?2, ?3, j.value ->> 0, j.value ->> 1, ?4, j.value ->> 2 FROM json_each(?5) AS j WHERE true
		ON CONFLICT (account_id, namespace, session_id, name) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, size = excluded.size`)
	prep(s.w, &s.ps.propSize, `SELECT size FROM ccs_properties WHERE account_id = ? AND namespace = ? AND session_id = ? AND name = ?`)
	prep(s.w, &s.ps.propSizes, `SELECT coalesce(sum(size), 0) FROM ccs_properties WHERE account_id = ? AND namespace = ? AND session_id = ?
		AND name IN (SELECT value ->> 0 FROM json_each(?))`)
	prep(s.w, &s.ps.keyUsed, `UPDATE api_keys SET last_used_at = ?1 WHERE hash = ?2 AND last_used_at < ?1`)
	prep(s.w, &s.ps.credUsed, `UPDATE credentials SET last_used_at = ?1 WHERE user_id = ?2 AND last_used_at < ?1`)
	// Every bounded write reads its account's usage before it writes.
	prep(s.w, &s.ps.usageW, usageSQL)
	prep(s.r, &s.ps.usageR, usageSQL)
	prep(s.r, &s.ps.accountGet, `SELECT `+accountCols+` FROM accounts WHERE id = ? AND deleted_at = 0`)
	prep(s.r, &s.ps.keyByHash, `SELECT `+keyCols+` FROM api_keys WHERE hash = ?`)
	prep(s.r, &s.ps.credByUser, `SELECT `+credCols+` FROM credentials WHERE user_id = ?`)
	prep(s.r, &s.ps.propGet, `SELECT value, expires_at FROM ccs_properties WHERE account_id = ? AND namespace = ? AND session_id = ? AND name = ?
		AND (expires_at = 0 OR expires_at > ?)`)
	prep(s.r, &s.ps.docGet, `SELECT name, value, expires_at FROM ccs_properties WHERE account_id = ? AND namespace = ? AND session_id = ?
		AND (expires_at = 0 OR expires_at > ?) ORDER BY name`)
	return err
}

// privateFiles makes the database file and its -wal and -shm files
// readable by their owner only, whatever the umask: it creates the
// database file with mode 0600 before SQLite opens it (SQLite gives the
// -wal and -shm files it creates the mode of the database file), and
// removes group and other access from those that exist, as earlier
// versions created them 0644.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil && fi.Mode().Perm()&0o077 != 0 {
			err = os.Chmod(p, fi.Mode().Perm()&0o700)
		}
		if err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	return nil
}

const usageSQL = `SELECT properties, bytes FROM ccs_usage WHERE account_id = ?`

// maxBatch bounds the writes committed together.
const maxBatch = 256

var errClosed = errors.New("sqlite: store closed")

type writeOp struct {
	ctx context.Context
	fn  func(context.Context, *sql.Tx) error
	err chan error
}

// Open opens (creating if needed) the database file at path and applies
// pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	s, _, err := open(ctx, path)
	return s, err
}

// open opens the store and returns the versions of the migrations it
// applied. Until the committer starts, at the end, the writer connection
// is Open's own: the integrity check, the migrations and the preparing of
// the writer's statements run on it with nothing else queued.
func open(ctx context.Context, path string) (*Store, []int64, error) {
	if err := privateFiles(path); err != nil {
		return nil, nil, err
	}
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"busy_timeout(10000)",
		"foreign_keys(1)",
		// FULL: a commit is on disk before it is acknowledged.
		"synchronous(FULL)",
	} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	// The writer's page cache is 8 MiB, not SQLite's 2 MiB: a write
	// first reads the pages it changes, and with 2 MiB a quarter of the
	// committer's CPU went to reading them again (pread) at 1,000 accounts
	// (BenchmarkDurableWrite: 122-150k CPU ns a write; 100-105k with 8 MiB,
	// 98-101k with 16 MiB, which would cost 8 MiB more RSS at 100k accounts).
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate&"+url.Values{"_pragma": {"cache_size(-8192)"}}.Encode())
	if err != nil {
		return nil, nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	r.SetMaxOpenConns(max(4, 2*runtime.GOMAXPROCS(0)))
	r.SetMaxIdleConns(max(4, 2*runtime.GOMAXPROCS(0)))
	s := &Store{w: w, r: r, writes: make(chan *writeOp), quit: make(chan struct{}), done: make(chan struct{})}
	applied, err := s.start(ctx, path)
	if err != nil {
		// No committer to stop yet.
		return nil, nil, errors.Join(err, w.Close(), r.Close())
	}
	go s.commitLoop()
	return s, applied, nil
}

// start checks the file, migrates it and prepares the statements, in
// that order: a corrupt store is refused before any DDL, and the
// statements are prepared against the final schema.
func (s *Store) start(ctx context.Context, path string) ([]int64, error) {
	if err := s.quickCheck(ctx, path); err != nil {
		return nil, err
	}
	applied, err := migrateUp(ctx, s.w)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	if err := s.prepare(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: prepare statements: %w", err)
	}
	return applied, nil
}

// Close finishes the batch being committed, then closes the database.
// Writes after Close fail.
func (s *Store) Close() error {
	err := errClosed
	s.once.Do(func() {
		close(s.quit)
		<-s.done
		err = errors.Join(s.w.Close(), s.r.Close())
	})
	return err
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// tx runs fn in a write transaction and returns once that transaction is
// durable (or failed). fn runs with a context that is not cancelled: a
// write that has started completes, since interrupting SQLite inside a
// shared transaction would roll back the other writes of its batch. ctx
// decides only whether the write starts.
func (s *Store) tx(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := &writeOp{ctx: ctx, fn: fn, err: make(chan error, 1)}
	select {
	case s.writes <- op:
	case <-s.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.storageErr(<-op.err)
}

// commitLoop is the committer: it takes a write, adds every write queued
// by then (up to maxBatch), runs them in one transaction and commits.
// While it commits, new writes queue up for the next batch.
func (s *Store) commitLoop() {
	defer close(s.done)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case <-s.quit:
			return
		case op := <-s.writes:
			batch = append(batch[:0], op)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case op := <-s.writes:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		start := time.Now()
		s.commit(batch)
		if fn := s.observe.Load(); fn != nil {
			(*fn)(len(batch), time.Since(start))
		}
		clear(batch)
	}
}

// commit runs batch in one transaction and answers every write.
func (s *Store) commit(batch []*writeOp) {
	bg := context.Background()
	errs := make([]error, len(batch))
	fail := func(err error) {
		for _, op := range batch {
			op.err <- err
		}
	}
	tx, err := s.w.BeginTx(bg, nil)
	if err != nil {
		fail(err)
		return
	}
	if len(batch) == 1 {
		// Alone: no savepoint needed.
		op := batch[0]
		if err := runOp(op, tx); err != nil {
			tx.Rollback()
			op.err <- err
			return
		}
		op.err <- tx.Commit()
		return
	}
	for i, op := range batch {
		if _, err := tx.StmtContext(bg, s.ps.savepoint).ExecContext(bg); err != nil {
			tx.Rollback()
			fail(err)
			return
		}
		errs[i] = runOp(op, tx)
		if errs[i] != nil {
			// ROLLBACK TO keeps the savepoint; RELEASE ends it. If SQLite
			// rolled back the whole transaction, this fails and so does
			// the batch.
			if _, err := tx.StmtContext(bg, s.ps.rollbackTo).ExecContext(bg); err != nil {
				tx.Rollback()
				fail(fmt.Errorf("sqlite: batch rolled back after %w", errs[i]))
				return
			}
		}
		if _, err := tx.StmtContext(bg, s.ps.release).ExecContext(bg); err != nil {
			tx.Rollback()
			fail(err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(err)
		return
	}
	for i, op := range batch {
		op.err <- errs[i]
	}
}

// runOp runs one write's function, turning a panic into an error so that
// the committer and the other writes of the batch survive it.
func runOp(op *writeOp, tx *sql.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sqlite: write panicked: %v", r)
		}
	}()
	if err := op.ctx.Err(); err != nil {
		return err
	}
	return op.fn(context.WithoutCancel(op.ctx), tx)
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// isUnique reports whether err is a unique or primary key violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
	}
	return false
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return storageErrNotFound
	}
	return err
}
