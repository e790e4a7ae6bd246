// Package compat holds no code, only tests: the compatibility suite of
// issue 15. Each test replays, byte for byte, the requests that a client
// no one here wrote sends — LivePerson's Functions toolbelt (its Context
// Service SDK and CSDS client), the request templates of LivePerson's
// Functions documentation, and the curl examples of the Conversation
// Orchestrator method pages — against a real server over loopback, and
// asserts what those clients read back. Every test names its source
// (repository and path, or documentation page) in a comment, so that a
// reader can check the replay against the client itself.
//
// The replays keep each client's method, path (trailing slashes
// included), query, headers and body; what they assert is what the
// client reads (a status it accepts, the JSON fields it parses), not
// more, so that the suite fails exactly when one of those clients would.
package compat
