package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/migrate"
)

var _ storage.Store = (*Store)(nil)

const (
	// connectTimeout bounds one connection attempt (dial, TLS, startup,
	// authentication) when the URL does not set connect_timeout: a server
	// that does not answer must fail a request, not hang it.
	connectTimeout = 2 * time.Second
	// openTimeout bounds Open's first contact with the server.
	openTimeout = 5 * time.Second
	// acquireWait bounds the wait for a pooled connection. A down server
	// fails at once (or after connectTimeout); this bounds the wait of a
	// pool exhausted by a server that stopped answering mid-query.
	acquireWait = 5 * time.Second
	// defaultMaxConns is each node's pool when the URL does not set
	// pool_max_conns. PostgreSQL's default max_connections (100) leaves
	// room for six nodes; set pool_max_conns (or max_connections) for
	// more.
	defaultMaxConns = 16
	// readTimeout and txTimeout bound one read and one transaction (all
	// its runs) when the caller's context allows longer: a server that
	// stopped answering mid-query (hung, or cut off without a reset)
	// fails the call with storage.ErrUnavailable instead of hanging it.
	// Writes get longer, as concurrent writes of one account wait for
	// each other's row locks.
	readTimeout = 2 * time.Second
	txTimeout   = 5 * time.Second
	// maxAttempts bounds the runs of one transaction that failed with a
	// serialization failure, a deadlock or a lost connection before
	// commit.
	maxAttempts = 5
)

var errClosed = errors.New("postgres: store closed")

// Options configure Open.
type Options struct {
	// Migrate applies pending migrations at Open (under the advisory
	// lock). When false, Open fails if migrations are pending, with an
	// error saying to run `orchestrator store migrate`.
	Migrate bool
	// Log receives what Open did (migrations applied) and transient
	// errors retried; nil: slog.Default().
	Log *slog.Logger
}

// Store is the PostgreSQL backend. It is safe for concurrent use, and
// several Stores (the nodes of a zone) may share one database: every
// guarantee of storage.Store holds across them, through row locks taken
// in one order everywhere (an account's ccs_usage row, then its session
// rows, then its property rows), never through process memory.
type Store struct {
	pool   *pgxpool.Pool
	db     *sql.DB // database/sql on the same pool, for goose and tools
	log    *slog.Logger
	closed atomic.Bool
	once   sync.Once

	fullAt atomic.Int64 // unix ns of the last write refused for lack of space
	probe  probe        // Ready's write probe
	now    func() time.Time
}

// Open connects to the database at url (a PostgreSQL URL or key=value
// string, as pgx parses it) and checks its schema: it applies pending
// migrations when opts.Migrate, and refuses to start on a schema that
// lacks some otherwise. It fails within a few seconds when the server
// does not answer, with an error wrapping storage.ErrUnavailable.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err) // pgx redacts the password
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default, max(4, CPUs), caps a node at 4 transactions in
		// flight on 2 cores: writes of different accounts wait for a
		// connection rather than for the database.
		cfg.MaxConns = defaultMaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = connectTimeout
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", where, err)
	}
	s := &Store{pool: pool, db: stdlib.OpenDBFromPool(pool), log: log}
	pctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("postgres: cannot reach the database at %s: %w: %w", where, storage.ErrUnavailable, err)
	}
	if opts.Migrate {
		applied, err := migrate.Up(ctx, s.db, migrate.Postgres, Migrations())
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("postgres: %s: %w", where, err)
		}
		if len(applied) > 0 {
			log.Info("postgres: applied migrations", "database", where, "versions", applied)
		}
		return s, nil
	}
	n, err := migrate.Pending(ctx, s.db, migrate.Postgres, Migrations())
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("postgres: %s: %w", where, err)
	}
	if n > 0 {
		s.Close()
		return nil, fmt.Errorf("postgres: the database at %s lacks %d schema migration(s); run `orchestrator store migrate` first", where, n)
	}
	return s, nil
}

// Close closes the pool, waiting for connections in use to be released.
// Calls after it fail.
func (s *Store) Close() error {
	err := errClosed
	s.once.Do(func() {
		s.closed.Store(true)
		err = s.db.Close()
		s.pool.Close()
	})
	return err
}

// DB is a database/sql handle on the store's pool, for goose and the
// status tools. Closing the store closes it.
func (s *Store) DB() *sql.DB { return s.db }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.read(ctx, func(ctx context.Context, q querier) error {
		_, err := q.Exec(ctx, `SELECT 1`)
		return err
	})
}

// querier is what a pooled connection and a transaction both offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// acquire takes a connection from the pool within acquireWait.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	actx, cancel := context.WithTimeout(ctx, acquireWait)
	defer cancel()
	c, err := s.pool.Acquire(actx)
	switch {
	case err == nil:
		return c, nil
	case errors.Is(ctx.Err(), context.Canceled):
		return nil, ctx.Err()
	case s.closed.Load():
		return nil, errClosed
	}
	return nil, fmt.Errorf("%w: postgres: no connection: %w", storage.ErrUnavailable, err)
}

