package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
)

var _ storage.RevokedTokens = (*Store)(nil)

// RevokeToken implements storage.RevokedTokens. Writes are serialised
// (one writer), so the count and the insert cannot interleave with
// another revocation.
func (s *Store) RevokeToken(ctx context.Context, t storage.RevokedToken, now time.Time, limit int) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE id = ? AND deleted_at = 0`, t.AccountID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrNotFound
		}
		if limit > 0 {
			// Counted up to limit only: an account over it (entries
			// written before there was a limit) costs no more.
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM revoked_tokens
				WHERE account_id = ? AND expires_at > ? AND jti <> ? LIMIT ?)`, t.AccountID, now.UnixMilli(), t.JTI, limit).Scan(&n); err != nil {
				return err
			}
			if n >= limit {
				return storage.ErrLimit
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO revoked_tokens (account_id, jti, expires_at) VALUES (?,?,?)
			ON CONFLICT (account_id, jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
			t.AccountID, t.JTI, ms(t.ExpiresAt))
		return err
	})
}

// RevokedTokens implements storage.RevokedTokens.
func (s *Store) RevokedTokens(ctx context.Context, accountID string, now time.Time) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT jti FROM revoked_tokens WHERE account_id = ? AND expires_at > ?`, accountID, now.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var jti string
		if err := rows.Scan(&jti); err != nil {
			return nil, err
		}
		out = append(out, jti)
	}
	return out, rows.Err()
}

// PurgeRevokedTokens implements storage.RevokedTokens, in one short
// write of at most limit rows.
func (s *Store) PurgeRevokedTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM revoked_tokens WHERE rowid IN
			(SELECT rowid FROM revoked_tokens WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`, now.UnixMilli(), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
