package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Tx runs fn as the store runs its transactions (with its retries).
func Tx(s *Store, ctx context.Context, fn func(context.Context, pgx.Tx) error) error {
	return s.tx(ctx, fn)
}
