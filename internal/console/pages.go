package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/audit"
	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/ratelimit"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/tokens"
)

// Audit actions written by the console. The actor is the console user's
// email.
const (
	ActionSignIn             = audit.ConsoleSignIn
	ActionSignOut            = audit.ConsoleSignOut
	ActionAPIKeyView         = audit.APIKeyView
	ActionCredentialsView    = audit.CredentialsView
	ActionTestTokenIssue     = audit.TestTokenIssue
	ActionAPIKeyRegenerate   = audit.APIKeyRegenerate
	ActionAPIKeyRegenerateKO = audit.APIKeyRegenerateFailed
	ActionPolicyCreate       = audit.PolicyCreate
	ActionPolicyUpdate       = audit.PolicyUpdate
	ActionPolicyDelete       = audit.PolicyDelete
	ActionPolicyMove         = audit.PolicyMove
	ActionContextDelete      = audit.ContextDelete
)

// pageURL is the API Authorization page.
const pageURL = "/console/api-authorization"

// home shows the sign-in form, or sends a signed-in user to the page.
func (c *Console) home(w http.ResponseWriter, r *http.Request) error {
	if _, _, ok, err := c.currentSession(r); err != nil {
		return err
	} else if ok {
		http.Redirect(w, r, pageURL, http.StatusSeeOther)
		return nil
	}
	c.renderSignIn(w, r, http.StatusOK, "", "", "")
	return nil
}

// renderSignIn renders the sign-in form with its CSRF token. The
// pre-session cookie is kept only when this server issued it (and it has
// not expired); any other value, such as one chosen by the caller, is
// replaced by a new one, so no token is ever handed out for a value the
// caller chose. The form's fields are FormAccount and FormEmail, never
// AccountID and Email, which make the layout show the signed-in header.
func (c *Console) renderSignIn(w http.ResponseWriter, r *http.Request, status int, account, email, problem string) {
	pre := ""
	if ck, err := r.Cookie(preCookie); err == nil && c.validPre(ck.Value) {
		pre = ck.Value
	} else {
		pre = c.newPre()
		http.SetCookie(w, c.cookie(preCookie, pre, 0))
	}
	c.render(w, r, status, "signin", map[string]any{
		"Title": "Sign in", "CSRF": c.preToken(pre), "FormAccount": account, "FormEmail": email, "Problem": problem,
	})
}

// signIn checks the sign-in form. Failures are counted per account and
// email and per client address like API logins.
//
// The failure is reserved on both limiters before the password is
// checked and given back only when the sign-in succeeds: a check made
// before the hash and a charge made after it let a parallel burst through
// whole (120 parallel guesses all got past a budget of 10, and a correct
// one among them signed in). Then at most Config.MaxHashes checks run at
// once (argon2id takes 32 MiB and a core each); a sign-in that cannot
// start within Config.HashWait gets 503 with Retry-After rather than
// queueing without bound. A busy answer keeps its failure charged: a
// burst spends the budget it asked for however fast the server hashes, so
// the lockout it triggers does not depend on the load, and its refused
// guesses cannot be sent again for free.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	ck, err := r.Cookie(preCookie)
	if err != nil || !c.validPre(ck.Value) || !checkToken(r.PostForm.Get("csrf"), c.preToken(ck.Value)) {
		return errCSRF
	}
	rawAccount := strings.TrimSpace(r.PostForm.Get("account"))
	email := strings.ToLower(strings.TrimSpace(r.PostForm.Get("email")))
	password := r.PostForm.Get("password")
	// A person types the id: the le prefix is accepted in any case. A
	// malformed id is "" (it fails like a wrong password, below).
	account, accountOK := accounts.ParseID(strings.ToLower(rawAccount))

	userKey := account + "\x00" + email
	addrKey := c.cfg.Clients.LimitKey(r)
	attempt, wait, ok := ratelimit.ReserveAll(
		[]ratelimit.Interface{c.cfg.UserLimiter, c.cfg.AddrLimiter}, []string{userKey, addrKey})
	if !ok {
		secs := seconds(wait)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.renderSignIn(w, r, http.StatusTooManyRequests, rawAccount, email,
			"Too many failed sign-ins. Wait "+strconv.Itoa(secs)+" seconds and try again.")
		return nil
	}
	release, ok := c.acquireHash(r.Context())
	if !ok {
		secs := seconds(c.cfg.HashWait)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.renderSignIn(w, r, http.StatusServiceUnavailable, rawAccount, email,
			"The console is busy signing in other users. Wait "+strconv.Itoa(secs)+" seconds and try again.")
		return nil
	}

	authAccount, authEmail, authPassword := account, email, password
	if !accountOK || len(email) > 254 || len(password) > 1024 {
		// Malformed input still costs one password check, so that the
		// answer takes the same time as for a real user.
		authAccount, authEmail, authPassword = "", "", password[:min(len(password), 1024)]
	}
	// The slot is released even if the check panics (the recover
	// middleware keeps the process up; a leaked slot would not come back).
	u, err := func() (storage.ConsoleUser, error) {
		defer release()
		return c.cfg.Accounts.AuthenticateConsole(r.Context(), authAccount, authEmail, authPassword)
	}()
	if errors.Is(err, accounts.ErrBadCredentials) || (err == nil && authAccount == "") {
		// The reserved failure stays charged.
		c.renderSignIn(w, r, http.StatusUnauthorized, rawAccount, email, "The account ID, email or password is not correct.")
		return nil
	}
	if err != nil {
		return err
	}
	attempt.Refund() // a success costs nothing
	a, err := c.cfg.Accounts.Record(r.Context(), u.AccountID)
	if err != nil {
		return err
	}
	// A new session id at every sign-in: a session id planted before
	// sign-in is never promoted. The session is bound to these instances
	// of the account and console user (see owner).
	id, ss, err := c.sessions.create(r.Context(), owner{accountID: u.AccountID, email: u.Email, accountCreated: a.CreatedAt,
		userCreated: u.CreatedAt, userHash: userFingerprint(u.PasswordHash)})
	if err != nil {
		return err
	}
	if err := c.audit(r, ss, ActionSignIn); err != nil {
		c.deleteSession(r, id)
		return err
	}
	http.SetCookie(w, c.cookie(sessionCookie, id, 0))
	http.SetCookie(w, c.cookie(preCookie, "", -1))
	http.Redirect(w, r, pageURL, http.StatusSeeOther)
	return nil
}

