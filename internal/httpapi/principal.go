package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/orchestrator/orchestrator/internal/accounts"
)

// Authentication methods of a Principal.
const (
	MethodAPIKey = "api_key"
	MethodToken  = "token"
)

// Principal is the authenticated caller of an API request.
type Principal struct {
	AccountID string // canonical account id (no "le" prefix)
	Method    string // MethodAPIKey or MethodToken
	UserID    string // v2 user id (tokens only)
	TokenUse  string // "access" or "test" (tokens only)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal the guard put in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Authorize checks that the request's principal may act on the account id
// named in its path or body (in either form), and returns the canonical id.
// A mismatch is a 403: for a token {"error":"forbidden"}, which tells
// clients that logging in again would not help (SPEC §4, §8); for a v1
// key the answer of an unknown key, so that keys cannot be told apart.
func Authorize(r *http.Request, accountID string) (string, error) {
	p, ok := PrincipalFrom(r.Context())
	if !ok {
		return "", &Error{Status: http.StatusForbidden, Code: "invalid_token", Message: "missing credentials"}
	}
	id, ok := accounts.ParseID(accountID)
	if !ok || id != p.AccountID {
		if p.Method == MethodAPIKey {
			return "", &Error{Status: http.StatusForbidden, Code: "invalid_api_key", Message: "unknown or retired API key"}
		}
		return "", &Error{Status: http.StatusForbidden, Code: "forbidden",
			Message: "this token is for another account and may not access account " + strconv.Quote(printable(accountID))}
	}
	return id, nil
}

// printable bounds and cleans an untrusted string for an error message.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b := make([]rune, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		b = append(b, r)
	}
	return string(b)
}
