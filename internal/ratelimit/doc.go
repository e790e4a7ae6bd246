// Package ratelimit owns the brute-force limits on logins: failures are
// counted per user ID and per client address in bounded memory, and a key
// over its limit is refused with the time until it may try again.
package ratelimit
