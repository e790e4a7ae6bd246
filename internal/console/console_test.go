package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/audit"
	"github.com/orchestrator/orchestrator/internal/console"
	"github.com/orchestrator/orchestrator/internal/ratelimit"
	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
	"github.com/orchestrator/orchestrator/internal/tokens"
)

// clock is an injectable clock; tests move it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// stack is the console over real services and a real SQLite store.
type stack struct {
	srv      *httptest.Server
	store    *sqlite.Store
	accounts *accounts.Service
	tokens   *tokens.Service
	clock    *clock
}

type user struct {
	accountID, email, password string
	apiKey                     string
	creds                      *accounts.Credentials
}

func newStack(t *testing.T, adjust ...func(*console.Config)) *stack {
	t.Helper()
	return newStackAudit(t, nil, adjust...)
}

// newStackAudit is newStack with the audit store wrapped by wrap.
func newStackAudit(t *testing.T, wrap func(storage.Audit) storage.Audit, adjust ...func(*console.Config)) *stack {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keys, err := secret.Load(secret.Random(32))
	if err != nil {
		t.Fatal(err)
	}
	acc := accounts.New(store, keys, "z1", clk.Now)
	// A short API token TTL shows that the testing token keeps its 24 h.
	tok, err := tokens.New(ctx, store, keys, acc, tokens.Config{Issuer: "http://orch.test", Zone: "z1", TTL: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := console.Config{Accounts: acc, Tokens: tok, Now: clk.Now, PublicURL: "http://orch.test",
		Log: slog.New(slog.DiscardHandler)}
	auditStore := storage.Audit(store)
	if wrap != nil {
		auditStore = wrap(auditStore)
	}
	cfg.Audit = audit.New(auditStore, audit.Config{Now: clk.Now, Log: cfg.Log})
	for _, a := range adjust {
		a(&cfg)
	}
	srv := httptest.NewServer(console.New(cfg))
	t.Cleanup(srv.Close)
	return &stack{srv: srv, store: store, accounts: acc, tokens: tok, clock: clk}
}

func (s *stack) account(t *testing.T, version string) user {
	t.Helper()
	a, err := s.accounts.Create(context.Background(), accounts.CreateRequest{Name: "Acme " + version, AuthVersion: version, ConsoleEmail: "Admin@Example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return user{accountID: a.AccountID, email: a.ConsoleUser.Email, password: a.ConsoleUser.Password, apiKey: a.APIKey, creds: a.Credentials}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each answer can be checked.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func (s *stack) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: s.srv.URL, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, header ...string) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.base + "/console/")
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", body)
	}
	return m[1]
}

// signIn opens the sign-in form and posts it; it returns the answer.
func (b *browser) signIn(account, email, password string) page {
	b.t.Helper()
	p := b.get("/console/")
	if p.status != http.StatusOK {
		b.t.Fatalf("GET /console/: %d", p.status)
	}
	return b.post("/console/sign-in", url.Values{"csrf": {csrfOf(b.t, p.body)}, "account": {account}, "email": {email}, "password": {password}})
}

func (b *browser) mustSignIn(u user) page {
	b.t.Helper()
	p := b.signIn(u.accountID, u.email, u.password)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/api-authorization" {
		b.t.Fatalf("sign-in: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	pg := b.get("/console/api-authorization")
	if pg.status != http.StatusOK {
		b.t.Fatalf("page: %d\n%s", pg.status, pg.body)
	}
	return pg
}

func setCookie(t *testing.T, h http.Header, name string) *http.Cookie {
	t.Helper()
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == name {
			return c
		}
	}
	t.Fatalf("no Set-Cookie %s in %q", name, h.Values("Set-Cookie"))
	return nil
}

const wantCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func TestSecurityHeaders(t *testing.T) {
	s := newStack(t)
	u := s.account(t, "v2")
	b := s.browser(t)
	pg := b.mustSignIn(u)
	for _, path := range []string{"/console/", "/console/api-authorization", "/console/static/console.css", "/console/static/console.js", "/console/nope"} {
		p := b.get(path)
		if path == "/console/" {
			p = s.browser(t).get(path) // signed out: the sign-in form
		}
		for k, want := range map[string]string{
			"Content-Security-Policy": wantCSP,
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
			"X-Content-Type-Options":  "nosniff",
		} {
			if got := p.header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
		if strings.HasPrefix(path, "/console/static/") {
			if p.status != 200 || p.header.Get("Cache-Control") != "no-cache" {
				t.Errorf("%s: status %d, Cache-Control %q", path, p.status, p.header.Get("Cache-Control"))
			}
		} else if got := p.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control = %q, want no-store", path, got)
		}
	}
	if ct := b.get("/console/static/console.js").header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("console.js Content-Type = %q", ct)
	}
	if p := b.get("/console/static/"); p.status != http.StatusNotFound {
		t.Errorf("static directory listing: %d", p.status)
	}
	// No inline script or style anywhere: the CSP would block it.
	for _, bad := range []string{"<script>", "style=", "onclick", "javascript:"} {
		if strings.Contains(pg.body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

func TestSignInCookies(t *testing.T) {
	for _, secure := range []bool{false, true} {
		s := newStack(t, func(c *console.Config) { c.Secure = secure })
		u := s.account(t, "v2")
		b := s.browser(t)
		form := b.get("/console/")
		pre := setCookie(t, form.header, "orch_console_pre")
		p := b.post("/console/sign-in", url.Values{"csrf": {csrfOf(t, form.body)}, "account": {u.accountID}, "email": {u.email}, "password": {u.password}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("sign-in: %d\n%s", p.status, p.body)
		}
		sess := setCookie(t, p.header, "orch_console")
		for _, c := range []*http.Cookie{pre, sess} {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console" || c.Secure != secure {
				t.Errorf("secure=%v: cookie %s: HttpOnly=%v SameSite=%v Path=%q Secure=%v", secure, c.Name, c.HttpOnly, c.SameSite, c.Path, c.Secure)
			}
		}
		if len(sess.Value) < 40 {
			t.Errorf("session id too short: %d characters", len(sess.Value))
		}
		if c := setCookie(t, p.header, "orch_console_pre"); c.MaxAge >= 0 {
			t.Errorf("pre-session cookie not cleared at sign-in: MaxAge %d", c.MaxAge)
		}
	}
}

func TestSignInAcceptsLePrefixAndCase(t *testing.T) {
	s := newStack(t)
	u := s.account(t, "v2")
	b := s.browser(t)
	if p := b.signIn("le"+u.accountID, "ADMIN@example.com", u.password); p.status != http.StatusSeeOther {
		t.Fatalf("sign-in with le prefix: %d\n%s", p.status, p.body)
	}
	if p := b.get("/console/"); p.status != http.StatusSeeOther {
		t.Errorf("signed-in /console/: %d, want a redirect to the page", p.status)
	}
}

func TestSignInFailures(t *testing.T) {
	s := newStack(t)
	u := s.account(t, "v2")
	b := s.browser(t)
	for _, tc := range []struct{ name, account, email, password string }{
		{"wrong password", u.accountID, u.email, "wrong-password-123"},
		{"unknown email", u.accountID, "nobody@example.com", u.password},
		{"wrong account", "99999999", u.email, u.password},
		{"malformed account", "abc", u.email, u.password},
		{"empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.signIn(tc.account, tc.email, tc.password)
			if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "The account ID, email or password is not correct.") {
				t.Errorf("status %d\n%s", p.status, p.body)
			}
			if strings.Contains(strings.Join(p.header.Values("Set-Cookie"), ";"), "orch_console=") {
				t.Error("a session cookie was set")
			}
		})
	}
}

func TestSignInRateLimited(t *testing.T) {
	frozen := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	s := newStack(t, func(c *console.Config) {
		c.AddrLimiter = ratelimit.New(15, time.Minute, 100, func() time.Time { return frozen })
	})
	u := s.account(t, "v2")
	b := s.browser(t)
	for i := range 10 {
		if p := b.signIn(u.accountID, u.email, "wrong-password-123"); p.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i+1, p.status)
		}
	}
	// The eleventh try is refused before the password is checked, even
	// with the right password.
	p := b.signIn(u.accountID, u.email, u.password)
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Fatalf("after 10 failures: status %d, Retry-After %q", p.status, p.header.Get("Retry-After"))
	}
	// Another console user of the same account is not locked out...
	other, err := s.accounts.AddConsoleUser(context.Background(), u.accountID, "second@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	if p := s.browser(t).signIn(u.accountID, other.Email, other.Password); p.status != http.StatusSeeOther {
		t.Fatalf("other user: status %d", p.status)
	}
	// ...but the address limit (15 here) stops a spray over many emails.
	b = s.browser(t)
	for i := range 5 {
		b.signIn(u.accountID, "spray"+string(rune('a'+i))+"@example.com", "x")
	}
	if p := b.signIn(u.accountID, other.Email, other.Password); p.status != http.StatusTooManyRequests {
		t.Fatalf("after 15 failures from one address: status %d", p.status)
	}
}

