// Package server is the composition root: it locks the data directory
// and checks that its store and secrets belong together, opens the
// store, loads or creates the generated secrets, builds the services and
// the HTTP handler with plain struct literals, and runs the listener
// with graceful shutdown. It holds no business logic.
package server
