// Package config owns the settings of `orchestrator serve`: flags with
// their environment variables and defaults (SPEC §1), and their checks.
package config
