// Package postgres is the PostgreSQL storage backend (pgx v5): the store
// that the nodes of one zone share (SPEC §9). Its schema mirrors the
// SQLite backend's table for table, so that `orchestrator store copy`
// moves an embedded store here row by row.
//
// Every guarantee of storage.Store holds across the Stores of all nodes:
// writes run in READ COMMITTED transactions that lock the rows they read
// before deciding (an account's ccs_usage row, then its session rows,
// then property rows, in that order everywhere; the account row for
// policy positions and key rotations; the credential row for
// revocations), and are run again on a serialization failure or a
// deadlock. The purges take their rows with SKIP LOCKED, so nodes running
// them at once share the work. A server that cannot be reached gives
// errors wrapping storage.ErrUnavailable.
package postgres
