package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// BenchmarkMergeProperties measures durable Context Service writes at the
// store, from 16 and 64 concurrent writers (group commit batches them).
func BenchmarkMergeProperties(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "o.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			now := time.Now()
			createAccount(b, s, "1")
			props := []storage.ContextProperty{
				{Name: "intent", Value: []byte(`"billing"`)}, {Name: "score", Value: []byte(`0.93`)},
				{Name: "tags", Value: []byte(`["vip","new"]`)}, {Name: "lang", Value: []byte(`"en"`)}, {Name: "step", Value: []byte(`3`)},
			}
			var seq atomic.Int64
			b.SetParallelism((writers + 1) / 2)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := storage.ContextKey{AccountID: "1", Namespace: "bench", SessionID: fmt.Sprintf("s%d", seq.Add(1)%1000)}
					if err := s.MergeProperties(ctx, storage.ContextMerge{Key: key, Properties: props, Now: now, MaxChars: 800_000}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkDurableWrite is scripts/bench's v1write point at the store:
// 1,000 accounts holding 100 properties each, the server's default quota,
// and 64 writers each adding one property to a random account's session.
// Its ns/op is the committer's cost per durable write (issue 18, item 4).
func BenchmarkDurableWrite(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "o.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const accounts = 1000
	now := time.Now()
	quota := storage.ContextQuota{MaxProperties: 100_000, MaxBytes: 256 << 20}
	seed := make([]storage.ContextProperty, 100)
	for i := range seed {
		seed[i] = storage.ContextProperty{Name: fmt.Sprintf("p%d", i), Value: []byte(`{"n":1,"text":"seeded"}`)}
	}
	for a := range accounts {
		id := fmt.Sprint(a + 1)
		createAccount(b, s, id)
		key := storage.ContextKey{AccountID: id, Namespace: "bench", SessionID: "s0"}
		if err := s.MergeProperties(ctx, storage.ContextMerge{Key: key, Properties: seed, Now: now, MaxChars: 800_000, Quota: quota}); err != nil {
			b.Fatal(err)
		}
	}
	var seq atomic.Int64
	b.SetParallelism(32)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			key := storage.ContextKey{AccountID: fmt.Sprint(n*7919%accounts + 1), Namespace: "bench", SessionID: fmt.Sprintf("w%d", n%2)}
			props := []storage.ContextProperty{{Name: fmt.Sprintf("w_%d", n), Value: []byte(`{"n":1,"text":"written under load"}`)}}
			if err := s.MergeProperties(ctx, storage.ContextMerge{Key: key, Properties: props, Now: now, MaxChars: 800_000, Quota: quota}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	// Wall time per write depends on the fsyncs; the process's CPU per
	// write is what the committer's single core spends on it.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time (user+system) the process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
