package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
)

// A step of DeleteAccount's purge that is run again (here: the deadlock
// victim of another transaction that holds the account's usage row and
// then wants the account row) must carry on with the purge once the
// second run goes through: DeleteAccount returns only when nothing of
// the account is readable.
func TestDeleteAccountStepRetried(t *testing.T) {
	dsn, schema := pgtest.Schema(t)
	s := openURL(t, dsn+"&application_name="+schema)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	if err := s.CreateAccount(ctx, storage.NewAccount{
		Account: storage.Account{ID: "a", Name: "a", AuthVersion: storage.AuthV1, CreatedAt: now},
		APIKey:  storage.APIKey{AccountID: "a", Hash: []byte("a"), Sealed: []byte("s"), CreatedAt: now},
	}); err != nil {
		t.Fatal(err)
	}
	k := storage.ContextKey{AccountID: "a", Namespace: "ns", SessionID: "s"}
	if err := s.MergeProperties(ctx, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{{Name: "p", Value: []byte("1")}}, Now: now}); err != nil {
		t.Fatal(err)
	}

	other, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// This side checks for deadlocks only after 10 s, the purge after
	// PostgreSQL's default 1 s: the purge is the victim whatever the
	// machine's load (which side's check ran first was left to timing).
	if _, err := tx.Exec(ctx, `SET LOCAL deadlock_timeout = '10s'`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM ccs_usage WHERE account_id = 'a' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.DeleteAccount(ctx, "a") }()
	// The purge's first context step holds the account row (FOR SHARE)
	// and waits for the usage row: wait for it to wait.
	waitForLockWait(t, other, schema)
	// Close the cycle: the purge, which waited first, is the victim.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id = 'a' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	if ps, err := s.GetProperties(ctx, k, nil, now); err != nil || len(ps) != 0 {
		t.Errorf("properties of the deleted account = %+v, %v; want none once DeleteAccount returned", ps, err)
	}
	if nss, err := s.ListNamespaces(ctx, "a"); err != nil || len(nss) != 0 {
		t.Errorf("namespaces of the deleted account = %+v, %v; want none once DeleteAccount returned", nss, err)
	}
	var n int
	if err := other.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE id = 'a'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("account rows after DeleteAccount = %d, %v; want 0", n, err)
	}
}

// waitForLockWait waits until a backend of application app waits for a
// lock.
func waitForLockWait(t *testing.T, c *pgx.Conn, app string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := c.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND application_name = $1`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the purge never waited for the usage row")
}
