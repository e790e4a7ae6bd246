package ccs_test

import (
	"context"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/ccs"
)

// TestRunReportsPurges: each purge run of Run reports the expired
// properties it deleted, all its batches together.
func TestRunReportsPurges(t *testing.T) {
	runs := make(chan int, 100)
	s, c, _ := newServiceConfig(t, ccs.Config{PurgeBatch: 2, PurgeEvery: 5 * time.Millisecond, OnPurge: func(n int) { runs <- n }})
	ctx := context.Background()
	ttl := int64(60)
	if err := s.PutNamespace(ctx, acct, "ns", &ttl); err != nil {
		t.Fatal(err)
	}
	if err := s.Merge(ctx, ccs.Key{AccountID: acct, Namespace: "ns"}, []byte(`{"a":1,"b":2,"c":3}`)); err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Minute)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	if n := <-runs; n != 3 {
		t.Errorf("first purge run deleted %d, want 3 (in two batches)", n)
	}
	if n := <-runs; n != 0 {
		t.Errorf("second purge run deleted %d, want 0", n)
	}
}

// TestDocumentCacheStats: reads of one document miss once, then hit.
func TestDocumentCacheStats(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	k := ccs.Key{AccountID: acct, Namespace: "ns", SessionID: "s"}
	if err := s.Merge(ctx, k, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.Get(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	st, ok := s.CacheStats()
	if !ok || st.Misses < 1 || st.Hits < 2 {
		t.Errorf("CacheStats = %+v, %v; want a miss, then hits", st, ok)
	}
	off := ccs.New(nil, ccs.Config{DocumentCacheBytes: -1})
	if _, ok := off.CacheStats(); ok {
		t.Error("CacheStats of a service without a cache: ok")
	}
}
