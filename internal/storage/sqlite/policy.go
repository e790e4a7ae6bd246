package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var _ storage.Policies = (*Store)(nil)

const policyCols = `account_id, id, position, revision, body, created_at, updated_at`

func scanPolicy(row interface{ Scan(...any) error }) (storage.Policy, error) {
	var p storage.Policy
	var created, updated int64
	err := row.Scan(&p.AccountID, &p.ID, &p.Position, &p.Revision, &p.Body, &created, &updated)
	p.CreatedAt, p.UpdatedAt = fromMS(created), fromMS(updated)
	return p, err
}

// CreatePolicy implements storage.Policies.
func (s *Store) CreatePolicy(ctx context.Context, p storage.Policy, max int) (storage.Policy, error) {
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n, last int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(max(position), 0) FROM policies WHERE account_id = ?`, p.AccountID).Scan(&n, &last); err != nil {
			return err
		}
		if max > 0 && n >= int64(max) {
			return fmt.Errorf("account %s has %d policies: %w", p.AccountID, n, storage.ErrConflict)
		}
		p.Position = last + 1
		_, err := tx.ExecContext(ctx, `INSERT INTO policies (`+policyCols+`) VALUES (?,?,?,?,?,?,?)`,
			p.AccountID, p.ID, p.Position, p.Revision, p.Body, ms(p.CreatedAt), ms(p.UpdatedAt))
		if isUnique(err) {
			return fmt.Errorf("policy %s: %w", p.ID, storage.ErrAlreadyExists)
		}
		if isForeignKeyViolation(err) {
			return fmt.Errorf("account %s: %w", p.AccountID, storage.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return storage.Policy{}, err
	}
	return p, nil
}

// GetPolicy implements storage.Policies.
func (s *Store) GetPolicy(ctx context.Context, accountID, id string) (storage.Policy, error) {
	p, err := scanPolicy(s.r.QueryRowContext(ctx, `SELECT `+policyCols+` FROM policies WHERE account_id = ? AND id = ?`, accountID, id))
	return p, notFound(err)
}

// ListPolicies implements storage.Policies.
func (s *Store) ListPolicies(ctx context.Context, accountID string) ([]storage.Policy, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+policyCols+` FROM policies WHERE account_id = ? ORDER BY position`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ListPolicyRevisions implements storage.Policies.
func (s *Store) ListPolicyRevisions(ctx context.Context, accountID string) ([]storage.Policy, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT account_id, id, position, revision, created_at, updated_at
		FROM policies WHERE account_id = ? ORDER BY position`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.Policy{}
	for rows.Next() {
		var p storage.Policy
		var created, updated int64
		if err := rows.Scan(&p.AccountID, &p.ID, &p.Position, &p.Revision, &created, &updated); err != nil {
			return nil, err
		}
		p.CreatedAt, p.UpdatedAt = fromMS(created), fromMS(updated)
		out = append(out, p)
	}
	return out, rows.Err()
}

// UpdatePolicy implements storage.Policies. One statement: readers see the
// old policy or the new one, never a mix.
func (s *Store) UpdatePolicy(ctx context.Context, p storage.Policy) (storage.Policy, error) {
	var out storage.Policy
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		out, err = scanPolicy(tx.QueryRowContext(ctx, `UPDATE policies SET revision = ?, body = ?, updated_at = ?
			WHERE account_id = ? AND id = ? RETURNING `+policyCols,
			p.Revision, p.Body, ms(p.UpdatedAt), p.AccountID, p.ID))
		return notFound(err)
	})
	return out, err
}

