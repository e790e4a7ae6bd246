package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/tokens"
)

// authFailure is the guard's refusal: 403 by default (the documented
// signal for clients to log in again), 401 with --auth-failure-status 401.
func (s *Server) authFailure(code, msg string, err error) *Error {
	e := &Error{Status: s.AuthFailureStatus, Code: code, Message: msg, Err: err}
	if code == "invalid_token" {
		// RFC 6750 §3.
		e.Header = map[string]string{"WWW-Authenticate": `Bearer realm="orchestrator", error="invalid_token"`}
	}
	return e
}

// guardV1 authenticates the maven-api-key header for the account named in
// the path, then calls h with the principal in the context.
func (s *Server) guardV1(h http.Handler) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		key := r.Header.Get("maven-api-key")
		if key == "" {
			return s.authFailure("invalid_api_key", "missing maven-api-key header", nil)
		}
		if !secret.PlausibleAPIKey(key) {
			// A typo or a truncated copy of one of our keys, or no key
			// an operator could have imported: say so rather than
			// "unknown".
			return s.authFailure("invalid_api_key", "malformed API key", nil)
		}
		acct, err := s.Accounts.AuthenticateAPIKey(r.Context(), key)
		if errors.Is(err, accounts.ErrBadAPIKey) {
			return s.authFailure("invalid_api_key", "unknown or retired API key", err)
		}
		if err != nil {
			return err
		}
		if id, ok := accounts.ParseID(r.PathValue("a")); !ok || id != acct.ID {
			// SPEC §4: another account's key gets the answer of an
			// unknown key, so that a caller cannot learn that a key it
			// holds is valid somewhere.
			return s.authFailure("invalid_api_key", "unknown or retired API key", nil)
		}
		if acct.AuthVersion == storage.AuthV2 {
			// v1 is deprecated for accounts on v2 (RFC 9745, RFC 8594).
			since := acct.UpgradedAt
			if since.IsZero() {
				since = acct.CreatedAt
			}
			w.Header().Set("Deprecation", "@"+strconv.FormatInt(since.Unix(), 10))
			if !s.V1Sunset.IsZero() {
				if !s.Now().Before(s.V1Sunset) {
					return s.authFailure("invalid_api_key", "v1 API keys of v2 accounts were retired on "+s.V1Sunset.UTC().Format(time.RFC3339)+"; use v2 credentials", nil)
				}
				w.Header().Set("Sunset", s.V1Sunset.UTC().Format(http.TimeFormat))
			}
		}
		ctx := WithPrincipal(r.Context(), Principal{AccountID: acct.ID, Method: MethodAPIKey})
		h.ServeHTTP(w, r.WithContext(ctx))
		return nil
	})
}

// BearerToken extracts a v2 token from ?access_token=, "Authorization:
// Bearer <JWT>" or a bare "Authorization: <JWT>" (SPEC §4).
func BearerToken(r *http.Request) (string, bool) {
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t, true
	}
	return tokenFromHeader(r.Header.Get("Authorization"))
}

func tokenFromHeader(h string) (string, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", false
	}
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		h = strings.TrimSpace(h[7:])
	} else if strings.ContainsAny(h, " \t") {
		return "", false // another scheme, such as Basic
	}
	return h, h != ""
}

// guardV2 authenticates a v2 token and puts the principal in the context.
// The handler checks the account in its path or body with Authorize.
func (s *Server) guardV2(h HandlerFunc) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		raw, ok := BearerToken(r)
		if !ok {
			return s.authFailure("invalid_token", "missing access token", nil)
		}
		cl, err := s.Tokens.Verify(r.Context(), raw)
		if errors.Is(err, tokens.ErrInvalid) || errors.Is(err, tokens.ErrRevoked) {
			return s.authFailure("invalid_token", "invalid, expired or revoked access token", err)
		}
		if err != nil {
			return err
		}
		r = r.WithContext(WithPrincipal(r.Context(), Principal{AccountID: cl.Name, Method: MethodToken, UserID: cl.Subject, TokenUse: cl.TokenUse}))
		// Routes with the account in the path are checked here too; the
		// handler checks accounts named in bodies.
		if a := r.PathValue("a"); a != "" {
			if _, err := Authorize(r, a); err != nil {
				return err
			}
		}
		return h(w, r)
	})
}