func TestCSRF(t *testing.T) {
	s := newStack(t)
	u := s.account(t, "v2")

	t.Run("sign-in without token", func(t *testing.T) {
		b := s.browser(t)
		b.get("/console/") // the pre-session cookie, but no token in the post
		p := b.post("/console/sign-in", url.Values{"account": {u.accountID}, "email": {u.email}, "password": {u.password}})
		if p.status != http.StatusForbidden {
			t.Errorf("status %d", p.status)
		}
	})
	t.Run("sign-in with a token of another browser", func(t *testing.T) {
		other := s.browser(t).get("/console/")
		b := s.browser(t)
		b.get("/console/")
		p := b.post("/console/sign-in", url.Values{"csrf": {csrfOf(t, other.body)}, "account": {u.accountID}, "email": {u.email}, "password": {u.password}})
		if p.status != http.StatusForbidden {
			t.Errorf("status %d", p.status)
		}
	})
	t.Run("sign-in without the pre-session cookie", func(t *testing.T) {
		tok := csrfOf(t, s.browser(t).get("/console/").body)
		p := s.browser(t).post("/console/sign-in", url.Values{"csrf": {tok}, "account": {u.accountID}, "email": {u.email}, "password": {u.password}})
		if p.status != http.StatusForbidden {
			t.Errorf("status %d", p.status)
		}
	})

	b := s.browser(t)
	pg := b.mustSignIn(u)
	tok := csrfOf(t, pg.body)
	for _, path := range []string{"/console/api-authorization/regenerate-key", "/console/api-authorization/testing-token", "/console/sign-out"} {
		for name, form := range map[string]url.Values{
			"no token":    {},
			"wrong token": {"csrf": {tok[:len(tok)-2] + "xx"}},
		} {
			if p := b.post(path, form); p.status != http.StatusForbidden {
				t.Errorf("%s %s: status %d", path, name, p.status)
			}
		}
		// A cross-site post is refused even with the right token.
		if p := b.post(path, url.Values{"csrf": {tok}}, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
			t.Errorf("%s cross-site: status %d", path, p.status)
		}
		if p := b.post(path, url.Values{"csrf": {tok}}, "Origin", "https://evil.example"); p.status != http.StatusForbidden {
			t.Errorf("%s foreign origin: status %d", path, p.status)
		}
	}
	key, _, _ := s.accounts.Reveal(context.Background(), u.accountID)
	if key != u.apiKey {
		t.Error("a refused post changed the API key")
	}
	// Still signed in: none of the forged sign-outs worked.
	if p := b.get("/console/api-authorization"); p.status != http.StatusOK {
		t.Errorf("after forged posts: %d", p.status)
	}
}

