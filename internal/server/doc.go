// Package server is the composition root: it opens the store, loads or
// creates the generated secrets, builds the services and the HTTP handler
// with plain struct literals, and runs the listener with graceful
// shutdown. It holds no business logic.
package server
