package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/audit"
	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/wire"
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

// audit records an operator action on an account (audit.Zone: on the
// zone). It runs after the change and does not fail the request: the
// change is made, and the recorder logs and counts a lost entry.
func (s *Server) audit(r *http.Request, accountID, action string) {
	s.Audit.Record(r.Context(), accountID, audit.Operator, s.Clients.String(r), action)
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
	handle("GET /admin/v1/accounts/{id}/audit", s.adminAudit)
	handle("GET /admin/v1/audit", s.adminZoneAudit)
	handle("POST /admin/v1/keys/rotate", s.adminRotate)
}

func pathAccount(r *http.Request) (string, error) {
	id, ok := accounts.ParseID(r.PathValue("id"))
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
	action := audit.AccountCreate + " " + a.AuthVersion
	if a.ConsoleUser != nil {
		action += " console_user=" + a.ConsoleUser.Email
	}
	if req.APIKey != "" || req.Credentials != nil {
		action += " imported"
	}
	s.audit(r, a.AccountID, action)
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
	s.audit(r, id, audit.AccountDelete)
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
	s.audit(r, id, audit.AccountUpgrade)
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
	s.audit(r, id, audit.APIKeyRegenerate+" grace="+grace.String())
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
	s.audit(r, id, audit.CredentialsRegenerate+" grace="+grace.String())
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) adminConsoleUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathAccount(r)
	if err != nil {
		return err
	}
	var req wire.ConsoleLogin
	if err := DecodeJSON(r, &req, false); err != nil {
		return err
	}
	login, err := s.Accounts.AddConsoleUser(r.Context(), id, req.Email, req.Password)
	if err != nil {
		return err
	}
	s.audit(r, id, audit.ConsoleUserCreate+" email="+login.Email)
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
	// Not an account's: the zone's log (GET /admin/v1/audit).
	s.audit(r, audit.Zone, audit.SigningKeyRotate+" kid="+k.KID+" signs_from="+k.SignsFrom.UTC().Format(time.RFC3339))
	writeJSON(w, http.StatusOK, map[string]any{"kid": k.KID, "alg": k.Alg, "publishedAt": k.CreatedAt, "signsFrom": k.SignsFrom})
	return nil
}

// auditLimit reads ?limit= (1-1000, default 100).
func auditLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, fault.Invalid("limit: a number from 1 to 1000")
	}
	return n, nil
}

// adminAudit serves an account's audit log, newest first; 404 for an
// account that does not exist (its entries, kept after a deletion, are
// not listed).
func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request) error {
	id, err := pathAccount(r)
	if err != nil {
		return err
	}
	limit, err := auditLimit(r)
	if err != nil {
		return err
	}
	if _, err := s.Accounts.Record(r.Context(), id); err != nil {
		return err
	}
	return s.writeAudit(w, r, id, limit)
}

// adminZoneAudit serves the zone's own audit log (signing-key rotations,
// login failures of user IDs no account has), newest first.
func (s *Server) adminZoneAudit(w http.ResponseWriter, r *http.Request) error {
	limit, err := auditLimit(r)
	if err != nil {
		return err
	}
	return s.writeAudit(w, r, audit.Zone, limit)
}

func (s *Server) writeAudit(w http.ResponseWriter, r *http.Request, accountID string, limit int) error {
	es, err := s.Audit.List(r.Context(), accountID, limit)
	if err != nil {
		return err
	}
	out := make([]wire.AuditEntry, len(es))
	for i, e := range es {
		out[i] = wire.AuditEntry{Time: e.Time, Actor: e.Actor, Action: e.Action, Address: e.Address}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
