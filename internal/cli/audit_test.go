package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// fastFlush writes last uses and login failures every 50 ms instead of
// every minute, so that tests see them without waiting.
func fastFlush(c *config.Serve) { c.UsageFlushEvery = 50 * time.Millisecond }

type auditRow struct {
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Address string    `json:"address"`
}

// TestAccountAuditAfterRegenerateKey is issue 16's acceptance: after
// `account regenerate-key` from the CLI, `account audit` shows it with
// actor operator, the address and the time.
func TestAccountAuditAfterRegenerateKey(t *testing.T) {
	env := servertest.Start(t)
	operatorEnv(t, env)
	acct := env.CreateAccount(t, true)

	before := time.Now().Add(-time.Second)
	mustRun(t, "account", "regenerate-key", acct.AccountID, "--grace", "10m")
	after := time.Now().Add(time.Second)

	var rows []auditRow
	if err := json.Unmarshal([]byte(mustRun(t, "account", "audit", "--json", acct.AccountID)), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 {
		t.Fatalf("audit = %+v, want the creation and the regeneration", rows)
	}
	got := rows[0] // newest first
	if got.Actor != "operator" || got.Address != "127.0.0.1" || got.Action != "api_key.regenerate grace=10m0s" ||
		got.Time.Before(before) || got.Time.After(after) {
		t.Errorf("newest entry = %+v, want api_key.regenerate grace=10m0s by operator from 127.0.0.1 now", got)
	}
	if rows[len(rows)-1].Action != "account.create v2" {
		t.Errorf("oldest entry = %+v, want account.create v2", rows[len(rows)-1])
	}

	// The table: a header, then the same entry first.
	lines := strings.Split(strings.TrimSpace(mustRun(t, "account", "audit", acct.AccountID, "--limit", "1")), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("audit --limit 1 printed %q, want a header and one entry", lines)
	}
	for _, want := range []string{got.Time.UTC().Format(time.RFC3339), "operator", "127.0.0.1", "api_key.regenerate grace=10m0s"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("audit line %q lacks %q", lines[1], want)
		}
	}
	if _, err := run(t, "account", "audit", "99999999"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("audit of an unknown account: err %v, want 404", err)
	}
	if _, err := run(t, "account", "audit", acct.AccountID, "--limit", "1001"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("audit --limit 1001: err %v, want 400", err)
	}

	// keys rotate is the zone's: `orchestrator audit`.
	mustRun(t, "keys", "rotate", "--delay", "1m")
	zone := mustRun(t, "audit")
	if !strings.Contains(zone, "signing_key.rotate kid=") || !strings.Contains(zone, "operator") {
		t.Errorf("zone audit printed %q, want the rotation by operator", zone)
	}
}

// TestAccountShowLastUsed: `account show` prints when the key (and the
// key still in its grace) was last used, once the use is written.
func TestAccountShowLastUsed(t *testing.T) {
	env := servertest.Start(t, fastFlush)
	operatorEnv(t, env)
	acct := env.CreateAccount(t, true)

	out := mustRun(t, "account", "show", acct.AccountID)
	if !strings.HasPrefix(field(out, "v1 API key last used:"), "never") {
		t.Fatalf("show before any use printed\n%s\nwant the key never used", out)
	}
	useKey := func(key string) {
		t.Helper()
		req, _ := http.NewRequest("GET", env.URL+"/v1/account/"+acct.AccountID+"/ccs/ns/sessions", nil)
		req.Header.Set("maven-api-key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 400 && resp.StatusCode != http.StatusNotFound {
			t.Fatalf("v1 request with the key: %d", resp.StatusCode)
		}
	}
	used := time.Now().UTC().Truncate(time.Second)
	useKey(acct.APIKey)
	env.Login(t, acct)

	var v struct {
		APIKeyLastUsedAt      *time.Time `json:"apiKeyLastUsedAt"`
		CredentialsLastUsedAt *time.Time `json:"credentialsLastUsedAt"`
		GraceAPIKeys          []struct {
			LastUsedAt *time.Time `json:"lastUsedAt"`
		} `json:"graceApiKeys"`
	}
	waitFor(t, func() bool {
		v.APIKeyLastUsedAt, v.CredentialsLastUsedAt = nil, nil
		json.Unmarshal([]byte(mustRun(t, "account", "show", "--json", acct.AccountID)), &v)
		return v.APIKeyLastUsedAt != nil && v.CredentialsLastUsedAt != nil
	})
	if v.APIKeyLastUsedAt.Before(used) || v.APIKeyLastUsedAt.After(time.Now()) {
		t.Errorf("apiKeyLastUsedAt = %v, want about %v", v.APIKeyLastUsedAt, used)
	}
	out = mustRun(t, "account", "show", acct.AccountID)
	if field(out, "v1 API key last used:") != v.APIKeyLastUsedAt.UTC().Format(time.RFC3339) ||
		field(out, "v2 credentials last used:") != v.CredentialsLastUsedAt.UTC().Format(time.RFC3339) {
		t.Errorf("show printed\n%s\nwant the key's last use %v", out, v.APIKeyLastUsedAt)
	}

	// The old key in its grace records its uses too.
	mustRun(t, "account", "regenerate-key", acct.AccountID, "--grace", "10m")
	useKey(acct.APIKey)
	waitFor(t, func() bool {
		v.GraceAPIKeys = nil
		json.Unmarshal([]byte(mustRun(t, "account", "show", "--json", acct.AccountID)), &v)
		return len(v.GraceAPIKeys) == 1 && v.GraceAPIKeys[0].LastUsedAt != nil
	})
	out = mustRun(t, "account", "show", acct.AccountID)
	if !strings.Contains(out, "Old v1 API key (in grace until ") {
		t.Errorf("show printed\n%s\nwant the key in its grace", out)
	}
}

// field returns the value of the table line of out that starts with
// label ("" when none).
func field(out, label string) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, label); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