func TestPageV2(t *testing.T) {
	s := newStack(t, func(c *console.Config) { c.V1Sunset = time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC) })
	u := s.account(t, "v2")
	b := s.browser(t)
	pg := b.mustSignIn(u)
	for _, want := range []string{
		`id="testing-token"`, "Token for testing the v2 APIs", "expires in 24 hours",
		`id="credentials"`, "Credentials for using the v2 APIs in your code", u.creds.UserID, `type="password"`,
		"http://orch.test/v2/authenticate/login",
		`id="api-key"`, "API key for v1 APIs", u.apiKey, "Regenerate Key",
		`id="sunset-note"`, "31 January 2027",
		`<label for="password">Password</label>`, `<label for="user-id">User ID</label>`, `<label for="api-key-value">API key</label>`,
	} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if got := regexp.MustCompile(`id="password"[^>]*type="password"[^>]*value="([^"]*)"`).FindStringSubmatch(pg.body); got == nil || got[1] != u.creds.Password {
		t.Errorf("password field: %q", got)
	}

	// The testing token: token_use test, valid 24 h although API tokens
	// last 1 h here, the same on reload, new on request.
	tok1 := regexp.MustCompile(`(?s)<textarea id="test-token-value"[^>]*>([^<]+)</textarea>`).FindStringSubmatch(pg.body)
	if tok1 == nil {
		t.Fatal("no testing token")
	}
	cl, err := s.tokens.Verify(context.Background(), tok1[1])
	if err != nil {
		t.Fatalf("testing token does not verify: %v", err)
	}
	if cl.TokenUse != tokens.UseTest || cl.Name != u.accountID || cl.Subject != u.creds.UserID || cl.ExpiresAt-cl.IssuedAt != 86400 {
		t.Errorf("claims: use %q name %q sub %q lifetime %d", cl.TokenUse, cl.Name, cl.Subject, cl.ExpiresAt-cl.IssuedAt)
	}
	if want := time.Unix(cl.ExpiresAt, 0).UTC().Format(time.RFC3339); !strings.Contains(pg.body, `datetime="`+want+`"`) {
		t.Errorf("expiry %s not shown", want)
	}
	again := b.get("/console/api-authorization")
	if !strings.Contains(again.body, tok1[1]) {
		t.Error("reload issued a new testing token")
	}
	s.clock.Advance(time.Second)
	p := b.post("/console/api-authorization/testing-token", url.Values{"csrf": {csrfOf(t, pg.body)}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("new token: %d", p.status)
	}
	fresh := b.get("/console/api-authorization")
	if strings.Contains(fresh.body, tok1[1]) || !strings.Contains(fresh.body, "A new testing token was generated") {
		t.Error("Generate new token did not replace the token")
	}
	// A password regeneration revokes the token; the page issues another.
	if _, err := s.accounts.RegeneratePassword(context.Background(), u.accountID, 0); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Second)
	tok2 := regexp.MustCompile(`(?s)<textarea id="test-token-value"[^>]*>([^<]+)</textarea>`).FindStringSubmatch(b.get("/console/api-authorization").body)
	if _, err := s.tokens.Verify(context.Background(), tok2[1]); err != nil {
		t.Errorf("after password regeneration the page shows a dead token: %v", err)
	}
}

