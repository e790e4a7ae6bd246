-- +goose Up
-- Tokens revoked one by one (RFC 7009), kept until they would have
-- expired (expires_at, milliseconds since the epoch); the purge finds the
-- expired ones by expires_at.
CREATE TABLE revoked_tokens (
	account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	jti        TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (account_id, jti)
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens(expires_at);
