package console_test

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// These tests reproduce the findings of the December 2026 security review
// (/work/shared/reviews/2026-12-security.md) against the real server over
// loopback.

// rawClient neither keeps cookies nor follows redirects: each test sends
// the cookies it means to send.
var rawClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// signInForm is a sign-in form served by the console: its pre-session
// cookie and CSRF token.
type signInForm struct{ pre, csrf string }

func openSignIn(t *testing.T, base string) signInForm {
	t.Helper()
	p := rawGet(t, base+"/console/", "")
	if p.status != http.StatusOK {
		t.Fatalf("GET /console/: %d", p.status)
	}
	return signInForm{pre: setCookie(t, p.header, "orch_console_pre").Value, csrf: csrfOf(t, p.body)}
}

func rawGet(t *testing.T, u, cookie string) page {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return rawDo(t, req)
}

func rawDo(t *testing.T, req *http.Request) page {
	t.Helper()
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Error(err)
		return page{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// postSignIn posts the sign-in form; safe for concurrent use.
func postSignIn(t *testing.T, base string, f signInForm, account, email, password string) page {
	t.Helper()
	form := url.Values{"csrf": {f.csrf}, "account": {account}, "email": {email}, "password": {password}}
	req, _ := http.NewRequest("POST", base+"/console/sign-in", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "orch_console_pre="+f.pre)
	return rawDo(t, req)
}

// createConsoleAccount creates an account with a chosen id and console
// user through the operator API and returns the console password.
func createConsoleAccount(t *testing.T, env *servertest.Env, id, email string) string {
	t.Helper()
	var out struct {
		ConsoleUser struct{ Email, Password string }
	}
	if st := env.Admin(t, "POST", "/admin/v1/accounts", map[string]string{"name": "Acme " + id, "id": id, "consoleEmail": email}, &out); st != http.StatusCreated || out.ConsoleUser.Password == "" {
		t.Fatalf("create account %s: status %d", id, st)
	}
	return out.ConsoleUser.Password
}

// TestSignInBurst is finding 1: 120 parallel wrong sign-ins for one
// account and email from one address. The failure budget (10) is taken
// before the password is hashed, so at most 10 are checked (401) and the
// rest are refused (429, or 503 when no hashing slot frees in time); a
// correct password sent once the burst has exhausted the budget is refused
// too. The limiter's clock is frozen so that no failure refills meanwhile.
func TestSignInBurst(t *testing.T) {
	frozen := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	env := servertest.StartClock(t, func() time.Time { return frozen })
	const account, email = "5550002", "alice@example.com"
	password := createConsoleAccount(t, env, account, email)
	form := openSignIn(t, env.URL)

	const n = 120
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		start    = make(chan struct{})
		refused  = make(chan struct{})
		once     sync.Once
	)
	for i := range n {
		wg.Go(func() {
			<-start
			p := postSignIn(t, env.URL, form, account, email, "wrong-password-"+strconv.Itoa(i))
			mu.Lock()
			statuses[p.status]++
			mu.Unlock()
			if p.status == http.StatusTooManyRequests {
				if p.header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
				once.Do(func() { close(refused) })
			}
		})
	}
	close(start)
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	// The correct password, sent while the burst is still running once
	// its first refusal shows the budget is spent (or after the burst,
	// when nothing was refused).
	select {
	case <-refused:
	case <-all:
	}
	correct := postSignIn(t, env.URL, form, account, email, password)
	<-all
	t.Logf("statuses of %d parallel wrong sign-ins: %v", n, statuses)
	if statuses[http.StatusUnauthorized] > 10 {
		t.Errorf("%d wrong passwords were checked (401), want at most 10", statuses[http.StatusUnauthorized])
	}
	if got := statuses[http.StatusUnauthorized] + statuses[http.StatusTooManyRequests] + statuses[http.StatusServiceUnavailable]; got != n {
		t.Errorf("statuses %v: want only 401, 429 and 503", statuses)
	}
	if correct.status != http.StatusTooManyRequests {
		t.Errorf("correct password during the burst: status %d, want 429", correct.status)
	}
	if strings.Contains(strings.Join(correct.header.Values("Set-Cookie"), ";"), "orch_console=") {
		t.Error("the correct password during the burst got a session")
	}
	// And after the burst.
	if p := postSignIn(t, env.URL, form, account, email, password); p.status != http.StatusTooManyRequests {
		t.Errorf("correct password after the burst: status %d, want 429", p.status)
	}
}

// TestSessionEndsWithAccount is finding 7: a console session of a deleted
// account must not open a new account created with the same id, whatever
// its console user.
func TestSessionEndsWithAccount(t *testing.T) {
	env := servertest.Start(t)
	const id = "5550001"
	for _, newEmail := range []string{"new@example.com", "old@example.com"} {
		t.Run("recreated with "+newEmail, func(t *testing.T) {
			oldPassword := createConsoleAccount(t, env, id, "old@example.com")
			p := postSignIn(t, env.URL, openSignIn(t, env.URL), id, "old@example.com", oldPassword)
			if p.status != http.StatusSeeOther {
				t.Fatalf("sign-in: %d\n%s", p.status, p.body)
			}
			cookie := "orch_console=" + setCookie(t, p.header, "orch_console").Value
			if p := rawGet(t, env.URL+"/console/api-authorization", cookie); p.status != http.StatusOK {
				t.Fatalf("page before the deletion: %d", p.status)
			}
			if st := env.Admin(t, "DELETE", "/admin/v1/accounts/"+id, nil, nil); st != http.StatusNoContent {
				t.Fatalf("delete: %d", st)
			}
			var created struct {
				APIKey      string
				Credentials struct{ UserID, Password string }
			}
			if st := env.Admin(t, "POST", "/admin/v1/accounts", map[string]string{"name": "Other", "id": id, "consoleEmail": newEmail}, &created); st != http.StatusCreated {
				t.Fatalf("re-create: %d", st)
			}
			p = rawGet(t, env.URL+"/console/api-authorization", cookie)
			if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/" {
				t.Errorf("page with the old cookie: %d %s, want a redirect to sign-in", p.status, p.header.Get("Location"))
			}
			for _, s := range []string{created.APIKey, created.Credentials.UserID, created.Credentials.Password} {
				if strings.Contains(p.body, s) {
					t.Error("the old cookie shows the new account's secrets")
				}
			}
			// The session ended for good, not only refused once.
			if p := rawGet(t, env.URL+"/console/", cookie); p.status != http.StatusOK {
				t.Errorf("sign-in page with the ended session: %d, want the form", p.status)
			}
			if st := env.Admin(t, "DELETE", "/admin/v1/accounts/"+id, nil, nil); st != http.StatusNoContent {
				t.Fatalf("clean up: %d", st)
			}
		})
	}
}

