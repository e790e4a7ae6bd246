// Package buildinfo owns what the binary says about itself: its module
// version, VCS revision and Go version, read once from
// runtime/debug.ReadBuildInfo. The CLI prints it (orchestrator version)
// and the metrics export it (orchestrator_build_info).
package buildinfo
