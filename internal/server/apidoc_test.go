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
	"unicode"

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

// TestAPIDocExamples runs the set-up of docs/api.md (which creates the
// account and token the examples use), then every example, in order,
// against a live server, and checks each answer's status against the one
// the page writes after it, so that the reference cannot drift from the
// server.
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
	dir := t.TempDir()
	vals := runDocSetup(t, env, dir)
	bodyFile, statusFile := filepath.Join(dir, "body"), filepath.Join(dir, "status")
	// curl is wrapped so that the examples read as a user would type
	// them while the test learns each status: the body goes to a file
	// (shown when the status is not the expected one).
	prelude := `curl() { command curl -sS --max-time 10 -o "$ORCH_DOC_BODY" -w '%{http_code}' "$@" >"$ORCH_DOC_STATUS"; }` + "\n"
	vars := append(baseEnv(dir), "S="+env.URL, "ORCH_DOC_BODY="+bodyFile, "ORCH_DOC_STATUS="+statusFile)
	for _, name := range docVars {
		vars = append(vars, name+"="+vals[name])
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

// docVars are the variables the set-up of docs/api.md defines, besides
// S, for the examples.
var docVars = []string{"ADM", "A", "K", "U", "P", "T"}

func baseEnv(dir string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LC_ALL=C.UTF-8"}
}

// runDocSetup runs the set-up of docs/api.md (its first ```bash block) as
// a reader would, against env, and returns the variables it defines: the
// examples use the account the page itself creates. Its S line names the
// default address, which is replaced by env's; data/admin.token is env's.
func runDocSetup(t *testing.T, env *servertest.Env, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n```bash\n")
	if !ok {
		t.Fatal("docs/api.md has no ```bash set-up block")
	}
	setup, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("docs/api.md: unterminated ```bash block")
	}
	const defaultURL = "S=http://127.0.0.1:8080\n"
	if !strings.Contains(setup, defaultURL) {
		t.Fatalf("the set-up of docs/api.md no longer sets %q:\n%s", defaultURL, setup)
	}
	setup = strings.Replace(setup, defaultURL, "S="+env.URL+"\n", 1)
	if env.Config.PostgresURL != "" {
		// On PostgreSQL the token comes from ORCH_ADMIN_TOKEN, not a
		// file in --data: put it where the set-up reads it.
		if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "data", "admin.token"), []byte(env.AdminToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Symlink(env.Config.Data, filepath.Join(dir, "data")); err != nil {
		t.Fatal(err)
	}
	script := setup + `printf '%s\n' "$ADM" "$A" "$K" "$U" "$P" "$T"` + "\n"
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eu", "-o", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = baseEnv(dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the set-up of docs/api.md: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(docVars) {
		t.Fatalf("the set-up of docs/api.md printed %q", out)
	}
	vals := map[string]string{}
	for i, name := range docVars {
		if lines[i] == "" || lines[i] == "null" {
			t.Fatalf("the set-up of docs/api.md leaves $%s empty (%q)", name, lines[i])
		}
		vals[name] = lines[i]
	}
	if vals["ADM"] != env.AdminToken {
		t.Fatalf("the set-up read an admin token that is not the server's")
	}
	return vals
}

var (
	inlineLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	refLink    = regexp.MustCompile(`^\s*\[[^\]]+\]:\s*(\S+)`)
	scheme     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// mdLinks returns the link targets of a Markdown file outside fenced code,
// with their line numbers.
func mdLinks(text string) (targets []string, lines []int) {
	fenced := false
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			targets, lines = append(targets, m[1]), append(lines, i+1)
		}
		if m := refLink.FindStringSubmatch(line); m != nil {
			targets, lines = append(targets, m[1]), append(lines, i+1)
		}
	}
	return targets, lines
}

// mdAnchors returns the anchors GitHub gives the headings of a Markdown
// file: lower case, punctuation dropped, spaces as hyphens, and -1, -2 …
// after repeats.
func mdAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

// TestDocLinks checks that every relative link of README.md and docs/*.md
// names a file of this repository (not one beside it, which a clone does
// not have) and, for a Markdown file, a heading it has.
func TestDocLinks(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files := append([]string{filepath.Join(root, "README.md")}, docs...)
	if len(files) < 2 {
		t.Fatalf("no docs/*.md under %s", root)
	}
	checked := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, file)
		targets, lines := mdLinks(string(b))
		for i, target := range targets {
			if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
				continue // absolute: another site
			}
			checked++
			path, anchor, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				if strings.HasPrefix(path, "/") {
					t.Errorf("%s:%d: %s: a link from the site root does not work in a clone; make it relative", rel, lines[i], target)
					continue
				}
				dest = filepath.Clean(filepath.Join(filepath.Dir(file), filepath.FromSlash(path)))
				if r, err := filepath.Rel(root, dest); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
					t.Errorf("%s:%d: %s points outside the repository", rel, lines[i], target)
					continue
				}
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s:%d: %s: no such file in the repository", rel, lines[i], target)
					continue
				}
			}
			if anchor == "" || !strings.HasSuffix(dest, ".md") {
				continue
			}
			db, err := os.ReadFile(dest)
			if err != nil {
				t.Errorf("%s:%d: %s: %v", rel, lines[i], target, err)
				continue
			}
			if !mdAnchors(string(db))[anchor] {
				t.Errorf("%s:%d: %s: no heading with anchor #%s", rel, lines[i], target, anchor)
			}
		}
	}
	if checked == 0 {
		t.Error("no relative link found: is the link parser broken?")
	}
}

// TestAPIDocCoversRoutes checks that docs/api.md documents every route the
// HTTP API registers (read from the source of internal/httpapi): the path
// in backticks, on a line that names its method. The v1 paths below
// /v1/account/{a}/ are split by hand in ccs_v1.go, and the console's by
// internal/console; their tables are kept by hand.
func TestAPIDocCoversRoutes(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(doc), "\n")
	patterns, _ := registeredRoutes(t)
	skip := map[string]bool{"/": true, "/v2/": true, "/v1/account/{a}/": true, "/console/": true}
	found := 0
	for _, p := range patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			method, path = "", p
		}
		if skip[path] {
			continue
		}
		found++
		re := regexp.MustCompile("[` ]" + regexp.QuoteMeta(path) + "`")
		documented := false
		for _, line := range lines {
			if re.MatchString(line) && (method == "" || strings.Contains(line, method)) {
				documented = true
				break
			}
		}
		if !documented {
			t.Errorf("docs/api.md does not document %s (registered in internal/httpapi)", p)
		}
	}
	if found < 25 {
		t.Fatalf("found %d routes in internal/httpapi: is the pattern out of date?", found)
	}
}
