package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// completionScript writes `orchestrator completion SHELL` to a file.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	out := mustRun(t, "completion", shell)
	path := filepath.Join(t.TempDir(), "orchestrator."+shell)
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// needShell finds a shell; scripts/test installs zsh and fish, so a
// missing one fails rather than skips.
func needShell(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed for this test (scripts/test installs it): %v", name, err)
	}
	return p
}

// completionCases are command lines typed so far (the last word is the
// one being completed) and the candidates wanted, after the shell's own
// filtering by the word's prefix.
var completionCases = []struct {
	words []string
	want  []string
}{
	{[]string{"acc"}, []string{"account"}},
	{[]string{"c"}, []string{"ccs", "completion", "config"}},
	{[]string{"account", "regen"}, []string{"regenerate-key", "regenerate-password"}},
	{[]string{"account", "console-user", ""}, []string{"add"}},
	{[]string{"--config", "cli.yaml", "keys", ""}, []string{"list", "rotate"}},
	{[]string{"serve", "--zo"}, []string{"--zone"}},
	{[]string{"serve", "--zone", ""}, []string{"z1", "z2", "z3"}},
	{[]string{"serve", "--log-level", "d"}, []string{"debug"}},
	{[]string{"serve", "--addr", "x", "--signing-alg", ""}, []string{"ES256", "EdDSA", "RS256"}},
	{[]string{"account", "regenerate-key", "--g"}, []string{"--grace"}},
	{[]string{"ccs", "set", "--session", "sessions", "--v"}, []string{"--v1", "--version"}},
	{[]string{"completion", "--j"}, nil}, // completion has no --json
}

func TestCompletionBash(t *testing.T) {
	bash := needShell(t, "bash")
	script := completionScript(t, "bash")
	if out, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	for _, tt := range completionCases {
		// As bash calls it: COMP_WORDS the whole line, COMP_CWORD the
		// index of the word under the cursor.
		prog := `source "$1"; shift; COMP_WORDS=(orchestrator "$@"); COMP_CWORD=$#; _orchestrator; printf '%s\n' "${COMPREPLY[@]}"`
		out, err := exec.Command(bash, append([]string{"-c", prog, "bash", script}, tt.words...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", tt.words, err, out)
		}
		if diff := cmp.Diff(tt.want, sorted(lines(string(out)))); diff != "" {
			t.Errorf("bash completes %q (-want +got):\n%s", tt.words, diff)
		}
	}
	// Loaded as a user loads it, the function is registered for the command.
	out, err := exec.Command(bash, "-c", `source "$1" && complete -p orchestrator`, "bash", script).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-F _orchestrator orchestrator") {
		t.Errorf("complete -p orchestrator: %v %s", err, out)
	}
}

func TestCompletionZsh(t *testing.T) {
	zsh := needShell(t, "zsh")
	script := completionScript(t, "zsh")
	if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	for _, tt := range completionCases {
		// Outside a completion widget: compadd and _files print what
		// they are given, and compadd filters by the prefix as zsh would.
		prog := `compdef() { :; }
compadd() { local c; for c in ${(P)2}; do [[ $c == ${PREFIX}* ]] && print -r -- $c; done; }
_files() { :; }
source "$1"; shift
words=(orchestrator "$@"); CURRENT=$#words; PREFIX=${words[CURRENT]}
_orchestrator; :`
		out, err := exec.Command(zsh, append([]string{"-f", "-c", prog, "zsh", script}, tt.words...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", tt.words, err, out)
		}
		if diff := cmp.Diff(tt.want, sorted(lines(string(out)))); diff != "" {
			t.Errorf("zsh completes %q (-want +got):\n%s", tt.words, diff)
		}
	}
}

func TestCompletionFish(t *testing.T) {
	fish := needShell(t, "fish")
	script := completionScript(t, "fish")
	if out, err := exec.Command(fish, "--no-execute", script).CombinedOutput(); err != nil {
		t.Fatalf("fish --no-execute: %v\n%s", err, out)
	}
	for _, tt := range completionCases {
		line := "orchestrator " + strings.Join(tt.words, " ")
		out, err := exec.Command(fish, "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, line).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", line, err, out)
		}
		if diff := cmp.Diff(tt.want, sorted(lines(string(out)))); diff != "" {
			t.Errorf("fish completes %q (-want +got):\n%s", line, diff)
		}
	}
}

func TestCompletionUnknownShell(t *testing.T) {
	if _, err := run(t, "completion", "powershell"); err == nil {
		t.Error("completion powershell: no error")
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
