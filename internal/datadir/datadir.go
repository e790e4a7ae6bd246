package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// Prepare creates dir (mode 0700) when it does not exist. An existing
// directory that every user may write, such as /tmp, is refused: anyone
// could replace its secret key, and so shared a directory is not changed.
// Any other access by group or others is removed (chmod 0700) and logged
// at WARN, since the directory holds the store and the secrets.
func Prepare(dir string, log *slog.Logger) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	mode := fi.Mode().Perm()
	if mode&0o002 != 0 {
		return fmt.Errorf("data directory %s is writable by every user (mode %#o), who could replace its secret key: use a directory of its own, or chmod 700 it", dir, mode)
	}
	if mode&0o077 != 0 {
		if err := os.Chmod(dir, mode&0o700); err != nil {
			return fmt.Errorf("data directory %s is open to other users (mode %#o) and could not be made private: %w", dir, mode, err)
		}
		log.Warn("data directory was open to other users: made private", "dir", dir, "was", fmt.Sprintf("%#o", mode), "now", fmt.Sprintf("%#o", mode&0o700))
	}
	return nil
}

// WarnShared logs at WARN when the file at path exists and other users
// may read or write it (a secret copied in with the default umask).
func WarnShared(path string, log *slog.Logger) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	log.Warn("secret file is readable by other users: chmod 600 it", "file", path, "mode", fmt.Sprintf("%#o", fi.Mode().Perm()))
}

// WriteFile creates the file at path (mode 0600) holding data, all or
// nothing: it writes a temporary file in the same directory, syncs it,
// renames it to path and syncs the directory, so a crash leaves the old
// state or the whole new file, and a failed write (a full disk) leaves no
// file at all, not an empty one that blocks every later start. The
// caller holds the directory's lock; an existing file at path is
// replaced.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = writeSync(f, data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writeSync(f *os.File, data []byte) error {
	// CreateTemp makes the file 0600; say so in case that changes.
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