// DeletePolicy implements storage.Policies.
func (s *Store) DeletePolicy(ctx context.Context, accountID, id string) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM policies WHERE account_id = ? AND id = ?`, accountID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return storage.ErrNotFound
		}
		return nil
	})
}

// MovePolicy implements storage.Policies. The policy first takes a
// position no other can have (minus its own, minus one), so the unique
// order index holds at every step of the swap.
func (s *Store) MovePolicy(ctx context.Context, accountID, id string, up bool) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var pos int64
		err := tx.QueryRowContext(ctx, `SELECT position FROM policies WHERE account_id = ? AND id = ?`, accountID, id).Scan(&pos)
		if err != nil {
			return notFound(err)
		}
		q := `SELECT id, position FROM policies WHERE account_id = ? AND position > ? ORDER BY position LIMIT 1`
		if up {
			q = `SELECT id, position FROM policies WHERE account_id = ? AND position < ? ORDER BY position DESC LIMIT 1`
		}
		var (
			other    string
			otherPos int64
		)
		switch err := tx.QueryRowContext(ctx, q, accountID, pos).Scan(&other, &otherPos); {
		case errors.Is(err, sql.ErrNoRows):
			return nil // first or last already
		case err != nil:
			return err
		}
		for _, step := range []struct {
			id  string
			pos int64
		}{{id, -pos - 1}, {other, pos}, {id, otherPos}} {
			if _, err := tx.ExecContext(ctx, `UPDATE policies SET position = ? WHERE account_id = ? AND id = ?`, step.pos, accountID, step.id); err != nil {
				return err
			}
		}
		return nil
	})
}

// AppendEvaluations implements storage.Policies. Each account's entries go
// in with one statement (a JSON array of rows), and its count in
// policy_log_counts says how many of its oldest entries to delete: the
// write costs what it appends and trims, never the size of the log.
func (s *Store) AppendEvaluations(ctx context.Context, es []storage.PolicyEvaluation, maxPerAccount int) error {
	if len(es) == 0 {
		return nil
	}
	// Group by account, in order of appearance.
	var accounts []string
	rows := map[string][][4]any{}
	for _, e := range es {
		if _, ok := rows[e.AccountID]; !ok {
			accounts = append(accounts, e.AccountID)
		}
		rows[e.AccountID] = append(rows[e.AccountID], [4]any{ms(e.Time), e.ConversationID, e.PolicyID, e.State})
	}
	encoded := make(map[string][]byte, len(accounts))
	for _, a := range accounts {
		b, err := json.Marshal(rows[a])
		if err != nil {
			return err
		}
		encoded[a] = b
	}
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, a := range accounts {
			res, err := tx.ExecContext(ctx, `INSERT INTO policy_evaluations (account_id, time, conversation_id, policy_id, state)
				SELECT ?1, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3 FROM json_each(?2) AS j
				WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?1)`, a, encoded[a])
			if err != nil {
				return err
			}
			added, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if added == 0 {
				continue // no such account
			}
			var n int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO policy_log_counts (account_id, n) VALUES (?, ?)
				ON CONFLICT (account_id) DO UPDATE SET n = n + excluded.n RETURNING n`, a, added).Scan(&n); err != nil {
				return err
			}
			if maxPerAccount <= 0 || n <= int64(maxPerAccount) {
				continue
			}
			res, err = tx.ExecContext(ctx, `DELETE FROM policy_evaluations WHERE rowid IN
				(SELECT rowid FROM policy_evaluations WHERE account_id = ? ORDER BY time, rowid LIMIT ?)`, a, n-int64(maxPerAccount))
			if err != nil {
				return err
			}
			deleted, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE policy_log_counts SET n = n - ? WHERE account_id = ?`, deleted, a); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListEvaluations implements storage.Policies.
func (s *Store) ListEvaluations(ctx context.Context, accountID, conversationID string, since time.Time, limit int) ([]storage.PolicyEvaluation, error) {
	q := `SELECT account_id, time, conversation_id, policy_id, state FROM policy_evaluations
		WHERE account_id = ? AND time >= ? ORDER BY time DESC, rowid DESC LIMIT ?`
	args := []any{accountID, since.UnixMilli(), limit}
	if conversationID != "" {
		q = `SELECT account_id, time, conversation_id, policy_id, state FROM policy_evaluations
		WHERE account_id = ? AND conversation_id = ? AND time >= ? ORDER BY time DESC, rowid DESC LIMIT ?`
		args = []any{accountID, conversationID, since.UnixMilli(), limit}
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.PolicyEvaluation{}
	for rows.Next() {
		var e storage.PolicyEvaluation
		var t int64
		if err := rows.Scan(&e.AccountID, &t, &e.ConversationID, &e.PolicyID, &e.State); err != nil {
			return nil, err
		}
		e.Time = time.UnixMilli(t).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// PurgeEvaluations implements storage.Policies. It keeps the per-account
// counts of AppendEvaluations exact.
func (s *Store) PurgeEvaluations(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `DELETE FROM policy_evaluations WHERE rowid IN
			(SELECT rowid FROM policy_evaluations WHERE time < ? ORDER BY time LIMIT ?) RETURNING account_id`, before.UnixMilli(), limit)
		if err != nil {
			return err
		}
		deleted := map[string]int{}
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				rows.Close()
				return err
			}
			deleted[a]++
			n++
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for a, k := range deleted {
			if _, err := tx.ExecContext(ctx, `UPDATE policy_log_counts SET n = max(n - ?, 0) WHERE account_id = ?`, k, a); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// isForeignKeyViolation reports whether err is a foreign key violation
// (here: the account does not exist).
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

var _ storage.Attributes = (*Store)(nil)

// PutAccountAttributes implements storage.Attributes.
func (s *Store) PutAccountAttributes(ctx context.Context, a storage.AccountAttributes) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO account_attributes (account_id, revision, body, updated_at) VALUES (?,?,?,?)
			ON CONFLICT (account_id) DO UPDATE SET revision = excluded.revision, body = excluded.body, updated_at = excluded.updated_at`,
			a.AccountID, a.Revision, a.Body, ms(a.UpdatedAt))
		if isForeignKeyViolation(err) {
			return fmt.Errorf("account %s: %w", a.AccountID, storage.ErrNotFound)
		}
		return err
	})
}

// GetAccountAttributes implements storage.Attributes.
func (s *Store) GetAccountAttributes(ctx context.Context, accountID, knownRevision string) (storage.AccountAttributes, error) {
	a := storage.AccountAttributes{AccountID: accountID}
	var updated int64
	err := s.r.QueryRowContext(ctx, `SELECT revision, CASE WHEN revision = ? THEN NULL ELSE body END, updated_at
		FROM account_attributes WHERE account_id = ?`, knownRevision, accountID).Scan(&a.Revision, &a.Body, &updated)
	a.UpdatedAt = fromMS(updated)
	return a, notFound(err)
}
