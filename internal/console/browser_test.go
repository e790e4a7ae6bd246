package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// chromiumPath finds Debian's chromium. A missing browser fails the run
// under CI (the CI script installs it); elsewhere the browser tests skip
// with a note on how to install it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	msg := "chromium not found: install it with `apt-get install -y chromium` to run the console browser tests"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// tab is one headless Chromium tab driven over the DevTools protocol, with
// the browser's error log collected.
type tab struct {
	t       *testing.T
	ctx     context.Context
	shots   string
	mu      sync.Mutex
	console []string
}

// newShotTab is newTab saving its screenshots into a new directory under
// the system's temporary one, named in the test's log.
func newShotTab(t *testing.T) *tab {
	t.Helper()
	shots, err := os.MkdirTemp("", "orchestrator-console-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots are saved in %s", shots)
	return newTab(t, shots)
}

func newTab(t *testing.T, shots string) *tab {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser without a timeout: the first Run binds its life.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	tb := &tab{t: t, ctx: ctx, shots: shots}
	// Collect what the page logs as an error (a CSP violation among them)
	// and uncaught script exceptions.
	go func() {
		for ev, err := range chromedp.Events(ctx, log.EntryAdded) {
			if err != nil {
				return
			}
			if ev.Entry.Level == log.EntryLevelError || strings.Contains(ev.Entry.Text, "Content Security Policy") {
				tb.mu.Lock()
				tb.console = append(tb.console, fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
				tb.mu.Unlock()
			}
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(ctx, runtime.ExceptionThrown) {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, "exception: "+ev.ExceptionDetails.Text)
			tb.mu.Unlock()
		}
	}()
	return tb
}

// do runs steps with a time limit.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		tb.t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		tb.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (tb *tab) eval(expr string) string {
	tb.t.Helper()
	return run(tb, expr, chromedp.Evaluate[string](expr))
}

func (tb *tab) exists(id string) bool {
	tb.t.Helper()
	return run(tb, "exists "+id, chromedp.Evaluate[bool](`document.getElementById(`+fmt.Sprintf("%q", id)+`) !== null`))
}

// screenshot saves a full-page PNG into the screenshot directory.
func (tb *tab) screenshot(name string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(tb.shots, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", path)
	return path
}

func (tb *tab) errors() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.console...)
}

// signIn fills and sends the sign-in form, and waits for the page.
func (tb *tab) signIn(base, account, email, password string) {
	tb.t.Helper()
	tb.do("open sign-in", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.ID("signin-form")))
	tb.do("fill sign-in",
		chromedp.SendKeys(chromedp.ID("account"), account),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	tb.do("sign in", chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("api-authorization")))
}

// consoleUser adds a console user to an account through the operator API.
func consoleUser(t *testing.T, env *servertest.Env, accountID, email string) string {
	t.Helper()
	var out struct{ Email, Password string }
	if st := env.Admin(t, "POST", "/admin/v1/accounts/"+accountID+"/console-users", map[string]string{"email": email}, &out); st != http.StatusCreated || out.Password == "" {
		t.Fatalf("create console user: status %d", st)
	}
	return out.Password
}

