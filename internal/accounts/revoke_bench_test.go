package accounts

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// BenchmarkCredentialAfterRevocation measures what one revocation costs
// the account's next requests (review finding F1): the epoch is bumped,
// then 6 requests verify a token of the account at once. "alone" is each
// request reading the credential and denylist itself (as before the
// reads were shared), "shared" is Credential. 10k rows is
// MaxRevokedTokens; 300k is what an account could hold before there was
// a bound. loads/op counts denylist loads.
func BenchmarkCredentialAfterRevocation(b *testing.B) {
	for _, rows := range []int{MaxRevokedTokens, 300_000} {
		for _, mode := range []string{"alone", "shared"} {
			b.Run(fmt.Sprintf("rows=%d/%s", rows, mode), func(b *testing.B) {
				s, st, a := benchService(b, rows)
				ctx := context.Background()
				user := a.Credentials.UserID
				const conc = 6
				if _, err := s.Credential(ctx, user); err != nil { // the entry a revocation makes stale
					b.Fatal(err)
				}
				before := st.loads.Load()
				b.ResetTimer()
				for range b.N {
					s.bump(ctx, a.AccountID)
					var wg sync.WaitGroup
					for range conc {
						wg.Go(func() {
							var err error
							if mode == "alone" {
								_, _, err = s.readCredential(ctx, user, a.AccountID)
							} else {
								_, err = s.Credential(ctx, user)
							}
							if err != nil {
								b.Error(err)
							}
						})
					}
					wg.Wait()
				}
				b.ReportMetric(float64(st.loads.Load()-before)/float64(b.N), "loads/op")
			})
		}
	}
}

// benchService is a service on SQLite whose one account has rows live
// denylist entries, written straight into the table (RevokeToken would
// refuse past the bound).
func benchService(b *testing.B, rows int) (*Service, *denylistStore, Account) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "a.db")
	store, err := sqlite.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	st := &denylistStore{Store: store}
	keys, _ := secret.Load(secret.Random(32))
	s := New(st, keys, "z1", nil)
	a, err := s.Create(context.Background(), CreateRequest{Name: "A"})
	if err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	ins, err := tx.Prepare(`INSERT INTO revoked_tokens (account_id, jti, expires_at) VALUES (?,?,?)`)
	if err != nil {
		b.Fatal(err)
	}
	exp := time.Now().Add(24 * time.Hour).UnixMilli()
	for range rows {
		if _, err := ins.Exec(a.AccountID, uuid.NewString(), exp); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return s, st, a
}