// TestCookiesSecureBehindProxy is finding 13: behind a TLS-terminating
// proxy the process speaks HTTP, but an https public URL makes every
// console cookie Secure and adds HSTS.
func TestCookiesSecureBehindProxy(t *testing.T) {
	env := servertest.Start(t, func(c *config.Serve) { c.PublicURL = "https://orch.example" })
	password := createConsoleAccount(t, env, "5550003", "ops@example.com")
	p := rawGet(t, env.URL+"/console/", "")
	if got := p.header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("Strict-Transport-Security = %q, want max-age=31536000", got)
	}
	pre := setCookie(t, p.header, "orch_console_pre")
	s := postSignIn(t, env.URL, signInForm{pre: pre.Value, csrf: csrfOf(t, p.body)}, "5550003", "ops@example.com", password)
	if s.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d\n%s", s.status, s.body)
	}
	sess := setCookie(t, s.header, "orch_console")
	for _, c := range []*http.Cookie{pre, sess, setCookie(t, s.header, "orch_console_pre")} {
		if !c.Secure {
			t.Errorf("cookie %s is not Secure under an https public URL", c.Name)
		}
	}
	if got := rawGet(t, env.URL+"/console/api-authorization", "orch_console="+sess.Value).header.Get("Strict-Transport-Security"); got == "" {
		t.Error("no Strict-Transport-Security on the page")
	}

	// Plain HTTP all the way: no HSTS, no Secure (the browser would drop
	// the cookies).
	plain := servertest.Start(t)
	p = rawGet(t, plain.URL+"/console/", "")
	if got := p.header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("Strict-Transport-Security over plain HTTP: %q", got)
	}
	if setCookie(t, p.header, "orch_console_pre").Secure {
		t.Error("Secure cookie under an http public URL")
	}
}

