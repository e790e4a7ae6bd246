-- Last use of keys and credentials, and the audit log's time index: the
-- SQLite migration 0010.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE credentials ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX audit_log_time ON audit_log(time);

-- +goose Down
DROP INDEX audit_log_time;
ALTER TABLE credentials DROP COLUMN last_used_at;
ALTER TABLE api_keys DROP COLUMN last_used_at;
