package httpapi

import (
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/ratelimit"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/tokens"
)

// ParseBasic parses an RFC 7617 Basic authorization header value into a
// user ID and password. The scheme is case-insensitive; the credentials
// must be valid base64 and UTF-8 without control characters, and the user
// ID must not be empty.
func ParseBasic(h string) (user, pass string, ok bool) {
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) || len(h) > 4096 {
		return "", "", false
	}
	enc := strings.TrimSpace(h[len(prefix):])
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(enc); err != nil {
			return "", "", false
		}
	}
	s := string(b)
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", "", false
	}
	user, pass, ok = strings.Cut(s, ":")
	if !ok || user == "" {
		return "", "", false
	}
	return user, pass, true
}

// clientAuth is how a client presented its credentials.
type clientAuth struct {
	user, pass string
	basic      bool
}

// readClientAuth reads client credentials from the Basic header or, for
// POST with a form body, from client_id/client_secret (RFC 6749 §2.3.1).
// A request that uses both is refused: RFC 6749 §2.3.1 allows one client
// authentication method per request, and two would let a client be
// checked against credentials it did not mean.
func readClientAuth(r *http.Request) (clientAuth, *Error) {
	bad := func(msg string) *Error {
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_request", Message: msg,
			Header: map[string]string{"WWW-Authenticate": `Basic realm="orchestrator"`}}
	}
	var form url.Values
	if r.Method == http.MethodPost {
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
			if err := r.ParseForm(); err != nil {
				return clientAuth{}, formError(err, bad("malformed form body"))
			}
			form = r.PostForm
		}
	}
	inForm := form.Has("client_id") || form.Has("client_secret")
	if h := r.Header.Get("Authorization"); h != "" {
		if inForm {
			return clientAuth{}, &Error{Status: http.StatusBadRequest, Code: "invalid_request",
				Message: "use one client authentication method: the Basic header or client_id and client_secret in the body, not both"}
		}
		u, p, ok := ParseBasic(h)
		if !ok {
			return clientAuth{}, bad("malformed Basic authorization header")
		}
		return clientAuth{user: u, pass: p, basic: true}, nil
	}
	if id := form.Get("client_id"); id != "" {
		return clientAuth{user: id, pass: form.Get("client_secret")}, nil
	}
	return clientAuth{}, bad("missing Basic authorization header")
}

// maxUserIDLen bounds a user ID before it reaches a limiter, a cache or
// the store: a megabyte-long ID must cost no more memory than a real one.
const maxUserIDLen = 128

// candidates returns the canonical user ID of ca and the passwords to
// check for it. RFC 6749 §2.3.1 has OAuth clients form-encode Basic
// values, while plain Basic clients (curl -u) do not: the user ID is
// decoded once, and that one canonical ID is both limited and
// authenticated, so %XX-encoding an ID cannot open a second budget. The
// password is tried as sent and, when decoding changes it, decoded; each
// password tried costs one failure, so the encoding buys no extra guess.
func (ca clientAuth) candidates() (user string, passwords []string) {
	user = ca.user
	if !ca.basic {
		return user, []string{ca.pass}
	}
	if u, err := url.QueryUnescape(ca.user); err == nil {
		user = u
	}
	passwords = []string{ca.pass}
	if p, err := url.QueryUnescape(ca.pass); err == nil && p != ca.pass {
		if user != ca.user {
			// The ID was encoded, so the client encodes: the decoded
			// password is the one it meant.
			passwords[0] = p
		} else {
			passwords = append(passwords, p)
		}
	}
	return user, passwords
}

// clientCredential applies the brute-force limits and checks the
// credentials. One failure is reserved on the user ID's and the client
// address's budgets before each password check and given back on success,
// so a burst of parallel attempts gets no further than the budget allows.
// Every endpoint that authenticates a client (login, token, introspection,
// revocation) goes through it and so shares those budgets. On failure the
// error is ready to be written.
func (s *Server) clientCredential(r *http.Request, ca clientAuth) (storage.Credential, error) {
	ctx := r.Context()
	addr := s.Clients.LimitKey(r)
	user, passwords := ca.candidates()
	// One budget per user, however its UUID is spelt.
	user = accounts.CanonicalUserID(user)
	if len(user) > maxUserIDLen {
		// No such user can exist; charge the address only, and keep the
		// ID out of every map.
		if _, d, ok := s.AddrLimiter.Reserve(addr); !ok {
			return storage.Credential{}, s.limited(d)
		}
		s.Accounts.AuthenticateClient(ctx, user, ca.pass) // refuses without a lookup, in the same time
		return storage.Credential{}, s.clientFailed(r, ca, "")
	}
	limiters := []ratelimit.Interface{s.UserLimiter, s.AddrLimiter}
	keys := []string{user, addr}
	for _, pass := range passwords {
		attempt, d, ok := ratelimit.ReserveAll(limiters, keys)
		if !ok {
			return storage.Credential{}, s.limited(d)
		}
		cred, err := s.Accounts.AuthenticateClient(ctx, user, pass)
		if errors.Is(err, accounts.ErrBadCredentials) {
			continue // the reserved failure stays charged
		}
		attempt.Refund()
		if err != nil {
			return storage.Credential{}, err
		}
		return cred, nil
	}
	return storage.Credential{}, s.clientFailed(r, ca, user)
}

