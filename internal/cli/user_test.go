package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

const loginsOK = `orchestrator_logins_total{result="success"}`

// userEnv points the user commands at env through the environment, as
// the acceptance check does, with a fresh token cache directory.
func userEnv(t *testing.T, env *servertest.Env, acct servertest.Account, v2 bool) {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("ORCH_URL", env.URL)
	t.Setenv("ORCH_ACCOUNT", acct.AccountID)
	t.Setenv("ORCH_API_KEY", acct.APIKey)
	if v2 {
		t.Setenv("ORCH_USER_ID", acct.UserID)
		t.Setenv("ORCH_PASSWORD", acct.Password)
	} else {
		t.Setenv("ORCH_USER_ID", "")
		t.Setenv("ORCH_PASSWORD", "")
	}
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, &out, &errb)
	return out.String(), err
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("orchestrator %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func cachePath(t *testing.T, userID string) string {
	return filepath.Join(os.Getenv("XDG_CACHE_HOME"), "orchestrator", "tokens", userID+".jwt")
}

func TestUserCCSReusesCachedTokenAcrossInvocations(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	userEnv(t, env, acct, true)

	out := mustRun(t, "ccs", "set", "shop", "--session", "s1", "cart=3", "tier=gold", "note=hello world", `tags=["a"]`)
	if want := "Set cart, tier, note, tags in shop (session s1).\n"; out != want {
		t.Errorf("set printed %q, want %q", out, want)
	}
	if got := env.Metric(t, loginsOK); got != 1 {
		t.Fatalf("logins after the first invocation = %v, want 1", got)
	}
	if out := mustRun(t, "ccs", "get", "shop", "--session", "s1", "tier"); out != "\"gold\"\n" {
		t.Errorf("get tier printed %q", out)
	}
	out = mustRun(t, "ccs", "get", "shop", "--session", "s1")
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("get printed %q: %v", out, err)
	}
	want := map[string]any{"cart": 3.0, "tier": "gold", "note": "hello world", "tags": []any{"a"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}
	if got := env.Metric(t, loginsOK); got != 1 {
		t.Errorf("logins after three invocations = %v, want 1 (the cached token reused)", got)
	}

	fi, err := os.Stat(cachePath(t, acct.UserID))
	if err != nil {
		t.Fatal(err)
	}
	di, err := os.Stat(filepath.Dir(cachePath(t, acct.UserID)))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("cache modes: file %v, dir %v; want 0600, 0700", fi.Mode().Perm(), di.Mode().Perm())
	}

	// --json prints the API answer as it is.
	out = mustRun(t, "ccs", "get", "--json", "shop", "--session", "s1")
	var doc struct {
		DocumentKey, SessionID string
		Payload                map[string]any
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.DocumentKey != acct.AccountID+":shop:s1" || doc.Payload["tier"] != "gold" {
		t.Errorf("--json get printed %q (%v), want the document", out, err)
	}
	out = mustRun(t, "ccs", "delete", "shop", "--session", "s1", "cart", "--json")
	if !strings.Contains(out, `"success":true`) {
		t.Errorf("--json delete printed %q, want the API answer", out)
	}
	if _, err := run(t, "ccs", "get", "shop", "--session", "s1", "cart"); err == nil {
		t.Errorf("get of a deleted property succeeded")
	}
}

