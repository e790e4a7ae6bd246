package cli

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// operatorEnv points the operator commands at env through the environment.
func operatorEnv(t *testing.T, env *servertest.Env) {
	t.Helper()
	t.Setenv("ORCH_URL", env.URL)
	t.Setenv("ORCH_ADMIN_TOKEN", env.AdminToken)
}

// terminal makes the commands see a terminal on stdin that answers answer.
func terminal(t *testing.T, answer string) {
	t.Helper()
	oldIn, oldTTY := Stdin, StdinIsTerminal
	Stdin, StdinIsTerminal = strings.NewReader(answer), func() bool { return true }
	t.Cleanup(func() { Stdin, StdinIsTerminal = oldIn, oldTTY })
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := run(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.HasPrefix(out, "orchestrator ") || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 ||
			!strings.Contains(out, " revision ") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%v printed %q, want one line \"orchestrator VERSION revision REV GOVERSION OS/ARCH\"", args, out)
		}
	}
	var b BuildInfo
	if err := json.Unmarshal([]byte(mustRun(t, "version", "--json")), &b); err != nil {
		t.Fatal(err)
	}
	if b.Version == "" || b.GoVersion != runtime.Version() || b.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version --json = %+v", b)
	}
	if v := Version(); v == "" {
		t.Error("Version() is empty")
	}
}

func TestConsoleUserAdd(t *testing.T) {
	env := servertest.Start(t)
	operatorEnv(t, env)
	acct := env.CreateAccount(t, true)

	out := mustRun(t, "account", "console-user", "add", acct.AccountID, "--email", "ops@example.com")
	if !strings.Contains(out, "ops@example.com") || !strings.Contains(out, "Console password:") {
		t.Errorf("add printed %q, want the email and the generated password", out)
	}

	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("correct horse battery staple 12345\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, "account", "console-user", "add", "--json", acct.AccountID, "--email", "two@example.com", "--password-file", file)
	var v struct{ Email string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Email != "two@example.com" {
		t.Errorf("add --json printed %q (%v)", out, err)
	}
	out = mustRun(t, "account", "console-user", "add", acct.AccountID, "--email", "three@example.com", "--password-file", file)
	if strings.Contains(out, "correct horse") {
		t.Errorf("add with --password-file printed the password: %q", out)
	}
	if _, err := run(t, "account", "console-user", "add", acct.AccountID); err == nil || !strings.Contains(err.Error(), "--email") {
		t.Errorf("add without --email: err %v", err)
	}
}

func TestKeysList(t *testing.T) {
	env := servertest.Start(t)
	operatorEnv(t, env)
	before := mustRun(t, "keys", "list")
	lines := strings.Split(strings.TrimSpace(before), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "KID") || !strings.Contains(lines[0], "ALG") {
		t.Fatalf("keys list printed %q, want a header and a key", before)
	}
	raw := mustRun(t, "keys", "rotate", "--json")
	var k struct{ KID string }
	if err := json.Unmarshal([]byte(raw), &k); err != nil || k.KID == "" {
		t.Fatalf("rotate printed %q (%v)", raw, err)
	}
	after := mustRun(t, "keys", "list")
	if !strings.Contains(after, k.KID) || len(strings.Split(strings.TrimSpace(after), "\n")) != len(lines)+1 {
		t.Errorf("after rotating, keys list printed %q, want the old keys and %s", after, k.KID)
	}
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal([]byte(mustRun(t, "keys", "list", "--json")), &set); err != nil || len(set.Keys) != len(lines) {
		t.Errorf("keys list --json: %d keys (%v)", len(set.Keys), err)
	}
}

func TestAccountDeleteConfirmation(t *testing.T) {
	env := servertest.Start(t)
	operatorEnv(t, env)
	exists := func(id string) bool { return env.Admin(t, "GET", "/admin/v1/accounts/"+id, nil, nil) == http.StatusOK }

	a := env.CreateAccount(t, false)
	terminal(t, "n\n")
	if _, err := run(t, "account", "delete", a.AccountID); !errors.Is(err, errNotConfirmed) {
		t.Errorf("answer n: err %v, want errNotConfirmed", err)
	}
	if !exists(a.AccountID) {
		t.Fatal("answer n deleted the account")
	}
	terminal(t, "") // end of input is no
	if _, err := run(t, "account", "delete", a.AccountID); !errors.Is(err, errNotConfirmed) || !exists(a.AccountID) {
		t.Errorf("no answer: err %v", err)
	}
	terminal(t, "y\n")
	if out := mustRun(t, "account", "delete", a.AccountID); out != "Deleted account "+a.AccountID+"\n" || exists(a.AccountID) {
		t.Errorf("answer y printed %q", out)
	}

	b := env.CreateAccount(t, false)
	terminal(t, "") // --yes does not read stdin
	mustRun(t, "account", "delete", "--yes", b.AccountID)
	if exists(b.AccountID) {
		t.Error("--yes did not delete")
	}

	c := env.CreateAccount(t, false)
	oldIn, oldTTY := Stdin, StdinIsTerminal
	Stdin, StdinIsTerminal = strings.NewReader(""), func() bool { return false }
	defer func() { Stdin, StdinIsTerminal = oldIn, oldTTY }()
	mustRun(t, "account", "delete", c.AccountID) // scripts: no question
	if exists(c.AccountID) {
		t.Error("non-terminal stdin did not delete")
	}
}

func TestConnectionRefusedNamesURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("ORCH_PASSWORD", "p")
	for _, args := range [][]string{
		{"account", "list", "--url", url, "--admin-token", "x"},
		{"keys", "list", "--url", url},
		{"ccs", "get", "shop", "--url", url, "--api-key", "k", "--account", "1"},
		{"login", "--url", url, "--user", "u"},
	} {
		_, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), "is the server running at "+url+"?") {
			t.Errorf("%v: err %v, want it to ask whether the server runs at %s", args, err, url)
		}
	}
}

func TestMissingArgumentPointsToHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"account", "delete"}, "orchestrator account delete --help"},
		{[]string{"account", "create"}, "orchestrator account create --help"},
		{[]string{"account", "console-user", "add", "1"}, "orchestrator account console-user add --help"},
		{[]string{"ccs", "set"}, "orchestrator ccs set --help"},
		{[]string{"nosuch"}, "--help"},
	} {
		_, err := run(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err %v, want it to mention %q", tt.args, err, tt.want)
		}
	}
}

// TestJSONOnlyWhereItMeansSomething: --json is a flag of the commands that
// print data, not a global one that serve and completion would ignore.
func TestJSONOnlyWhereItMeansSomething(t *testing.T) {
	for _, cmd := range [][]string{{"serve"}, {"completion", "bash"}} {
		out, err := run(t, append(cmd, "--help")...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "--json") {
			t.Errorf("%v --help offers --json:\n%s", cmd, out)
		}
		if _, err := run(t, append(cmd, "--json")...); err == nil || !strings.Contains(err.Error(), "unknown flag --json") {
			t.Errorf("%v --json: err %v, want unknown flag", cmd, err)
		}
	}
	for _, cmd := range [][]string{{"account", "list"}, {"ccs", "get"}, {"store", "status"}, {"keys", "list"}, {"version"}, {"config", "logs"}} {
		if out := mustRun(t, append(cmd, "--help")...); !strings.Contains(out, "--json") {
			t.Errorf("%v --help lost --json:\n%s", cmd, out)
		}
	}
}

