-- +goose Up
-- When each API key and credential was last used (milliseconds since the
-- epoch, 0: never), written at most once a minute per secret; and an
-- index on the audit log's time, by which its retention purges it.
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE credentials ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX audit_log_time ON audit_log(time);