// seconds rounds d up to whole seconds, at least 1 (for Retry-After).
func seconds(d time.Duration) int {
	return max(int((d+time.Second-1)/time.Second), 1)
}

// acquireHash takes one of the Config.MaxHashes sign-in slots, waiting at
// most Config.HashWait and no longer than the request lives. The caller
// calls release once the password check is done.
func (c *Console) acquireHash(ctx context.Context) (release func(), ok bool) {
	release = func() { <-c.hashSlots }
	select {
	case c.hashSlots <- struct{}{}:
		return release, true
	default:
	}
	t := time.NewTimer(c.cfg.HashWait)
	defer t.Stop()
	select {
	case c.hashSlots <- struct{}{}:
		return release, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}

// requireSession returns the live session, or redirects to sign-in (ok
// false with no error), or fails with the store's error.
func (c *Console) requireSession(w http.ResponseWriter, r *http.Request) (string, session, bool, error) {
	id, ss, ok, err := c.currentSession(r)
	if err != nil {
		return "", session{}, false, err
	}
	if !ok {
		if id != "" {
			http.SetCookie(w, c.cookie(sessionCookie, "", -1))
		}
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	}
	return id, ss, ok, nil
}

// requirePost checks a signed-in form post: session, form, CSRF token.
func (c *Console) requirePost(w http.ResponseWriter, r *http.Request) (string, session, error) {
	if err := readForm(w, r); err != nil {
		return "", session{}, err
	}
	id, ss, ok, err := c.currentSession(r)
	if err != nil {
		return "", session{}, err
	}
	if !ok {
		// No session means no token it could match: refuse like any
		// other forged post, and offer the way back.
		return "", session{}, &pageError{status: http.StatusForbidden, title: "Signed out",
			msg: "Your session ended. Sign in again to continue."}
	}
	if !checkToken(r.PostForm.Get("csrf"), ss.csrf) {
		return "", session{}, errCSRF
	}
	return id, ss, nil
}

// signOut ends the session.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) error {
	id, ss, err := c.requirePost(w, r)
	if err != nil {
		return err
	}
	c.deleteSession(r, id)
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
	if err := c.audit(r, ss, ActionSignOut); err != nil {
		c.log.ErrorContext(r.Context(), "console audit", "action", ActionSignOut, "err", err)
	}
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
	return nil
}

