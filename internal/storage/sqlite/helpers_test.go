package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

func storagetestEvent() storage.AuditEvent {
	return storage.AuditEvent{Time: time.Now(), AccountID: "1", Actor: "operator", Action: "test", Address: "127.0.0.1"}
}

// createAccount creates v1 account id in s, for tests of the context data
// that references it.
func createAccount(tb testing.TB, s *sqlite.Store, id string) {
	tb.Helper()
	now := time.Now()
	if err := s.CreateAccount(context.Background(), storage.NewAccount{
		Account: storage.Account{ID: id, Name: "Acct " + id, AuthVersion: storage.AuthV1, CreatedAt: now},
		APIKey:  storage.APIKey{AccountID: id, Hash: []byte("h" + id), Sealed: []byte("s"), CreatedAt: now},
	}); err != nil {
		tb.Fatal(err)
	}
}
