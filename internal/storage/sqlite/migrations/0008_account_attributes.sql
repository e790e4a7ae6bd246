-- +goose Up
-- Static policy attributes of an account (the custom.* variables of Next
-- Actions): one JSON object, replaced whole. The revision changes on every
-- write, so evaluations re-read the body only when it changed.
CREATE TABLE account_attributes (
	account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	revision   TEXT NOT NULL,
	body       BLOB NOT NULL, -- JSON object owned by the policy service
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;