func TestNextActionsV1Session(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	userEnv(t, env, acct, true)
	file := filepath.Join(t.TempDir(), "vip.json")
	policy := `{"name":"vip","conditions":[{"property":"shop.tier","type":"EQUAL","value":"gold"}],
		"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"42"}}]}`
	if err := os.WriteFile(file, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "config", "create", "--file", file)
	mustRun(t, "ccs", "set", "shop", "--session", "s9", "tier=gold")

	if out := mustRun(t, "next-actions", "--v1", "--conversation", "c1"); !strings.Contains(out, "No match") {
		t.Errorf("v1 without the session printed %q, want no match", out)
	}
	if out := mustRun(t, "next-actions", "--v1", "--conversation", "c1", "--session", "s9"); !strings.Contains(out, "TRANSFER_TO_SKILL") {
		t.Errorf("v1 --session s9 printed %q, want the policy's action", out)
	}
	if out := mustRun(t, "next-actions", "--conversation", "c1", "--session", "s9"); !strings.Contains(out, "TRANSFER_TO_SKILL") {
		t.Errorf("v2 --session s9 printed %q", out)
	}
	if _, err := run(t, "next-actions", "--v1", "--conversation", "c1", "--session", "s9", "--group", "g2"); err == nil {
		t.Error("v1 with a session and a different group: want an error")
	}
}

// TestAccountCreateImport: account create brings an existing tenant, its
// secrets read from files (or stdin), and the user-side commands work
// with them at once; the flags that cannot go together are refused
// before any request.
func TestAccountCreateImport(t *testing.T) {
	env := servertest.Start(t)
	operatorEnv(t, env)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const (
		key  = "tenant-maven-key-0123456789abcdef"
		user = "5d8a3c1e-2b7f-4e90-a1c4-7f3e9b2d6a10"
		pw   = "tenant-password-0123456789-abcdefgh"
	)
	keyFile, pwFile := write("key", key+"\n"), write("pw", pw+"\r\n")

	out := mustRun(t, "account", "create", "--json", "--name", "Moved", "--id", "le67005361",
		"--api-key-file", keyFile, "--user-id", user, "--password-file", pwFile)
	var a struct {
		AccountID, APIKey string
		Credentials       struct{ UserID, Password string }
	}
	if err := json.Unmarshal([]byte(out), &a); err != nil || a.AccountID != "67005361" || a.APIKey != key ||
		a.Credentials.UserID != user || a.Credentials.Password != pw {
		t.Fatalf("create printed %q (%v)", out, err)
	}
	if tok := mustRun(t, "login", "--url", env.URL, "--user", user, "--password-file", pwFile); strings.Count(tok, ".") != 2 {
		t.Errorf("login with the imported credentials printed %q", tok)
	}
	if _, err := run(t, "ccs", "namespaces", "--url", env.URL, "--account", a.AccountID, "--api-key", key); err != nil {
		t.Errorf("ccs namespaces with the imported key: %v", err)
	}

	// The key on argv and from stdin; a v1 account imports a key alone.
	terminal(t, "stdin-tenant-key-0123456789\n")
	out = mustRun(t, "account", "create", "--json", "--name", "Stdin", "--v1-only", "--api-key-file", "-")
	if !strings.Contains(out, `"apiKey":"stdin-tenant-key-0123456789"`) || strings.Contains(out, "credentials") {
		t.Errorf("create --v1-only --api-key-file - printed %q", out)
	}
	out = mustRun(t, "account", "create", "--name", "Argv", "--api-key", "argv-tenant-key-0123456789")
	if !strings.Contains(out, "argv-tenant-key-0123456789") {
		t.Errorf("create --api-key printed %q", out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--api-key", key, "--api-key-file", keyFile}, "not both"},
		{[]string{"--user-id", user}, "--password-file"},
		{[]string{"--password-file", pwFile}, "--user-id"},
		{[]string{"--v1-only", "--user-id", user, "--password-file", pwFile}, "--v1-only"},
		{[]string{"--api-key-file", "-", "--user-id", user, "--password-file", "-"}, "stdin"},
		{[]string{"--api-key-file", filepath.Join(dir, "missing")}, "--api-key-file"},
		{[]string{"--api-key-file", write("empty", "\n")}, "empty"},
		// The server's answers: the field, and no account.
		{[]string{"--api-key", "short"}, "apiKey"},
		{[]string{"--api-key", key}, "already in use"},
		{[]string{"--user-id", "bob", "--password-file", pwFile}, "credentials.userId"},
		{[]string{"--user-id", user, "--password-file", pwFile}, "already in use"},
	} {
		args := append([]string{"account", "create", "--name", "Bad"}, tc.args...)
		if _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}
