-- +goose Up
-- Next Actions policies (ordered per account) and their evaluation log.
-- Both reference the account, so deleting an account deletes them.

CREATE TABLE policies (
	account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	id         TEXT NOT NULL,
	position   INTEGER NOT NULL,
	revision   TEXT NOT NULL,
	body       BLOB NOT NULL, -- JSON owned by the policy service
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (account_id, id)
) WITHOUT ROWID;

CREATE UNIQUE INDEX policies_order ON policies(account_id, position);

CREATE TABLE policy_evaluations (
	account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	time            INTEGER NOT NULL, -- ms since the epoch
	conversation_id TEXT NOT NULL,
	policy_id       TEXT NOT NULL,
	state           TEXT NOT NULL
);

CREATE INDEX policy_evaluations_account ON policy_evaluations(account_id, time);
CREATE INDEX policy_evaluations_conversation ON policy_evaluations(account_id, conversation_id, time);
CREATE INDEX policy_evaluations_time ON policy_evaluations(time);
