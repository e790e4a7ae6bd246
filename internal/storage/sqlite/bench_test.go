package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
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
