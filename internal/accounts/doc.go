// Package accounts owns accounts and their credentials: creation, v1 API
// keys (generate, regenerate with grace, authenticate), v2 client
// credentials (user ID + generated password, regenerate with token
// revocation, authenticate in constant time), upgrade v1→v2, and console
// users.
package accounts
