// Package redisx opens the Redis client that the nodes of a zone share
// (SPEC §9, --redis-url): rate limits (internal/ratelimit) and console
// sessions (internal/console) are kept there so that every node sees
// them. It owns only the connection; what is stored belongs to its users.
package redisx
