package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
	"github.com/orchestrator/orchestrator/internal/storage/postgres"
)

// Two transactions that lock two rows in opposite orders deadlock; the
// server aborts one (40P01) and the store runs it again: both succeed,
// in three runs.
func TestDeadlockRetried(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	s := openURL(t, dsn)
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if err := s.CreateAccount(ctx, storage.NewAccount{
			Account: storage.Account{ID: id, Name: id, AuthVersion: storage.AuthV1, CreatedAt: time.Now()},
			APIKey:  storage.APIKey{AccountID: id, Hash: []byte(id), Sealed: []byte("s"), CreatedAt: time.Now()},
		}); err != nil {
			t.Fatal(err)
		}
	}
	var runs atomic.Int32
	var both sync.WaitGroup
	both.Add(2)
	lock := func(first, second string) func() error {
		return func() error {
			once := true
			return postgres.Tx(s, ctx, func(ctx context.Context, tx pgx.Tx) error {
				runs.Add(1)
				if _, err := tx.Exec(ctx, `UPDATE accounts SET name = name WHERE id = $1`, first); err != nil {
					return err
				}
				if once { // the first run waits until both hold their first row
					once = false
					both.Done()
					both.Wait()
				}
				_, err := tx.Exec(ctx, `UPDATE accounts SET name = name WHERE id = $1`, second)
				return err
			})
		}
	}
	errs := make(chan error, 2)
	go func() { errs <- lock("a", "b")() }()
	go func() { errs <- lock("b", "a")() }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("deadlocked transaction: %v, want it retried", err)
		}
	}
	if n := runs.Load(); n != 3 {
		t.Errorf("%d runs, want 3 (one retried)", n)
	}
}
