// Package accounts owns accounts and their credentials: creation, v1 API
// keys (generate, regenerate with grace, authenticate), v2 client
// credentials (user ID + generated password, regenerate with token
// revocation, authenticate in constant time), upgrade v1→v2, console
// users, and the one syntax of an account id (ParseID), which the API
// and the console call. The operator API's JSON shapes of an account are
// package wire's.
package accounts