// read runs fn, a read, on a pooled connection. A read that lost its
// connection (a server restarted under an idle pool) runs once more on
// a new one.
func (s *Store) read(ctx context.Context, fn func(context.Context, querier) error) error {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		c, err := s.acquire(ctx)
		if err != nil {
			return err
		}
		err = fn(ctx, c)
		lost := err != nil && c.Conn().IsClosed()
		c.Release()
		if err == nil {
			return nil
		}
		if lost && attempt < 2 && ctx.Err() == nil {
			continue
		}
		return s.storageErr(ctx, err, lost)
	}
}

// tx runs fn in a READ COMMITTED transaction and commits it. fn takes
// the row locks its guarantees need (SELECT … FOR UPDATE). The whole
// transaction runs again, after a short random pause, when it failed
// with a serialization failure or a deadlock, or lost its connection
// before COMMIT was sent (nothing of it was committed then); up to
// maxAttempts runs. fn must therefore set its results afresh on each run.
//
// A connection lost while COMMIT was on its way leaves the outcome
// unknown: that error wraps storage.ErrUnavailable and says so, and is
// not retried (the write may have been applied).
func (s *Store) tx(ctx context.Context, fn func(context.Context, pgx.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, txTimeout)
	defer cancel()
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		if attempt > 1 {
			pause := time.Duration(rand.Int64N(int64(attempt) * int64(10*time.Millisecond)))
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		c, aerr := s.acquire(ctx)
		if aerr != nil {
			return aerr
		}
		var again bool
		err, again = s.attempt(ctx, c, fn)
		c.Release()
		if !again {
			return err
		}
		s.log.Debug("postgres: transaction retried", "attempt", attempt, "err", err)
	}
	return err
}

// attempt runs one try of tx on c and says whether to try again.
func (s *Store) attempt(ctx context.Context, c *pgxpool.Conn, fn func(context.Context, pgx.Tx) error) (err error, again bool) {
	tx, err := c.Begin(ctx)
	if err != nil {
		lost := c.Conn().IsClosed()
		return s.storageErr(ctx, err, lost), lost && ctx.Err() == nil
	}
	if err := fn(ctx, tx); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), connectTimeout)
		tx.Rollback(rctx)
		cancel()
		lost := c.Conn().IsClosed()
		return s.storageErr(ctx, err, lost), transient(err) || lost && ctx.Err() == nil
	}
	if err := tx.Commit(ctx); err != nil {
		if c.Conn().IsClosed() && !errors.Is(ctx.Err(), context.Canceled) {
			return fmt.Errorf("%w: postgres: connection lost during commit, the write may or may not be applied: %w", storage.ErrUnavailable, err), false
		}
		return s.storageErr(ctx, err, false), transient(err)
	}
	return nil, false
}

// transient reports whether err is a serialization failure or a
// deadlock: the transaction was rolled back and may run again.
func transient(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// storageErr turns err into the storage sentinel where one applies:
// disk full (53100) becomes storage.ErrStorageFull (noted for Ready); a
// lost or refused connection, or a server shutting down, becomes
// storage.ErrUnavailable. lost says that the connection died with err.
func (s *Store) storageErr(ctx context.Context, err error, lost bool) error {
	if err == nil || errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrStorageFull) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100": // disk_full
			s.fullAt.Store(s.clock().UnixNano())
			return fmt.Errorf("%w: %w", storage.ErrStorageFull, err)
		case strings.HasPrefix(pe.Code, "08"), // connection_exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
			pe.Code == "25006", // read_only_sql_transaction: a standby after a failover
			pe.Code == "57014" && !errors.Is(ctx.Err(), context.Canceled): // query_canceled by a timeout, not the caller
			return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return err // the caller gave up: it says nothing about the server
	}
	if lost || connectionErr(err) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

// connectionErr reports whether err is a failure to reach the server or
// to keep talking to it.
func connectionErr(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// pgCode returns err's SQLSTATE, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isUnique(err error) bool     { return pgCode(err) == "23505" }
func isForeignKey(err error) bool { return pgCode(err) == "23503" }

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}

func (s *Store) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
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

// storable reports whether every s can be a PostgreSQL text value: valid
// UTF-8 without NUL. PostgreSQL refuses any other as a parameter (22021)
// instead of comparing it, so a lookup by such a key (a user ID or an
// email a client sent) would fail where the SQLite store answers "not
// found"; no row can hold it, so the lookup finds nothing without asking.
func storable(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// Advisory lock classes of the background work that runs once per zone
// at a time, whichever nodes' loops call it (SPEC §9). The second key is
// the schema's hash: zones in other schemas of the database do not wait
// for each other.
const (
	purgeContextLock     int32 = 0x6f726301 // "orc" 1
	purgeEvaluationsLock int32 = 0x6f726302
	// purgeRevokedTokensLock stands apart from the numbers above, which
	// other purges may take next.
	purgeRevokedTokensLock int32 = 0x6f726310
	purgeAuditLock         int32 = 0x6f726311
	// revokeTokenLock serialises one account's revocations (RevokeToken);
	// its second key hashes the schema and the account id, and it is
	// waited for, not tried.
	revokeTokenLock int32 = 0x6f726320
)

// zoneTurn takes the transaction-scoped advisory lock of class in this
// schema, without waiting: false when another node's transaction holds
// it (that node is doing the work; this one has nothing to do).
func zoneTurn(ctx context.Context, tx pgx.Tx, class int32) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema()))`, class).Scan(&ok)
	return ok, err
}
