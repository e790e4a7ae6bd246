// Package sqlite is the embedded storage backend: pure-Go SQLite
// (modernc.org/sqlite) in WAL mode, one writer connection and a pool of
// readers. It implements every role interface of package storage and passes
// storagetest in full. The schema lives in migrations/, applied by goose
// (package migrate) at Open or by `orchestrator store migrate`. A store
// migrated before goose, whose table schema_migrations records the files
// applied, is adopted into goose's table once; schema_migrations is then
// kept but no longer written.
package sqlite
