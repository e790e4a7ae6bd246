// Package servertest starts the real server on a loopback port for
// end-to-end tests, with helpers to create accounts and log in over HTTP.
package servertest
