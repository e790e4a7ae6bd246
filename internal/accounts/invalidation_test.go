package accounts

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/invalidation"
	"github.com/orchestrator/orchestrator/internal/invalidation/redistest"
	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// countingStore counts the reads of the hot path.
type countingStore struct {
	Store
	reads atomic.Int64
}

func (c *countingStore) APIKeyByHash(ctx context.Context, h []byte) (storage.APIKey, error) {
	c.reads.Add(1)
	return c.Store.APIKeyByHash(ctx, h)
}

func (c *countingStore) CredentialByUserID(ctx context.Context, id string) (storage.Credential, error) {
	c.reads.Add(1)
	return c.Store.CredentialByUserID(ctx, id)
}

func openStore(t *testing.T) *countingStore {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &countingStore{Store: st}
}

// TestChangeKeepsOtherAccountsCached: regenerating, upgrading or deleting
// one account sends only that account back to the store.
func TestChangeKeepsOtherAccountsCached(t *testing.T) {
	st := openStore(t)
	keys, _ := secret.Load(secret.Random(32))
	s := New(st, keys, "z1", nil)
	ctx := context.Background()
	a, _ := s.Create(ctx, CreateRequest{Name: "A"})
	b, _ := s.Create(ctx, CreateRequest{Name: "B"})
	v1, _ := s.Create(ctx, CreateRequest{Name: "V1", AuthVersion: storage.AuthV1})
	useB := func() {
		t.Helper()
		if _, err := s.AuthenticateAPIKey(ctx, b.APIKey); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Credential(ctx, b.Credentials.UserID); err != nil {
			t.Fatal(err)
		}
	}
	useB()
	changes := map[string]func() error{
		"regenerate key": func() error { _, err := s.RegenerateAPIKey(ctx, a.AccountID, 0); return err },
		"regenerate password": func() error {
			_, err := s.RegeneratePassword(ctx, a.AccountID, 0)
			return err
		},
		"upgrade": func() error { _, err := s.Upgrade(ctx, v1.AccountID); return err },
		"delete":  func() error { return s.Delete(ctx, a.AccountID) },
	}
	for _, name := range []string{"regenerate key", "regenerate password", "upgrade", "delete"} {
		if err := changes[name](); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		before := st.reads.Load()
		useB()
		if n := st.reads.Load() - before; n != 0 {
			t.Errorf("after %s of another account, B's key and credential took %d store reads, want 0", name, n)
		}
	}
	before := st.reads.Load()
	if _, err := s.AuthenticateAPIKey(ctx, a.APIKey); !errors.Is(err, ErrBadAPIKey) {
		t.Errorf("deleted account's key: %v", err)
	}
	if st.reads.Load() == before {
		t.Error("deleted account's key was answered from the cache")
	}
}

// TestTwoNodesRefuseAtOnce is SPEC §9 with two services ("nodes") on one
// store and two Redis Epochs: node A regenerates, and node B, which had
// the old key and password cached, refuses them on its very next call,
// in each of 1,000 trials.
func TestTwoNodesRefuseAtOnce(t *testing.T) {
	redistest.Reachable(t)
	prefix := redistest.Prefix(t)
	st := openStore(t)
	keys, _ := secret.Load(secret.Random(32))
	node := func() *Service {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e, err := invalidation.NewRedis(ctx, redistest.URL(), prefix, invalidation.RedisOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		s := New(st, keys, "z1", nil)
		s.SharedStore()
		s.UseEpochs(e)
		if err := s.InvalidationStatus(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	nodeA, nodeB := node(), node()
	if nodeB.cacheTTL() != cacheTTL {
		t.Errorf("cache TTL with Redis epochs = %v, want %v", nodeB.cacheTTL(), cacheTTL)
	}
	ctx := context.Background()
	acct, err := nodeA.Create(ctx, CreateRequest{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	key, userID := acct.APIKey, acct.Credentials.UserID
	accepted := 0
	for i := range 1000 {
		if i%2 == 0 {
			if _, err := nodeB.AuthenticateAPIKey(ctx, key); err != nil {
				t.Fatalf("trial %d: current key on B: %v", i, err)
			}
			next, err := nodeA.RegenerateAPIKey(ctx, acct.AccountID, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := nodeB.AuthenticateAPIKey(ctx, key); err == nil {
				accepted++
			}
			key = next
			continue
		}
		old, err := nodeB.Credential(ctx, userID)
		if err != nil {
			t.Fatalf("trial %d: credential on B: %v", i, err)
		}
		if _, err := nodeA.RegeneratePassword(ctx, acct.AccountID, 0); err != nil {
			t.Fatal(err)
		}
		if c, err := nodeB.Credential(ctx, userID); err != nil || secret.Equal(c.SecretHash, old.SecretHash) {
			accepted++
		}
	}
	if accepted != 0 {
		t.Errorf("node B accepted the old key or password right after node A regenerated it in %d of 1000 trials, want 0", accepted)
	}
}

// TestTwoNodesWithoutSharedEpochs shows what the Redis epochs fix: with
// in-process epochs, node B keeps the old key until its 1 s TTL.
func TestTwoNodesWithoutSharedEpochs(t *testing.T) {
	st := openStore(t)
	keys, _ := secret.Load(secret.Random(32))
	nodeA, nodeB := New(st, keys, "z1", nil), New(st, keys, "z1", nil)
	nodeA.SharedStore()
	nodeB.SharedStore()
	if nodeB.cacheTTL() != SharedStoreCacheTTL {
		t.Errorf("cache TTL of a shared store without shared epochs = %v, want %v", nodeB.cacheTTL(), SharedStoreCacheTTL)
	}
	ctx := context.Background()
	acct, _ := nodeA.Create(ctx, CreateRequest{Name: "A"})
	if _, err := nodeB.AuthenticateAPIKey(ctx, acct.APIKey); err != nil {
		t.Fatal(err)
	}
	if _, err := nodeA.RegenerateAPIKey(ctx, acct.AccountID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := nodeB.AuthenticateAPIKey(ctx, acct.APIKey); err != nil {
		t.Errorf("without shared epochs B refused at once (%v): the two-node test proves nothing", err)
	}
}