func TestUserCachedTokenRefusedLogsInOnce(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	stale := env.Login(t, acct)
	var cred struct{ UserID, Password string }
	if st := env.Admin(t, "POST", "/admin/v1/accounts/"+acct.AccountID+"/credentials/regenerate", map[string]string{}, &cred); st != 200 {
		t.Fatalf("regenerate: %d", st)
	}
	acct.Password = cred.Password
	userEnv(t, env, acct, true)
	p := cachePath(t, acct.UserID)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(stale+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := env.Metric(t, loginsOK)
	mustRun(t, "ccs", "set", "shop", "a=1")
	if got := env.Metric(t, loginsOK) - before; got != 1 {
		t.Errorf("logins = %v, want 1", got)
	}
	b, _ := os.ReadFile(p)
	if strings.TrimSpace(string(b)) == stale {
		t.Errorf("the refused token is still cached")
	}
}

func TestUserCorruptCacheOneLogin(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	userEnv(t, env, acct, true)
	p := cachePath(t, acct.UserID)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("\x00garbage.not.jwt{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "ccs", "set", "shop", "a=1"); out != "Set a in shop.\n" {
		t.Errorf("set printed %q", out)
	}
	if out := mustRun(t, "ccs", "get", "shop", "a"); out != "1\n" {
		t.Errorf("get printed %q", out)
	}
	if got := env.Metric(t, loginsOK); got != 1 {
		t.Errorf("logins = %v, want 1", got)
	}
}

func TestUserBadPassword(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	acct.Password += "x"
	userEnv(t, env, acct, true)
	for i := 1; i <= 2; i++ {
		_, err := run(t, "ccs", "get", "shop")
		if err == nil || !strings.Contains(err.Error(), "invalid user ID or password") {
			t.Errorf("err = %v, want the login failure", err)
		}
		if got := env.Metric(t, `orchestrator_logins_total{result="failure"}`); got != float64(i) {
			t.Errorf("failed logins after %d invocations = %v", i, got)
		}
	}
}

func TestUserV1WithAPIKey(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, false)
	userEnv(t, env, acct, false)
	mustRun(t, "ccs", "set", "shop", "--ttl", "600", "cart=3")
	mustRun(t, "ccs", "set", "shop", "--session", "s1", "--ttl", "60", "step=pay")
	if out := mustRun(t, "ccs", "get", "shop", "cart"); out != "3\n" {
		t.Errorf("get printed %q", out)
	}
	if out := mustRun(t, "ccs", "get", "--json", "shop", "--session", "s1"); out != `{"step":"pay"}`+"\n" {
		t.Errorf("--json get printed %q", out)
	}
	out := mustRun(t, "ccs", "namespaces")
	if !strings.HasPrefix(out, "NAMESPACE") || !strings.Contains(out, "shop") || !strings.Contains(out, "600s") {
		t.Errorf("namespaces printed %q", out)
	}
	out = mustRun(t, "ccs", "sessions", "shop")
	if !strings.Contains(out, "s1") || !strings.Contains(out, "60s") || !strings.Contains(out, "EXPIRES") {
		t.Errorf("sessions printed %q", out)
	}
	mustRun(t, "ccs", "delete", "shop", "cart")
	if _, err := run(t, "ccs", "get", "shop", "cart"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("deleted property: err = %v, want 404", err)
	}
	if got := env.Metric(t, loginsOK); got != 0 {
		t.Errorf("logins = %v, want 0", got)
	}
}

func TestUserLogin(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	userEnv(t, env, acct, false)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(acct.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "login", "--url", env.URL, "--user", acct.UserID, "--password-file", pw)
	tok := strings.TrimSpace(out)
	if strings.Count(tok, ".") != 2 || out != tok+"\n" {
		t.Errorf("login printed %q, want one JWT line", out)
	}
	b, err := os.ReadFile(cachePath(t, acct.UserID))
	if err != nil || strings.TrimSpace(string(b)) != tok {
		t.Errorf("cached token differs from the printed one (%v)", err)
	}
	out = mustRun(t, "login", "--json", "--user", acct.UserID, "--password-file", pw)
	var lr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(out), &lr); err != nil || lr.TokenType != "Bearer" || lr.AccessToken == "" {
		t.Errorf("login --json printed %q (%v)", out, err)
	}
}

