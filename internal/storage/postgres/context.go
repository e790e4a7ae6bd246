package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// Lock order. Every transaction that writes an account's context data
// locks the account's ccs_usage row first (lockUsage, creating it when
// missing), then the session rows it changes, then property rows: the
// usage triggers update that row on every insert and delete anyway, so
// taking it first costs nothing in concurrency and leaves no lock cycle.
// The purges, which find property rows first, take them with SKIP LOCKED
// and the usage rows with SKIP LOCKED too, so they never wait on a
// writer.

// lockUsage locks the account's usage row, creating it when missing, and
// returns the usage before the write.
const lockUsage = `INSERT INTO ccs_usage (account_id) VALUES ($1)
	ON CONFLICT (account_id) DO UPDATE SET properties = ccs_usage.properties
	RETURNING properties, bytes`

func queueLockUsage(b *pgx.Batch, accountID string, before *storage.ContextUsage) {
	b.Queue(lockUsage, accountID).QueryRow(func(r pgx.Row) error { return r.Scan(&before.Properties, &before.Bytes) })
}

// ttlCol is a nullable TTL column in milliseconds.
func ttlCol(d time.Duration, set bool) *int64 {
	if !set {
		return nil
	}
	v := d.Milliseconds()
	return &v
}

func fromTTLCol(v *int64) (time.Duration, bool) {
	if v == nil {
		return 0, false
	}
	return time.Duration(*v) * time.Millisecond, true
}

func ttlSetting(v *int64) storage.TTLSetting {
	d, set := fromTTLCol(v)
	return storage.TTLSetting{TTL: d, Set: set}
}

const (
	nsInsert = `INSERT INTO ccs_namespaces (account_id, name, created_at, ttl_ms) VALUES ($1,$2,$3,NULL)
		ON CONFLICT (account_id, name) DO NOTHING`
	nsUpsertTTL = `INSERT INTO ccs_namespaces (account_id, name, created_at, ttl_ms) VALUES ($1,$2,$3,$4)
		ON CONFLICT (account_id, name) DO UPDATE SET ttl_ms = excluded.ttl_ms`
)

func queueNamespace(b *pgx.Batch, accountID string, n storage.ContextNamespace) {
	if n.HasTTL {
		b.Queue(nsUpsertTTL, accountID, n.Name, ms(n.CreatedAt), ttlCol(n.TTL, true))
		return
	}
	b.Queue(nsInsert, accountID, n.Name, ms(n.CreatedAt))
}

// PutNamespace implements storage.ContextStore; a write for an account that
// no longer exists is storage.ErrNotFound.
func (s *Store) PutNamespace(ctx context.Context, accountID string, n storage.ContextNamespace, q storage.ContextQuota) error {
	return accountGone(accountID, s.doPutNamespace(ctx, accountID, n, q))
}

func (s *Store) doPutNamespace(ctx context.Context, accountID string, n storage.ContextNamespace, q storage.ContextQuota) error {
	grow := storage.ContextUsage{Bytes: storage.RowBytes(n.Name)}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var before storage.ContextUsage
		b := &pgx.Batch{}
		queueLockUsage(b, accountID, &before)
		queueNamespace(b, accountID, n)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return s.withinQuota(ctx, tx, accountID, q, before, grow, n.CreatedAt)
	})
}

// GetNamespace implements storage.ContextStore.
func (s *Store) GetNamespace(ctx context.Context, accountID, name string) (storage.ContextNamespace, error) {
	if !storable(accountID, name) {
		return storage.ContextNamespace{}, storage.ErrNotFound
	}
	n := storage.ContextNamespace{Name: name}
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		var (
			created int64
			ttl     *int64
		)
		if err := q.QueryRow(ctx, `SELECT created_at, ttl_ms FROM ccs_namespaces WHERE account_id = $1 AND name = $2`, accountID, name).Scan(&created, &ttl); err != nil {
			return notFound(err)
		}
		n.CreatedAt = fromMS(created)
		n.TTL, n.HasTTL = fromTTLCol(ttl)
		return nil
	})
	if err != nil {
		return storage.ContextNamespace{}, err
	}
	return n, nil
}

