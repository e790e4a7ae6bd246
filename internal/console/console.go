package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/audit"
	"github.com/orchestrator/orchestrator/internal/clientaddr"
	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/ratelimit"
	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/tokens"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Accounts is what the console needs from the accounts service.
type Accounts interface {
	AuthenticateConsole(ctx context.Context, accountID, email, password string) (storage.ConsoleUser, error)
	Record(ctx context.Context, id string) (storage.Account, error)
	Reveal(ctx context.Context, accountID string) (apiKey string, creds *accounts.Credentials, err error)
	RegenerateAPIKey(ctx context.Context, id string, grace time.Duration) (string, error)
	// Get returns the account with the last uses of its key and
	// credentials.
	Get(ctx context.Context, id string) (accounts.Account, error)
	Credential(ctx context.Context, userID string) (storage.Credential, error)
	// ConsoleUser returns the stored console user (an error of kind
	// fault.ErrNotFound when there is none); sessions are checked
	// against it. Record fails the same way for a missing account.
	ConsoleUser(ctx context.Context, accountID, email string) (storage.ConsoleUser, error)
}

// Tokens is what the console needs from the token service.
type Tokens interface {
	IssueTest(ctx context.Context, c storage.Credential, ttl time.Duration) (tokens.Issued, error)
	Verify(ctx context.Context, raw string) (*tokens.Claims, error)
}

// Config is what the console is built from. Accounts, Tokens and Audit
// are required; the rest has defaults.
type Config struct {
	Accounts Accounts
	Tokens   Tokens
	// Audit records every view and change of a secret; the console
	// shows no secret whose view it could not record.
	Audit *audit.Recorder
	Log   *slog.Logger
	Now   func() time.Time // nil: time.Now
	// PublicURL is the server's public URL (for the login endpoint shown
	// on the page). An https URL makes the cookies Secure, as Secure
	// does: behind a TLS-terminating proxy the process speaks plain HTTP,
	// yet browsers reach it over https only. (HSTS is sent for every
	// route by the HTTP API's middleware.)
	PublicURL string
	// Secure marks cookies Secure; set it when the server speaks TLS.
	Secure bool
	// V1Sunset, when set, is when v1 keys of v2 accounts stop working.
	V1Sunset time.Time
	// SessionIdle and SessionMax bound a session's life (defaults 30 min
	// idle, 8 h in all); MaxSessions bounds the store (default 10,000).
	SessionIdle, SessionMax time.Duration
	MaxSessions             int
	// Sessions is where sessions are kept (nil: MemorySessions, this
	// process only). The nodes of a zone share RedisSessions, so that a
	// session opened on one node works on all (SPEC §9).
	Sessions SessionStore
	// Clients finds the client address of a request (nil: the peer).
	Clients *clientaddr.Resolver
	// UserLimiter and AddrLimiter count failed sign-ins per account and
	// email, and per client address (defaults: 10 and 100 per minute).
	UserLimiter, AddrLimiter ratelimit.Interface
	// MaxHashes bounds the sign-in password checks (argon2id, 32 MiB
	// each) running at once (default GOMAXPROCS); a sign-in waits at most
	// HashWait (default 2 s) for its turn, then gets 503 with Retry-After.
	MaxHashes int
	HashWait  time.Duration
	// Policies, when set, adds the Policies pages (list, create, edit,
	// enable, reorder, delete); Evaluations the Try it and Evaluation
	// logs pages; Context the Context data pages. The server sets all
	// three (the Next Actions and Context services).
	Policies    Policies
	Evaluations Evaluations
	Context     ContextData
	// FormKey signs the sign-in form's pre-session cookie and CSRF token.
	// Nodes of one zone must share it (derive it from the server secret
	// key) so that a form served by one node can be posted to another;
	// nil: a random key per process, so a restart asks for a reload.
	FormKey []byte
}

// Console serves the console pages. Build it with New.
type Console struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	sessions sessionStore
	pages    map[string]*template.Template
	// preKey signs the pre-session cookie of the sign-in form and its
	// CSRF token (Config.FormKey).
	preKey []byte
	// secure: cookies are Secure and responses carry HSTS (TLS here or
	// an https public URL).
	secure bool
	// hashSlots admits at most Config.MaxHashes sign-in password checks
	// at once; see signIn.
	hashSlots chan struct{}
	handler   http.Handler
}

// Cookie names. Both are scoped to /console, HttpOnly and SameSite=Strict.
const (
	sessionCookie = "orch_console"
	preCookie     = "orch_console_pre"
)

