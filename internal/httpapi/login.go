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
// Basic values are also form-decoded as RFC 6749 requires, when that
// changes them.
func readClientAuth(r *http.Request) (clientAuth, *Error) {
	bad := func(msg string) *Error {
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_request", Message: msg,
			Header: map[string]string{"WWW-Authenticate": `Basic realm="orchestrator"`}}
	}
	if h := r.Header.Get("Authorization"); h != "" {
		u, p, ok := ParseBasic(h)
		if !ok {
			return clientAuth{}, bad("malformed Basic authorization header")
		}
		return clientAuth{user: u, pass: p, basic: true}, nil
	}
	if r.Method == http.MethodPost {
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
			if err := r.ParseForm(); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return clientAuth{}, &Error{Status: http.StatusRequestEntityTooLarge, Message: "request body too large"}
				}
				return clientAuth{}, bad("malformed form body")
			}
			if id := r.PostForm.Get("client_id"); id != "" {
				return clientAuth{user: id, pass: r.PostForm.Get("client_secret")}, nil
			}
		}
	}
	return clientAuth{}, bad("missing Basic authorization header")
}

// authenticateClient applies the brute-force limits and checks the
// credentials. On failure the error is ready to be written.
func (s *Server) authenticateClient(r *http.Request, ca clientAuth) (*tokens.Issued, error) {
	ctx := r.Context()
	addr := s.Clients.LimitKey(r)
	if d, blocked := s.AddrLimiter.Blocked(addr); blocked {
		return nil, s.limited(d)
	}
	if d, blocked := s.UserLimiter.Blocked(ca.user); blocked {
		return nil, s.limited(d)
	}
	cred, err := s.Accounts.AuthenticateClient(ctx, ca.user, ca.pass)
	if errors.Is(err, accounts.ErrBadCredentials) && ca.basic {
		// RFC 6749 §2.3.1: Basic values are form-encoded by OAuth clients.
		u, uerr := url.QueryUnescape(ca.user)
		p, perr := url.QueryUnescape(ca.pass)
		if uerr == nil && perr == nil && (u != ca.user || p != ca.pass) {
			cred, err = s.Accounts.AuthenticateClient(ctx, u, p)
		}
	}
	if errors.Is(err, accounts.ErrBadCredentials) {
		s.UserLimiter.Fail(ca.user)
		s.AddrLimiter.Fail(addr)
		s.Metrics.Logins.WithLabelValues("failure").Inc()
		e := &Error{Status: http.StatusUnauthorized, Code: "invalid_client", Message: "invalid user ID or password"}
		if ca.basic {
			e.Header = map[string]string{"WWW-Authenticate": `Basic realm="orchestrator"`}
		}
		return nil, e
	}
	if err != nil {
		return nil, err
	}
	issued, err := s.Tokens.Issue(ctx, cred, tokens.UseAccess)
	if err != nil {
		return nil, err
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
		herr.Code = "invalid_client"
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
		"response_types_supported":              []string{},
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
