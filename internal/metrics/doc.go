// Package metrics owns the Prometheus registry of a server and the
// metrics named in SPEC §1.
package metrics
