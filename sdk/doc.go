// Package sdk is the Go client of Conversation Orchestrator: the Context
// Service (CCS) v1 and v2, Next Actions v1 and v2, and the v2 policy
// configuration.
//
// A Client logs in with the v2 credentials of an account (user ID and
// password, SPEC §3), caches the token, refreshes it shortly before it
// expires (with jitter, so that many clients started together do not log
// in together), and when a v2 call is refused with 403 (or 401) it drops
// the token, logs in again once — one login shared by every concurrent
// caller — and retries the request once. A login that fails is reported
// to the callers that waited for it and is not retried in a loop: the next
// call makes one new attempt. A 429 answer is retried once after its
// Retry-After delay when that delay is short (Config.MaxRetryWait).
//
// v1 calls carry the account's API key in the maven-api-key header and
// never log in.
//
// The Client is safe for concurrent use. Every method takes a context and
// returns *APIError when the server answers with an error status.
//
// HTTPClient returns an *http.Client that adds the token to requests for
// the v2 base URL, for calls the typed methods do not cover; TokenSource
// returns a golang.org/x/oauth2 TokenSource over the same cached token.
package sdk
