package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
)

var _ storage.ContextStore = (*Store)(nil)

// ttlCol is a nullable TTL column in milliseconds.
func ttlCol(d time.Duration, set bool) any {
	if !set {
		return nil
	}
	return d.Milliseconds()
}

func fromTTLCol(v sql.NullInt64) (time.Duration, bool) {
	if !v.Valid {
		return 0, false
	}
	return time.Duration(v.Int64) * time.Millisecond, true
}

func ttlSetting(v sql.NullInt64) storage.TTLSetting {
	d, set := fromTTLCol(v)
	return storage.TTLSetting{TTL: d, Set: set}
}

// placeholders returns "?,?,...,?" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// PutNamespace implements storage.ContextStore; a write for an account that
// no longer exists is storage.ErrNotFound.
func (s *Store) PutNamespace(ctx context.Context, accountID string, n storage.ContextNamespace, q storage.ContextQuota) error {
	return accountGone(accountID, s.doPutNamespace(ctx, accountID, n, q))
}

func (s *Store) doPutNamespace(ctx context.Context, accountID string, n storage.ContextNamespace, q storage.ContextQuota) error {
	grow := storage.ContextUsage{Bytes: storage.RowBytes(n.Name)}
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return s.withinQuota(ctx, tx, accountID, q, grow, n.CreatedAt, func() error {
			return s.putNamespace(ctx, tx, accountID, n)
		})
	})
}

func (s *Store) putNamespace(ctx context.Context, tx *sql.Tx, accountID string, n storage.ContextNamespace) error {
	if n.HasTTL {
		_, err := tx.StmtContext(ctx, s.ps.nsUpsertTTL).ExecContext(ctx, accountID, n.Name, ms(n.CreatedAt), ttlCol(n.TTL, true))
		return err
	}
	_, err := tx.StmtContext(ctx, s.ps.nsInsert).ExecContext(ctx, accountID, n.Name, ms(n.CreatedAt))
	return err
}

// GetNamespace implements storage.ContextStore.
func (s *Store) GetNamespace(ctx context.Context, accountID, name string) (storage.ContextNamespace, error) {
	var (
		created int64
		ttl     sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx, `SELECT created_at, ttl_ms FROM ccs_namespaces WHERE account_id = ? AND name = ?`, accountID, name).Scan(&created, &ttl)
	if err != nil {
		return storage.ContextNamespace{}, notFound(err)
	}
	n := storage.ContextNamespace{Name: name, CreatedAt: fromMS(created)}
	n.TTL, n.HasTTL = fromTTLCol(ttl)
	return n, nil
}

// ListNamespaces implements storage.ContextStore.
func (s *Store) ListNamespaces(ctx context.Context, accountID string) ([]storage.ContextNamespace, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, created_at, ttl_ms FROM ccs_namespaces WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.ContextNamespace{}
	for rows.Next() {
		var (
			n       storage.ContextNamespace
			created int64
			ttl     sql.NullInt64
		)
		if err := rows.Scan(&n.Name, &created, &ttl); err != nil {
			return nil, err
		}
		n.CreatedAt = fromMS(created)
		n.TTL, n.HasTTL = fromTTLCol(ttl)
		out = append(out, n)
	}
	return out, rows.Err()
}

// DeleteNamespace implements storage.ContextStore.
func (s *Store) DeleteNamespace(ctx context.Context, accountID, name string) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM ccs_properties WHERE account_id = ? AND namespace = ?`,
			`DELETE FROM ccs_sessions WHERE account_id = ? AND namespace = ?`,
			`DELETE FROM ccs_namespaces WHERE account_id = ? AND name = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, accountID, name); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutSession implements storage.ContextStore; a write for an account that
// no longer exists is storage.ErrNotFound.
func (s *Store) PutSession(ctx context.Context, k storage.ContextKey, cs storage.ContextSession, q storage.ContextQuota) error {
	return accountGone(k.AccountID, s.doPutSession(ctx, k, cs, q))
}

