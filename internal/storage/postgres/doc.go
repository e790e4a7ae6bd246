// Package postgres is the PostgreSQL storage backend (pgx v5): the store
// that the nodes of one zone share (SPEC §9). Its schema mirrors the
// SQLite backend's table for table, so that `orchestrator store copy`
// moves an embedded store here row by row.
package postgres
