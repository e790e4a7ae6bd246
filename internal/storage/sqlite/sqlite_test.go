package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
	"github.com/orchestrator/orchestrator/internal/storage/storagetest"
)

func open(t *testing.T) storagetest.Backend {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "orchestrator.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { storagetest.Run(t, open) }

// Two Stores on one file, as two processes would open it: SQLite
// serialises their writers (busy_timeout), each Store's committer runs
// its own write transactions.
func TestShared(t *testing.T) {
	storagetest.RunShared(t, func(t *testing.T) (a, b storagetest.Backend) {
		path := filepath.Join(t.TempDir(), "orchestrator.db")
		for _, s := range []*storagetest.Backend{&a, &b} {
			st, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			*s = st
		}
		return a, b
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "o.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, storagetestEvent()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path) // migrations must not run twice
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.ListAudit(ctx, "1", 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("after reopen ListAudit = %v, %v; want 1 event", got, err)
	}
}

// TestWriterPageCache: the committer's connection has an 8 MiB page cache
// (a negative cache_size is KiB), the readers SQLite's default 2 MiB.
func TestWriterPageCache(t *testing.T) {
	w, r, err := sqlite.CacheSizes(open(t).(*sqlite.Store))
	if err != nil {
		t.Fatal(err)
	}
	if w != -8192 || r != -2000 {
		t.Errorf("cache_size: writer %d, reader %d; want -8192 and -2000", w, r)
	}
}