func (s *Store) doPutSession(ctx context.Context, k storage.ContextKey, cs storage.ContextSession, q storage.ContextQuota) error {
	grow := storage.ContextUsage{Bytes: storage.RowBytes(k.Namespace) + storage.RowBytes(k.Namespace, k.SessionID)}
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return s.withinQuota(ctx, tx, k.AccountID, q, grow, cs.CreatedAt, func() error {
			return s.putSession(ctx, tx, k, cs)
		})
	})
}

func (s *Store) putSession(ctx context.Context, tx *sql.Tx, k storage.ContextKey, cs storage.ContextSession) error {

	if err := s.putNamespace(ctx, tx, k.AccountID, storage.ContextNamespace{Name: k.Namespace, CreatedAt: cs.CreatedAt}); err != nil {
		return err
	}
	at := ms(cs.CreatedAt)
	if cs.HasTTL {
		_, err := tx.ExecContext(ctx, `INSERT INTO ccs_sessions (account_id, namespace, session_id, created_at, updated_at, ttl_ms) VALUES (?,?,?,?,?,?)
			ON CONFLICT (account_id, namespace, session_id) DO UPDATE SET ttl_ms = excluded.ttl_ms, updated_at = excluded.updated_at`,
			k.AccountID, k.Namespace, k.SessionID, at, at, ttlCol(cs.TTL, true))
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO ccs_sessions (account_id, namespace, session_id, created_at, updated_at, ttl_ms) VALUES (?,?,?,?,?,NULL)
		ON CONFLICT (account_id, namespace, session_id) DO NOTHING`,
		k.AccountID, k.Namespace, k.SessionID, at, at)
	return err
}

// ListSessions implements storage.ContextStore.
func (s *Store) ListSessions(ctx context.Context, accountID, namespace string, now time.Time) ([]storage.ContextSession, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT s.session_id, s.created_at, s.ttl_ms FROM ccs_sessions s
		WHERE s.account_id = ? AND s.namespace = ? AND (s.ttl_ms IS NOT NULL OR EXISTS (
			SELECT 1 FROM ccs_properties p WHERE p.account_id = s.account_id AND p.namespace = s.namespace
			AND p.session_id = s.session_id AND (p.expires_at = 0 OR p.expires_at > ?)))
		ORDER BY s.session_id`, accountID, namespace, ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.ContextSession{}
	for rows.Next() {
		var (
			cs      storage.ContextSession
			created int64
			ttl     sql.NullInt64
		)
		if err := rows.Scan(&cs.ID, &created, &ttl); err != nil {
			return nil, err
		}
		cs.CreatedAt = fromMS(created)
		cs.TTL, cs.HasTTL = fromTTLCol(ttl)
		out = append(out, cs)
	}
	return out, rows.Err()
}

// DeleteSession implements storage.ContextStore.
func (s *Store) DeleteSession(ctx context.Context, k storage.ContextKey) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM ccs_properties WHERE account_id = ? AND namespace = ? AND session_id = ?`,
			`DELETE FROM ccs_sessions WHERE account_id = ? AND namespace = ? AND session_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, k.AccountID, k.Namespace, k.SessionID); err != nil {
				return err
			}
		}
		return nil
	})
}

// maxNamesPerStatement keeps a statement under SQLite's limit of bound
// variables.
const maxNamesPerStatement = 500

// MergeProperties implements storage.ContextStore. The whole merge runs in
// one write transaction on the single writer connection, so concurrent
// merges into one session are serialized and lose no key. A write for
// an account that no longer exists is storage.ErrNotFound.
func (s *Store) MergeProperties(ctx context.Context, m storage.ContextMerge) error {
	return accountGone(m.Key.AccountID, s.doMergeProperties(ctx, m))
}

func (s *Store) doMergeProperties(ctx context.Context, m storage.ContextMerge) error {
	k := m.Key
	plan, err := storage.PlanMerge(m)
	if err != nil {
		return err
	}
	uniq, sizes, newSum, grow := plan.Properties, plan.Sizes, plan.NewSize, plan.Grow
	// More than one property: the rows as one JSON array [[name, value,
	// size], ...] for the size query and the upsert, encoded here, before
	// the write reaches the single committer.
	var rowsJSON string
	if len(uniq) > 1 {
		rows := make([][3]any, len(uniq))
		for i, p := range uniq {
			rows[i] = [3]any{p.Name, string(p.Value), sizes[i]}
		}
		b, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		rowsJSON = string(b)
	}
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return s.withinQuota(ctx, tx, k.AccountID, m.Quota, grow, m.Now, func() error {
			return s.merge(ctx, tx, m, uniq, sizes, newSum, rowsJSON)
		})
	})
}

