// Package secret owns the server's secret key and everything derived from
// it: keyed hashes for looking up generated secrets, sealing (AES-GCM) of
// secrets the console shows again, derivation of v2 passwords, API key
// format with checksum, argon2id for passwords people choose, and
// constant-time comparison.
package secret
