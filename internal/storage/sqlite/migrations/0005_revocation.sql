-- +goose Up
-- Revocation only moves forward (SPEC §3). A credential kept one
-- (revoked_before_ms, revoke_at) pair that each regeneration overwrote, so
-- a regeneration with a grace brought back tokens an earlier one had
-- killed. Now revoked_before_ms is a hard watermark (those tokens are dead
-- now) and (pending_before_ms, pending_at) one revocation still in its
-- grace; storage.Revocation.Then advances them.
ALTER TABLE credentials ADD COLUMN pending_before_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE credentials ADD COLUMN pending_at INTEGER NOT NULL DEFAULT 0;
-- An old pair with a time was a revocation in grace (or past it, which
-- Revocation.Kills treats as dead all the same).
UPDATE credentials SET pending_before_ms = revoked_before_ms, pending_at = revoke_at, revoked_before_ms = 0
	WHERE revoke_at != 0;
ALTER TABLE credentials DROP COLUMN revoke_at;

-- An account being deleted: it is invisible from the first step on, while
-- its bulk data is removed in batches that let other writers in between
-- (one cascading delete of a large account held the single writer for
-- seconds). The row itself goes last.
ALTER TABLE accounts ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;