func TestUserNextActionsAndConfig(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	userEnv(t, env, acct, true)
	file := filepath.Join(t.TempDir(), "vip.json")
	policy := `{"name":"vip","conditions":[{"property":"shop.tier","type":"EQUAL","value":"gold"}],
		"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"42"}}]}`
	if err := os.WriteFile(file, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "config", "create", "--json", "--file", file)
	var p struct{ ID, Name string }
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.ID == "" {
		t.Fatalf("config create --json printed %q (%v)", out, err)
	}
	if out := mustRun(t, "config", "list"); !strings.Contains(out, p.ID) || !strings.Contains(out, "vip") {
		t.Errorf("config list printed %q", out)
	}
	if out := mustRun(t, "next-actions", "--conversation", "c1"); out != "No action.\n" {
		t.Errorf("next-actions without context printed %q", out)
	}
	mustRun(t, "ccs", "set", "shop", "--session", "c1", "tier=gold")
	if out := mustRun(t, "next-actions", "--conversation", "c1"); out != `TRANSFER_TO_SKILL {"skillId":"42"}`+"\n" {
		t.Errorf("next-actions printed %q", out)
	}
	if out := mustRun(t, "next-actions", "--v1", "--conversation", "c1"); !strings.Contains(out, "Policy "+p.ID) || !strings.Contains(out, "TRANSFER_TO_SKILL") {
		t.Errorf("next-actions --v1 printed %q", out)
	}
	mustRun(t, "config", "delete", p.ID)
	if _, err := run(t, "config", "get", p.ID); err == nil {
		t.Errorf("get of a deleted policy succeeded")
	}

	// Attributes and request variables.
	if out := mustRun(t, "config", "attributes", "get"); out != "{}\n" {
		t.Errorf("attributes get without attributes printed %q", out)
	}
	attrs := filepath.Join(t.TempDir(), "attributes.json")
	if err := os.WriteFile(attrs, []byte(`{"vipSkill":42}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "config", "attributes", "set", "--file", attrs); out != "Saved 1 attributes.\n" {
		t.Errorf("attributes set printed %q", out)
	}
	if out := mustRun(t, "config", "attributes", "get", "--json"); out != `{"vipSkill":42}`+"\n" {
		t.Errorf("attributes get --json printed %q", out)
	}
	idle := `{"name":"idle","conditions":[{"property":"conversation.minutesSincePreviousMessage","type":"GREATER_THAN","value":10}],
		"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"{{custom.vipSkill}}"}}]}`
	if err := os.WriteFile(file, []byte(idle), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "config", "create", "--file", file)
	if out := mustRun(t, "next-actions", "--conversation", "c1", "--conversation-vars", `{"minutesSincePreviousMessage":12}`); out != `TRANSFER_TO_SKILL {"skillId":42}`+"\n" {
		t.Errorf("next-actions --conversation-vars printed %q", out)
	}
	if got := env.Metric(t, loginsOK); got != 1 {
		t.Errorf("logins over many invocations = %v, want 1", got)
	}
}

func TestUserErrors(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	for _, k := range []string{"ORCH_URL", "ORCH_ACCOUNT", "ORCH_USER_ID", "ORCH_PASSWORD", "ORCH_API_KEY"} {
		t.Setenv(k, "")
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ccs", "get", "shop"}, "no credentials"},
		{[]string{"ccs", "namespaces", "--user", "u"}, "API key"},
		{[]string{"ccs", "set", "shop", "--api-key", "k", "=1"}, `want KEY=JSON`},
		{[]string{"ccs", "get", "shop", "--api-key", "k"}, "--account"},
		{[]string{"config", "list", "--api-key", "k"}, "policies are v2"},
		{[]string{"login"}, "--user"},
		{[]string{"ccs", "get", "shop", "--user", "u", "--zone", "z9"}, "unknown zone"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := run(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestParsePairs(t *testing.T) {
	got, names, err := parsePairs([]string{"n=3", "s=gold", `q="x"`, "o={\"a\":1}", "e=", "eq=a=b", "b=true"})
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := json.Marshal(got)
	want := `{"b":true,"e":"","eq":"a=b","n":3,"o":{"a":1},"q":"x","s":"gold"}`
	if string(enc) != want {
		t.Errorf("pairs = %s, want %s", enc, want)
	}
	if diff := cmp.Diff([]string{"n", "s", "q", "o", "e", "eq", "b"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"novalue", "=1"} {
		if _, _, err := parsePairs([]string{bad}); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestUserHelpHasExamples(t *testing.T) {
	for _, cmd := range [][]string{
		{"login"}, {"ccs"}, {"ccs", "set"}, {"ccs", "get"}, {"ccs", "delete"}, {"ccs", "namespaces"}, {"ccs", "sessions"},
		{"next-actions"}, {"config"}, {"config", "create"}, {"config", "list"}, {"config", "get"}, {"config", "update"},
		{"config", "delete"}, {"config", "logs"}, {"config", "attributes"}, {"config", "attributes", "get"},
		{"config", "attributes", "set"},
	} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			out, err := run(t, append(cmd, "--help")...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "Example") || !strings.Contains(out, "orchestrator "+strings.Join(cmd, " ")) {
				t.Errorf("help has no example of the command:\n%s", out)
			}
		})
	}
}

// ccs sessions shows when each session's data expires (from its v2
// document), not only the TTL later v1 writes get.
func TestUserCCSSessionsShowExpiry(t *testing.T) {
	// No retention cap: under one, "forever" expires too.
	env := servertest.Start(t, func(c *config.Serve) { c.MaxRetention = "0" })
	acct := env.CreateAccount(t, true)
	userEnv(t, env, acct, true)
	mustRun(t, "ccs", "set", "shop", "--session", "s1", "--ttl", "3600", "step=pay")
	mustRun(t, "ccs", "set", "shop", "--session", "s2", "--ttl", "0", "step=forever")
	out := mustRun(t, "ccs", "sessions", "shop")
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	year := time.Now().Add(time.Hour).UTC().Format("2006")
	if !strings.HasPrefix(lines["SESSION"], "SESSION") || !strings.Contains(lines["SESSION"], "EXPIRES") {
		t.Fatalf("no EXPIRES column:\n%s", out)
	}
	if l := lines["s1"]; !strings.Contains(l, year+"-") || !strings.HasSuffix(strings.TrimSpace(l), "Z") {
		t.Errorf("s1 (1 h TTL) shows no expiry time: %q", l)
	}
	if l := lines["s2"]; !strings.HasSuffix(strings.TrimSpace(l), "never") {
		t.Errorf("s2 (no TTL) does not say never: %q", l)
	}
}
