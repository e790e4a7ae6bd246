package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/audit"
	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/tokens"
)

// oauthClient reads the form body of an introspection or revocation
// request and authenticates its client exactly as /oauth2/token does
// (RFC 6749 §2.3.1; the same limits, the same §5.2 errors). It returns
// the client's credential and the token parameter.
func (s *Server) oauthClient(r *http.Request) (storage.Credential, string, error) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		return storage.Credential{}, "", &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "body must be application/x-www-form-urlencoded"}
	}
	if err := r.ParseForm(); err != nil {
		return storage.Credential{}, "", formError(err, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "malformed form body", Err: err})
	}
	ca, herr := readClientAuth(r)
	if herr != nil {
		if herr.Status == http.StatusUnauthorized {
			herr.Code = "invalid_client" // RFC 6749 §5.2
		}
		return storage.Credential{}, "", herr
	}
	cred, err := s.clientCredential(r, ca)
	if err != nil {
		return storage.Credential{}, "", err
	}
	// token_type_hint is only a hint (RFC 7662 §2.1, RFC 7009 §2.1):
	// there is one kind of token here, so it is ignored, whatever it says.
	tok := r.PostForm.Get("token")
	if tok == "" {
		return storage.Credential{}, "", &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "missing token"}
	}
	return cred, tok, nil
}

// ownToken verifies raw and returns its claims when it is live and a
// token of the client's own account; nil otherwise. An account may
// introspect or revoke only its own tokens (SPEC §3): another account's
// token is treated as an unknown one, so that nothing about it leaks.
func (s *Server) ownToken(r *http.Request, cred storage.Credential, raw string) (*tokens.Claims, error) {
	cl, err := s.Tokens.Verify(r.Context(), raw)
	if errors.Is(err, tokens.ErrInvalid) || errors.Is(err, tokens.ErrRevoked) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if cl.Name != cred.AccountID || cl.Subject != cred.UserID {
		return nil, nil
	}
	return cl, nil
}

// introspection is the RFC 7662 §2.2 answer: {"active":false} alone, or
// the token's claims (SPEC §3) with token_type.
type introspection struct {
	Active bool `json:"active"`
	*tokens.Claims
	TokenType string `json:"token_type,omitempty"`
}

// clientToken is what introspection and revocation begin with: no-store
// answers, the authenticated client, and the form's token when it is a
// live token of the client's own account (nil otherwise).
func (s *Server) clientToken(w http.ResponseWriter, r *http.Request) (storage.Credential, *tokens.Claims, error) {
	noStore(w)
	cred, raw, err := s.oauthClient(r)
	if err != nil {
		return storage.Credential{}, nil, err
	}
	cl, err := s.ownToken(r, cred, raw)
	return cred, cl, err
}

// introspect serves POST /oauth2/introspect (RFC 7662).
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) error {
	cred, cl, err := s.clientToken(w, r)
	if err != nil {
		return err
	}
	if cl == nil {
		s.Metrics.Introspections.WithLabelValues("false").Inc()
		writeJSON(w, http.StatusOK, introspection{})
		return nil
	}
	if at, ok := tokens.DiesAt(cl, cred.Revocation); ok {
		// A regeneration's grace ends before the token would expire:
		// exp says when it stops working (rounded down, so that a
		// resource server that trusts the answer until exp never
		// accepts it after). cred was just read from the store, and the
		// token is of its user ID (ownToken). cl is shared (the
		// verification cache): change a copy.
		c := *cl
		c.ExpiresAt = at.Unix()
		cl = &c
	}
	s.Metrics.Introspections.WithLabelValues("true").Inc()
	writeJSON(w, http.StatusOK, introspection{Active: true, Claims: cl, TokenType: "Bearer"})
	return nil
}

// revoke serves POST /oauth2/revoke (RFC 7009). It answers 200 whether or
// not there was anything to revoke (§2.2): an unknown, expired, already
// revoked or other account's token is left as it is. An account with
// accounts.MaxRevokedTokens live revocations gets 429
// too_many_revocations, and the token stays live.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) error {
	cred, cl, err := s.clientToken(w, r)
	if err != nil {
		return err
	}
	if cl != nil {
		err := s.Accounts.RevokeToken(r.Context(), cl.Name, cl.ID, time.Unix(cl.ExpiresAt, 0))
		switch {
		case err == nil:
			s.Metrics.Revocations.Inc()
			s.Audit.Record(r.Context(), cl.Name, cred.UserID, s.Clients.String(r), audit.TokenRevoke+" jti="+cl.ID)
		case errors.Is(err, accounts.ErrTooManyRevocations):
			// RFC 7009 §2.2.1 lets the server refuse with an error of
			// RFC 6749 §5.2's form; the token stays live, and the
			// client has to know it.
			return &Error{Status: http.StatusTooManyRequests, Code: "too_many_revocations", Err: err,
				Message: fmt.Sprintf("this account has %d revoked tokens that have not expired yet; the token was not revoked: regenerate the password to revoke every token", s.Accounts.RevokedTokensLimit())}
		case !errors.Is(err, fault.ErrNotFound): // a deleted account's tokens are dead already
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
