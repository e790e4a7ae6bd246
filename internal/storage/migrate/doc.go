// Package migrate applies and reports the schema migrations of the
// storage backends, with goose: each backend embeds one folder of SQL
// files of its dialect, and this package runs them. On PostgreSQL the
// migrations run under a session advisory lock, so that the nodes of a
// zone starting together migrate once.
package migrate
