package sqlite

import (
	"context"
	"database/sql"
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

// AppendEvaluations implements storage.Policies.
func (s *Store) AppendEvaluations(ctx context.Context, es []storage.PolicyEvaluation) error {
	if len(es) == 0 {
		return nil
	}
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO policy_evaluations (account_id, time, conversation_id, policy_id, state)
			SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, e := range es {
			if _, err := st.ExecContext(ctx, e.AccountID, ms(e.Time), e.ConversationID, e.PolicyID, e.State, e.AccountID); err != nil {
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

// PurgeEvaluations implements storage.Policies.
func (s *Store) PurgeEvaluations(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM policy_evaluations WHERE rowid IN
			(SELECT rowid FROM policy_evaluations WHERE time < ? ORDER BY time LIMIT ?)`, before.UnixMilli(), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// isForeignKeyViolation reports whether err is a foreign key violation
// (here: the account does not exist).
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