// The note under the v1 key says "upgraded" only for an account that was
// upgraded, not for one created v2 (without a sunset date, which has its
// own note).
func TestPageUpgradeNote(t *testing.T) {
	s := newStack(t)
	created := s.account(t, "v2")
	pg := s.browser(t).mustSignIn(created)
	if strings.Contains(pg.body, "upgraded") || strings.Contains(pg.body, `id="upgrade-note"`) || !strings.Contains(pg.body, `id="v1-key-note"`) {
		t.Errorf("an account created v2 is told it was upgraded:\n%s", pg.body)
	}

	old := s.account(t, "v1")
	if _, err := s.accounts.Upgrade(context.Background(), old.accountID); err != nil {
		t.Fatal(err)
	}
	pg = s.browser(t).mustSignIn(old)
	if !strings.Contains(pg.body, `id="upgrade-note"`) || !strings.Contains(pg.body, "As this account was upgraded to v2") || strings.Contains(pg.body, `id="v1-key-note"`) {
		t.Errorf("an upgraded account lacks the upgrade note:\n%s", pg.body)
	}
}

func TestPageV1Only(t *testing.T) {
	s := newStack(t, func(c *console.Config) { c.V1Sunset = time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC) })
	u := s.account(t, "v1")
	b := s.browser(t)
	pg := b.mustSignIn(u)
	if !strings.Contains(pg.body, `id="api-key"`) || !strings.Contains(pg.body, u.apiKey) || !strings.Contains(pg.body, "Regenerate Key") {
		t.Errorf("v1 page lacks the key section:\n%s", pg.body)
	}
	for _, absent := range []string{`id="testing-token"`, `id="credentials"`, "test-token-value", `id="sunset-note"`, "Token for testing"} {
		if strings.Contains(pg.body, absent) {
			t.Errorf("v1 page shows %q", absent)
		}
	}
	if p := b.post("/console/api-authorization/testing-token", url.Values{"csrf": {csrfOf(t, pg.body)}}); p.status != http.StatusConflict {
		t.Errorf("testing token for v1: %d", p.status)
	}
}

