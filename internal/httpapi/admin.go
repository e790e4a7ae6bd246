package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/secret"
)

// admin authenticates the operator token (constant-time compare). Failed
// attempts are limited per client address like logins: a failure is
// reserved before the compare and given back on success, so guessing the
// token is bounded even in parallel.
func (s *Server) admin(h HandlerFunc) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		noStore(w)
		attempt, d, ok := s.AdminLimiter.Reserve(s.Clients.LimitKey(r))
		if !ok {
			secs := int((d + time.Second - 1) / time.Second)
			return &Error{Status: http.StatusTooManyRequests, Code: "too_many_requests",
				Message: "too many failed operator authentications; retry later",
				Header:  map[string]string{"Retry-After": strconv.Itoa(max(secs, 1))}}
		}
		tok, ok := tokenFromHeader(r.Header.Get("Authorization"))
		if !ok || s.AdminToken == "" || !secret.Equal([]byte(tok), []byte(s.AdminToken)) {
			msg := "operator token required"
			if ok {
				msg = "invalid operator token"
			}
			return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: msg,
				Header: map[string]string{"WWW-Authenticate": `Bearer realm="orchestrator-admin"`}}
		}
		attempt.Refund()
		return h(w, r)
	})
}

func (s *Server) adminRoutes(handle func(pattern string, h HandlerFunc)) {
	handle("POST /admin/v1/accounts", s.adminCreate)
	handle("GET /admin/v1/accounts", s.adminList)
	handle("GET /admin/v1/accounts/{id}", s.adminGet)
	handle("DELETE /admin/v1/accounts/{id}", s.adminDelete)
	handle("POST /admin/v1/accounts/{id}/upgrade", s.adminUpgrade)
	handle("POST /admin/v1/accounts/{id}/api-key/regenerate", s.adminRegenerateKey)
	handle("POST /admin/v1/accounts/{id}/credentials/regenerate", s.adminRegeneratePassword)
	handle("POST /admin/v1/accounts/{id}/console-users", s.adminConsoleUser)
	handle("POST /admin/v1/keys/rotate", s.adminRotate)
}

func pathAccount(r *http.Request) (string, error) {
	id, ok := ParseAccountID(r.PathValue("id"))
	if !ok {
		return "", fault.Invalid("account id: must be decimal digits, optionally prefixed with le")
	}
	return id, nil
}

func (s *Server) adminCreate(w http.ResponseWriter, r *http.Request) error {
	var req accounts.CreateRequest
	if err := DecodeJSON(r, &req, false); err != nil {
		return err
	}
	a, err := s.Accounts.Create(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a)
	return nil
}

func (s *Server) adminList(w http.ResponseWriter, r *http.Request) error {
	as, err := s.Accounts.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, as)
	return nil
}

func (s *Server) adminGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathAccount(r)
	if err != nil {
		return err
	}
	a, err := s.Accounts.Get(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) adminDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathAccount(r)
	if err != nil {
		return err
	}
	if err := s.Accounts.Delete(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) adminUpgrade(w http.ResponseWriter, r *http.Request) error {
	id, err := pathAccount(r)
	if err != nil {
		return err
	}
	a, err := s.Accounts.Upgrade(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

type graceRequest struct {
	Grace string `json:"grace,omitempty"`
}

func readGrace(r *http.Request) (time.Duration, error) {
	var req graceRequest
	if err := DecodeJSON(r, &req, true); err != nil {
		return 0, err
	}
	if strings.TrimSpace(req.Grace) == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(req.Grace)
	if err != nil || d < 0 {
		return 0, fault.Invalid("grace: a duration such as 10m")
	}
	return d, nil
}

func (s *Server) adminRegenerateKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathAccount(r)
	if err != nil {
		return err
	}
	grace, err := readGrace(r)
	if err != nil {
		return err
	}
	key, err := s.Accounts.RegenerateAPIKey(r.Context(), id, grace)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"apiKey": key})
	return nil
}

func (s *Server) adminRegeneratePassword(w http.ResponseWriter, r *http.Request) error {
	id, err := pathAccount(r)
	if err != nil {
		return err
	}
	grace, err := readGrace(r)
	if err != nil {
		return err
	}
	c, err := s.Accounts.RegeneratePassword(r.Context(), id, grace)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) adminConsoleUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathAccount(r)
	if err != nil {
		return err
	}
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password,omitempty"`
	}
	if err := DecodeJSON(r, &req, false); err != nil {
		return err
	}
	login, err := s.Accounts.AddConsoleUser(r.Context(), id, req.Email, req.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, login)
	return nil
}

func (s *Server) adminRotate(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Delay string `json:"delay,omitempty"`
	}
	if err := DecodeJSON(r, &req, true); err != nil {
		return err
	}
	// By default the new key signs once verifiers that cache the JWKS
	// (max-age 300) have seen it.
	delay := 5 * time.Minute
	if req.Delay != "" {
		d, err := time.ParseDuration(req.Delay)
		if err != nil || d < 0 {
			return fault.Invalid("delay: a duration such as 5m")
		}
		delay = d
	}
	k, err := s.Tokens.Rotate(r.Context(), delay)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"kid": k.KID, "alg": k.Alg, "publishedAt": k.CreatedAt, "signsFrom": k.SignsFrom})
	return nil
}
