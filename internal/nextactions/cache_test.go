package nextactions

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// bigIsInPolicy is the policy of the cache finding: 50 IS_IN conditions
// and 50 exception IS_IN conditions, each a constant list of about 4 KB
// of JSON (about 400 KB in all) of strings, numbers or objects.
func bigIsInPolicy(kind string, seed int) Policy {
	list := func(c int) []any {
		var l []any
		for n, i := 0, 0; n < 3900; i++ {
			var v any
			switch kind {
			case "num":
				v = float64(seed*1_000_000 + c*10_000 + i)
			case "obj":
				v = map[string]any{"k": float64(i)}
			default:
				v = fmt.Sprintf("v%d-%d-%05d", seed, c, i)
			}
			l = append(l, v)
			n += len(fmt.Sprint(v)) + 3
		}
		return l
	}
	p := Policy{ID: "big", Actions: skill42, Exception: &Exception{Actions: skill42}}
	for c := range 50 {
		p.Conditions = append(p.Conditions, Condition{Property: "ns.v", Type: OpIsIn, Value: list(c)})
		p.Exception.Conditions = append(p.Exception.Conditions, Condition{Property: "ns.w", Type: OpIsIn, Value: list(c + 50)})
	}
	return p
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestCompiledWeight pins the calibration of Compiled.weigh against the
// heap that compiled policies take (within 0.7 to 1.5 times).
func TestCompiledWeight(t *testing.T) {
	for _, kind := range []string{"str", "num", "obj", "expr"} {
		t.Run(kind, func(t *testing.T) {
			const n = 8
			var keep []*Compiled
			before := heapAfterGC()
			for i := range n {
				p := bigIsInPolicy(kind, i)
				if kind == "expr" {
					p = Policy{ID: "e", Actions: skill42, Expression: strings.TrimSuffix(strings.Repeat("a.b + 1 > 2 or ", 60), " or ")}
				}
				keep = append(keep, mustCompile(t, p))
			}
			heap := float64(heapAfterGC()-before) / n
			w := float64(keep[0].weigh())
			t.Logf("heap %.0f bytes a policy, weight %.0f", heap, w)
			if w < 0.7*heap || w > 1.5*heap {
				t.Errorf("weight %.0f, heap %.0f: want 0.7 to 1.5 times the heap", w, heap)
			}
		})
	}
}

func newSQLiteService(t *testing.T, cfg Config) *Service {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	err = st.CreateAccount(ctx, storage.NewAccount{
		Account: storage.Account{ID: "67005361", Name: "a", AuthVersion: storage.AuthV2, CreatedAt: time.Now()},
		APIKey:  storage.APIKey{AccountID: "67005361", Hash: []byte("h"), Sealed: []byte("s"), CreatedAt: time.Now()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return New(st, nil, cfg)
}

// cached returns how many revisions of policy id the cache holds.
func (c *cache) revisions(account, id string) int {
	c.c.CleanUp()
	n := 0
	for k := range c.c.Keys() {
		if k == (policyKey{account, id}) {
			n++
		}
	}
	return n
}

// TestCacheBoundedAcrossUpdates pins the cache finding: 80 updates of a
// policy with 100 IS_IN lists of 4 KB took 5.5 MB each (RSS 62 → 503 MB),
// never released, even after the policy was deleted. The cache now holds
// one revision per policy, within its weight bound, and forgets deleted
// policies.
func TestCacheBoundedAcrossUpdates(t *testing.T) {
	ctx := context.Background()
	const acct = "67005361"
	s := newSQLiteService(t, Config{})
	t.Logf("heap %.1f MB at start", float64(heapAfterGC())/(1<<20))
	p := bigIsInPolicy("str", 0)
	if _, err := s.Create(ctx, acct, p); err != nil {
		t.Fatal(err)
	}
	before := heapAfterGC()
	for i := range 80 {
		p := bigIsInPolicy("str", i+1)
		p.ID = "big"
		if _, err := s.Update(ctx, acct, p); err != nil {
			t.Fatal(err)
		}
		if _, err := s.NextActions(ctx, Request{AccountID: acct, ConversationID: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	grown := int64(heapAfterGC()) - int64(before)
	t.Logf("heap %.1f MB after 80 updates (grew by %.1f MB); cache weight %.1f MB", float64(before+uint64(grown))/(1<<20), float64(grown)/(1<<20), float64(s.cache.c.WeightedSize())/(1<<20))
	if n := s.cache.revisions(acct, "big"); n != 1 {
		t.Errorf("the cache holds %d revisions of the policy, want 1", n)
	}
	if w := s.cache.c.WeightedSize(); w > DefaultCacheBytes {
		t.Errorf("cache weight %d, want at most %d", w, DefaultCacheBytes)
	}
	if grown > 24<<20 {
		t.Errorf("heap grew by %d bytes, want one revision's worth (a few MB)", grown)
	}
	if err := s.Delete(ctx, acct, "big"); err != nil {
		t.Fatal(err)
	}
	if n := s.cache.revisions(acct, "big"); n != 0 {
		t.Errorf("the cache holds %d revisions of a deleted policy", n)
	}
	t.Logf("heap %.1f MB after delete", float64(heapAfterGC())/(1<<20))
	runtime.KeepAlive(s)
}

// TestCacheEvictsByWeight pins that policies beyond the cache's weight
// are evicted, and compiled again when evaluated.
func TestCacheEvictsByWeight(t *testing.T) {
	ctx := context.Background()
	const acct = "67005361"
	const max = 8 << 20
	s := newSQLiteService(t, Config{CacheBytes: max})
	for i := range 6 { // about 3.4 MB each
		p := bigIsInPolicy("str", i)
		p.ID = fmt.Sprint("big", i)
		if _, err := s.Create(ctx, acct, p); err != nil {
			t.Fatal(err)
		}
	}
	last := Policy{ID: "last", Actions: skill42}
	if _, err := s.Create(ctx, acct, last); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		d, err := s.NextActions(ctx, Request{AccountID: acct, ConversationID: "c"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Policy == nil || d.Policy.ID != "last" {
			t.Fatalf("matched %v, want last", d.Policy)
		}
		s.cache.c.CleanUp()
		if w := s.cache.c.WeightedSize(); w > max {
			t.Errorf("cache weight %d, want at most %d", w, max)
		}
	}
}
