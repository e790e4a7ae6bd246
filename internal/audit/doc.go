// Package audit owns the security audit trail: the one Recorder through
// which every entry point (operator API, and so the CLI; console; OAuth
// endpoints) writes what changed or revealed a secret, who did it
// (Operator, a console user's email, or a v2 user ID), from which client
// address (package clientaddr) and when; the names of the actions; the
// per-minute aggregation of failed client authentications; and the
// listing and retention of the log. The rows live in the store
// (storage.Audit); entries of the zone as a whole, such as a signing-key
// rotation, have an empty account id.
//
// A write is one store append on the request that it describes. A write
// that fails is logged and counted (Config.WriteFailed) and its error
// returned: the console refuses to show a secret it could not record,
// while a change already made (a regeneration) is still answered.
package audit
