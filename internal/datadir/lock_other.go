//go:build !unix

package datadir

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked")

// lockFile does not lock where flock does not exist: there the server
// relies on being started once per directory.
func lockFile(*os.File) error { return nil }
