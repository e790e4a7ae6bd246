-- +goose Up
CREATE TABLE accounts (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	auth_version TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	upgraded_at  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE api_keys (
	hash       BLOB PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	sealed     BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	retired_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_account ON api_keys(account_id);

CREATE TABLE credentials (
	account_id        TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	user_id           TEXT NOT NULL UNIQUE,
	secret_hash       BLOB NOT NULL,
	seed              BLOB NOT NULL,
	created_at        INTEGER NOT NULL,
	revoked_before_ms INTEGER NOT NULL DEFAULT 0,
	revoke_at         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE console_users (
	account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	email         TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	PRIMARY KEY (account_id, email)
);

CREATE TABLE signing_keys (
	kid        TEXT PRIMARY KEY,
	alg        TEXT NOT NULL,
	private    BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	signs_from INTEGER NOT NULL
);

CREATE TABLE audit_log (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	time       INTEGER NOT NULL,
	account_id TEXT NOT NULL,
	actor      TEXT NOT NULL,
	action     TEXT NOT NULL,
	address    TEXT NOT NULL
);
CREATE INDEX audit_log_account ON audit_log(account_id, seq);
