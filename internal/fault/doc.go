// Package fault is the one vocabulary of client-visible failure: the
// kinds a request can fail with (invalid, too large, forbidden, not
// found, conflict, too expensive, storage full, storage unavailable),
// each an *Error with a message that is safe to show the client. Domain
// services return them; the HTTP layer maps each kind to its status in
// one place (httpapi's toHTTP), and the console tests the same kinds.
// Nothing below the HTTP layer chooses a status.
//
// Storage errors are fault errors too. Each sentinel of package storage
// (storage.ErrNotFound, storage.ErrStorageFull, ...) is an *Error of the
// kind a client sees for it, with the generic message it is answered
// with ("not found", "storage full", ...). So a storage error that a
// service passes on unchanged, or wrapped with %w, is already one of
// these kinds: errors.Is(err, storage.ErrNotFound) still names the
// storage condition exactly, errors.Is(err, fault.ErrNotFound) matches
// it and every other not-found, and no layer above the services needs to
// know package storage to answer it. A service that has something better
// to tell the client (which policy was not found) returns its own
// fault error instead, as nextactions and accounts do.
package fault
