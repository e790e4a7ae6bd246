// Package ratelimit owns the brute-force limits on logins: failures are
// counted per user ID and per client address in bounded memory, and a key
// over its limit is refused with the time until it may try again.
//
// Interface is a limit; Limiter keeps it in this process, Redis keeps it
// in Redis so that the nodes of a zone share it (SPEC §9), and falls back
// to the node's own Limiter while Redis does not answer.
package ratelimit