// v1Status calls a v1 API with a key and returns the status and body.
func v1Status(t *testing.T, env *servertest.Env, accountID, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", env.URL+"/v1/account/"+accountID+"/anything", nil)
	req.Header.Set("maven-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBrowserAPIAuthorization drives the console in headless Chromium: sign
// in, the three sections, reveal and copy the password, regenerate the key
// after confirming, then the old key is refused by the API and the new one
// accepted; a form posted without its CSRF token is refused.
func TestBrowserAPIAuthorization(t *testing.T) {
	tb := newShotTab(t)

	env := servertest.Start(t, func(c *config.Serve) { c.V1Sunset = "2027-01-31" })
	acct := env.CreateAccount(t, true)
	email := "admin@example.com"
	pw := consoleUser(t, env, acct.AccountID, email)

	// The CSP and the other headers reach the browser.
	resp := run(tb, "open console", chromedp.NavigateResponse(env.URL+"/console/"))
	for k, want := range map[string]string{
		"Content-Security-Policy": wantCSP,
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	} {
		if got := fmt.Sprint(resp.Headers[k]); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /console/: %d", resp.Status)
	}
	tb.screenshot("01-sign-in")

	// A wrong password keeps the user on the form with a message.
	tb.do("wrong password",
		chromedp.WaitVisible(chromedp.ID("signin-form")),
		chromedp.SendKeys(chromedp.ID("account"), acct.AccountID),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), "not-the-password"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("signin-problem")),
	)

	tb.signIn(env.URL, "le"+acct.AccountID, email, pw)
	for id, title := range map[string]string{
		"testing-token": "Token for testing the v2 APIs",
		"credentials":   "Credentials for using the v2 APIs in your code",
		"api-key":       "API key for v1 APIs",
	} {
		tb.do("section "+id, chromedp.WaitVisible(chromedp.ID(id)))
		if got := run(tb, "title of "+id, chromedp.Text(chromedp.CSS("#"+id+" h2"))); !strings.Contains(got, title) {
			t.Errorf("section %s: title %q, want %q", id, got, title)
		}
	}
	if got := tb.eval(`document.getElementById('user-id').value`); got != acct.UserID {
		t.Errorf("user ID shown: %q, want %q", got, acct.UserID)
	}
	if got := tb.eval(`document.getElementById('api-key-value').value`); got != acct.APIKey {
		t.Errorf("API key shown: %q, want %q", got, acct.APIKey)
	}
	if got := tb.eval(`document.getElementById('sunset-note').textContent`); !strings.Contains(got, "31 January 2027") {
		t.Errorf("sunset note: %q", got)
	}
	tok := tb.eval(`document.getElementById('test-token-value').value`)
	if strings.Count(tok, ".") != 2 {
		t.Errorf("testing token is not a JWT: %q", tok)
	}
	if got := tb.eval(`document.querySelector('#test-token-expiry time').getAttribute('datetime')`); got == "" {
		t.Error("no expiry shown")
	}
	// The testing token works on the v2 API like any token.
	treq, _ := http.NewRequest("GET", env.URL+"/v2/nothing-here", nil)
	treq.Header.Set("Authorization", "Bearer "+tok)
	if tresp, err := http.DefaultClient.Do(treq); err != nil || tresp.StatusCode == http.StatusForbidden {
		t.Errorf("testing token refused by the API: %v %v", tresp.Status, err)
	} else {
		tresp.Body.Close()
	}
	tb.screenshot("02-api-authorization")

	// The password is masked until revealed.
	if got := tb.eval(`document.getElementById('password').type`); got != "password" {
		t.Errorf("password field type %q before reveal, want password", got)
	}
	tb.do("reveal", chromedp.Click(chromedp.CSS(`button[data-reveal="password"]`)))
	if got := tb.eval(`document.getElementById('password').type`); got != "text" {
		t.Errorf("password field type %q after reveal, want text", got)
	}
	if got := tb.eval(`document.getElementById('password').value`); got != acct.Password {
		t.Errorf("revealed password %q, want %q", got, acct.Password)
	}
	if got := tb.eval(`document.querySelector('button[data-reveal="password"]').getAttribute('aria-pressed')`); got != "true" {
		t.Errorf("reveal button aria-pressed = %q", got)
	}
	tb.screenshot("03-password-revealed")

	// Copy: with clipboard permission granted, the clipboard holds the
	// password afterwards and the page says so.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(tb.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true},
			Setting:    cdpbrowser.PermissionSettingGranted, Origin: env.URL,
		}); err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	if _, err := chromedp.Call(tb.ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("focus emulation: %v", err)
	}
	tb.do("copy password", chromedp.Click(chromedp.CSS(`button[data-copy="password"]`)))
	run(tb, "copied", chromedp.Poll[bool](`document.querySelector('button[data-copy="password"]').dataset.copied === 'true'`))
	if got := tb.eval(`document.getElementById('credentials-status').textContent`); got != "Password copied to the clipboard." {
		t.Errorf("copy status %q", got)
	}
	if got := run(tb, "read clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); got != acct.Password {
		t.Errorf("clipboard holds %q, want the password", got)
	}

	// Keyboard: the reveal button works with Enter.
	tb.do("keyboard hide", chromedp.Focus(chromedp.CSS(`button[data-reveal="password"]`)), chromedp.KeyEvent("\r"))
	if got := tb.eval(`document.getElementById('password').type`); got != "password" {
		t.Errorf("after Enter on Hide: type %q, want password", got)
	}

	// A form posted without its CSRF token (as a forging page would) is
	// refused, and nothing changes.
	forged := run(tb, "forged post", func(ctx context.Context, t *chromedp.Target) (int64, error) {
		r, err := chromedp.RunResponse(ctx, chromedp.Evaluate[chromedp.Void](`(function(){
			var f = document.createElement('form');
			f.method = 'post'; f.action = '/console/api-authorization/regenerate-key';
			document.body.appendChild(f); f.submit();
		})()`))
		if err != nil {
			return 0, err
		}
		return r.Status, nil
	})
	if forged != http.StatusForbidden {
		t.Errorf("form posted without CSRF token: status %d, want 403", forged)
	}
	if got := tb.eval(`document.querySelector('main h1').textContent`); got != "Form expired" {
		t.Errorf("refusal page title %q", got)
	}
	tb.screenshot("04-forged-post-refused")
	if st, _ := v1Status(t, env, acct.AccountID, acct.APIKey); st == http.StatusForbidden {
		t.Fatal("a post without CSRF token changed the key")
	}

	// Regenerate Key asks first and says the old key dies at once.
	tb.do("open page", chromedp.Navigate(env.URL+"/console/api-authorization"), chromedp.WaitVisible(chromedp.ID("api-key")))
	tb.do("regenerate", chromedp.Click(chromedp.ID("regenerate-key")), chromedp.WaitVisible(chromedp.ID("confirm-regenerate")))
	if got := run(tb, "confirm text", chromedp.Text(chromedp.ID("confirm-regenerate"))); !strings.Contains(got, "stops working at once") {
		t.Errorf("confirmation does not say the old key stops working at once: %q", got)
	}
	tb.screenshot("05-confirm-regenerate")
	if st, _ := v1Status(t, env, acct.AccountID, acct.APIKey); st == http.StatusForbidden {
		t.Fatal("opening the confirmation changed the key")
	}
	tb.do("confirm", chromedp.Click(chromedp.ID("confirm-regenerate-button")), chromedp.WaitVisible(chromedp.ID("flash")))
	newKey := tb.eval(`document.getElementById('api-key-value').value`)
	if newKey == acct.APIKey || !strings.HasPrefix(newKey, "orch_") {
		t.Fatalf("key after regeneration: %q (old %q)", newKey, acct.APIKey)
	}
	tb.screenshot("06-key-regenerated")

	// Through the API: the old key is dead at once, the new one works.
	if st, body := v1Status(t, env, acct.AccountID, acct.APIKey); st != http.StatusForbidden || !strings.Contains(body, "invalid_api_key") {
		t.Errorf("old key: %d %s, want 403 invalid_api_key", st, body)
	}
	if st, body := v1Status(t, env, acct.AccountID, newKey); st == http.StatusForbidden {
		t.Errorf("new key refused: %d %s", st, body)
	}

	// Narrow screen: nothing overflows sideways.
	tb.do("narrow", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile),
		chromedp.Navigate(env.URL+"/console/api-authorization"), chromedp.WaitVisible(chromedp.ID("api-key")))
	if !run(tb, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)) {
		t.Error("the page scrolls sideways on a 375 px screen")
	}
	tb.screenshot("07-narrow")
	tb.do("wide", chromedp.EmulateViewport(1280, 1000))

	// Sign out ends the session.
	tb.do("sign out", chromedp.Click(chromedp.CSS(`form[action="/console/sign-out"] button`)), chromedp.WaitVisible(chromedp.ID("signin-form")))
	tb.do("page after sign-out", chromedp.Navigate(env.URL+"/console/api-authorization"), chromedp.WaitVisible(chromedp.ID("signin-form")))

	// A v1-only account sees the key section only.
	v1 := env.CreateAccount(t, false)
	v1pw := consoleUser(t, env, v1.AccountID, "ops@example.com")
	tb.signIn(env.URL, v1.AccountID, "ops@example.com", v1pw)
	if !tb.exists("api-key") || tb.exists("testing-token") || tb.exists("credentials") {
		t.Errorf("v1 page sections: api-key %v, testing-token %v, credentials %v", tb.exists("api-key"), tb.exists("testing-token"), tb.exists("credentials"))
	}
	tb.screenshot("08-v1-account")

	// The wrong password (401) and the forged post (403) are logged by the
	// browser as failed loads; anything else, a CSP violation or a script
	// error, is a defect.
	var other []string
	for _, e := range tb.errors() {
		if strings.Contains(e, "status of 401") && strings.HasSuffix(e, "/console/sign-in)") ||
			strings.Contains(e, "status of 403") && strings.HasSuffix(e, "/console/api-authorization/regenerate-key)") {
			continue
		}
		other = append(other, e)
	}
	if len(other) > 0 {
		t.Errorf("browser errors:\n%s", strings.Join(other, "\n"))
	}
}

// TestBrowserCSRFOverHTTP posts the sign-in form of the real server
// without its token, and checks the CSP header, over plain HTTP.
func TestBrowserCSRFOverHTTP(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	pw := consoleUser(t, env, acct.AccountID, "admin@example.com")
	resp, err := http.PostForm(env.URL+"/console/sign-in", url.Values{"account": {acct.AccountID}, "email": {"admin@example.com"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without CSRF token: %d, want 403", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != wantCSP {
		t.Errorf("CSP = %q", got)
	}
	if len(resp.Cookies()) > 0 && resp.Cookies()[0].Name == "orch_console" {
		t.Error("a session cookie was set")
	}
	// /console redirects to /console/.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r2, err := noRedirect.Get(env.URL + "/console")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusMovedPermanently || r2.Header.Get("Location") != "/console/" {
		t.Errorf("/console: %d %s", r2.StatusCode, r2.Header.Get("Location"))
	}
}
