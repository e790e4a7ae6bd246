// Package datadirtest helps tests put a data directory on a disk that is
// full.
package datadirtest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// FullDisk mounts an 8 MiB tmpfs for the test (room for a small store
// once the filler is removed) and fills it with the file "fill", leaving
// free pages of 4 KiB free (0: none). It skips the test when not run as
// root (CI runs as root).
func FullDisk(t testing.TB, free int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	for {
		if _, err := f.Write(page); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	if free > 0 {
		fi, _ := f.Stat()
		if err := f.Truncate(fi.Size() - int64(free)*4096); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
