package tokens

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token uses.
const (
	UseAccess = "access"
	UseTest   = "test"
)

// Audience is the aud claim of every token.
const Audience = "orchestrator"

// Claims are exactly the claims of SPEC §3.
type Claims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ClientID  string `json:"client_id"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	ExpiresAt int64  `json:"exp"`
	ID        string `json:"jti"`
	Zone      string `json:"zone"`
	TokenUse  string `json:"token_use"`
	Name      string `json:"name"`
	// Profile is a JSON string: {"role":"account","tenantId":"<id>","permissions":{}}.
	Profile string `json:"profile"`
}

func numeric(v int64) *jwt.NumericDate {
	if v == 0 {
		return nil
	}
	return jwt.NewNumericDate(time.Unix(v, 0))
}

// GetExpirationTime implements jwt.Claims.
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return numeric(c.ExpiresAt), nil }

// GetIssuedAt implements jwt.Claims.
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error) { return numeric(c.IssuedAt), nil }

// GetNotBefore implements jwt.Claims.
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error) { return numeric(c.NotBefore), nil }

// GetIssuer implements jwt.Claims.
func (c *Claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c *Claims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements jwt.Claims.
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) { return jwt.ClaimStrings{c.Audience}, nil }

// profileJSON renders the profile claim of an account.
func profileJSON(accountID string) string {
	// Account ids are decimal digits, so no escaping is needed.
	return `{"role":"account","tenantId":"` + accountID + `","permissions":{}}`
}
