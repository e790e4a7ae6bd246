package datadir

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/orchestrator/orchestrator/internal/datadir/datadirtest"
)

func TestAcquireExcludesASecondHolder(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A second open file description conflicts like another process.
	_, err = Acquire(dir)
	want := fmt.Sprintf("data directory in use by pid %d", os.Getpid())
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), want) {
		t.Fatalf("second Acquire: %v, want ErrInUse with %q", err, want)
	}
	if fi, err := os.Stat(filepath.Join(dir, LockFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v, %v; want mode 0600", fi, err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l, err = Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l.Release()
	l.Release() // twice is fine
}

func logger(buf *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

func TestPrepare(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, tc := range []struct {
		name     string
		existing os.FileMode // 0: the directory does not exist
		wantMode os.FileMode
		wantWarn bool
		wantErr  string
	}{
		{name: "created", wantMode: 0o700},
		{name: "private", existing: 0o700, wantMode: 0o700},
		{name: "readable by others", existing: 0o755, wantMode: 0o700, wantWarn: true},
		{name: "group writable", existing: 0o770, wantMode: 0o700, wantWarn: true},
		{name: "writable by every user", existing: 0o777, wantMode: 0o777, wantErr: "writable by every user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if tc.existing != 0 {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			var logs bytes.Buffer
			err := Prepare(dir, logger(&logs))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Prepare: %v, want error %q", err, tc.wantErr)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.wantMode {
				t.Errorf("mode %#o, want %#o", fi.Mode().Perm(), tc.wantMode)
			}
			if got := strings.Contains(logs.String(), "level=WARN"); got != tc.wantWarn {
				t.Errorf("WARN logged: %v, want %v: %s", got, tc.wantWarn, logs.String())
			}
		})
	}
}

func TestWarnShared(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o644, true}} {
		p := filepath.Join(dir, "secret.key")
		os.WriteFile(p, []byte("x"), 0o600)
		os.Chmod(p, tc.mode)
		var logs bytes.Buffer
		WarnShared(p, logger(&logs))
		if got := strings.Contains(logs.String(), "level=WARN"); got != tc.warn {
			t.Errorf("mode %#o: WARN %v, want %v: %s", tc.mode, got, tc.warn, logs.String())
		}
	}
	var logs bytes.Buffer
	WarnShared(filepath.Join(dir, "missing"), logger(&logs))
	if logs.Len() != 0 {
		t.Errorf("missing file: %s", logs.String())
	}
}

func TestWriteFile(t *testing.T) {
	old := syscall.Umask(0) // the mode must not depend on the umask
	defer syscall.Umask(old)
	dir := t.TempDir()
	p := filepath.Join(dir, "secret.key")
	if err := WriteFile(p, []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "hello\n" || fi.Mode().Perm() != 0o600 {
		t.Errorf("file %q mode %#o, want %q 0600", b, fi.Mode().Perm(), "hello\n")
	}
	assertOnly(t, dir, "secret.key")
}

// TestWriteFileOnAFullDisk writes to a full tmpfs: the write fails and
// leaves no file, neither the target (an empty secret.key blocked every
// later start) nor the temporary file.
func TestWriteFileOnAFullDisk(t *testing.T) {
	dir := datadirtest.FullDisk(t, 0)
	p := filepath.Join(dir, "secret.key")
	err := WriteFile(p, []byte(strings.Repeat("k", 45)))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WriteFile on a full disk: %v, want ENOSPC", err)
	}
	assertOnly(t, dir, "fill")
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}
