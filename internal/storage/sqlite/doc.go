// Package sqlite is the embedded storage backend: pure-Go SQLite
// (modernc.org/sqlite) in WAL mode, one writer connection and a pool of
// readers. It implements every role interface of package storage and passes
// storagetest in full. The schema lives in migrations/, applied in order at
// Open.
package sqlite
