// Package cli is the orchestrator command line: the server (serve), the
// operator commands (account, keys, store) and the user commands (login, ccs,
// next-actions, config). Run parses arguments and dispatches; each command
// lives in its own file.
package cli