func TestRegenerateKey(t *testing.T) {
	s := newStack(t)
	u := s.account(t, "v2")
	b := s.browser(t)
	b.mustSignIn(u)
	confirm := b.get("/console/api-authorization/regenerate-key")
	if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "The current key stops working at once.") {
		t.Fatalf("confirmation: %d\n%s", confirm.status, confirm.body)
	}
	if key, _, _ := s.accounts.Reveal(context.Background(), u.accountID); key != u.apiKey {
		t.Fatal("opening the confirmation changed the key")
	}
	p := b.post("/console/api-authorization/regenerate-key", url.Values{"csrf": {csrfOf(t, confirm.body)}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("regenerate: %d\n%s", p.status, p.body)
	}
	pg := b.get("/console/api-authorization")
	newKey, _, _ := s.accounts.Reveal(context.Background(), u.accountID)
	if newKey == u.apiKey || !strings.Contains(pg.body, newKey) || strings.Contains(pg.body, u.apiKey) {
		t.Error("page does not show the new key")
	}
	if !strings.Contains(pg.body, "The previous key stopped working at once") {
		t.Error("no confirmation message")
	}
	if strings.Contains(b.get("/console/api-authorization").body, "The previous key stopped") {
		t.Error("the message is shown twice")
	}
	if _, err := s.accounts.AuthenticateAPIKey(context.Background(), u.apiKey); err == nil {
		t.Error("old key still works")
	}
	if _, err := s.accounts.AuthenticateAPIKey(context.Background(), newKey); err != nil {
		t.Errorf("new key: %v", err)
	}
}

func TestAudit(t *testing.T) {
	s := newStack(t)
	u := s.account(t, "v2")
	b := s.browser(t)
	pg := b.mustSignIn(u)
	b.post("/console/api-authorization/regenerate-key", url.Values{"csrf": {csrfOf(t, pg.body)}})
	b.get("/console/api-authorization")
	b.post("/console/sign-out", url.Values{"csrf": {csrfOf(t, pg.body)}})
	b.signIn(u.accountID, u.email, "wrong-password-123")

	events, err := s.store.ListAudit(context.Background(), u.accountID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range slices.Backward(events) { // oldest first
		got = append(got, e.Action)
		if e.Actor != u.email || e.Address != "127.0.0.1" || !e.Time.Equal(s.clock.Now()) || e.AccountID != u.accountID {
			t.Errorf("event %+v: want actor %s, address 127.0.0.1, time %v", e, u.email, s.clock.Now())
		}
	}
	want := []string{
		console.ActionSignIn,
		console.ActionTestTokenIssue, console.ActionCredentialsView, console.ActionAPIKeyView,
		console.ActionAPIKeyRegenerate,
		console.ActionCredentialsView, console.ActionAPIKeyView, // the testing token is kept
		console.ActionSignOut,
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit log:\n got %q\nwant %q", got, want)
	}
}

// failingAudit refuses to record one action.
type failingAudit struct {
	storage.Audit
	action string
}

func (f failingAudit) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	if e.Action == f.action {
		return io.ErrClosedPipe
	}
	return f.Audit.AppendAudit(ctx, e)
}

func TestNoKeyShownWithoutAudit(t *testing.T) {
	for _, action := range []string{console.ActionAPIKeyView, console.ActionCredentialsView, console.ActionTestTokenIssue} {
		t.Run(action, func(t *testing.T) {
			s := newStackAudit(t, func(a storage.Audit) storage.Audit { return failingAudit{Audit: a, action: action} })
			u := s.account(t, "v2")
			b := s.browser(t)
			if p := b.signIn(u.accountID, u.email, u.password); p.status != http.StatusSeeOther {
				t.Fatalf("sign-in: %d", p.status)
			}
			p := b.get("/console/api-authorization")
			if p.status != http.StatusInternalServerError {
				t.Errorf("page without audit: %d", p.status)
			}
			for _, secret := range []string{u.apiKey, u.creds.Password} {
				if strings.Contains(p.body, secret) {
					t.Error("a secret was shown without an audit entry")
				}
			}
		})
	}
	t.Run("regenerate", func(t *testing.T) {
		s := newStackAudit(t, func(a storage.Audit) storage.Audit {
			return failingAudit{Audit: a, action: console.ActionAPIKeyRegenerate}
		})
		u := s.account(t, "v1")
		b := s.browser(t)
		pg := b.mustSignIn(u)
		if p := b.post("/console/api-authorization/regenerate-key", url.Values{"csrf": {csrfOf(t, pg.body)}}); p.status != http.StatusInternalServerError {
			t.Errorf("regenerate without audit: %d", p.status)
		}
		if key, _, _ := s.accounts.Reveal(context.Background(), u.accountID); key != u.apiKey {
			t.Error("the key changed without an audit entry")
		}
	})
}