// account loads the session's account and console user and checks that
// they are the ones the session signed in as (see owner). When either was
// deleted, re-created or (the user) given a new password, the session
// ends: a cookie of a deleted account must not open a new account that
// reuses its id, nor survive a password change.
func (c *Console) account(w http.ResponseWriter, r *http.Request, id string, ss session) (storage.Account, bool, error) {
	a, err := c.cfg.Accounts.Record(r.Context(), ss.accountID)
	same := err == nil && a.CreatedAt.Equal(ss.accountCreated)
	if same {
		var u storage.ConsoleUser
		u, err = c.cfg.Accounts.ConsoleUser(r.Context(), ss.accountID, ss.email)
		same = err == nil && u.CreatedAt.Equal(ss.userCreated) && userFingerprint(u.PasswordHash) == ss.userHash
	}
	if err != nil && !errors.Is(err, fault.ErrNotFound) {
		return a, false, err
	}
	if !same {
		c.deleteSession(r, id)
		http.SetCookie(w, c.cookie(sessionCookie, "", -1))
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return a, false, nil
	}
	return a, true, nil
}

// authorization renders the API Authorization page. Every render shows
// the keys, so every render is audited, before anything is sent.
func (c *Console) authorization(w http.ResponseWriter, r *http.Request) error {
	id, ss, ok, err := c.requireSession(w, r)
	if !ok {
		return err
	}
	a, ok, err := c.account(w, r, id, ss)
	if !ok {
		return err
	}
	apiKey, creds, err := c.cfg.Accounts.Reveal(r.Context(), a.ID)
	if err != nil {
		return err
	}
	data := c.pageData(ss, a, "API Authorization", navAuthorization)
	data["V2"], data["APIKey"], data["Flash"] = creds != nil, apiKey, c.takeFlash(r, id)
	usage, err := c.cfg.Accounts.Get(r.Context(), a.ID)
	if err != nil {
		return err
	}
	if usage.APIKeyLastUsedAt != nil {
		data["APIKeyLastUsed"] = *usage.APIKeyLastUsedAt
	}
	if usage.CredentialsLastUsedAt != nil {
		data["CredentialsLastUsed"] = *usage.CredentialsLastUsedAt
	}
	if creds != nil {
		tok, exp, err := c.testingToken(r, id, ss, creds.UserID)
		if err != nil {
			return err
		}
		data["TestToken"], data["TestExpires"] = tok, exp
		data["UserID"], data["Password"] = creds.UserID, creds.Password
		data["LoginURL"] = strings.TrimRight(c.cfg.PublicURL, "/") + "/v2/authenticate/login"
		// Only an account created v1 and upgraded has an UpgradedAt;
		// one created v2 was never upgraded.
		data["Upgraded"] = !a.UpgradedAt.IsZero()
		if !c.cfg.V1Sunset.IsZero() {
			data["Sunset"] = c.cfg.V1Sunset
			data["SunsetPast"] = !c.now().Before(c.cfg.V1Sunset)
		}
		if err := c.audit(r, ss, ActionCredentialsView); err != nil {
			return err
		}
	}
	if err := c.audit(r, ss, ActionAPIKeyView); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "authorization", data)
	return nil
}

// testingToken returns the session's testing token while it is still
// valid (not expired, not revoked by a password regeneration), else
// issues a new one.
func (c *Console) testingToken(r *http.Request, id string, ss session, userID string) (string, time.Time, error) {
	if ss.testToken != "" {
		cl, err := c.cfg.Tokens.Verify(r.Context(), ss.testToken)
		if err == nil && cl.TokenUse == tokens.UseTest && cl.Subject == userID && cl.Name == ss.accountID {
			return ss.testToken, ss.testExpires, nil
		}
	}
	return c.issueTestToken(r, id, ss, userID)
}

func (c *Console) issueTestToken(r *http.Request, id string, ss session, userID string) (string, time.Time, error) {
	cred, err := c.cfg.Accounts.Credential(r.Context(), userID)
	if err != nil {
		return "", time.Time{}, err
	}
	if err := c.audit(r, ss, ActionTestTokenIssue); err != nil {
		return "", time.Time{}, err
	}
	iss, err := c.cfg.Tokens.IssueTest(r.Context(), cred, tokens.TestTokenTTL)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := time.Unix(iss.Claims.ExpiresAt, 0)
	c.updateSession(r, id, func(s *session) { s.testToken, s.testExpires = iss.Token, exp })
	return iss.Token, exp, nil
}

// newTestToken is the "Generate new token" action.
func (c *Console) newTestToken(w http.ResponseWriter, r *http.Request) error {
	id, ss, err := c.requirePost(w, r)
	if err != nil {
		return err
	}
	a, ok, err := c.account(w, r, id, ss)
	if !ok {
		return err
	}
	_, creds, err := c.cfg.Accounts.Reveal(r.Context(), a.ID)
	if err != nil {
		return err
	}
	if creds == nil {
		return &pageError{status: http.StatusConflict, title: "No testing token for v1",
			msg: "This account uses v1 API keys only; testing tokens are for the v2 APIs."}
	}
	_, exp, err := c.issueTestToken(r, id, ss, creds.UserID)
	if err != nil {
		return err
	}
	c.updateSession(r, id, func(s *session) {
		s.flash = "A new testing token was generated. It expires on " + exp.UTC().Format("2 Jan 2006, 15:04 UTC") + "."
	})
	http.Redirect(w, r, pageURL+"#testing-token", http.StatusSeeOther)
	return nil
}

