-- +goose Up
-- How many evaluation log entries each account has, so that appending can
-- keep at most a fixed number per account (the newest) without counting
-- them. Kept exact by AppendEvaluations and PurgeEvaluations; deleting the
-- account deletes its count.
--
-- Security: one account looping evaluations of 500 never-matching
-- policies wrote ~2 M rows (+183 MiB) in 20 s.

CREATE TABLE policy_log_counts (
	account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	n          INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO policy_log_counts (account_id, n)
	SELECT account_id, count(*) FROM policy_evaluations GROUP BY account_id;
