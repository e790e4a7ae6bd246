package ccs_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// seededStore is a fake store of the documents scripts/bench seeds: every
// document holds ten properties p0..p9 of about 45 bytes. It counts its
// reads; every other method of storage.ContextStore is absent.
type seededStore struct {
	storage.ContextStore
	reads atomic.Int64
}

func (f *seededStore) GetProperties(_ context.Context, _ storage.ContextKey, names []string, _ time.Time) ([]storage.ContextProperty, error) {
	f.reads.Add(1)
	var out []storage.ContextProperty
	for i := range 10 {
		name := "p" + strconv.Itoa(i)
		if names != nil && (len(names) != 1 || names[0] != name) {
			continue
		}
		out = append(out, storage.ContextProperty{Name: name, Value: fmt.Appendf(nil, `{"n":%d,"text":"value of a seeded property"}`, i)})
	}
	return out, nil
}

// BenchmarkDocumentCacheAccounts reads one property (v1 GET) of one
// document per account, account after account as scripts/bench's v1read
// does, with the default document cache: at 100,000 accounts the
// documents read must still be served from memory (issue 18). It reports
// the store reads per read (the miss rate) and the heap a cached entry
// takes.
func BenchmarkDocumentCacheAccounts(b *testing.B) {
	for _, accounts := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("accounts=%d", accounts), func(b *testing.B) {
			ctx := context.Background()
			st := &seededStore{}
			keys := make([]ccs.Key, accounts)
			for i := range keys {
				keys[i] = ccs.Key{AccountID: strconv.Itoa(10_000_000 + i), Namespace: "bench", SessionID: "s0"}
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s := ccs.New(st, ccs.Config{})
			read := func(i int) {
				if _, err := s.Property(ctx, keys[i%accounts], "p0"); err != nil {
					b.Fatal(err)
				}
			}
			for i := range 2 * accounts { // warm: twice through every account
				read(i)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			cached := ccs.CachedDocuments(s)
			st.reads.Store(0)
			b.ResetTimer()
			for i := range b.N {
				read(i)
			}
			b.StopTimer()
			b.ReportMetric(float64(st.reads.Load())/float64(b.N), "misses/op")
			b.ReportMetric(float64(cached), "cached")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(cached), "heapB/entry")
			runtime.KeepAlive(keys)
		})
	}
}
