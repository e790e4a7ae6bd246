package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LockFile is the name of the lock file in the data directory.
const LockFile = "orchestrator.lock"

// ErrInUse is returned by Acquire when another process holds the directory.
var ErrInUse = errors.New("data directory in use")

// A Lock keeps other processes out of a data directory until Release (or
// the process's exit, which the system releases the lock on).
type Lock struct {
	f *os.File
}

// Acquire takes the exclusive lock of dir: a lock (flock) on
// <dir>/orchestrator.lock, which then holds this process's pid. It fails
// at once, with ErrInUse and the holder's pid, when another process holds
// it. Take it before creating anything else in dir, so that of two
// processes started together on an empty directory only one creates the
// secrets. The lock file itself is left in place: removing it would let
// a third process lock a new file while the second still waits on the old.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			if pid := holder(path); pid > 0 {
				return nil, fmt.Errorf("%w by pid %d: %s (another orchestrator serves from it; stop it first)", ErrInUse, pid, dir)
			}
			return nil, fmt.Errorf("%w by another process: %s (another orchestrator serves from it; stop it first)", ErrInUse, dir)
		}
		return nil, fmt.Errorf("data directory: lock %s: %w", path, err)
	}
	pid := strconv.Itoa(os.Getpid()) + "\n"
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(pid), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory: %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// holder reads the pid that the process holding the lock wrote. It waits
// a little for it, since that process writes it just after it locked.
func holder(path string) int {
	for range 20 {
		b, err := os.ReadFile(path)
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return 0
}

// Release releases the lock. It may be called more than once, and on a
// nil Lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
