package invalidation_test

import (
	"context"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/invalidation/redistest"
	"github.com/redis/rueidis"
)

// The alternative measured and not chosen (see doc.go): rueidis
// server-assisted client-side caching, Epoch = DoCache(GET), Bump = INCR.

func newCSC(b *testing.B) rueidis.Client {
	b.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{redistest.Addr(b)}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

func cscEpoch(ctx context.Context, c rueidis.Client, key string) uint64 {
	v, err := c.DoCache(ctx, c.B().Get().Key(key).Cache(), time.Minute).AsUint64()
	if err != nil && !rueidis.IsRedisNil(err) {
		panic(err)
	}
	return v
}

func BenchmarkEpochClientSideCaching(b *testing.B) {
	c := newCSC(b)
	key := redistest.Prefix(b) + "epoch:1"
	ctx := context.Background()
	c.Do(ctx, c.B().Incr().Key(key).Build())
	cscEpoch(ctx, c, key)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cscEpoch(ctx, c, key)
		}
	})
}

// BenchmarkPropagationClientSideCaching counts how often node B still
// returns the old value right after node A's INCR returned.
func BenchmarkPropagationClientSideCaching(b *testing.B) {
	x, y := newCSC(b), newCSC(b)
	key := redistest.Prefix(b) + "epoch:1"
	ctx := context.Background()
	stale := 0
	b.ResetTimer()
	for range b.N {
		before := cscEpoch(ctx, y, key)
		cscEpoch(ctx, y, key) // cached now
		if err := x.Do(ctx, x.B().Incr().Key(key).Build()).Error(); err != nil {
			b.Fatal(err)
		}
		if cscEpoch(ctx, y, key) == before {
			stale++
		}
	}
	b.ReportMetric(float64(stale)/float64(b.N), "stale/op")
}