// TestPreSessionChosenByServer is finding 15(a): a pre-session cookie
// chosen by the caller is replaced, and the page's CSRF token does not go
// with the chosen value; the server's own value is kept.
func TestPreSessionChosenByServer(t *testing.T) {
	env := servertest.Start(t)
	password := createConsoleAccount(t, env, "5550004", "ops@example.com")
	chosen := strings.Repeat("A", 43)
	p := rawGet(t, env.URL+"/console/", "orch_console_pre="+chosen)
	issued := setCookie(t, p.header, "orch_console_pre")
	if issued.Value == chosen {
		t.Fatal("the caller's pre-session value was kept")
	}
	csrf := csrfOf(t, p.body)
	// The token does not verify with the chosen value...
	if s := postSignIn(t, env.URL, signInForm{pre: chosen, csrf: csrf}, "5550004", "ops@example.com", password); s.status != http.StatusForbidden {
		t.Errorf("sign-in with the chosen cookie: %d, want 403", s.status)
	}
	// ...only with the value the server issued.
	if s := postSignIn(t, env.URL, signInForm{pre: issued.Value, csrf: csrf}, "5550004", "ops@example.com", password); s.status != http.StatusSeeOther {
		t.Errorf("sign-in with the issued cookie: %d, want 303", s.status)
	}
	// The server's own value is kept, with the same token.
	again := rawGet(t, env.URL+"/console/", "orch_console_pre="+issued.Value)
	if len(again.header.Values("Set-Cookie")) != 0 || csrfOf(t, again.body) != csrf {
		t.Errorf("the issued pre-session was not kept: Set-Cookie %q", again.header.Values("Set-Cookie"))
	}
	// A forged value in the server's format (a MAC under another key) is
	// replaced too.
	forged := issued.Value[:strings.IndexByte(issued.Value, '.')+1] + strings.Repeat("A", 43)
	if p := rawGet(t, env.URL+"/console/", "orch_console_pre="+forged); setCookie(t, p.header, "orch_console_pre").Value == forged {
		t.Error("a forged pre-session value was kept")
	}
}

// TestFailedSignInShowsNoSignedInHeader is finding 15(b): the page of a
// failed sign-in refills the email field but shows no signed-in header
// and no sign-out form.
func TestFailedSignInShowsNoSignedInHeader(t *testing.T) {
	env := servertest.Start(t)
	createConsoleAccount(t, env, "5550005", "ops@example.com")
	p := postSignIn(t, env.URL, openSignIn(t, env.URL), "5550005", "ops@example.com", "wrong-password-123")
	if p.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", p.status)
	}
	for _, bad := range []string{"/console/sign-out", `class="who"`, "Sign out"} {
		if strings.Contains(p.body, bad) {
			t.Errorf("failed sign-in page contains %q", bad)
		}
	}
	if !strings.Contains(p.body, `value="ops@example.com"`) {
		t.Error("the email field was not refilled")
	}
}

// A successful sign-in gives its reserved failure back, however much later
// it finishes: 15 sign-ins in a row all succeed (the 11th got 429 when the
// refund restored nothing once time had passed).
func TestSuccessfulSignInsDoNotSpendTheBudget(t *testing.T) {
	env := servertest.Start(t)
	password := createConsoleAccount(t, env, "5550009", "ok@example.com")
	for i := 0; i < 15; i++ {
		if p := postSignIn(t, env.URL, openSignIn(t, env.URL), "5550009", "ok@example.com", password); p.status != http.StatusSeeOther {
			t.Fatalf("sign-in %d: %d, want 303", i+1, p.status)
		}
	}
}