func TestSessionLifetime(t *testing.T) {
	s := newStack(t)
	u := s.account(t, "v2")

	t.Run("idle expiry", func(t *testing.T) {
		b := s.browser(t)
		b.mustSignIn(u)
		s.clock.Advance(29 * time.Minute)
		if p := b.get("/console/api-authorization"); p.status != http.StatusOK {
			t.Fatalf("after 29 min: %d", p.status)
		}
		s.clock.Advance(30 * time.Minute)
		if p := b.get("/console/api-authorization"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/" {
			t.Fatalf("after 30 idle minutes: %d %s", p.status, p.header.Get("Location"))
		}
	})
	t.Run("absolute expiry", func(t *testing.T) {
		b := s.browser(t)
		b.mustSignIn(u)
		for range 17 {
			s.clock.Advance(29 * time.Minute)
			b.get("/console/api-authorization")
		}
		if p := b.get("/console/api-authorization"); p.status != http.StatusSeeOther {
			t.Fatalf("after 8 h: %d", p.status)
		}
	})
	t.Run("sign-out", func(t *testing.T) {
		b := s.browser(t)
		pg := b.mustSignIn(u)
		old := b.cookie("orch_console")
		p := b.post("/console/sign-out", url.Values{"csrf": {csrfOf(t, pg.body)}})
		if p.status != http.StatusSeeOther || setCookie(t, p.header, "orch_console").MaxAge >= 0 {
			t.Fatalf("sign-out: %d", p.status)
		}
		// The old cookie, replayed, opens nothing.
		replay := s.browser(t)
		u0, _ := url.Parse(s.srv.URL + "/console/")
		replay.client.Jar.SetCookies(u0, []*http.Cookie{{Name: "orch_console", Value: old.Value, Path: "/console"}})
		if p := replay.get("/console/api-authorization"); p.status != http.StatusSeeOther {
			t.Fatalf("replayed cookie after sign-out: %d", p.status)
		}
	})
	t.Run("deleted account", func(t *testing.T) {
		b := s.browser(t)
		v1 := s.account(t, "v1")
		b.mustSignIn(v1)
		if err := s.accounts.Delete(context.Background(), v1.accountID); err != nil {
			t.Fatal(err)
		}
		if p := b.get("/console/api-authorization"); p.status != http.StatusSeeOther {
			t.Fatalf("deleted account: %d", p.status)
		}
	})
}

// TestKeyLastUsed: the API Authorization page says when the key and the
// credentials were last used, once the use is written.
func TestKeyLastUsed(t *testing.T) {
	s := newStack(t)
	u := s.account(t, "v2")
	b := s.browser(t)
	b.mustSignIn(u)
	pg := b.get("/console/api-authorization")
	if !strings.Contains(pg.body, `id="api-key-last-used">Last used: never`) {
		t.Errorf("page before any use lacks \"Last used: never\" for the key")
	}
	ctx := context.Background()
	if _, err := s.accounts.AuthenticateAPIKey(ctx, u.apiKey); err != nil {
		t.Fatal(err)
	}
	if err := s.accounts.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	pg = b.get("/console/api-authorization")
	want := `id="api-key-last-used">Last used: <time datetime="` + s.clock.Now().UTC().Format(time.RFC3339) + `">`
	if !strings.Contains(pg.body, want) {
		t.Errorf("page after a use lacks %q", want)
	}
	if !strings.Contains(pg.body, `id="credentials-last-used">Last used: never`) {
		t.Errorf("credentials never used: page lacks \"Last used: never\" for them")
	}
}
