package invalidation_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/invalidation"
	"github.com/orchestrator/orchestrator/internal/invalidation/redistest"
)

func TestLocalIsPerAccount(t *testing.T) {
	ctx := context.Background()
	e := invalidation.NewLocal()
	if got := e.Epoch(ctx, "1"); got != 0 {
		t.Fatalf("Epoch of an account never seen = %d, want 0", got)
	}
	if err := e.Bump(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	a1, b := e.Epoch(ctx, "1"), e.Epoch(ctx, "2")
	if a1 == 0 || b != 0 {
		t.Fatalf("after Bump(1): Epoch(1)=%d Epoch(2)=%d; want 1 changed, 2 unchanged", a1, b)
	}
	e.Bump(ctx, "1")
	if a2 := e.Epoch(ctx, "1"); a2 <= a1 {
		t.Fatalf("Epoch(1) went %d → %d; want it to grow", a1, a2)
	}
	if invalidation.Shared(e) {
		t.Error("Shared(NewLocal()) = true")
	}
}

// TestLocalStaysBounded bumps far more accounts than a table remembers:
// every bumped account's epoch still changes and never goes back.
func TestLocalStaysBounded(t *testing.T) {
	ctx := context.Background()
	e := invalidation.NewLocal()
	last := map[string]uint64{}
	for i := range 2_000_000 {
		id := strconv.Itoa(i % 1_500_000)
		before := e.Epoch(ctx, id)
		e.Bump(ctx, id)
		after := e.Epoch(ctx, id)
		if after <= before || after < last[id] {
			t.Fatalf("bump %d of %s: %d → %d (last %d)", i, id, before, after, last[id])
		}
		if i%97 == 0 {
			last[id] = after
		}
	}
}

func newRedis(t testing.TB, url, prefix string) invalidation.Epochs {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := invalidation.NewRedis(ctx, url, prefix, invalidation.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.Status(); err != nil {
		t.Fatalf("Status after NewRedis: %v", err)
	}
	return e
}

// TestRedisPropagation is SPEC §9 for two nodes: once Bump returned on A,
// the very next Epoch on B has changed, in every one of 1,000 trials.
func TestRedisPropagation(t *testing.T) {
	redistest.Reachable(t)
	prefix := redistest.Prefix(t)
	a, b := newRedis(t, redistest.URL(), prefix), newRedis(t, redistest.URL(), prefix)
	ctx := context.Background()
	stale := 0
	start := time.Now()
	for i := range 1000 {
		acct := strconv.Itoa(i % 10)
		before := b.Epoch(ctx, acct)
		other := b.Epoch(ctx, "other")
		if err := a.Bump(ctx, acct); err != nil {
			t.Fatal(err)
		}
		if b.Epoch(ctx, acct) == before {
			stale++
		}
		if b.Epoch(ctx, "other") != other {
			t.Fatalf("trial %d: bumping %s changed another account's epoch", i, acct)
		}
	}
	t.Logf("1000 bumps on A, %d seen stale on B; %v per bump", stale, time.Since(start)/1000)
	if stale != 0 {
		t.Errorf("B returned the old epoch after A's Bump returned in %d of 1000 trials, want 0", stale)
	}
	if !invalidation.Shared(a) {
		t.Error("Shared(NewRedis) = false")
	}
}

// TestRedisUnreachable cuts node B off from Redis with a proxy (the real
// Redis keeps running): B's Epoch still answers at once, changes every
// second and Status says why; once B is back, it flushes and propagation
// is immediate again.
func TestRedisUnreachable(t *testing.T) {
	redistest.Reachable(t)
	prefix := redistest.Prefix(t)
	proxy := redistest.NewProxy(t)
	a, b := newRedis(t, redistest.URL(), prefix), newRedis(t, proxy.URL(), prefix)
	ctx := context.Background()

	healthy := b.Epoch(ctx, "1")
	proxy.Cut()
	waitFor(t, "B degraded", func() bool { return b.Status() != nil })
	t.Logf("B's Status while cut off: %v", b.Status())

	// Not blocking, and a new value at least every second. "Not
	// blocking" is told apart from waiting on Redis (its dial timeout is
	// 1 s, its writes 2 s) with a wide margin: under the race detector
	// an answer from memory took 1.45 ms.
	const blocked = 100 * time.Millisecond
	t0 := time.Now()
	first := b.Epoch(ctx, "1")
	if d := time.Since(t0); d > blocked {
		t.Errorf("Epoch took %v while Redis is unreachable", d)
	}
	if first == healthy {
		t.Error("Epoch unchanged on entering degraded mode")
	}
	seen := map[uint64]bool{first: true}
	deadline := time.Now().Add(2100 * time.Millisecond)
	for time.Now().Before(deadline) {
		t1 := time.Now()
		seen[b.Epoch(ctx, "1")] = true
		if d := time.Since(t1); d > blocked {
			t.Fatalf("Epoch took %v while Redis is unreachable", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(seen) < 3 {
		t.Errorf("over 2.1 s of degraded mode Epoch took %d values, want ≥ 3 (one per second)", len(seen))
	}

	// A bump that B cannot hear about: A returns without waiting for B.
	if err := a.Bump(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	proxy.Restore(t)
	waitFor(t, "B healthy again", func() bool { return b.Status() == nil })
	back := b.Epoch(ctx, "1")
	if seen[back] {
		t.Error("after recovery B's epoch is one it had while degraded: no flush")
	}
	time.Sleep(50 * time.Millisecond)
	if got := b.Epoch(ctx, "1"); got != back {
		t.Errorf("healthy B's epoch moved %d → %d without a bump", back, got)
	}
	stale := 0
	for range 200 {
		before := b.Epoch(ctx, "1")
		if err := a.Bump(ctx, "1"); err != nil {
			t.Fatal(err)
		}
		if b.Epoch(ctx, "1") == before {
			stale++
		}
	}
	if stale != 0 {
		t.Errorf("after recovery, %d of 200 bumps were not seen by B at once", stale)
	}
}

// TestBumpWhileCutOff: a node that cannot reach Redis still changes its
// own epoch at once, reports the bump as unpublished, and publishes it
// when Redis is back.
func TestBumpWhileCutOff(t *testing.T) {
	redistest.Reachable(t)
	prefix := redistest.Prefix(t)
	proxy := redistest.NewProxy(t)
	a, b := newRedis(t, proxy.URL(), prefix), newRedis(t, redistest.URL(), prefix)
	ctx := context.Background()
	proxy.Cut()
	beforeA, beforeB := a.Epoch(ctx, "7"), b.Epoch(ctx, "7")
	if err := a.Bump(ctx, "7"); err == nil {
		t.Fatal("Bump with Redis unreachable returned nil")
	}
	if a.Epoch(ctx, "7") == beforeA {
		t.Error("A's own epoch unchanged after a failed Bump")
	}
	proxy.Restore(t)
	waitFor(t, "B to hear of the delayed bump", func() bool { return b.Epoch(ctx, "7") != beforeB })
	waitFor(t, "A healthy", func() bool { return a.Status() == nil })
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func BenchmarkEpochLocal(b *testing.B) {
	e := invalidation.NewLocal()
	benchEpoch(b, e)
}

func BenchmarkEpochRedis(b *testing.B) {
	e := newRedis(b, redistest.URL(), redistest.Prefix(b))
	benchEpoch(b, e)
}

func benchEpoch(b *testing.B, e invalidation.Epochs) {
	ctx := context.Background()
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprint(10_000_000 + i)
		if i%10 == 0 {
			e.Bump(ctx, ids[i])
		}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			e.Epoch(ctx, ids[i%len(ids)])
			i++
		}
	})
}

// BenchmarkBumpPropagation is one Bump on node A followed by Epoch on
// node B (which must have changed).
func BenchmarkBumpPropagation(b *testing.B) {
	prefix := redistest.Prefix(b)
	x, y := newRedis(b, redistest.URL(), prefix), newRedis(b, redistest.URL(), prefix)
	ctx := context.Background()
	stale := 0
	b.ResetTimer()
	for range b.N {
		before := y.Epoch(ctx, "1")
		x.Bump(ctx, "1")
		if y.Epoch(ctx, "1") == before {
			stale++
		}
	}
	b.ReportMetric(float64(stale)/float64(b.N), "stale/op")
}
