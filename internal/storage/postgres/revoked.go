package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/orchestrator/orchestrator/internal/storage"
)

var _ storage.RevokedTokens = (*Store)(nil)

// RevokeToken implements storage.RevokedTokens. The account row is held
// (FOR SHARE) while the entry is written, so a deletion under way either
// comes first (ErrNotFound) or removes the entry with the account. With
// a limit, the account's revocations take a transaction-scoped advisory
// lock (revokeTokenLock, keyed by schema and account) before they count,
// so that two of them cannot both see room for one more.
func (s *Store) RevokeToken(ctx context.Context, t storage.RevokedToken, now time.Time, limit int) error {
	if !storable(t.AccountID, t.JTI) {
		return storage.ErrNotFound
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var deletedAt int64
		if err := tx.QueryRow(ctx, `SELECT deleted_at FROM accounts WHERE id = $1 FOR SHARE`, t.AccountID).Scan(&deletedAt); err != nil {
			return notFound(err)
		}
		if deletedAt != 0 {
			return storage.ErrNotFound
		}
		if limit > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || '/' || $2))`, revokeTokenLock, t.AccountID); err != nil {
				return err
			}
			// Counted up to limit only: an account over it (entries
			// written before there was a limit) costs no more.
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM revoked_tokens
				WHERE account_id = $1 AND expires_at > $2 AND jti <> $3 LIMIT $4) live`, t.AccountID, now.UnixMilli(), t.JTI, limit).Scan(&n); err != nil {
				return err
			}
			if n >= limit {
				return storage.ErrLimit
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO revoked_tokens (account_id, jti, expires_at) VALUES ($1,$2,$3)
			ON CONFLICT (account_id, jti) DO UPDATE SET expires_at = greatest(revoked_tokens.expires_at, excluded.expires_at)`,
			t.AccountID, t.JTI, ms(t.ExpiresAt))
		return err
	})
}

// RevokedTokens implements storage.RevokedTokens.
func (s *Store) RevokedTokens(ctx context.Context, accountID string, now time.Time) ([]string, error) {
	if !storable(accountID) {
		return []string{}, nil
	}
	var out []string
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		rows, _ := q.Query(ctx, `SELECT jti FROM revoked_tokens WHERE account_id = $1 AND expires_at > $2`, accountID, now.UnixMilli())
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if out == nil && err == nil {
		out = []string{}
	}
	return out, err
}

// PurgeRevokedTokens implements storage.RevokedTokens. One node of the
// zone does the work at a time (SPEC §9); its batch is taken with SKIP
// LOCKED, so it never waits for a revocation being written.
func (s *Store) PurgeRevokedTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		n = 0
		if ok, err := zoneTurn(ctx, tx, purgeRevokedTokensLock); err != nil || !ok {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM revoked_tokens WHERE (account_id, jti) IN (
			SELECT account_id, jti FROM revoked_tokens WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
			now.UnixMilli(), limit)
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}
