// Package storecopy copies an embedded SQLite store into an empty
// PostgreSQL database (`orchestrator store copy`, SPEC §9), so that a
// deployment that outgrows one machine keeps its tenants, keys, tokens
// and data.
//
// It works at the table level, not through either backend's Store: the
// PostgreSQL schema mirrors SQLite's table for table and column for
// column, so rows move as they are. Sealed secrets (API keys, signing
// keys, credential seeds) are copied as bytes and open with the same
// secret key (ORCH_SECRET_KEY or <data>/secret.key) on the servers that
// use the copy.
//
// The copy is one PostgreSQL transaction: it refuses a target holding any
// data, streams every table with COPY, and verifies each table's row
// count and checksum by reading the target back through the same
// transaction before it commits. Anything short of an exact copy rolls
// back and leaves the target as it was (migrated, but empty).
package storecopy