// merge is the body of MergeProperties' transaction.
func (s *Store) merge(ctx context.Context, tx *sql.Tx, m storage.ContextMerge, uniq []storage.ContextProperty, sizes []int64, newSum int64, rowsJSON string) error {
	k := m.Key
	now := ms(m.Now)

	var (
		nsTTL, sessTTL sql.NullInt64
		size           sql.NullInt64
	)
	state := tx.StmtContext(ctx, s.ps.mergeState)
	err := state.QueryRowContext(ctx, k.SessionID, k.AccountID, k.Namespace).Scan(&nsTTL, &sessTTL, &size)
	if err == sql.ErrNoRows {
		// First write to the namespace: create it.
		if err := s.putNamespace(ctx, tx, k.AccountID, storage.ContextNamespace{Name: k.Namespace, CreatedAt: m.Now}); err != nil {
			return err
		}
		err = state.QueryRowContext(ctx, k.SessionID, k.AccountID, k.Namespace).Scan(&nsTTL, &sessTTL, &size)
	}
	if err != nil {
		return err
	}
	exists := size.Valid
	total := int64(storage.EmptyDocumentSize)
	if exists {
		total = size.Int64
	}
	if len(uniq) > 0 {
		old, err := s.oldSizes(ctx, tx, k, uniq, rowsJSON)
		if err != nil {
			return err
		}
		total += newSum - old
		if !m.Fits(total) {
			// The counter includes expired rows not yet purged:
			// purge this session's and count again before refusing.
			if _, err := tx.ExecContext(ctx, `DELETE FROM ccs_properties WHERE account_id = ? AND namespace = ? AND session_id = ?
				AND expires_at > 0 AND expires_at <= ?`, k.AccountID, k.Namespace, k.SessionID, now); err != nil {
				return err
			}
			var all int64
			if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(size), 0) FROM ccs_properties WHERE account_id = ? AND namespace = ? AND session_id = ?`,
				k.AccountID, k.Namespace, k.SessionID).Scan(&all); err != nil {
				return err
			}
			if old, err = s.oldSizes(ctx, tx, k, uniq, rowsJSON); err != nil {
				return err
			}
			total = storage.EmptyDocumentSize + all - old + newSum
			if !m.Fits(total) {
				return storage.ErrTooLarge
			}
		}
	}
	if exists {
		_, err = tx.StmtContext(ctx, s.ps.sessionSize).ExecContext(ctx, total, now, k.AccountID, k.Namespace, k.SessionID)
	} else {
		_, err = tx.StmtContext(ctx, s.ps.sessionInsert).ExecContext(ctx, k.AccountID, k.Namespace, k.SessionID, now, now, total)
	}
	if err != nil {
		return err
	}
	if len(uniq) == 0 {
		return nil
	}
	expires := ms(m.ExpiresAt(ttlSetting(sessTTL), ttlSetting(nsTTL)))
	// Prepared statements only: one single-row upsert, or one upsert
	// of all rows from a JSON array [[name, value, size], ...].
	if len(uniq) == 1 {
		_, err := tx.StmtContext(ctx, s.ps.propUpsert).ExecContext(ctx, k.AccountID, k.Namespace, k.SessionID, uniq[0].Name, string(uniq[0].Value), expires, sizes[0])
		return err
	}
	_, err = tx.StmtContext(ctx, s.ps.propUpsertMany).ExecContext(ctx, k.AccountID, k.Namespace, k.SessionID, expires, rowsJSON)
	return err
}

// oldSizes returns the summed sizes of the stored rows (expired or not) of
// the properties about to be written; rowsJSON holds them when there are
// more than one.
func (s *Store) oldSizes(ctx context.Context, tx *sql.Tx, k storage.ContextKey, props []storage.ContextProperty, rowsJSON string) (int64, error) {
	var size int64
	if len(props) == 1 {
		err := tx.StmtContext(ctx, s.ps.propSize).QueryRowContext(ctx, k.AccountID, k.Namespace, k.SessionID, props[0].Name).Scan(&size)
		if err == sql.ErrNoRows {
			return 0, nil
		}
		return size, err
	}
	err := tx.StmtContext(ctx, s.ps.propSizes).QueryRowContext(ctx, k.AccountID, k.Namespace, k.SessionID, rowsJSON).Scan(&size)
	return size, err
}

// GetProperties implements storage.ContextStore.
func (s *Store) GetProperties(ctx context.Context, k storage.ContextKey, names []string, now time.Time) ([]storage.ContextProperty, error) {
	if names != nil && len(names) == 0 {
		return []storage.ContextProperty{}, nil
	}
	if len(names) == 1 {
		var (
			value   string
			expires int64
		)
		err := s.ps.propGet.QueryRowContext(ctx, k.AccountID, k.Namespace, k.SessionID, names[0], ms(now)).Scan(&value, &expires)
		if err == sql.ErrNoRows {
			return []storage.ContextProperty{}, nil
		}
		if err != nil {
			return nil, err
		}
		return []storage.ContextProperty{{Name: names[0], Value: []byte(value), ExpiresAt: fromMS(expires)}}, nil
	}
	q := `SELECT name, value, expires_at FROM ccs_properties WHERE account_id = ? AND namespace = ? AND session_id = ?
		AND (expires_at = 0 OR expires_at > ?)`
	args := []any{k.AccountID, k.Namespace, k.SessionID, ms(now)}
	if names != nil {
		q += ` AND name IN (` + placeholders(len(names)) + `)`
		for _, n := range names {
			args = append(args, n)
		}
	}
	var (
		rows *sql.Rows
		err  error
	)
	if names == nil {
		rows, err = s.ps.docGet.QueryContext(ctx, args...)
	} else {
		rows, err = s.r.QueryContext(ctx, q+` ORDER BY name`, args...)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.ContextProperty{}
	for rows.Next() {
		var (
			p       storage.ContextProperty
			value   string
			expires int64
		)
		if err := rows.Scan(&p.Name, &value, &expires); err != nil {
			return nil, err
		}
		p.Value, p.ExpiresAt = []byte(value), fromMS(expires)
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeleteProperties implements storage.ContextStore.
func (s *Store) DeleteProperties(ctx context.Context, k storage.ContextKey, names []string) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if names == nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM ccs_properties WHERE account_id = ? AND namespace = ? AND session_id = ?`,
				k.AccountID, k.Namespace, k.SessionID); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE ccs_sessions SET size = 1 WHERE account_id = ? AND namespace = ? AND session_id = ?`,
				k.AccountID, k.Namespace, k.SessionID)
			return err
		}
		var freed int64
		for start := 0; start < len(names); start += maxNamesPerStatement {
			end := min(start+maxNamesPerStatement, len(names))
			args := []any{k.AccountID, k.Namespace, k.SessionID}
			for _, n := range names[start:end] {
				args = append(args, n)
			}
			rows, err := tx.QueryContext(ctx, `DELETE FROM ccs_properties WHERE account_id = ? AND namespace = ? AND session_id = ?
				AND name IN (`+placeholders(end-start)+`) RETURNING size`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var n int64
				if err := rows.Scan(&n); err != nil {
					rows.Close()
					return err
				}
				freed += n
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		if freed == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE ccs_sessions SET size = size - ? WHERE account_id = ? AND namespace = ? AND session_id = ?`,
			freed, k.AccountID, k.Namespace, k.SessionID)
		return err
	})
}