// clientFailed counts a failed client authentication and returns its
// answer: 401 invalid_client (RFC 6749 §5.2). A failure of user ID user
// ("" when it cannot be one) goes to the audit log, aggregated per user
// ID and minute off the request path.
func (s *Server) clientFailed(r *http.Request, ca clientAuth, user string) *Error {
	s.Metrics.Logins.WithLabelValues("failure").Inc()
	if user != "" {
		s.Audit.LoginFailed(user, s.Clients.String(r))
	}
	e := &Error{Status: http.StatusUnauthorized, Code: "invalid_client", Message: "invalid user ID or password"}
	if ca.basic {
		e.Header = map[string]string{"WWW-Authenticate": `Basic realm="orchestrator"`}
	}
	return e
}

// authenticateClient authenticates the client (clientCredential) and
// issues its token.
func (s *Server) authenticateClient(r *http.Request, ca clientAuth) (*tokens.Issued, error) {
	ctx := r.Context()
	cred, err := s.clientCredential(r, ca)
	if err != nil {
		return nil, err
	}
	issued, err := s.Tokens.Issue(ctx, cred, tokens.UseAccess)
	if err != nil {
		return nil, err
	}
	// The password may have been regenerated between the check and the
	// token: a token of the old password is not handed out.
	if ok, err := s.Accounts.StillCurrent(ctx, cred); err != nil {
		return nil, err
	} else if !ok {
		return nil, s.clientFailed(r, ca, "")
	}
	s.Metrics.Logins.WithLabelValues("success").Inc()
	return &issued, nil
}

func (s *Server) limited(d time.Duration) *Error {
	s.Metrics.Logins.WithLabelValues("limited").Inc()
	secs := int((d + time.Second - 1) / time.Second)
	return &Error{Status: http.StatusTooManyRequests, Code: "too_many_requests",
		Message: "too many failed logins; retry later",
		Header:  map[string]string{"Retry-After": strconv.Itoa(max(secs, 1))}}
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// loginResponse is the body of /v2/authenticate/login.
type loginResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// login serves GET|POST /v2/authenticate/login (SPEC §3).
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	ca, herr := readClientAuth(r)
	if herr != nil {
		return herr
	}
	issued, err := s.authenticateClient(r, ca)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, loginResponse{Token: issued.Token, AccessToken: issued.Token, TokenType: "Bearer",
		ExpiresIn: int64(issued.ExpiresIn / time.Second)})
	return nil
}

// tokenResponse is the RFC 6749 §5.1 body.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// token serves POST /oauth2/token: the RFC 6749 §4.4 client credentials
// grant, with errors per §5.2.
func (s *Server) token(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "body must be application/x-www-form-urlencoded"}
	}
	if err := r.ParseForm(); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "malformed form body", Err: err}
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "missing grant_type"}
	default:
		return &Error{Status: http.StatusBadRequest, Code: "unsupported_grant_type", Message: "only client_credentials is supported"}
	}
	ca, herr := readClientAuth(r)
	if herr != nil {
		if herr.Status == http.StatusUnauthorized {
			herr.Code = "invalid_client" // RFC 6749 §5.2
		}
		return herr
	}
	issued, err := s.authenticateClient(r, ca)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: issued.Token, TokenType: "Bearer", ExpiresIn: int64(issued.ExpiresIn / time.Second)})
	return nil
}

// metadata serves RFC 8414 authorization server metadata.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.Issuer,
		"token_endpoint":                        s.Issuer + "/oauth2/token",
		"jwks_uri":                              s.Issuer + "/.well-known/jwks.json",
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		// RFC 7662, RFC 7009: client-authenticated like the token endpoint.
		"introspection_endpoint":                        s.Issuer + "/oauth2/introspect",
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"revocation_endpoint":                           s.Issuer + "/oauth2/revoke",
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post"},
		"response_types_supported":                      []string{},
	})
	return nil
}

// jwks serves the RFC 7517 key set.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(s.Tokens.JWKS(r.Context()))
	return nil
}
