-- +goose Up
-- One row that the readiness probe (/readyz) rewrites, through the normal
-- writer, to learn whether the store accepts writes: a read-only file or
-- a full disk fails it.
CREATE TABLE health_probe (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	at INTEGER NOT NULL
);
