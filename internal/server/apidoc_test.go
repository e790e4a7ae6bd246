package server_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// repoRoot is the repository's top directory (tests run in their
// package's directory).
const repoRoot = "../.."

// docExample is one example of docs/api.md: the lines of a paragraph of a
// ```sh block, and the status its "# → NNN" marker expects.
type docExample struct {
	line   int // of the first line in the file
	script string
	status int
}

var statusMarker = regexp.MustCompile(`#\s*→\s*(\d{3})\s*$`)

// parseDocExamples returns the examples of the ```sh blocks of a Markdown
// file. Within a block, examples are separated by blank lines, and each
// must carry exactly one status marker: an example the test could not
// check is an error, not a silent skip. Other fences (```bash for the
// set-up shown to readers, ```json for answers) are not run.
func parseDocExamples(path string) ([]docExample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		out    []docExample
		inSh   bool
		inOth  bool
		cur    []string
		start  int
		status int
		marks  int
	)
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		if marks != 1 {
			return fmt.Errorf("%s:%d: an example needs exactly one `# → NNN` status marker, has %d", path, start, marks)
		}
		out = append(out, docExample{line: start, script: strings.Join(cur, "\n") + "\n", status: status})
		cur, marks, status = nil, 0, 0
		return nil
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case !inSh && !inOth && strings.HasPrefix(trimmed, "```"):
			if strings.TrimSpace(strings.TrimPrefix(trimmed, "```")) == "sh" {
				inSh = true
			} else {
				inOth = true
			}
			continue
		case inOth && trimmed == "```":
			inOth = false
			continue
		case inSh && trimmed == "```":
			if err := flush(); err != nil {
				return nil, err
			}
			inSh = false
			continue
		}
		if !inSh {
			continue
		}
		if trimmed == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		if len(cur) == 0 {
			start = n
		}
		cur = append(cur, line)
		if m := statusMarker.FindStringSubmatch(line); m != nil {
			status, _ = strconv.Atoi(m[1])
			marks++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if inSh {
		return nil, fmt.Errorf("%s: unterminated ```sh block", path)
	}
	return out, nil
}

// TestAPIDocExamples runs every example of docs/api.md, in order, against
// a live server and checks each answer's status against the one the page
// writes after it, so that the reference cannot drift from the server.
func TestAPIDocExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs curl")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the examples of docs/api.md: %v", tool, err)
		}
	}
	examples, err := parseDocExamples(filepath.Join(repoRoot, "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(examples) < 50 {
		t.Fatalf("docs/api.md has %d examples; expected every route to have one", len(examples))
	}

	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	token := env.Login(t, acct)

	dir := t.TempDir()
	bodyFile, statusFile := filepath.Join(dir, "body"), filepath.Join(dir, "status")
	// curl is wrapped so that the examples read as a user would type
	// them while the test learns each status: the body goes to a file
	// (shown when the status is not the expected one).
	prelude := `curl() { command curl -sS --max-time 10 -o "$ORCH_DOC_BODY" -w '%{http_code}' "$@" >"$ORCH_DOC_STATUS"; }` + "\n"
	vars := []string{
		"S=" + env.URL, "ADM=" + env.AdminToken, "A=" + acct.AccountID, "K=" + acct.APIKey,
		"U=" + acct.UserID, "P=" + acct.Password, "T=" + token,
		"ORCH_DOC_BODY=" + bodyFile, "ORCH_DOC_STATUS=" + statusFile,
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LC_ALL=C.UTF-8",
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, ex := range examples {
		os.Remove(statusFile)
		os.Remove(bodyFile)
		cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-eu", "-o", "pipefail", "-c", prelude+ex.script)
		cmd.Env = vars
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("docs/api.md:%d: %v\n%s\n%s", ex.line, err, ex.script, out)
			continue
		}
		st, _ := os.ReadFile(statusFile)
		got, _ := strconv.Atoi(strings.TrimSpace(string(st)))
		if got != ex.status {
			body, _ := os.ReadFile(bodyFile)
			t.Errorf("docs/api.md:%d: status %d, the page says %d\n%s=> %s", ex.line, got, ex.status, ex.script, body)
		}
	}
}
