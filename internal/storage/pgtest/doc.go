// Package pgtest gives tests a fresh PostgreSQL schema of their own on
// the machine's real server (ORCH_TEST_POSTGRES_URL, default
// postgres://postgres@127.0.0.1:5432/test), dropped when the test ends.
// A server that does not answer fails the test: it is never skipped.
package pgtest
