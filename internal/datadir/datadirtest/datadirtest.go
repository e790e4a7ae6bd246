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

// Tmpfs mounts a tmpfs of size (such as "8m") on a new directory for the
// test and unmounts it when the test ends. It needs root: CI runs as root,
// so under CI=true it fails rather than skips; elsewhere it skips.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("mounting a tmpfs needs root, and CI runs as root")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// FullDisk mounts an 8 MiB tmpfs for the test (room for a small store
// once the filler is removed) and fills it with the file "fill", leaving
// free pages of 4 KiB free (0: none). See Tmpfs for when it skips.
func FullDisk(t testing.TB, free int) string {
	t.Helper()
	dir := Tmpfs(t, "8m")
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
