// Package fault holds the few error kinds that domain services return for
// bad client input (invalid, too large, forbidden), each with a message that
// is safe to show the client. The HTTP layer maps the kinds to statuses in
// one place (httpapi.writeError); domain packages never choose a status.
package fault
