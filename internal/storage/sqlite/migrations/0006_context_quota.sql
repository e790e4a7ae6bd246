-- +goose Up
-- Context Service quota: one usage row per account, kept by triggers in the
-- same transaction as every insert and delete of a namespace, session or
-- property, whichever path deletes it (a write, a delete, the expiry
-- purge, the cascade of an account deletion). A write then checks the
-- quota with one primary-key read instead of counting the account's rows.
--
-- bytes: for each namespace, session and property, 64 (storage.ContextRowBytes)
-- plus the UTF-8 bytes of its names and value. Keep the two in step.

CREATE TABLE ccs_usage (
	account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	properties INTEGER NOT NULL DEFAULT 0,
	bytes      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- +goose StatementBegin
CREATE TRIGGER ccs_usage_namespace_insert AFTER INSERT ON ccs_namespaces BEGIN
	INSERT INTO ccs_usage (account_id, properties, bytes) VALUES (NEW.account_id, 0, 64 + octet_length(NEW.name))
	ON CONFLICT (account_id) DO UPDATE SET bytes = bytes + excluded.bytes;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ccs_usage_namespace_delete AFTER DELETE ON ccs_namespaces BEGIN
	UPDATE ccs_usage SET bytes = bytes - (64 + octet_length(OLD.name)) WHERE account_id = OLD.account_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ccs_usage_session_insert AFTER INSERT ON ccs_sessions BEGIN
	INSERT INTO ccs_usage (account_id, properties, bytes)
	VALUES (NEW.account_id, 0, 64 + octet_length(NEW.namespace) + octet_length(NEW.session_id))
	ON CONFLICT (account_id) DO UPDATE SET bytes = bytes + excluded.bytes;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ccs_usage_session_delete AFTER DELETE ON ccs_sessions BEGIN
	UPDATE ccs_usage SET bytes = bytes - (64 + octet_length(OLD.namespace) + octet_length(OLD.session_id))
	WHERE account_id = OLD.account_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ccs_usage_property_insert AFTER INSERT ON ccs_properties BEGIN
	INSERT INTO ccs_usage (account_id, properties, bytes)
	VALUES (NEW.account_id, 1, 64 + octet_length(NEW.namespace) + octet_length(NEW.session_id) + octet_length(NEW.name) + octet_length(NEW.value))
	ON CONFLICT (account_id) DO UPDATE SET properties = properties + 1, bytes = bytes + excluded.bytes;
END;
-- +goose StatementEnd

-- Upserts replace the value in place (the key columns never change).
-- +goose StatementBegin
CREATE TRIGGER ccs_usage_property_update AFTER UPDATE OF value ON ccs_properties BEGIN
	UPDATE ccs_usage SET bytes = bytes + octet_length(NEW.value) - octet_length(OLD.value) WHERE account_id = NEW.account_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ccs_usage_property_delete AFTER DELETE ON ccs_properties BEGIN
	UPDATE ccs_usage SET properties = properties - 1,
		bytes = bytes - (64 + octet_length(OLD.namespace) + octet_length(OLD.session_id) + octet_length(OLD.name) + octet_length(OLD.value))
	WHERE account_id = OLD.account_id;
END;
-- +goose StatementEnd

-- What is stored already.
INSERT INTO ccs_usage (account_id, properties, bytes)
SELECT account_id, sum(n), sum(b) FROM (
	SELECT account_id, 0 AS n, 64 + octet_length(name) AS b FROM ccs_namespaces
	UNION ALL
	SELECT account_id, 0, 64 + octet_length(namespace) + octet_length(session_id) FROM ccs_sessions
	UNION ALL
	SELECT account_id, 1, 64 + octet_length(namespace) + octet_length(session_id) + octet_length(name) + octet_length(value) FROM ccs_properties
) GROUP BY account_id;