// csp is the Content-Security-Policy of every console response: nothing
// but same-origin script, style and images, no plugins, no framing, no
// base or form targets elsewhere.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// New returns the console handler for cfg.
func New(cfg Config) *Console {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 8 * time.Hour
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 10_000
	}
	if cfg.Sessions == nil {
		cfg.Sessions = MemorySessions()
	}
	if cfg.UserLimiter == nil {
		cfg.UserLimiter = ratelimit.New(10, time.Minute, 100_000, cfg.Now)
	}
	if cfg.AddrLimiter == nil {
		cfg.AddrLimiter = ratelimit.New(100, time.Minute, 100_000, cfg.Now)
	}
	if cfg.MaxHashes <= 0 {
		cfg.MaxHashes = runtime.GOMAXPROCS(0)
	}
	if cfg.HashWait <= 0 {
		cfg.HashWait = 2 * time.Second
	}
	preKey := cfg.FormKey
	if len(preKey) == 0 {
		preKey = secret.Random(32)
	}
	c := &Console{
		cfg: cfg, log: cfg.Log, now: cfg.Now,
		sessions:  cfg.Sessions(sessionPolicy{idle: cfg.SessionIdle, absolute: cfg.SessionMax, max: cfg.MaxSessions, now: cfg.Now}),
		pages:     parsePages(),
		preKey:    preKey,
		secure:    cfg.Secure || strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://"),
		hashSlots: make(chan struct{}, cfg.MaxHashes),
	}
	c.handler = c.routes()
	return c
}

// parsePages parses each page template together with the layout. The
// templates are embedded, so a parse error is a build defect.
func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"utc":   func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
		"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"day":   func(t time.Time) string { return t.UTC().Format("2 January 2006") },
		"stamp": func(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") },
	}
	pages := map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, file := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(file, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", file))
	}
	return pages
}

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /console/{$}", c.handle(c.home))
	mux.HandleFunc("GET /console/sign-in", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /console/sign-in", c.handle(c.signIn))
	mux.HandleFunc("POST /console/sign-out", c.handle(c.signOut))
	mux.HandleFunc("GET /console/api-authorization", c.handle(c.authorization))
	mux.HandleFunc("POST /console/api-authorization/testing-token", c.handle(c.newTestToken))
	mux.HandleFunc("GET /console/api-authorization/regenerate-key", c.handle(c.confirmRegenerate))
	mux.HandleFunc("POST /console/api-authorization/regenerate-key", c.handle(c.regenerate))
	if c.cfg.Policies != nil {
		c.policyRoutes(mux)
	}
	if c.cfg.Evaluations != nil {
		c.evaluationRoutes(mux)
	}
	if c.cfg.Context != nil {
		c.dataRoutes(mux)
	}
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", staticHandler(http.FileServerFS(static))))
	mux.HandleFunc("/console/", c.handle(func(w http.ResponseWriter, r *http.Request) error {
		return &pageError{status: http.StatusNotFound, title: "Page not found", msg: "There is no console page at this address."}
	}))
	// Cross-origin POSTs (by Sec-Fetch-Site or Origin) are refused before
	// any handler runs; the CSRF tokens are the second, independent layer.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, errCSRF)
	}))
	return securityHeaders(cop.Handler(mux))
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// securityHeaders sets the headers every console response carries.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		// Pages show secrets: no cache may keep them. Static assets get
		// their own policy in staticHandler.
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// staticHandler lets browsers keep the embedded assets but revalidate.
func staticHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// pageError is an error shown to the user as a page with a status.
type pageError struct {
	status int
	title  string
	msg    string
	header map[string]string
}

func (e *pageError) Error() string { return e.title + ": " + e.msg }

var (
	errCSRF = &pageError{status: http.StatusForbidden, title: "Form expired",
		msg: "This form was not sent from this console page, or it expired. Go back, reload the page and try again."}
	errBadForm = &pageError{status: http.StatusBadRequest, title: "Bad request", msg: "The form could not be read."}
)

// handle adapts a handler that returns an error: a *pageError is shown as
// is; anything else is logged and shown as a generic failure.
func (c *Console) handle(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			c.renderError(w, r, err)
		}
	}
}

func (c *Console) renderError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *pageError
	if !errors.As(err, &pe) {
		c.log.ErrorContext(r.Context(), "console", "path", r.URL.Path, "err", err)
		pe = &pageError{status: http.StatusInternalServerError, title: "Something went wrong",
			msg: "The console could not complete this request. Try again in a moment."}
		// The store's answers keep the status the API gives them: 503
		// (retry soon) and 507 (nothing was saved) say more than a 500.
		switch status, _, _ := fault.Status(err); status {
		case http.StatusNotFound:
			// A policy, namespace or session deleted meanwhile (or
			// never there): the page says so, not "went wrong".
			pe.status, pe.title, pe.msg = status, "Not found", "There is nothing here: it does not exist, or it was deleted."
		case http.StatusServiceUnavailable:
			pe.status, pe.header = status, map[string]string{"Retry-After": "1"}
		case http.StatusInsufficientStorage:
			pe.status, pe.msg = status, "The store is out of space, so nothing was saved. Try again once space is freed."
		}
	}
	for k, v := range pe.header {
		w.Header().Set(k, v)
	}
	c.render(w, r, pe.status, "message", map[string]any{"Title": pe.title, "Message": pe.msg})
}

