package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// TestFilesArePrivate: the store, its WAL and its shared-memory file are
// 0600 whatever the umask (they were 0644 under the usual 022), and a
// store left 0644 by an earlier version is made 0600 when opened.
func TestFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "orchestrator.db")
	check := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s has mode %#o, want 0600", when, filepath.Base(p), fi.Mode().Perm())
			}
		}
	}
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, storagetestEvent()); err != nil {
		t.Fatal(err)
	}
	check("new store")
	s.Close()

	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_RDONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		os.Chmod(p, 0o644)
	}
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AppendAudit(ctx, storagetestEvent()); err != nil {
		t.Fatal(err)
	}
	check("store left 0644")
}
