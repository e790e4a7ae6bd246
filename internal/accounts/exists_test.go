package accounts

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// accountReads counts GetAccount, the one read of Exists.
type accountReads struct {
	Store
	n atomic.Int64
}

func (c *accountReads) GetAccount(ctx context.Context, id string) (storage.Account, error) {
	c.n.Add(1)
	return c.Store.GetAccount(ctx, id)
}

// TestExistsIsCached: service discovery answers without credentials, so
// a repeated lookup, of a known or an unknown id, must not read the store
// again; creating or deleting the account is seen at once all the same.
func TestExistsIsCached(t *testing.T) {
	st := &accountReads{Store: openStore(t).Store}
	keys, _ := secret.Load(secret.Random(32))
	s := New(st, keys, "z1", nil)
	ctx := context.Background()
	exists := func(id string, want bool) {
		t.Helper()
		got, err := s.Exists(ctx, id)
		if err != nil || got != want {
			t.Fatalf("Exists(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	a, err := s.Create(ctx, CreateRequest{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	exists(a.AccountID, true)
	exists("42", false)
	before := st.n.Load()
	for range 100 {
		exists(a.AccountID, true)
		exists("42", false)
	}
	if n := st.n.Load() - before; n != 0 {
		t.Errorf("200 repeated lookups read the store %d times, want 0", n)
	}

	// A remembered "no" ends when the account is created …
	if _, err := s.Create(ctx, CreateRequest{Name: "B", ID: "42"}); err != nil {
		t.Fatal(err)
	}
	exists("42", true)
	// … and a remembered "yes" when it is deleted.
	if err := s.Delete(ctx, a.AccountID); err != nil {
		t.Fatal(err)
	}
	exists(a.AccountID, false)
}
