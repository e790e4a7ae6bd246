package ccs_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// serviceWith is newService with a chosen document cache size.
func serviceWith(t *testing.T, c *clock, cacheBytes int) (*ccs.Service, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ccs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	createAccount(t, st)
	return ccs.New(st, ccs.Config{Now: c.Now, DocumentCacheBytes: cacheBytes}), st
}

func createAccount(t *testing.T, st *sqlite.Store) {
	t.Helper()
	err := st.CreateAccount(context.Background(), storage.NewAccount{
		Account: storage.Account{ID: acct, Name: "a", AuthVersion: storage.AuthV2, CreatedAt: t0},
		APIKey:  storage.APIKey{AccountID: acct, Hash: []byte("h"), Sealed: []byte("s"), CreatedAt: t0},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDocumentCacheMatchesStore applies the same random operations to a
// service with the document cache and one without, reading after each:
// the answers must be the same.
func TestDocumentCacheMatchesStore(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: t0}
	cached, _ := serviceWith(t, c, 1<<20)
	plain, _ := serviceWith(t, c, -1)
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []ccs.Key{
		{AccountID: acct, Namespace: "a"}, {AccountID: acct, Namespace: "a", SessionID: "s1"},
		{AccountID: acct, Namespace: "b", SessionID: "s1"}, {AccountID: acct, Namespace: "b", SessionID: "s2"},
	}
	names := []string{"p0", "p1", "p2", "p3"}
	for step := range 600 {
		k := keys[rng.IntN(len(keys))]
		name := names[rng.IntN(len(names))]
		ttl := int64(rng.IntN(3)) // 0 (forever), 1 or 2 s
		rare := rng.IntN(8)
		var op string
		apply := func(s *ccs.Service) error {
			switch r := step % 10; {
			case r < 3:
				op = "merge"
				return s.Merge(ctx, k, fmt.Appendf(nil, `{%q: %d}`, name, step))
			case r < 5:
				op = "upsert"
				return s.Upsert(ctx, k, fmt.Appendf(nil, `{%q: "v%d"}`, name, step), &ttl)
			case r == 5:
				op = "put"
				return s.Put(ctx, k, name, fmt.Appendf(nil, `[%d]`, step))
			case r == 6:
				op = "delete property"
				return s.DeleteProperties(ctx, k, []string{name})
			case r == 7 && rare < 2:
				op = "delete session"
				if k.SessionID == "" {
					return s.DeleteProperties(ctx, k, nil)
				}
				return s.DeleteSession(ctx, k)
			case r == 8 && rare == 0:
				op = "delete namespace"
				return s.DeleteNamespace(ctx, acct, k.Namespace)
			default:
				op = "session ttl"
				if k.SessionID == "" {
					return nil
				}
				return s.PutSession(ctx, k, &ttl)
			}
		}
		errCached := apply(cached)
		errPlain := apply(plain)
		if (errCached == nil) != (errPlain == nil) {
			t.Fatalf("step %d %s: cached err %v, plain err %v", step, op, errCached, errPlain)
		}
		if rng.IntN(5) == 0 {
			c.Advance(700 * time.Millisecond)
		}
		for _, rk := range keys {
			for _, sel := range [][]string{nil, {name}, {"p0", "p3"}} {
				got, err1 := cached.Get(ctx, rk, sel)
				want, err2 := plain.Get(ctx, rk, sel)
				if err1 != nil || err2 != nil {
					t.Fatalf("step %d: Get errors %v, %v", step, err1, err2)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("step %d after %s on %+v: Get(%+v, %v) differs from the store (-store +cached):\n%s", step, op, k, rk, sel, diff)
				}
			}
			v1, err1 := cached.Property(ctx, rk, name)
			v2, err2 := plain.Property(ctx, rk, name)
			if string(v1) != string(v2) || (err1 == nil) != (err2 == nil) {
				t.Fatalf("step %d: Property(%+v, %s) = %s, %v; store says %s, %v", step, rk, name, v1, err1, v2, err2)
			}
		}
	}
}

// TestDocumentCacheReadYourWrites: a writer reads its own write right
// after each acknowledgement while readers keep the document hot; a read
// that raced a write must never leave the old content in the cache.
func TestDocumentCacheReadYourWrites(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: t0}
	s, _ := serviceWith(t, c, 1<<20)
	k := ccs.Key{AccountID: acct, Namespace: "ns", SessionID: "hot"}
	if err := s.Merge(ctx, k, []byte(`{"n": 0}`)); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				if _, err := s.Property(ctx, k, "n"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := 1; i <= 200; i++ {
		if err := s.Merge(ctx, k, fmt.Appendf(nil, `{"n": %d}`, i)); err != nil {
			t.Fatal(err)
		}
		v, err := s.Property(ctx, k, "n")
		if err != nil || string(v) != fmt.Sprint(i) {
			stop.Store(true)
			t.Fatalf("after writing n=%d the read returned %s, %v", i, v, err)
		}
	}
	stop.Store(true)
	wg.Wait()
}

// TestDocumentCacheForgetAccount: an account deleted and created again
// under the same id sees none of the old account's documents.
func TestDocumentCacheForgetAccount(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: t0}
	s, st := serviceWith(t, c, 1<<20)
	k := ccs.Key{AccountID: acct, Namespace: "ns", SessionID: "s"}
	if err := s.Merge(ctx, k, []byte(`{"secret": "old account"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Property(ctx, k, "secret"); err != nil { // now cached
		t.Fatal(err)
	}
	if err := st.DeleteAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	s.ForgetAccount(acct)
	createAccount(t, st)
	d, err := s.Get(ctx, k, nil)
	if err != nil || len(d.Properties) != 0 {
		t.Fatalf("new account under the same id reads %+v, %v; want nothing", d.Properties, err)
	}
}

// pausingStore holds a read of the whole document after it returns from
// the store, until the test lets it go on.
type pausingStore struct {
	*sqlite.Store
	read, proceed chan struct{}
}

func (p *pausingStore) GetProperties(ctx context.Context, k storage.ContextKey, names []string, now time.Time) ([]storage.ContextProperty, error) {
	props, err := p.Store.GetProperties(ctx, k, names, now)
	if p.read != nil {
		p.read <- struct{}{}
		<-p.proceed
	}
	return props, err
}

// TestDocumentCacheReadRacingWrite: a read that got the old content from
// the store, then lost the race to a write, must not cache it.
func TestDocumentCacheReadRacingWrite(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: t0}
	_, st := serviceWith(t, c, -1)
	ps := &pausingStore{Store: st}
	s := ccs.New(ps, ccs.Config{Now: c.Now, DocumentCacheBytes: 1 << 20})
	k := ccs.Key{AccountID: acct, Namespace: "ns", SessionID: "s"}
	if err := s.Merge(ctx, k, []byte(`{"n": 1}`)); err != nil {
		t.Fatal(err)
	}
	ps.read, ps.proceed = make(chan struct{}), make(chan struct{})
	done := make(chan []byte)
	go func() {
		v, _ := s.Property(ctx, k, "n")
		done <- v
	}()
	<-ps.read // the reader has n=1 in hand
	if err := s.Merge(ctx, k, []byte(`{"n": 2}`)); err != nil {
		t.Fatal(err)
	}
	close(ps.proceed)
	if v := <-done; string(v) != "1" {
		t.Fatalf("racing read returned %s, want the 1 it read", v)
	}
	ps.read = nil
	if v, err := s.Property(ctx, k, "n"); err != nil || string(v) != "2" {
		t.Fatalf("read after the acknowledged write = %s, %v; want 2 (a stale read was cached)", v, err)
	}
}
