package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator/orchestrator/internal/storage"
)

const policyCols = `account_id, id, position, revision, body, created_at, updated_at`

func scanPolicy(row pgx.Row) (storage.Policy, error) {
	var p storage.Policy
	var created, updated int64
	err := row.Scan(&p.AccountID, &p.ID, &p.Position, &p.Revision, &p.Body, &created, &updated)
	p.CreatedAt, p.UpdatedAt = fromMS(created), fromMS(updated)
	return p, err
}

// CreatePolicy implements storage.Policies. The account row is locked
// first (FOR NO KEY UPDATE: creates of one account queue behind each
// other on every node, while writes that merely reference the account
// go on), so the count and the last position it reads stay true until
// it commits.
func (s *Store) CreatePolicy(ctx context.Context, p storage.Policy, max int) (storage.Policy, error) {
	var out storage.Policy
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, p.AccountID).Scan(&one); err != nil {
			if err == pgx.ErrNoRows {
				return fmt.Errorf("account %s: %w", p.AccountID, storage.ErrNotFound)
			}
			return err
		}
		var n, last int64
		if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(max(position), 0) FROM policies WHERE account_id = $1`, p.AccountID).Scan(&n, &last); err != nil {
			return err
		}
		if max > 0 && n >= int64(max) {
			return fmt.Errorf("account %s has %d policies: %w", p.AccountID, n, storage.ErrConflict)
		}
		q := p
		q.Position = last + 1
		_, err := tx.Exec(ctx, `INSERT INTO policies (`+policyCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
			q.AccountID, q.ID, q.Position, q.Revision, q.Body, ms(q.CreatedAt), ms(q.UpdatedAt))
		switch {
		case isUnique(err):
			return fmt.Errorf("policy %s: %w", p.ID, storage.ErrAlreadyExists)
		case isForeignKey(err):
			return fmt.Errorf("account %s: %w", p.AccountID, storage.ErrNotFound)
		case err != nil:
			return err
		}
		out = q
		return nil
	})
	if err != nil {
		return storage.Policy{}, err
	}
	return out, nil
}

// GetPolicy implements storage.Policies.
func (s *Store) GetPolicy(ctx context.Context, accountID, id string) (storage.Policy, error) {
	if !storable(accountID, id) {
		return storage.Policy{}, storage.ErrNotFound
	}
	var p storage.Policy
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		var err error
		p, err = scanPolicy(q.QueryRow(ctx, `SELECT `+policyCols+` FROM policies WHERE account_id = $1 AND id = $2`, accountID, id))
		return notFound(err)
	})
	if err != nil {
		return storage.Policy{}, err
	}
	return p, nil
}

// ListPolicies implements storage.Policies.
func (s *Store) ListPolicies(ctx context.Context, accountID string) ([]storage.Policy, error) {
	if !storable(accountID) {
		return []storage.Policy{}, nil
	}
	var out []storage.Policy
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		rows, _ := q.Query(ctx, `SELECT `+policyCols+` FROM policies WHERE account_id = $1 ORDER BY position`, accountID)
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Policy, error) { return scanPolicy(r) })
		return err
	})
	if out == nil && err == nil {
		out = []storage.Policy{}
	}
	return out, err
}

// ListPolicyRevisions implements storage.Policies.
func (s *Store) ListPolicyRevisions(ctx context.Context, accountID string) ([]storage.Policy, error) {
	if !storable(accountID) {
		return []storage.Policy{}, nil
	}
	var out []storage.Policy
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		rows, _ := q.Query(ctx, `SELECT account_id, id, position, revision, created_at, updated_at
			FROM policies WHERE account_id = $1 ORDER BY position`, accountID)
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Policy, error) {
			var p storage.Policy
			var created, updated int64
			err := r.Scan(&p.AccountID, &p.ID, &p.Position, &p.Revision, &created, &updated)
			p.CreatedAt, p.UpdatedAt = fromMS(created), fromMS(updated)
			return p, err
		})
		return err
	})
	if out == nil && err == nil {
		out = []storage.Policy{}
	}
	return out, err
}

// UpdatePolicy implements storage.Policies. One statement: readers see the
// old policy or the new one, never a mix.
func (s *Store) UpdatePolicy(ctx context.Context, p storage.Policy) (storage.Policy, error) {
	if !storable(p.AccountID, p.ID) {
		return storage.Policy{}, storage.ErrNotFound
	}
	var out storage.Policy
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		out, err = scanPolicy(tx.QueryRow(ctx, `UPDATE policies SET revision = $1, body = $2, updated_at = $3
			WHERE account_id = $4 AND id = $5 RETURNING `+policyCols,
			p.Revision, p.Body, ms(p.UpdatedAt), p.AccountID, p.ID))
		return notFound(err)
	})
	if err != nil {
		return storage.Policy{}, err
	}
	return out, nil
}

// DeletePolicy implements storage.Policies.
func (s *Store) DeletePolicy(ctx context.Context, accountID, id string) error {
	if !storable(accountID, id) {
		return storage.ErrNotFound
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM policies WHERE account_id = $1 AND id = $2`, accountID, id)
		if err == nil && tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}
		return err
	})
}

