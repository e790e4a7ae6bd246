package console

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/redisx/redistest"
	"github.com/orchestrator/orchestrator/internal/secret"
)

func newMemory(idle, absolute time.Duration, max int, now func() time.Time) *memorySessions {
	return MemorySessions()(sessionPolicy{idle: idle, absolute: absolute, max: max, now: now}).(*memorySessions)
}

func TestSessionsBounded(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newMemory(time.Minute, time.Hour, 3, func() time.Time { return now })
	var ids []string
	for range 5 {
		id, _, _ := s.create(ctx, owner{accountID: "1", email: "a@example.com"})
		ids = append(ids, id)
		now = now.Add(time.Second)
	}
	if n := s.len(); n != 3 {
		t.Fatalf("%d sessions stored, want at most 3", n)
	}
	// The oldest were evicted; the newest live.
	for i, id := range ids {
		_, ok, _ := s.get(ctx, id)
		if want := i >= 2; ok != want {
			t.Errorf("session %d: live %v, want %v", i, ok, want)
		}
	}
	// Expired sessions are dropped before live ones are evicted.
	now = now.Add(50 * time.Second)
	s.get(ctx, ids[4]) // keeps only this one alive
	now = now.Add(30 * time.Second)
	s.create(ctx, owner{accountID: "1", email: "b@example.com"})
	if _, ok, _ := s.get(ctx, ids[4]); !ok || s.len() != 2 {
		t.Errorf("live session evicted or expired kept: live %v, %d stored", ok, s.len())
	}
}

func TestSessionsHashIDs(t *testing.T) {
	s := newMemory(time.Minute, time.Hour, 10, time.Now)
	id, ss, _ := s.create(context.Background(), owner{accountID: "1", email: "a@example.com"})
	for h, v := range s.byHash {
		if string(h[:]) == id || v.csrf == id {
			t.Fatal("the session id is stored in the clear")
		}
	}
	if ss.csrf == "" || ss.csrf == id {
		t.Error("CSRF token missing or equal to the session id")
	}
	if _, ok, _ := s.get(context.Background(), id+"x"); ok {
		t.Error("a different id opened the session")
	}
}

// storeFunc opens a store under test. Each call on one store is one more
// node (console instance) over the same sessions.
type storeFunc func(p sessionPolicy) sessionStore

// stores runs test on every session store: the semantics are the same.
func stores(t *testing.T, test func(t *testing.T, open storeFunc)) {
	t.Run("memory", func(t *testing.T) {
		var s sessionStore // one process: every "node" is the same store
		test(t, func(p sessionPolicy) sessionStore {
			if s == nil {
				s = MemorySessions()(p)
			}
			return s
		})
	})
	t.Run("redis", func(t *testing.T) {
		prefix, sealer := redistest.Prefix(t), testSealer(t) // the zone's, shared by its nodes
		test(t, func(p sessionPolicy) sessionStore {
			return RedisSessions(redistest.Client(t), prefix, sealer)(p)
		})
	})
}

var alice = owner{accountID: "67005361", email: "alice@example.com",
	accountCreated: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), userCreated: time.Date(2025, 2, 3, 4, 5, 6, 7, time.UTC),
	userHash: userFingerprint("$argon2id$x")}