// render executes a page template into a buffer first, so a template
// failure never sends half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, data map[string]any) {
	var b strings.Builder
	if err := c.pages[page].Execute(&b, data); err != nil {
		c.log.ErrorContext(r.Context(), "console template", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// cookie returns a console cookie: HttpOnly, SameSite=Strict, scoped to
// /console, Secure under TLS or an https public URL (a TLS-terminating
// proxy in front must not let the browser send the session over plain
// HTTP). maxAge 0 makes it a browser-session cookie; the server-side
// expiry is what counts.
func (c *Console) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/console", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode}
}

// preMaxAge is how long a sign-in form (its pre-session cookie) is
// accepted after it was served.
const preMaxAge = 12 * time.Hour

// mac is the HMAC-SHA256 under the form key of purpose and value.
func (c *Console) mac(purpose, value string) []byte {
	m := hmac.New(sha256.New, c.preKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(nil)
}

// newPre returns a new pre-session cookie value: 16 random bytes and the
// issue time, then a MAC of them under the form key. The server chooses
// the value and can tell its own values from any other without keeping
// them (a form served by one node verifies on another that shares the
// key), so a caller cannot fix the pre-session to a value it chose.
func (c *Console) newPre() string {
	b := make([]byte, 24)
	copy(b, secret.Random(16))
	binary.BigEndian.PutUint64(b[16:], uint64(c.now().Unix()))
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(c.mac("console-pre", payload))
}

// validPre reports whether v is a pre-session value this server (or a node
// sharing its form key) issued within preMaxAge.
func (c *Console) validPre(v string) bool {
	payload, sig, ok := strings.Cut(v, ".")
	if !ok || len(v) > 128 {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, c.mac("console-pre", payload)) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || len(b) != 24 {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[16:])), 0)
	age := c.now().Sub(issued)
	return age > -time.Minute && age < preMaxAge
}

// preToken is the sign-in form's CSRF token: an HMAC of the pre-session
// cookie with the form key (a signed double submit). Tokens are only
// ever handed out for server-issued cookie values, so a cookie planted by
// another site cannot be paired with a token the attacker knows.
func (c *Console) preToken(cookieValue string) string {
	return base64.RawURLEncoding.EncodeToString(c.mac("console-signin", cookieValue))
}

// readForm parses a small urlencoded form body.
func readForm(w http.ResponseWriter, r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return errBadForm
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return errBadForm
	}
	return nil
}

// checkToken compares a submitted CSRF token with the expected one in
// constant time.
func checkToken(got, want string) bool {
	return got != "" && want != "" && secret.Equal([]byte(got), []byte(want))
}

// currentSession returns the request's live session and its id. An
// error is the store's (Redis not answering): the session may be live,
// so the caller fails the request rather than signing the user out.
func (c *Console) currentSession(r *http.Request) (string, session, bool, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", session{}, false, nil
	}
	ss, ok, err := c.sessions.get(r.Context(), ck.Value)
	return ck.Value, ss, ok, err
}

// updateSession changes the live session; a store failure is logged (what
// is lost is a testing token kept for reloads, or a one-time message).
func (c *Console) updateSession(r *http.Request, id string, fn func(*session)) {
	if _, err := c.sessions.update(r.Context(), id, fn); err != nil {
		c.log.ErrorContext(r.Context(), "console session", "err", err)
	}
}

// deleteSession ends the session; a store failure is logged (the session
// then ends at its timeout).
func (c *Console) deleteSession(r *http.Request, id string) {
	if err := c.sessions.delete(r.Context(), id); err != nil {
		c.log.ErrorContext(r.Context(), "console session", "err", err)
	}
}

// audit records a security event. A failure is returned: a key is not
// shown or changed when its view or change cannot be recorded.
func (c *Console) audit(r *http.Request, ss session, action string) error {
	return c.cfg.Audit.Record(r.Context(), ss.accountID, ss.email, c.cfg.Clients.String(r), action)
}

// takeFlash returns and clears the session's one-time message; a store
// failure is logged and shows none.
func (c *Console) takeFlash(r *http.Request, id string) string {
	msg, err := takeFlash(r.Context(), c.sessions, id)
	if err != nil {
		c.log.ErrorContext(r.Context(), "console session", "err", err)
	}
	return msg
}
