// Package tokens owns v2 access tokens: signing keys (generated, sealed at
// rest, rotated with the new key published before it signs), the JWKS,
// issuing JWTs with the claims of SPEC §3, and verifying them (signature,
// issuer, audience, zone, lifetime, revocation by credential regeneration).
package tokens
