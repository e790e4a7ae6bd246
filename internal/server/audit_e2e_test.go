package server_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// auditClock is an injectable clock for the server.
type auditClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *auditClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *auditClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type auditEntry struct {
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Address string    `json:"address"`
}

func accountAudit(t *testing.T, e *servertest.Env, account string) []auditEntry {
	t.Helper()
	var out []auditEntry
	if st := e.Admin(t, "GET", "/admin/v1/accounts/"+account+"/audit?limit=1000", nil, &out); st != 200 {
		t.Fatalf("audit: status %d", st)
	}
	return out
}

// TestLoginFailuresAggregated: five wrong passwords of one user ID within
// a minute are one audit entry with the count, written once the minute is
// over (off the request path), on the user's account, actor the user ID.
func TestLoginFailuresAggregated(t *testing.T) {
	clk := &auditClock{t: time.Now().UTC().Truncate(time.Minute).Add(10 * time.Second)}
	e := servertest.StartClock(t, clk.Now, func(c *config.Serve) { c.UsageFlushEvery = 20 * time.Millisecond })
	a := e.CreateAccount(t, true)
	for range 5 {
		req, _ := http.NewRequest("GET", e.URL+"/v2/authenticate/login", nil)
		req.SetBasicAuth(a.UserID, "wrong-password-0123456789abcdefghij")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password: status %d", resp.StatusCode)
		}
		clk.Advance(5 * time.Second)
	}
	failures := func() []auditEntry {
		var out []auditEntry
		for _, en := range accountAudit(t, e, a.AccountID) {
			if strings.HasPrefix(en.Action, "login.failed") {
				out = append(out, en)
			}
		}
		return out
	}
	time.Sleep(100 * time.Millisecond) // several flushes: the minute is not over
	if got := failures(); len(got) != 0 {
		t.Fatalf("entries before the minute is over: %+v", got)
	}
	clk.Advance(time.Minute)
	var got []auditEntry
	for deadline := time.Now().Add(5 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		got = failures()
	}
	if len(got) != 1 {
		t.Fatalf("login failure entries = %+v, want one", got)
	}
	want := auditEntry{Time: clk.Now().Add(-time.Minute - 25*time.Second).Truncate(time.Minute), Actor: a.UserID, Action: "login.failed count=5", Address: "127.0.0.1"}
	if g := got[0]; g.Actor != want.Actor || g.Action != want.Action || g.Address != want.Address || !g.Time.Equal(want.Time) {
		t.Errorf("entry = %+v, want %+v", g, want)
	}
	time.Sleep(100 * time.Millisecond)
	if got := failures(); len(got) != 1 {
		t.Errorf("entries after more flushes = %+v, want still one", got)
	}
}

// TestAuditOperatorActions: every operator change of an account is in
// its audit log, actor operator, with the client address; nothing was
// lost (the failure counter is exported at 0).
func TestAuditOperatorActions(t *testing.T) {
	e := servertest.Start(t)
	a := e.CreateAccount(t, true)
	for _, p := range []string{"/upgrade", "/api-key/regenerate", "/credentials/regenerate"} {
		e.Admin(t, "POST", "/admin/v1/accounts/"+a.AccountID+p, map[string]string{"grace": "1m"}, nil)
	}
	e.Admin(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/console-users", map[string]string{"email": "ops@example.com"}, nil)
	var actions []string
	for _, en := range accountAudit(t, e, a.AccountID) {
		if en.Actor != "operator" || en.Address != "127.0.0.1" || en.Time.IsZero() {
			t.Errorf("entry %+v: want actor operator from 127.0.0.1", en)
		}
		actions = append(actions, en.Action)
	}
	want := []string{"console_user.create email=ops@example.com", "credentials.regenerate grace=1m0s", "api_key.regenerate grace=1m0s", "account.create v2"}
	if strings.Join(actions, "|") != strings.Join(want, "|") {
		t.Errorf("actions = %q, want %q (the upgrade of a v2 account is refused, not audited)", actions, want)
	}
	if v := e.Metric(t, "orchestrator_audit_write_failures_total"); v != 0 {
		t.Errorf("orchestrator_audit_write_failures_total = %v, want 0", v)
	}
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestConsoleActionsInAccountAudit: through the real server, the
// console's key view and regeneration appear in the operator's
// `GET /admin/v1/accounts/{id}/audit`, actor the console user's email.
func TestConsoleActionsInAccountAudit(t *testing.T) {
	e := servertest.Start(t)
	var a struct {
		AccountID   string `json:"accountId"`
		ConsoleUser struct{ Email, Password string }
	}
	if st := e.Admin(t, "POST", "/admin/v1/accounts", map[string]string{"name": "Console", "authVersion": "v1", "consoleEmail": "ops@example.com"}, &a); st != 201 {
		t.Fatalf("create: %d", st)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	csrf := func(path string) string {
		t.Helper()
		resp, err := c.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := consoleCSRF.FindSubmatch(b)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("GET %s: %d, no CSRF token", path, resp.StatusCode)
		}
		return string(m[1])
	}
	post := func(path string, form url.Values) {
		t.Helper()
		resp, err := c.PostForm(e.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	post("/console/sign-in", url.Values{"csrf": {csrf("/console/")}, "account": {a.AccountID}, "email": {a.ConsoleUser.Email}, "password": {a.ConsoleUser.Password}})
	post("/console/api-authorization/regenerate-key", url.Values{"csrf": {csrf("/console/api-authorization")}})

	var got []string
	for _, en := range accountAudit(t, e, a.AccountID) {
		if en.Actor == "ops@example.com" {
			if en.Address != "127.0.0.1" || en.Time.IsZero() {
				t.Errorf("console entry %+v: want address 127.0.0.1 and a time", en)
			}
			got = append(got, en.Action)
		}
	}
	// Newest first: the page the regeneration redirects to, the
	// regeneration, the page that gave its CSRF token, the page the
	// sign-in redirects to, the sign-in.
	want := []string{"api_key.view", "api_key.regenerate", "api_key.view", "api_key.view", "console.sign_in"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("console entries = %q, want %q", got, want)
	}
}
