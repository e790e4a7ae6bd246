package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readmeBlock returns the first ```sh block after the heading of a
// README section.
func readmeBlock(t *testing.T, readme, heading string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q section", heading)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	if !ok {
		t.Fatalf("README %q has no sh block", heading)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("README %q: unterminated sh block", heading)
	}
	return block
}

// TestReadmeFirstSteps runs the README's "First steps" as written, on a
// fresh data directory, so that a newcomer's first commands work: only the
// build is done beforehand, and the address is a free port instead of
// 127.0.0.1:8080 (tests run in parallel). Every curl must succeed, and the
// document written must read back through v2 and v1.
func TestReadmeFirstSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the README")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed by the README's first steps: %v", tool, err)
		}
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := readmeBlock(t, string(b), "## First steps")
	const build = "go build -o orchestrator ./cmd/orchestrator\n"
	if !strings.HasPrefix(block, build) {
		t.Fatalf("the first steps no longer start with %q:\n%s", build, block)
	}
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "orchestrator"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	script := strings.ReplaceAll(strings.TrimPrefix(block, build), "127.0.0.1:8080", addr)
	// curl fails on an HTTP error, so that -e stops at the first step
	// that does not work; the server started in the background is
	// stopped (SIGTERM) and waited for when the script ends.
	prelude := `curl() { command curl --fail --max-time 10 "$@"; }
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-eu", "-o", "pipefail", "-c", prelude+script)
	cmd.Dir = dir
	// A fresh machine: none of the caller's ORCH_ settings.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ORCH_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "ORCH_ADDR="+addr, "ORCH_URL=http://"+addr)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("README first steps: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	// The v2 document and the v1 properties both show what was written.
	if n := strings.Count(stdout.String(), `"tier":"gold"`); n != 2 {
		t.Errorf("the reads show the written property %d times, want 2:\n%s", n, stdout.String())
	}
}
