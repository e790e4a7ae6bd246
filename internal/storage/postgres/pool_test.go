package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
)

// 200 concurrent calls of every kind through a pool of two connections:
// none holds a connection while it waits for another (which would
// deadlock the pool), so all of them succeed, well within the acquire
// wait.
func TestSmallPool(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	s := openURL(t, dsn+"&pool_max_conns=2")
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	for _, id := range []string{"a", "b"} {
		if err := s.CreateAccount(ctx, storage.NewAccount{
			Account: storage.Account{ID: id, Name: id, AuthVersion: storage.AuthV1, CreatedAt: now},
			APIKey:  storage.APIKey{AccountID: id, Hash: []byte(id), Sealed: []byte("s"), CreatedAt: now},
		}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			acct := []string{"a", "b"}[i%2]
			k := storage.ContextKey{AccountID: acct, Namespace: "ns", SessionID: fmt.Sprint(i % 7)}
			var err error
			switch i % 10 {
			case 0:
				id := fmt.Sprintf("x%d", i)
				err = s.CreateAccount(ctx, storage.NewAccount{
					Account: storage.Account{ID: id, Name: id, AuthVersion: storage.AuthV1, CreatedAt: now},
					APIKey:  storage.APIKey{AccountID: id, Hash: []byte(id), Sealed: []byte("s"), CreatedAt: now},
				})
				if err == nil {
					err = s.DeleteAccount(ctx, id)
				}
			case 1:
				err = s.Ready(ctx)
			case 2:
				_, err = s.PurgeContext(ctx, now.Add(time.Hour), 10)
			case 3:
				err = s.AppendEvaluations(ctx, []storage.PolicyEvaluation{{Time: now, AccountID: acct, ConversationID: "c", PolicyID: "p", State: "TRUE"}}, 5)
			case 4:
				_, err = s.CreatePolicy(ctx, storage.Policy{AccountID: acct, ID: fmt.Sprint(i), Revision: "r", Body: []byte("{}"), CreatedAt: now, UpdatedAt: now}, 0)
			case 5:
				err = s.DeleteProperties(ctx, k, nil)
			default:
				err = s.MergeProperties(ctx, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{{Name: fmt.Sprint(i), Value: []byte("1")}},
					TTL: time.Millisecond, HasTTL: true, Now: now, MaxChars: 1000})
			}
			if err != nil {
				errs <- fmt.Errorf("call %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("200 calls through 2 connections took %v", took)
	}
}