// ListNamespaces implements storage.ContextStore.
func (s *Store) ListNamespaces(ctx context.Context, accountID string) ([]storage.ContextNamespace, error) {
	if !storable(accountID) {
		return []storage.ContextNamespace{}, nil
	}
	var out []storage.ContextNamespace
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		rows, _ := q.Query(ctx, `SELECT name, created_at, ttl_ms FROM ccs_namespaces WHERE account_id = $1 ORDER BY name`, accountID)
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.ContextNamespace, error) {
			var (
				n       storage.ContextNamespace
				created int64
				ttl     *int64
			)
			err := r.Scan(&n.Name, &created, &ttl)
			n.CreatedAt = fromMS(created)
			n.TTL, n.HasTTL = fromTTLCol(ttl)
			return n, err
		})
		return err
	})
	if out == nil && err == nil {
		out = []storage.ContextNamespace{}
	}
	return out, err
}

// DeleteNamespace implements storage.ContextStore.
func (s *Store) DeleteNamespace(ctx context.Context, accountID, name string) error {
	if !storable(accountID, name) {
		return nil // nothing can be stored under it
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SELECT 1 FROM ccs_usage WHERE account_id = $1 FOR UPDATE`, accountID)
		b.Queue(`DELETE FROM ccs_properties WHERE account_id = $1 AND namespace = $2`, accountID, name)
		b.Queue(`DELETE FROM ccs_sessions WHERE account_id = $1 AND namespace = $2`, accountID, name)
		b.Queue(`DELETE FROM ccs_namespaces WHERE account_id = $1 AND name = $2`, accountID, name)
		return tx.SendBatch(ctx, b).Close()
	})
}

// PutSession implements storage.ContextStore; a write for an account that
// no longer exists is storage.ErrNotFound.
func (s *Store) PutSession(ctx context.Context, k storage.ContextKey, cs storage.ContextSession, q storage.ContextQuota) error {
	return accountGone(k.AccountID, s.doPutSession(ctx, k, cs, q))
}

func (s *Store) doPutSession(ctx context.Context, k storage.ContextKey, cs storage.ContextSession, q storage.ContextQuota) error {
	grow := storage.ContextUsage{Bytes: storage.RowBytes(k.Namespace) + storage.RowBytes(k.Namespace, k.SessionID)}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var before storage.ContextUsage
		b := &pgx.Batch{}
		queueLockUsage(b, k.AccountID, &before)
		queueNamespace(b, k.AccountID, storage.ContextNamespace{Name: k.Namespace, CreatedAt: cs.CreatedAt})
		at := ms(cs.CreatedAt)
		if cs.HasTTL {
			b.Queue(`INSERT INTO ccs_sessions (account_id, namespace, session_id, created_at, updated_at, ttl_ms) VALUES ($1,$2,$3,$4,$4,$5)
				ON CONFLICT (account_id, namespace, session_id) DO UPDATE SET ttl_ms = excluded.ttl_ms, updated_at = excluded.updated_at`,
				k.AccountID, k.Namespace, k.SessionID, at, ttlCol(cs.TTL, true))
		} else {
			b.Queue(`INSERT INTO ccs_sessions (account_id, namespace, session_id, created_at, updated_at, ttl_ms) VALUES ($1,$2,$3,$4,$4,NULL)
				ON CONFLICT (account_id, namespace, session_id) DO NOTHING`,
				k.AccountID, k.Namespace, k.SessionID, at)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return s.withinQuota(ctx, tx, k.AccountID, q, before, grow, cs.CreatedAt)
	})
}

// ListSessions implements storage.ContextStore.
func (s *Store) ListSessions(ctx context.Context, accountID, namespace string, now time.Time) ([]storage.ContextSession, error) {
	if !storable(accountID, namespace) {
		return []storage.ContextSession{}, nil
	}
	var out []storage.ContextSession
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		rows, _ := q.Query(ctx, `SELECT s.session_id, s.created_at, s.ttl_ms FROM ccs_sessions s
			WHERE s.account_id = $1 AND s.namespace = $2 AND (s.ttl_ms IS NOT NULL OR EXISTS (
				SELECT 1 FROM ccs_properties p WHERE p.account_id = s.account_id AND p.namespace = s.namespace
				AND p.session_id = s.session_id AND (p.expires_at = 0 OR p.expires_at > $3)))
			ORDER BY s.session_id`, accountID, namespace, ms(now))
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.ContextSession, error) {
			var (
				cs      storage.ContextSession
				created int64
				ttl     *int64
			)
			err := r.Scan(&cs.ID, &created, &ttl)
			cs.CreatedAt = fromMS(created)
			cs.TTL, cs.HasTTL = fromTTLCol(ttl)
			return cs, err
		})
		return err
	})
	if out == nil && err == nil {
		out = []storage.ContextSession{}
	}
	return out, err
}

// DeleteSession implements storage.ContextStore.
func (s *Store) DeleteSession(ctx context.Context, k storage.ContextKey) error {
	if !storable(k.AccountID, k.Namespace, k.SessionID) {
		return nil // nothing can be stored under it
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SELECT 1 FROM ccs_usage WHERE account_id = $1 FOR UPDATE`, k.AccountID)
		b.Queue(`DELETE FROM ccs_properties WHERE account_id = $1 AND namespace = $2 AND session_id = $3`, k.AccountID, k.Namespace, k.SessionID)
		b.Queue(`DELETE FROM ccs_sessions WHERE account_id = $1 AND namespace = $2 AND session_id = $3`, k.AccountID, k.Namespace, k.SessionID)
		return tx.SendBatch(ctx, b).Close()
	})
}

