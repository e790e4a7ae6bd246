package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// TestDeleteLargeAccountLetsOtherWritesIn reproduces security review
// 2026-12, finding 3 (the deletion part): deleting an account with a lot
// of data held the single writer for seconds (9.4 s for ~2 M rows), so
// every other tenant's writes waited. Another account's writes during the
// deletion of an account with 200,000 properties and 200,000 evaluation
// log entries must each complete within a second.
func TestDeleteLargeAccountLetsOtherWritesIn(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a large account")
	}
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "big.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now().Truncate(time.Millisecond)
	for _, id := range []string{"1", "2"} {
		if err := s.CreateAccount(ctx, storage.NewAccount{
			Account: storage.Account{ID: id, Name: "A" + id, AuthVersion: storage.AuthV1, CreatedAt: now},
			APIKey:  storage.APIKey{AccountID: id, Hash: []byte("h" + id), Sealed: []byte("s"), CreatedAt: now},
		}); err != nil {
			t.Fatal(err)
		}
	}
	const rows = 200_000
	err = s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		const seq = `WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x + 1 < ?1) `
		for _, st := range []struct {
			q string
			n int
		}{
			{`INSERT INTO ccs_namespaces (account_id, name, created_at) SELECT '1', 'ns' || x, 0 FROM g`, 10},
			{`INSERT INTO ccs_sessions (account_id, namespace, session_id, created_at, updated_at) SELECT '1', 'ns' || (x % 10), 's' || (x / 10), 0, 0 FROM g`, 20_000},
			{`INSERT INTO ccs_properties (account_id, namespace, session_id, name, value, expires_at, size)
			SELECT '1', 'ns' || (x % 10), 's' || ((x / 10) % 2000), 'p' || x, '"value-' || x || '"', 0, 20 FROM g`, rows},
			{`INSERT INTO policy_evaluations (account_id, time, conversation_id, policy_id, state)
			SELECT '1', 1700000000000 + x, 'c' || (x % 1000), 'p' || (x % 50), 'TRUE' FROM g`, rows},
		} {
			if _, err := tx.ExecContext(ctx, seq+st.q, st.n); err != nil {
				return fmt.Errorf("%s: %w", st.q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	deleted := make(chan error, 1)
	go func() { deleted <- s.DeleteAccount(ctx, "1") }()
	var writes int
	var slowest time.Duration
	for done := false; !done; {
		select {
		case err := <-deleted:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		case <-time.After(20 * time.Millisecond):
			t0 := time.Now()
			err := s.MergeProperties(ctx, storage.ContextMerge{
				Key:        storage.ContextKey{AccountID: "2", Namespace: "ns", SessionID: "s"},
				Properties: []storage.ContextProperty{{Name: fmt.Sprintf("k%d", writes), Value: []byte("1")}},
				Now:        t0,
			})
			if err != nil {
				t.Fatal(err)
			}
			writes++
			slowest = max(slowest, time.Since(t0))
		}
	}
	total := time.Since(start)
	t.Logf("deleting 2×%d rows took %v; %d writes of another account meanwhile, the slowest %v", rows, total, writes, slowest)
	if writes == 0 || slowest > time.Second {
		t.Errorf("another account's write waited %v during the deletion (%d writes), want under 1 s", slowest, writes)
	}
	var left int
	for _, table := range []string{"accounts", "ccs_namespaces", "ccs_sessions", "ccs_properties", "policy_evaluations"} {
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE `+map[bool]string{true: "id", false: "account_id"}[table == "accounts"]+` = '1'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		left += n
	}
	if left != 0 {
		t.Errorf("%d rows of the deleted account left", left)
	}
}

// TestInterruptedDeleteIsFinished covers a deletion stopped after its
// first step (a crash, or Close): the account stays invisible, creating
// the id again finishes the purge first, and a purge of the old account
// that runs late leaves the new account's data alone.
func TestInterruptedDeleteIsFinished(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "i.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now().Truncate(time.Millisecond)
	n := storage.NewAccount{
		Account: storage.Account{ID: "7", Name: "A", AuthVersion: storage.AuthV1, CreatedAt: now},
		APIKey:  storage.APIKey{AccountID: "7", Hash: []byte("h7"), Sealed: []byte("s"), CreatedAt: now},
	}
	if err := s.CreateAccount(ctx, n); err != nil {
		t.Fatal(err)
	}
	key := storage.ContextKey{AccountID: "7", Namespace: "ns", SessionID: "s"}
	put := func(name string) {
		t.Helper()
		if err := s.MergeProperties(ctx, storage.ContextMerge{Key: key, Properties: []storage.ContextProperty{{Name: name, Value: []byte("1")}}, Now: now}); err != nil {
			t.Fatal(err)
		}
	}
	names := func() []string {
		t.Helper()
		ps, err := s.GetProperties(ctx, key, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	put("old")
	// Step 1 only, as DeleteAccount does it.
	if err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE accounts SET deleted_at = 1 WHERE id = '7'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAccount(ctx, "7"); err != storage.ErrNotFound {
		t.Errorf("GetAccount of an account being deleted = %v, want ErrNotFound", err)
	}
	if err := s.CreateAccount(ctx, n); err != nil {
		t.Fatalf("CreateAccount over an interrupted deletion: %v", err)
	}
	if got := names(); len(got) != 0 {
		t.Errorf("re-created account sees %v", got)
	}
	put("new")
	if err := s.purgeAccount(ctx, "7"); err != nil { // a late purge of the old account
		t.Fatal(err)
	}
	if got := names(); len(got) != 1 || got[0] != "new" {
		t.Errorf("after a late purge of the old account, the new one has %v, want [new]", got)
	}
	if _, err := s.GetAccount(ctx, "7"); err != nil {
		t.Errorf("new account after a late purge: %v", err)
	}
}
