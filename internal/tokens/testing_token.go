package tokens

import (
	"context"
	"errors"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// TestTokenTTL is the lifetime of the console's testing token (SPEC §7:
// valid 24 h whatever --token-ttl says).
const TestTokenTTL = 24 * time.Hour

// IssueTest signs a testing token (token_use "test") for a credential,
// valid for ttl instead of the configured lifetime. It is Issue with a
// per-call lifetime; the claims and revocation rules are the same. ttl is
// at most the longer of TestTokenTTL and the configured lifetime: signing
// keys stay published that long after they stop signing, and no longer.
func (s *Service) IssueTest(ctx context.Context, c storage.Credential, ttl time.Duration) (Issued, error) {
	if ttl <= 0 || ttl > max(s.cfg.TTL, TestTokenTTL) {
		return Issued{}, errors.New("tokens: testing token TTL must be positive and at most 24h (or the token TTL)")
	}
	return s.issue(ctx, c, UseTest, ttl)
}