func TestSessionStores(t *testing.T) {
	stores(t, func(t *testing.T, open storeFunc) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		p := sessionPolicy{idle: time.Minute, absolute: 10 * time.Minute, max: 100, now: func() time.Time { return now }}
		node1, node2 := open(p), open(p)

		t.Run("created on one node, live on another", func(t *testing.T) {
			id, created, err := node1.create(ctx, alice)
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := node2.get(ctx, id)
			if err != nil || !ok {
				t.Fatalf("get on node 2 = %v, %v", ok, err)
			}
			if got.owner != alice || got.csrf != created.csrf || !got.created.Equal(created.created) {
				t.Errorf("node 2 sees %+v, want %+v", got, created)
			}
			if _, ok, _ := node2.get(ctx, id+"x"); ok {
				t.Error("a different id opened the session")
			}
		})

		t.Run("idle and absolute expiry", func(t *testing.T) {
			id, _, _ := node1.create(ctx, alice)
			for range 3 { // each use on either node renews the idle timeout
				now = now.Add(50 * time.Second)
				if _, ok, err := node2.get(ctx, id); !ok || err != nil {
					t.Fatalf("used within the idle timeout, yet gone (%v)", err)
				}
			}
			now = now.Add(time.Minute)
			if _, ok, _ := node1.get(ctx, id); ok {
				t.Fatal("live after a minute idle")
			}
			if ok, _ := node2.update(ctx, id, func(*session) {}); ok {
				t.Fatal("an idle session was updated")
			}
			id, _, _ = node1.create(ctx, alice)
			for range 12 {
				now = now.Add(50 * time.Second)
				node2.get(ctx, id)
			}
			if _, ok, _ := node1.get(ctx, id); ok {
				t.Fatal("live after the absolute timeout")
			}
		})

		t.Run("delete", func(t *testing.T) {
			id, _, _ := node1.create(ctx, alice)
			if err := node2.delete(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := node1.get(ctx, id); ok {
				t.Fatal("live after delete on another node")
			}
		})

		t.Run("update is seen everywhere, a flash is taken once", func(t *testing.T) {
			id, _, _ := node1.create(ctx, alice)
			exp := now.Add(time.Hour).Truncate(time.Second)
			if ok, err := node1.update(ctx, id, func(s *session) {
				s.testToken, s.testExpires, s.flash = "tok", exp, "hello"
			}); !ok || err != nil {
				t.Fatalf("update = %v, %v", ok, err)
			}
			got, _, _ := node2.get(ctx, id)
			if got.testToken != "tok" || !got.testExpires.Equal(exp) {
				t.Errorf("node 2 sees test token %q %v", got.testToken, got.testExpires)
			}
			var mu sync.Mutex
			var taken []string
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					msg, err := takeFlash(ctx, []sessionStore{node1, node2}[i%2], id)
					if err != nil {
						t.Error(err)
					}
					if msg != "" {
						mu.Lock()
						taken = append(taken, msg)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(taken) != 1 || taken[0] != "hello" {
				t.Errorf("the flash was taken %d times: %q", len(taken), taken)
			}
			if got, _, _ := node1.get(ctx, id); got.testToken != "tok" {
				t.Error("taking the flash lost the test token")
			}
		})
	})
}

// In Redis a session is stored under the hash of its id, never the id;
// its key expires with it; each user keeps at most perUser sessions.
func TestRedisSessionKeys(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := sessionPolicy{idle: time.Minute, absolute: 10 * time.Minute, max: 100, now: func() time.Time { return now }}
	s := RedisSessions(c, prefix, testSealer(t))(p).(*redisSessions)
	s.perUser = 3

	id, ss, _ := s.create(ctx, alice)
	for k := range redistest.Keys(t, c, prefix) {
		if strings.Contains(k, id) {
			t.Errorf("key %q holds the session id", k)
		}
		v, _ := c.Do(ctx, c.B().Hget().Key(k).Field("rec").Build()).ToString()
		// Sealed: neither the id nor the CSRF token nor the owner shows.
		for _, secret := range []string{id, ss.csrf, alice.email} {
			if v != "" && strings.Contains(v, secret) {
				t.Errorf("key %q stores %q in the clear", k, secret)
			}
		}
	}
	// A record moved under another session's key does not open there.
	id2, _, _ := s.create(ctx, owner{accountID: alice.accountID, email: "carol@example.com"})
	rec, _ := c.Do(ctx, c.B().Hget().Key(s.sessionKey(id)).Field("rec").Build()).ToString()
	c.Do(ctx, c.B().Hset().Key(s.sessionKey(id2)).FieldValue().FieldValue("rec", rec).Build())
	if _, ok, err := s.get(ctx, id2); ok || err == nil {
		t.Errorf("a record copied to another session opened there: ok=%v err=%v", ok, err)
	}
	s.delete(ctx, id2)
	ttl, err := c.Do(ctx, c.B().Pttl().Key(s.sessionKey(id)).Build()).AsInt64()
	if err != nil || ttl <= 0 || ttl > time.Minute.Milliseconds() {
		t.Errorf("session PTTL = %d, %v; want (0, idle]", ttl, err)
	}

	ids := []string{id}
	for range 4 {
		now = now.Add(time.Second)
		id, _, _ := s.create(ctx, alice)
		ids = append(ids, id)
	}
	other, _, _ := s.create(ctx, owner{accountID: alice.accountID, email: "bob@example.com"})
	for i, id := range ids {
		_, ok, _ := s.get(ctx, id)
		if want := i >= 2; ok != want {
			t.Errorf("session %d of 5: live %v, want %v (3 per user, the oldest end first)", i, ok, want)
		}
	}
	if _, ok, _ := s.get(ctx, other); !ok {
		t.Error("another user's session ended")
	}
	// Ended sessions leave the index: a deleted one frees its place.
	s.delete(ctx, ids[2])
	now = now.Add(time.Second)
	s.create(ctx, alice)
	if _, ok, _ := s.get(ctx, ids[3]); !ok {
		t.Error("a live session ended though a deleted one had freed a place")
	}
}

// testSealer is a Sealer under a random key.
func testSealer(t *testing.T) *secret.Keys {
	t.Helper()
	k, err := secret.Load(secret.Random(32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
