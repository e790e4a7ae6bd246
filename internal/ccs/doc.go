// Package ccs is the Conversation Context Service (SPEC §5): namespaces,
// sessions and properties of an account, with TTLs and the document size
// limit, over the storage seam (storage.ContextStore).
//
// One data model serves v1 and v2: properties written without a session
// live in session wire.DefaultSession, which is also the namespace-level v2
// document. A property expires a TTL after its last write: the v2 write's
// ttlSeconds (13 months by default), else the session's TTL, else the
// namespace's, else never; 0 means never. Config.MaxRetention caps that
// (--max-retention, 13 months by default): no property outlives it after
// its last write, and Run first caps what was stored before the cap.
// Reads filter expired properties themselves; Run purges them in the
// background in short batches.
//
// The service returns fault errors (invalid → 400, too large → 413, not
// found → 404); it never chooses HTTP statuses.
package ccs
