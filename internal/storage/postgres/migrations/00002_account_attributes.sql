-- +goose Up
-- Static policy attributes of an account (see SQLite 0008).
CREATE TABLE account_attributes (
	account_id TEXT COLLATE "C" PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	revision   TEXT NOT NULL,
	body       BYTEA NOT NULL, -- JSON object owned by the policy service
	updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE account_attributes;
