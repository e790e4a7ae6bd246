package tokens

import (
	"context"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// TestTokenTTL is the lifetime of the console's testing token (SPEC §7:
// valid 24 h whatever --token-ttl says).
const TestTokenTTL = 24 * time.Hour

// IssueTest signs a testing token (token_use "test") for a credential,
// valid for ttl instead of the configured lifetime. It is Issue with a
// per-call lifetime; the claims and revocation rules are the same.
func (s *Service) IssueTest(ctx context.Context, c storage.Credential, ttl time.Duration) (Issued, error) {
	if ttl <= 0 {
		return Issued{}, errors.New("tokens: testing token TTL must be positive")
	}
	st := s.current(ctx)
	if st.signer == nil {
		return Issued{}, errors.New("tokens: no signing key")
	}
	now := s.cfg.Now()
	// See Issue: the jti's UUIDv7 timestamp is the issue time used by
	// revocation, kept newer than the credential's last regeneration.
	issuedMs := max(now.UnixMilli(), c.RevokedBeforeMs+1)
	id, err := uuid.NewV7()
	if err != nil {
		return Issued{}, err
	}
	putMillis(&id, issuedMs)
	cl := &Claims{
		Issuer: s.cfg.Issuer, Subject: c.UserID, Audience: Audience, ClientID: c.UserID,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), ExpiresAt: now.Add(ttl).Unix(),
		ID: id.String(), Zone: s.cfg.Zone, TokenUse: UseTest, Name: c.AccountID, Profile: profileJSON(c.AccountID),
	}
	t := jwt.NewWithClaims(st.signer.method, cl)
	t.Header["kid"] = st.signer.rec.KID
	t.Header["typ"] = "JWT"
	signed, err := t.SignedString(st.signer.priv)
	if err != nil {
		return Issued{}, err
	}
	return Issued{Token: signed, ExpiresIn: ttl, Claims: cl}, nil
}
