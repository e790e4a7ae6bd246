// Package httpapi is the HTTP transport of the API: routing with net/http
// patterns, middleware (recover, request id, access log with secrets
// redacted, body limits, metrics), the guard that authenticates v1 API keys
// and v2 tokens into a Principal, the login and token endpoints, the
// operator API, and the one mapping from errors to statuses (errors.go).
package httpapi