// MergeProperties implements storage.ContextStore: one transaction of
// three round trips (lock and read, write, commit) besides BEGIN. The
// account's usage row and then the session row are locked before the
// document's size is read, so concurrent merges into one session, from
// any node, run one after the other: their sizes add up, and no key is
// lost. A write for an account that no longer exists is
// storage.ErrNotFound.
func (s *Store) MergeProperties(ctx context.Context, m storage.ContextMerge) error {
	return accountGone(m.Key.AccountID, s.doMergeProperties(ctx, m))
}

func (s *Store) doMergeProperties(ctx context.Context, m storage.ContextMerge) error {
	k := m.Key
	plan, err := storage.PlanMerge(m)
	if err != nil {
		return err
	}
	names := make([]string, len(plan.Properties))
	values := make([]string, len(plan.Properties))
	for i, p := range plan.Properties {
		names[i], values[i] = p.Name, string(p.Value)
	}
	now := ms(m.Now)
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var (
			before         storage.ContextUsage
			nsTTL, sessTTL *int64
			size, old      int64
		)
		b := &pgx.Batch{}
		queueLockUsage(b, k.AccountID, &before)
		b.Queue(nsInsert, k.AccountID, k.Namespace, now)
		b.Queue(`INSERT INTO ccs_sessions (account_id, namespace, session_id, created_at, updated_at, ttl_ms, size) VALUES ($1,$2,$3,$4,$4,NULL,$5)
			ON CONFLICT (account_id, namespace, session_id) DO NOTHING`, k.AccountID, k.Namespace, k.SessionID, now, storage.EmptyDocumentSize)
		b.Queue(`SELECT n.ttl_ms, s.ttl_ms, s.size FROM ccs_sessions s
			JOIN ccs_namespaces n ON n.account_id = s.account_id AND n.name = s.namespace
			WHERE s.account_id = $1 AND s.namespace = $2 AND s.session_id = $3 FOR UPDATE OF s`, k.AccountID, k.Namespace, k.SessionID).
			QueryRow(func(r pgx.Row) error { return r.Scan(&nsTTL, &sessTTL, &size) })
		if len(names) > 0 {
			queueOldSizes(b, k, names, &old)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		total := size
		if len(names) > 0 {
			total += plan.NewSize - old
			if !m.Fits(total) {
				// The counter includes expired rows not yet purged:
				// purge this session's and count again before refusing.
				var all int64
				b := &pgx.Batch{}
				b.Queue(`DELETE FROM ccs_properties WHERE account_id = $1 AND namespace = $2 AND session_id = $3
					AND expires_at > 0 AND expires_at <= $4`, k.AccountID, k.Namespace, k.SessionID, now)
				b.Queue(`SELECT coalesce(sum(size), 0) FROM ccs_properties WHERE account_id = $1 AND namespace = $2 AND session_id = $3`,
					k.AccountID, k.Namespace, k.SessionID).QueryRow(func(r pgx.Row) error { return r.Scan(&all) })
				queueOldSizes(b, k, names, &old)
				if err := tx.SendBatch(ctx, b).Close(); err != nil {
					return err
				}
				total = storage.EmptyDocumentSize + all - old + plan.NewSize
				if !m.Fits(total) {
					return storage.ErrTooLarge
				}
			}
		}
		b = &pgx.Batch{}
		b.Queue(`UPDATE ccs_sessions SET size = $1, updated_at = $2 WHERE account_id = $3 AND namespace = $4 AND session_id = $5`,
			total, now, k.AccountID, k.Namespace, k.SessionID)
		if len(names) > 0 {
			expires := ms(m.ExpiresAt(ttlSetting(sessTTL), ttlSetting(nsTTL)))
			b.Queue(`INSERT INTO ccs_properties (account_id, namespace, session_id, name, value, expires_at, size)
				SELECT $1, $2, $3, u.name, u.value, $4, u.size FROM unnest($5::text[], $6::text[], $7::bigint[]) AS u(name, value, size)
				ON CONFLICT (account_id, namespace, session_id, name) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, size = excluded.size`,
				k.AccountID, k.Namespace, k.SessionID, expires, names, values, plan.Sizes)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return s.withinQuota(ctx, tx, k.AccountID, m.Quota, before, plan.Grow, m.Now)
	})
}