// MovePolicy implements storage.Policies. The account row is locked as
// CreatePolicy locks it, so moves and creates of one account's policies
// run one at a time (locking the two policy rows alone, crossed moves
// deadlocked); the policy first takes a position no other can have (minus
// its own, minus one), so the unique order index holds at every step.
func (s *Store) MovePolicy(ctx context.Context, accountID, id string, up bool) error {
	if !storable(accountID, id) {
		return storage.ErrNotFound
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var pos int64
		if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, accountID); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT position FROM policies WHERE account_id = $1 AND id = $2`, accountID, id).Scan(&pos)
		if err != nil {
			return notFound(err)
		}
		q := `SELECT id, position FROM policies WHERE account_id = $1 AND position > $2 ORDER BY position LIMIT 1`
		if up {
			q = `SELECT id, position FROM policies WHERE account_id = $1 AND position < $2 ORDER BY position DESC LIMIT 1`
		}
		var (
			other    string
			otherPos int64
		)
		switch err := tx.QueryRow(ctx, q, accountID, pos).Scan(&other, &otherPos); {
		case errors.Is(err, pgx.ErrNoRows):
			return nil // first or last already
		case err != nil:
			return err
		}
		for _, step := range []struct {
			id  string
			pos int64
		}{{id, -pos - 1}, {other, pos}, {id, otherPos}} {
			if _, err := tx.Exec(ctx, `UPDATE policies SET position = $1 WHERE account_id = $2 AND id = $3`, step.pos, accountID, step.id); err != nil {
				return err
			}
		}
		return nil
	})
}

// AppendEvaluations implements storage.Policies. The accounts that exist
// are read and held (FOR KEY SHARE, so none is deleted under the write),
// then each account's entries go in with one statement, and its count in
// policy_log_counts (locked in account order) says how many of its oldest
// entries to delete: the write costs what it appends and trims, never the
// size of the log.
func (s *Store) AppendEvaluations(ctx context.Context, es []storage.PolicyEvaluation, maxPerAccount int) error {
	if len(es) == 0 {
		return nil
	}
	type cols struct {
		times                   []int64
		convs, policies, states []string
	}
	byAccount := map[string]*cols{}
	var accounts []string
	for _, e := range es {
		c := byAccount[e.AccountID]
		if c == nil {
			c = &cols{}
			byAccount[e.AccountID] = c
			accounts = append(accounts, e.AccountID)
		}
		c.times = append(c.times, ms(e.Time))
		c.convs = append(c.convs, e.ConversationID)
		c.policies = append(c.policies, e.PolicyID)
		c.states = append(c.states, e.State)
	}
	slices.Sort(accounts) // the order the count rows are locked in
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR KEY SHARE`, accounts)
		live, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, a := range live {
			c := byAccount[a]
			var n int64
			b := &pgx.Batch{}
			// In the order given: seq (the order of appending) follows
			// the ordinality.
			b.Queue(`INSERT INTO policy_evaluations (account_id, time, conversation_id, policy_id, state)
				SELECT $1, u.t, u.c, u.p, u.s FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(t, c, p, s, i)
				ORDER BY u.i`, a, c.times, c.convs, c.policies, c.states)
			b.Queue(`INSERT INTO policy_log_counts (account_id, n) VALUES ($1, $2)
				ON CONFLICT (account_id) DO UPDATE SET n = policy_log_counts.n + excluded.n RETURNING n`, a, len(c.times)).
				QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
			if maxPerAccount <= 0 || n <= int64(maxPerAccount) {
				continue
			}
			// Oldest first. Entries a concurrent PurgeEvaluations holds
			// are skipped: it is deleting them (and counting them out),
			// and waiting for it could close a lock cycle through the
			// count row.
			if _, err := tx.Exec(ctx, `WITH d AS (DELETE FROM policy_evaluations WHERE seq IN (
					SELECT seq FROM policy_evaluations WHERE account_id = $1 ORDER BY time, seq LIMIT $2 FOR UPDATE SKIP LOCKED)
					RETURNING 1)
				UPDATE policy_log_counts SET n = n - (SELECT count(*) FROM d) WHERE account_id = $1`, a, n-int64(maxPerAccount)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListEvaluations implements storage.Policies.
func (s *Store) ListEvaluations(ctx context.Context, accountID, conversationID string, since time.Time, limit int) ([]storage.PolicyEvaluation, error) {
	if !storable(accountID, conversationID) {
		return []storage.PolicyEvaluation{}, nil
	}
	q := `SELECT account_id, time, conversation_id, policy_id, state FROM policy_evaluations
		WHERE account_id = $1 AND time >= $2 ORDER BY time DESC, seq DESC LIMIT $3`
	args := []any{accountID, since.UnixMilli(), limit}
	if conversationID != "" {
		q = `SELECT account_id, time, conversation_id, policy_id, state FROM policy_evaluations
			WHERE account_id = $1 AND time >= $2 AND conversation_id = $4 ORDER BY time DESC, seq DESC LIMIT $3`
		args = append(args, conversationID)
	}
	var out []storage.PolicyEvaluation
	err := s.read(ctx, func(ctx context.Context, qr querier) error {
		rows, _ := qr.Query(ctx, q, args...)
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.PolicyEvaluation, error) {
			var e storage.PolicyEvaluation
			var t int64
			err := r.Scan(&e.AccountID, &t, &e.ConversationID, &e.PolicyID, &e.State)
			e.Time = time.UnixMilli(t).UTC()
			return e, err
		})
		return err
	})
	if out == nil && err == nil {
		out = []storage.PolicyEvaluation{}
	}
	return out, err
}

