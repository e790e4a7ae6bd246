package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/datadir/datadirtest"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// TestOpenRefusesCorruptStore overwrites pages of a closed store: Open
// must refuse it, naming PRAGMA quick_check and the ways to restore it,
// instead of serving 500s on the damaged pages (the December review).
func TestOpenRefusesCorruptStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "o.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	createAccount(t, s, "1")
	k := storage.ContextKey{AccountID: "1", Namespace: "ns", SessionID: "s"}
	if err := s.PutNamespace(ctx, "1", storage.ContextNamespace{Name: "ns", CreatedAt: time.Now()}, storage.ContextQuota{}); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		p := storage.ContextProperty{Name: fmt.Sprintf("p%d", i), Value: []byte(`"` + strings.Repeat("v", 500) + `"`)}
		if err := s.MergeProperties(ctx, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{p}, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	pages := fi.Size() / 4096
	if pages < 10 {
		t.Fatalf("store has %d pages, want a store large enough to damage", pages)
	}
	garbage := []byte(strings.Repeat("\xde\xad\xbe\xef", 1024))
	for _, pg := range []int64{pages / 2, pages/2 + 1, pages - 2} {
		if _, err := f.WriteAt(garbage, pg*4096); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	s, err = sqlite.Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a store with overwritten pages")
	}
	t.Logf("Open: %v", err)
	for _, want := range []string{"corrupt", "quick_check", "backup", ".recover"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open error %q does not say %q", err, want)
		}
	}
}

// TestReadyRefusesReadOnlyStore: a store that answers reads but refuses
// writes is not ready (the review's read-only file answered /readyz 200).
func TestReadyRefusesReadOnlyStore(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	sqlite.SetNow(s, func() time.Time { return now })
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready on a fresh store: %v", err)
	}
	if err := sqlite.RefuseWrites(s); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	err = s.Ready(ctx)
	if err == nil || !strings.Contains(err.Error(), "refuses writes") {
		t.Fatalf("Ready on a read-only store = %v, want a refused write", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping on a read-only store: %v (reads must still work)", err)
	}
}

// TestReadyProbesAtMostOncePerSecond: /readyz is open to anyone, so the
// write probe runs at most once a second whatever the number of callers,
// while a closed store is seen at once (the read runs every time).
func TestReadyProbesAtMostOncePerSecond(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	sqlite.SetNow(s, func() time.Time { return time.Unix(0, now.Load()) })
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if err := s.Ready(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := sqlite.Probes(s); n != 1 {
		t.Errorf("50 calls within a second wrote %d probes, want 1", n)
	}
	now.Add(int64(time.Second))
	if err := s.Ready(ctx); err != nil || sqlite.Probes(s) != 2 {
		t.Errorf("a second later: Ready = %v after %d probes, want a second probe", err, sqlite.Probes(s))
	}
	s.Close()
	if err := s.Ready(ctx); err == nil {
		t.Error("Ready on a closed store = nil")
	}
}

// TestFullDisk fills a 2 MiB tmpfs: the refused write is
// storage.ErrStorageFull, Ready fails, reads work, and once a ballast
// file is removed writes succeed again, in the same Store, with every
// acknowledged write present.
func TestFullDisk(t *testing.T) {
	ctx := context.Background()
	dir := datadirtest.Tmpfs(t, "2m")
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 512<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, filepath.Join(dir, "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	sqlite.SetNow(s, func() time.Time { return time.Unix(0, now.Load()) })

	createAccount(t, s, "1")
	k := storage.ContextKey{AccountID: "1", Namespace: "ns", SessionID: "s"}
	if err := s.PutNamespace(ctx, "1", storage.ContextNamespace{Name: "ns", CreatedAt: time.Now()}, storage.ContextQuota{}); err != nil {
		t.Fatal(err)
	}
	write := func(i int) error {
		p := storage.ContextProperty{Name: fmt.Sprintf("p%05d", i), Value: []byte(fmt.Sprintf(`"%05d%s"`, i, strings.Repeat("v", 2000)))}
		return s.MergeProperties(ctx, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{p}, Now: time.Now()})
	}
	acked := 0
	var full error
	for i := 0; i < 5000; i++ {
		if err := write(i); err != nil {
			full = err
			break
		}
		acked++
	}
	if !errors.Is(full, storage.ErrStorageFull) {
		t.Fatalf("after %d writes the write failed with %v, want storage.ErrStorageFull", acked, full)
	}
	if err := s.Ready(ctx); !errors.Is(err, storage.ErrStorageFull) {
		t.Errorf("Ready on a full disk = %v, want storage full", err)
	}
	if got, err := s.GetProperties(ctx, k, []string{"p00000"}, time.Now()); err != nil || len(got) != 1 {
		t.Errorf("read on a full disk: %v, %v", got, err)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if err := write(acked); err != nil {
		t.Fatalf("write after space was freed: %v", err)
	}
	acked++
	if err := s.Ready(ctx); !errors.Is(err, storage.ErrStorageFull) {
		t.Errorf("Ready just after the last refusal = %v, want storage full (the window)", err)
	}
	now.Add(int64(6 * time.Second))
	if err := s.Ready(ctx); err != nil {
		t.Errorf("Ready after space was freed and the window passed: %v", err)
	}
	got, err := s.GetProperties(ctx, k, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != acked {
		t.Errorf("%d properties stored, %d acknowledged", len(got), acked)
	}
	t.Logf("%d writes of 2 kB acknowledged before the disk was full; refused with %v", acked-1, full)
}