// queueOldSizes reads the summed sizes of the stored rows (expired or
// not) of the properties about to be written.
func queueOldSizes(b *pgx.Batch, k storage.ContextKey, names []string, old *int64) {
	b.Queue(`SELECT coalesce(sum(size), 0) FROM ccs_properties WHERE account_id = $1 AND namespace = $2 AND session_id = $3 AND name = ANY($4)`,
		k.AccountID, k.Namespace, k.SessionID, names).QueryRow(func(r pgx.Row) error { return r.Scan(old) })
}

func scanProperty(r pgx.CollectableRow) (storage.ContextProperty, error) {
	var (
		p       storage.ContextProperty
		value   string
		expires int64
	)
	err := r.Scan(&p.Name, &value, &expires)
	p.Value, p.ExpiresAt = []byte(value), fromMS(expires)
	return p, err
}

// GetProperties implements storage.ContextStore.
func (s *Store) GetProperties(ctx context.Context, k storage.ContextKey, names []string, now time.Time) ([]storage.ContextProperty, error) {
	if names != nil {
		names = storableNames(names)
	}
	if names != nil && len(names) == 0 || !storable(k.AccountID, k.Namespace, k.SessionID) {
		return []storage.ContextProperty{}, nil
	}
	var out []storage.ContextProperty
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		var rows pgx.Rows
		switch len(names) {
		case 0:
			rows, _ = q.Query(ctx, `SELECT name, value, expires_at FROM ccs_properties WHERE account_id = $1 AND namespace = $2 AND session_id = $3
				AND (expires_at = 0 OR expires_at > $4) ORDER BY name`, k.AccountID, k.Namespace, k.SessionID, ms(now))
		case 1:
			rows, _ = q.Query(ctx, `SELECT name, value, expires_at FROM ccs_properties WHERE account_id = $1 AND namespace = $2 AND session_id = $3
				AND name = $4 AND (expires_at = 0 OR expires_at > $5)`, k.AccountID, k.Namespace, k.SessionID, names[0], ms(now))
		default:
			rows, _ = q.Query(ctx, `SELECT name, value, expires_at FROM ccs_properties WHERE account_id = $1 AND namespace = $2 AND session_id = $3
				AND name = ANY($4) AND (expires_at = 0 OR expires_at > $5) ORDER BY name`, k.AccountID, k.Namespace, k.SessionID, names, ms(now))
		}
		var err error
		out, err = pgx.CollectRows(rows, scanProperty)
		return err
	})
	if out == nil && err == nil {
		out = []storage.ContextProperty{}
	}
	return out, err
}

