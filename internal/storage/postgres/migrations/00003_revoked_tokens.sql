-- Tokens revoked one by one (RFC 7009): the SQLite migration 0008.

-- +goose Up
CREATE TABLE revoked_tokens (
	account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	jti        TEXT COLLATE "C" NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (account_id, jti)
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens(expires_at);

-- +goose Down
DROP TABLE revoked_tokens;
