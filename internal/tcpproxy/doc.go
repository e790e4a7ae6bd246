// Package tcpproxy is test support: a TCP proxy in front of a server the
// tests share (PostgreSQL, Redis) that a test can cut, restore, freeze
// and thaw, so that the code under test sees the server go away or hang
// while the real server, which other tests use, keeps running.
package tcpproxy