// DeleteProperties implements storage.ContextStore.
func (s *Store) DeleteProperties(ctx context.Context, k storage.ContextKey, names []string) error {
	if names != nil {
		names = storableNames(names)
	}
	if names != nil && len(names) == 0 || !storable(k.AccountID, k.Namespace, k.SessionID) {
		return nil // nothing can be stored under them
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SELECT 1 FROM ccs_usage WHERE account_id = $1 FOR UPDATE`, k.AccountID)
		if names == nil {
			b.Queue(`DELETE FROM ccs_properties WHERE account_id = $1 AND namespace = $2 AND session_id = $3`,
				k.AccountID, k.Namespace, k.SessionID)
			b.Queue(`UPDATE ccs_sessions SET size = $4 WHERE account_id = $1 AND namespace = $2 AND session_id = $3`,
				k.AccountID, k.Namespace, k.SessionID, storage.EmptyDocumentSize)
		} else {
			b.Queue(`WITH d AS (DELETE FROM ccs_properties WHERE account_id = $1 AND namespace = $2 AND session_id = $3 AND name = ANY($4) RETURNING size)
				UPDATE ccs_sessions SET size = size - (SELECT sum(size) FROM d)
				WHERE account_id = $1 AND namespace = $2 AND session_id = $3 AND EXISTS (SELECT 1 FROM d)`,
				k.AccountID, k.Namespace, k.SessionID, names)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// ListDocuments implements storage.ContextStore, in one query (one
// snapshot): the page of sessions, joined to their live properties.
func (s *Store) ListDocuments(ctx context.Context, accountID, namespace string, now time.Time, offset, limit int, withProperties bool) ([]storage.ContextDocument, error) {
	if !storable(accountID, namespace) {
		return []storage.ContextDocument{}, nil
	}
	var docs []storage.ContextDocument
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		docs = []storage.ContextDocument{}
		page := `SELECT s.session_id FROM ccs_sessions s
			WHERE s.account_id = $1 AND s.namespace = $2 AND EXISTS (
				SELECT 1 FROM ccs_properties p WHERE p.account_id = s.account_id AND p.namespace = s.namespace
				AND p.session_id = s.session_id AND (p.expires_at = 0 OR p.expires_at > $3))
			ORDER BY s.session_id LIMIT $4 OFFSET $5`
		if !withProperties {
			rows, _ := q.Query(ctx, page, accountID, namespace, ms(now), limit, offset)
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			for _, id := range ids {
				docs = append(docs, storage.ContextDocument{SessionID: id, Properties: []storage.ContextProperty{}})
			}
			return err
		}
		rows, _ := q.Query(ctx, `WITH d AS (`+page+`)
			SELECT d.session_id, p.name, p.value, p.expires_at FROM d
			LEFT JOIN ccs_properties p ON p.account_id = $1 AND p.namespace = $2 AND p.session_id = d.session_id
				AND (p.expires_at = 0 OR p.expires_at > $3)
			ORDER BY d.session_id, p.name`, accountID, namespace, ms(now), limit, offset)
		var (
			sid     string
			name    *string
			value   *string
			expires *int64
		)
		_, err := pgx.ForEachRow(rows, []any{&sid, &name, &value, &expires}, func() error {
			if len(docs) == 0 || docs[len(docs)-1].SessionID != sid {
				docs = append(docs, storage.ContextDocument{SessionID: sid, Properties: []storage.ContextProperty{}})
			}
			if name != nil {
				d := &docs[len(docs)-1]
				d.Properties = append(d.Properties, storage.ContextProperty{Name: *name, Value: []byte(*value), ExpiresAt: fromMS(*expires)})
			}
			return nil
		})
		return err
	})
	return docs, err
}

// CapContextExpiry implements storage.ContextStore: one short
// transaction over a range of the primary key, so that capping a large
// store in batches reads each row once. Nodes starting together may cap
// the same rows; the last cap written stands, each as good as the other.
func (s *Store) CapContextExpiry(ctx context.Context, until time.Time, from storage.ContextPosition, limit int) (storage.ContextPosition, int, error) {
	var (
		next storage.ContextPosition
		n    int
	)
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		next, n = storage.ContextPosition{}, 0
		k := from.Key
		var last storage.ContextPosition
		err := tx.QueryRow(ctx, `SELECT account_id, namespace, session_id, name FROM ccs_properties
			WHERE (account_id, namespace, session_id, name) > ($1, $2, $3, $4)
			ORDER BY account_id, namespace, session_id, name LIMIT 1 OFFSET $5`, k.AccountID, k.Namespace, k.SessionID, from.Name, limit-1).
			Scan(&last.Key.AccountID, &last.Key.Namespace, &last.Key.SessionID, &last.Name)
		// The rows with SKIP LOCKED, like the purge: a row a writer holds
		// is being rewritten, with the cap of its own write.
		q := `SELECT account_id, namespace, session_id, name FROM ccs_properties WHERE (expires_at = 0 OR expires_at > $1)
			AND (account_id, namespace, session_id, name) > ($2, $3, $4, $5)`
		args := []any{ms(until), k.AccountID, k.Namespace, k.SessionID, from.Name}
		switch {
		case errors.Is(err, pgx.ErrNoRows): // fewer than limit left: up to the end
		case err != nil:
			return err
		default:
			q += ` AND (account_id, namespace, session_id, name) <= ($6, $7, $8, $9)`
			args = append(args, last.Key.AccountID, last.Key.Namespace, last.Key.SessionID, last.Name)
			next = last
		}
		q = `UPDATE ccs_properties SET expires_at = $1 WHERE (account_id, namespace, session_id, name) IN (` + q + ` FOR UPDATE SKIP LOCKED)`
		tag, err := tx.Exec(ctx, q, args...)
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return storage.ContextPosition{}, 0, fmt.Errorf("cap context expiry: %w", err)
	}
	return next, n, nil
}

// PurgeContext implements storage.ContextStore. It works in one short
// transaction that takes its property rows with SKIP LOCKED, so several
// nodes purging at once delete each row once and wait neither on each
// other nor on writers; rows of an account whose usage row a writer holds
// are left to the next purge.
func (s *Store) PurgeContext(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		n = 0
		if ok, err := zoneTurn(ctx, tx, purgeContextLock); err != nil || !ok {
			return err
		}
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
// when accountID is not "" (whose usage row the caller holds), with the
// sessions they leave empty, in tx.
func (s *Store) purge(ctx context.Context, tx pgx.Tx, now time.Time, limit int, accountID string) (int, error) {
	at := ms(now)
	type row struct{ Account, Namespace, Session, Name string }
	var rows pgx.Rows
	if accountID == "" {
		rows, _ = tx.Query(ctx, `SELECT account_id, namespace, session_id, name FROM ccs_properties
			WHERE expires_at > 0 AND expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED`, at, limit)
	} else {
		rows, _ = tx.Query(ctx, `SELECT account_id, namespace, session_id, name FROM ccs_properties
			WHERE account_id = $3 AND expires_at > 0 AND expires_at <= $1 LIMIT $2 FOR UPDATE`, at, limit, accountID)
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil || len(found) == 0 {
		return 0, err
	}
	if accountID == "" {
		// Only the accounts whose usage row no one else holds: a writer
		// holding it may be waiting for one of our rows.
		var accounts []string
		for _, r := range found {
			accounts = append(accounts, r.Account)
		}
		slices.Sort(accounts)
		accounts = slices.Compact(accounts)
		rows, _ := tx.Query(ctx, `SELECT account_id FROM ccs_usage WHERE account_id = ANY($1) ORDER BY account_id FOR UPDATE SKIP LOCKED`, accounts)
		held, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return 0, err
		}
		found = slices.DeleteFunc(found, func(r row) bool { _, ok := slices.BinarySearch(held, r.Account); return !ok })
		if len(found) == 0 {
			return 0, nil
		}
	}
	// Sessions in one order, so that two transactions never lock them in
	// opposite orders.
	slices.SortFunc(found, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Session, b.Session), cmp.Compare(a.Name, b.Name))
	})
	cols := [4][]string{}
	for _, r := range found {
		cols[0], cols[1], cols[2], cols[3] = append(cols[0], r.Account), append(cols[1], r.Namespace), append(cols[2], r.Session), append(cols[3], r.Name)
	}
	// Delete the rows, take what each session freed, then drop the
	// sessions left empty, unless they carry a TTL that was set or used
	// within that TTL.
	var n int
	b := &pgx.Batch{}
	b.Queue(`WITH d AS (
			DELETE FROM ccs_properties p USING unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(a, n, s, name)
			WHERE p.account_id = k.a AND p.namespace = k.n AND p.session_id = k.s AND p.name = k.name
			RETURNING p.account_id, p.namespace, p.session_id, p.size),
		f AS (SELECT account_id, namespace, session_id, sum(size) AS size, count(*) AS n FROM d GROUP BY 1, 2, 3),
		u AS (UPDATE ccs_sessions s SET size = s.size - f.size FROM f
			WHERE s.account_id = f.account_id AND s.namespace = f.namespace AND s.session_id = f.session_id)
		SELECT coalesce(sum(n), 0) FROM f`, cols[0], cols[1], cols[2], cols[3]).
		QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
	b.Queue(`DELETE FROM ccs_sessions s USING (SELECT DISTINCT a, n, s FROM unnest($1::text[], $2::text[], $3::text[]) AS k(a, n, s)) k
		WHERE s.account_id = k.a AND s.namespace = k.n AND s.session_id = k.s
		AND (s.ttl_ms IS NULL OR (s.ttl_ms > 0 AND s.updated_at + s.ttl_ms <= $4))
		AND NOT EXISTS (SELECT 1 FROM ccs_properties p WHERE p.account_id = s.account_id
			AND p.namespace = s.namespace AND p.session_id = s.session_id)`, cols[0], cols[1], cols[2], at)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, err
	}
	return n, nil
}

// withinQuota checks, after a write in tx that grew the account's usage
// from before by at most grow, that the account is within q: a write that
// leaves it over a bound, and grew what it stores, fails with
// storage.ErrQuotaExceeded (the caller's transaction then saves nothing).
// Expired properties count until they are purged, so an account over its
// quota has its expired properties purged (a bounded batch) before the
// write is refused. The caller holds the account's usage row.
func (s *Store) withinQuota(ctx context.Context, tx pgx.Tx, accountID string, q storage.ContextQuota, before, grow storage.ContextUsage, now time.Time) error {
	return storage.CheckQuota(q, before, grow,
		func() (storage.ContextUsage, error) { return contextUsage(ctx, tx, accountID) },
		func() error { _, err := s.purge(ctx, tx, now, storage.QuotaPurgeLimit, accountID); return err })
}

func contextUsage(ctx context.Context, q querier, accountID string) (storage.ContextUsage, error) {
	var u storage.ContextUsage
	err := q.QueryRow(ctx, `SELECT properties, bytes FROM ccs_usage WHERE account_id = $1`, accountID).Scan(&u.Properties, &u.Bytes)
	if err == pgx.ErrNoRows {
		return storage.ContextUsage{}, nil
	}
	return u, err
}

// ContextUsage implements storage.ContextStore.
func (s *Store) ContextUsage(ctx context.Context, accountID string) (storage.ContextUsage, error) {
	if !storable(accountID) {
		return storage.ContextUsage{}, nil
	}
	var u storage.ContextUsage
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		var err error
		u, err = contextUsage(ctx, q, accountID)
		return err
	})
	return u, err
}

// storableNames returns names without those no row can hold (see
// storable), never nil.
func storableNames(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if storable(n) {
			out = append(out, n)
		}
	}
	return out
}

// accountGone turns the foreign key violation of a context write for an
// account that no longer exists into storage.ErrNotFound.
func accountGone(accountID string, err error) error {
	if err != nil && isForeignKey(err) {
		return fmt.Errorf("account %s: %w", accountID, storage.ErrNotFound)
	}
	return err
}