// PurgeEvaluations implements storage.Policies. Its batch is taken with
// SKIP LOCKED, so several nodes purging at once delete each entry once;
// the per-account counts of AppendEvaluations are kept exact.
func (s *Store) PurgeEvaluations(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		n = 0
		if ok, err := zoneTurn(ctx, tx, purgeEvaluationsLock); err != nil || !ok {
			return err
		}
		rows, _ := tx.Query(ctx, `WITH d AS (DELETE FROM policy_evaluations WHERE seq IN (
				SELECT seq FROM policy_evaluations WHERE time < $1 ORDER BY time LIMIT $2 FOR UPDATE SKIP LOCKED)
				RETURNING account_id)
			SELECT account_id, count(*) FROM d GROUP BY account_id ORDER BY account_id`, before.UnixMilli(), limit)
		type gone struct {
			Account string
			N       int64
		}
		deleted, err := pgx.CollectRows(rows, pgx.RowToStructByPos[gone])
		if err != nil || len(deleted) == 0 {
			return err
		}
		accounts, counts := make([]string, len(deleted)), make([]int64, len(deleted))
		for i, d := range deleted {
			accounts[i], counts[i] = d.Account, d.N
			n += int(d.N)
		}
		// The count rows in account order, as AppendEvaluations locks them.
		b := &pgx.Batch{}
		b.Queue(`SELECT 1 FROM policy_log_counts WHERE account_id = ANY($1) ORDER BY account_id FOR UPDATE`, accounts)
		b.Queue(`UPDATE policy_log_counts c SET n = greatest(c.n - k.n, 0)
			FROM unnest($1::text[], $2::bigint[]) AS k(a, n) WHERE c.account_id = k.a`, accounts, counts)
		return tx.SendBatch(ctx, b).Close()
	})
	return n, err
}

var _ storage.Attributes = (*Store)(nil)

// PutAccountAttributes implements storage.Attributes.
func (s *Store) PutAccountAttributes(ctx context.Context, a storage.AccountAttributes) error {
	if !storable(a.AccountID) {
		return fmt.Errorf("account %s: %w", a.AccountID, storage.ErrNotFound)
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO account_attributes (account_id, revision, body, updated_at) VALUES ($1,$2,$3,$4)
			ON CONFLICT (account_id) DO UPDATE SET revision = EXCLUDED.revision, body = EXCLUDED.body, updated_at = EXCLUDED.updated_at`,
			a.AccountID, a.Revision, a.Body, ms(a.UpdatedAt))
		if isForeignKey(err) {
			return fmt.Errorf("account %s: %w", a.AccountID, storage.ErrNotFound)
		}
		return err
	})
}

// GetAccountAttributes implements storage.Attributes.
func (s *Store) GetAccountAttributes(ctx context.Context, accountID, knownRevision string) (storage.AccountAttributes, error) {
	if !storable(accountID, knownRevision) {
		return storage.AccountAttributes{}, storage.ErrNotFound
	}
	a := storage.AccountAttributes{AccountID: accountID}
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		var updated int64
		err := q.QueryRow(ctx, `SELECT revision, CASE WHEN revision = $2 THEN NULL ELSE body END, updated_at
			FROM account_attributes WHERE account_id = $1`, accountID, knownRevision).Scan(&a.Revision, &a.Body, &updated)
		a.UpdatedAt = fromMS(updated)
		return notFound(err)
	})
	if err != nil {
		return storage.AccountAttributes{}, err
	}
	return a, nil
}