// ListDocuments implements storage.ContextStore.
func (s *Store) ListDocuments(ctx context.Context, accountID, namespace string, now time.Time, offset, limit int, withProperties bool) ([]storage.ContextDocument, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT s.session_id FROM ccs_sessions s
		WHERE s.account_id = ? AND s.namespace = ? AND EXISTS (
			SELECT 1 FROM ccs_properties p WHERE p.account_id = s.account_id AND p.namespace = s.namespace
			AND p.session_id = s.session_id AND (p.expires_at = 0 OR p.expires_at > ?))
		ORDER BY s.session_id LIMIT ? OFFSET ?`, accountID, namespace, ms(now), limit, offset)
	if err != nil {
		return nil, err
	}
	docs := []storage.ContextDocument{}
	for rows.Next() {
		var d storage.ContextDocument
		if err := rows.Scan(&d.SessionID); err != nil {
			rows.Close()
			return nil, err
		}
		d.Properties = []storage.ContextProperty{}
		docs = append(docs, d)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !withProperties || len(docs) == 0 {
		return docs, nil
	}
	args := []any{accountID, namespace, ms(now), docs[0].SessionID, docs[len(docs)-1].SessionID}
	prows, err := s.r.QueryContext(ctx, `SELECT session_id, name, value, expires_at FROM ccs_properties
		WHERE account_id = ? AND namespace = ? AND (expires_at = 0 OR expires_at > ?) AND session_id BETWEEN ? AND ?
		ORDER BY session_id, name`, args...)
	if err != nil {
		return nil, err
	}
	defer prows.Close()
	i := 0
	for prows.Next() {
		var (
			sid     string
			p       storage.ContextProperty
			value   string
			expires int64
		)
		if err := prows.Scan(&sid, &p.Name, &value, &expires); err != nil {
			return nil, err
		}
		for i < len(docs) && docs[i].SessionID < sid {
			i++
		}
		if i == len(docs) {
			break
		}
		if docs[i].SessionID != sid {
			continue // a session that appeared since the first query
		}
		p.Value, p.ExpiresAt = []byte(value), fromMS(expires)
		docs[i].Properties = append(docs[i].Properties, p)
	}
	return docs, prows.Err()
}

// CapContextExpiry implements storage.ContextStore: one short write
// transaction over a range of the primary key, so that capping a large
// store in batches reads each row once.
func (s *Store) CapContextExpiry(ctx context.Context, until time.Time, from storage.ContextPosition, limit int) (storage.ContextPosition, int, error) {
	var (
		next storage.ContextPosition
		n    int
	)
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		next, n = storage.ContextPosition{}, 0
		after := []any{from.Key.AccountID, from.Key.Namespace, from.Key.SessionID, from.Name}
		var last storage.ContextPosition
		err := tx.QueryRowContext(ctx, `SELECT account_id, namespace, session_id, name FROM ccs_properties
			WHERE (account_id, namespace, session_id, name) > (?, ?, ?, ?)
			ORDER BY account_id, namespace, session_id, name LIMIT 1 OFFSET ?`, append(after, limit-1)...).
			Scan(&last.Key.AccountID, &last.Key.Namespace, &last.Key.SessionID, &last.Name)
		q := `UPDATE ccs_properties SET expires_at = ? WHERE (expires_at = 0 OR expires_at > ?)
			AND (account_id, namespace, session_id, name) > (?, ?, ?, ?)`
		args := append([]any{ms(until), ms(until)}, after...)
		switch {
		case err == sql.ErrNoRows: // fewer than limit left: up to the end
		case err != nil:
			return err
		default:
			q += ` AND (account_id, namespace, session_id, name) <= (?, ?, ?, ?)`
			args = append(args, last.Key.AccountID, last.Key.Namespace, last.Key.SessionID, last.Name)
			next = last
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		changed, err := res.RowsAffected()
		n = int(changed)
		return err
	})
	if err != nil {
		return storage.ContextPosition{}, 0, fmt.Errorf("cap context expiry: %w", err)
	}
	return next, n, nil
}

// PurgeContext implements storage.ContextStore. It deletes in one short
// write transaction, so that requests wait at most one batch.
func (s *Store) PurgeContext(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		n, err = s.purge(ctx, tx, now, limit, "")
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge context: %w", err)
	}
	return n, nil
}

// purge deletes up to limit properties expired at now, of one account
// when accountID is not "", with the sessions they leave empty, in tx.
func (s *Store) purge(ctx context.Context, tx *sql.Tx, now time.Time, limit int, accountID string) (int, error) {
	at := ms(now)
	n := 0
	var (
		rows *sql.Rows
		err  error
	)
	if accountID == "" {
		rows, err = tx.QueryContext(ctx, `DELETE FROM ccs_properties WHERE (account_id, namespace, session_id, name) IN (
			SELECT account_id, namespace, session_id, name FROM ccs_properties WHERE expires_at > 0 AND expires_at <= ? LIMIT ?)
			RETURNING account_id, namespace, session_id, size`, at, limit)
	} else {
		rows, err = tx.QueryContext(ctx, `DELETE FROM ccs_properties WHERE (account_id, namespace, session_id, name) IN (
			SELECT account_id, namespace, session_id, name FROM ccs_properties WHERE expires_at > 0 AND expires_at <= ? AND account_id = ? LIMIT ?)
			RETURNING account_id, namespace, session_id, size`, at, accountID, limit)
	}
	if err != nil {
		return 0, err
	}
	freed := map[storage.ContextKey]int64{}
	for rows.Next() {
		var (
			k    storage.ContextKey
			size int64
		)
		if err := rows.Scan(&k.AccountID, &k.Namespace, &k.SessionID, &size); err != nil {
			rows.Close()
			return 0, err
		}
		freed[k] += size
		n++
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	for k, size := range freed {
		if _, err := tx.ExecContext(ctx, `UPDATE ccs_sessions SET size = size - ? WHERE account_id = ? AND namespace = ? AND session_id = ?`,
			size, k.AccountID, k.Namespace, k.SessionID); err != nil {
			return 0, err
		}
		// A session left empty goes too, unless it carries a TTL
		// that was set or used within that TTL.
		if _, err := tx.ExecContext(ctx, `DELETE FROM ccs_sessions WHERE account_id = ? AND namespace = ? AND session_id = ?
			AND (ttl_ms IS NULL OR (ttl_ms > 0 AND updated_at + ttl_ms <= ?))
			AND NOT EXISTS (SELECT 1 FROM ccs_properties p WHERE p.account_id = ccs_sessions.account_id
				AND p.namespace = ccs_sessions.namespace AND p.session_id = ccs_sessions.session_id)`,
			k.AccountID, k.Namespace, k.SessionID, at); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// withinQuota runs write in tx and keeps the account within q: a write
// that leaves it over a bound, and grew what it stores, fails with
// storage.ErrQuotaExceeded (the caller's transaction then saves nothing).
// grow bounds what write adds; when even that fits, the usage is read
// once, before. Expired properties count until they are purged, so an
// account over its quota has its expired properties purged (a bounded
// batch) before the write is refused.
func (s *Store) withinQuota(ctx context.Context, tx *sql.Tx, accountID string, q storage.ContextQuota, grow storage.ContextUsage, now time.Time, write func() error) error {
	if !q.Bounded() {
		return write()
	}
	usage := tx.StmtContext(ctx, s.ps.usageW)
	before, err := contextUsage(ctx, usage, accountID)
	if err != nil {
		return err
	}
	if err := write(); err != nil {
		return err
	}
	return storage.CheckQuota(q, before, grow,
		func() (storage.ContextUsage, error) { return contextUsage(ctx, usage, accountID) },
		func() error { _, err := s.purge(ctx, tx, now, storage.QuotaPurgeLimit, accountID); return err })
}

// contextUsage reads an account's usage row with q, the prepared
// usageSQL of the writer (in its transaction) or of the readers.
func contextUsage(ctx context.Context, q *sql.Stmt, accountID string) (storage.ContextUsage, error) {
	var u storage.ContextUsage
	err := q.QueryRowContext(ctx, accountID).Scan(&u.Properties, &u.Bytes)
	if err == sql.ErrNoRows {
		return storage.ContextUsage{}, nil
	}
	return u, err
}

// ContextUsage implements storage.ContextStore.
func (s *Store) ContextUsage(ctx context.Context, accountID string) (storage.ContextUsage, error) {
	return contextUsage(ctx, s.ps.usageR, accountID)
}

// accountGone turns the foreign key violation of a context write for an
// account that no longer exists into storage.ErrNotFound.
func accountGone(accountID string, err error) error {
	if err != nil && isForeignKeyViolation(err) {
		return fmt.Errorf("account %s: %w", accountID, storage.ErrNotFound)
	}
	return err
}