// confirmRegenerate asks before the v1 key is replaced.
func (c *Console) confirmRegenerate(w http.ResponseWriter, r *http.Request) error {
	id, ss, ok, err := c.requireSession(w, r)
	if !ok {
		return err
	}
	a, ok, err := c.account(w, r, id, ss)
	if !ok {
		return err
	}
	c.render(w, r, http.StatusOK, "confirm", c.pageData(ss, a, "Regenerate the API key", navAuthorization))
	return nil
}

// regenerate replaces the v1 key; the old key stops working at once. The
// attempt is audited before the change, so no change goes unrecorded.
func (c *Console) regenerate(w http.ResponseWriter, r *http.Request) error {
	id, ss, err := c.requirePost(w, r)
	if err != nil {
		return err
	}
	a, ok, err := c.account(w, r, id, ss)
	if !ok {
		return err
	}
	if err := c.audit(r, ss, ActionAPIKeyRegenerate); err != nil {
		return err
	}
	if _, err := c.cfg.Accounts.RegenerateAPIKey(r.Context(), a.ID, 0); err != nil {
		if aerr := c.audit(r, ss, ActionAPIKeyRegenerateKO); aerr != nil {
			c.log.ErrorContext(r.Context(), "console audit", "action", ActionAPIKeyRegenerateKO, "err", aerr)
		}
		return err
	}
	c.updateSession(r, id, func(s *session) {
		s.flash = "A new API key was generated. The previous key stopped working at once: use the new key wherever the v1 APIs are called."
	})
	http.Redirect(w, r, pageURL+"#api-key", http.StatusSeeOther)
	return nil
}

// Navigation entries: pageData's nav names the page's entry, which the
// layout marks aria-current.
const (
	navAuthorization = "authorization"
	navPolicies      = "policies"
	navTry           = "try"
	navLogs          = "logs"
	navData          = "data"
)

// pageData is what every signed-in page starts from: the title, the
// header's account and user, the CSRF token of its forms, and the
// navigation (only the pages this console serves).
func (c *Console) pageData(ss session, a storage.Account, title, nav string) map[string]any {
	return map[string]any{
		"Title": title, "CSRF": ss.csrf, "Email": ss.email, "AccountID": a.ID, "AccountName": a.Name,
		"Nav": nav, "HasPolicies": c.cfg.Policies != nil, "HasEvaluations": c.cfg.Evaluations != nil,
		"HasData": c.cfg.Context != nil,
	}
}

// signedIn is the start of every signed-in page view: the live session
// and the account it signed in to. ok false means the request has been
// answered (sent to sign in) or err says why not.
func (c *Console) signedIn(w http.ResponseWriter, r *http.Request) (id string, ss session, a storage.Account, ok bool, err error) {
	if id, ss, ok, err = c.requireSession(w, r); !ok {
		return "", session{}, storage.Account{}, false, err
	}
	a, ok, err = c.account(w, r, id, ss)
	return id, ss, a, ok, err
}

// signedInPost is signedIn for a form post: session, form and CSRF token
// checked, then the account.
func (c *Console) signedInPost(w http.ResponseWriter, r *http.Request) (id string, ss session, a storage.Account, ok bool, err error) {
	if id, ss, err = c.requirePost(w, r); err != nil {
		return "", session{}, storage.Account{}, false, err
	}
	a, ok, err = c.account(w, r, id, ss)
	return id, ss, a, ok, err
}

// auditChange records a change made in the console before it is made: a
// change that cannot be recorded is not made. fields are the details as
// key, value pairs; each value is query-escaped, so that no name a user
// typed (a policy id in a URL, a property name) can add a space, a
// newline or a field of its own to the entry.
func (c *Console) auditChange(r *http.Request, ss session, action string, fields ...string) error {
	var b strings.Builder
	b.WriteString(action)
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString(" " + fields[i] + "=" + url.QueryEscape(fields[i+1]))
	}
	return c.audit(r, ss, b.String())
}

// setFlash sets the one-time message the next page shows.
func (c *Console) setFlash(r *http.Request, id, msg string) {
	c.updateSession(r, id, func(s *session) { s.flash = msg })
}
