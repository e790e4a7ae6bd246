-- +goose Up
-- Conversation Context Service: account → namespace → session → property.
-- One row per property, so a merge touches only the keys it writes and a
-- read of one property is one index lookup. Every table references the
-- account, so deleting an account deletes its context data.

CREATE TABLE ccs_namespaces (
	account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	ttl_ms     INTEGER, -- NULL: no TTL set; 0: forever
	PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

CREATE TABLE ccs_sessions (
	account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	namespace  TEXT NOT NULL,
	session_id TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	ttl_ms     INTEGER, -- NULL: the namespace's TTL applies; 0: forever
	-- size is 1 + the sum of the sizes of the session's property rows,
	-- expired or not: the characters of the document's JSON object.
	size       INTEGER NOT NULL DEFAULT 1,
	PRIMARY KEY (account_id, namespace, session_id)
) WITHOUT ROWID;

CREATE TABLE ccs_properties (
	account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	namespace  TEXT NOT NULL,
	session_id TEXT NOT NULL,
	name       TEXT NOT NULL,
	value      TEXT NOT NULL, -- compact JSON
	expires_at INTEGER NOT NULL, -- ms since the epoch; 0: never
	size       INTEGER NOT NULL, -- characters of `"name":value,` in the document
	PRIMARY KEY (account_id, namespace, session_id, name)
) WITHOUT ROWID;

CREATE INDEX ccs_properties_expiry ON ccs_properties(expires_at) WHERE expires_at > 0;
