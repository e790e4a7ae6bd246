// Package datadir owns the server's data directory (--data) as a place on
// disk: its permissions (0700, files 0600), the lock that keeps a second
// process out of it, and writing a file there so that a crash or a full
// disk leaves either the whole file or none. What the files hold belongs
// to their owners (secret, storage/sqlite, server).
package datadir
