package storagetest

import (
	"testing"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// Backend is everything a complete storage backend implements.
type Backend = storage.Store

// Run runs the whole suite. open must return a fresh, empty backend for
// each call; it is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open(t)) })
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, open(t)) })
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, open(t)) })
	t.Run("RevocationMonotonic", func(t *testing.T) { testRevocationMonotonic(t, open(t)) })
	t.Run("RevokedTokens", func(t *testing.T) { testRevokedTokens(t, open(t)) })
	t.Run("ConsoleUsers", func(t *testing.T) { testConsoleUsers(t, open(t)) })
	t.Run("SigningKeys", func(t *testing.T) { testSigningKeys(t, open(t)) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open(t)) })
	t.Run("AuditPurge", func(t *testing.T) { testAuditPurge(t, open(t)) })
	t.Run("LastUsed", func(t *testing.T) { testLastUsed(t, open(t)) })
	t.Run("DeleteCascades", func(t *testing.T) { testDeleteCascades(t, open(t)) })
	t.Run("DeleteRecreate", func(t *testing.T) { testDeleteRecreate(t, open(t)) })
	t.Run("ContextNamespaces", func(t *testing.T) { testContextNamespaces(t, open(t)) })
	t.Run("ContextMerge", func(t *testing.T) { testContextMerge(t, open(t)) })
	t.Run("ContextSessions", func(t *testing.T) { testContextSessions(t, open(t)) })
	t.Run("ContextTTL", func(t *testing.T) { testContextTTL(t, open(t)) })
	t.Run("ContextSize", func(t *testing.T) { testContextSize(t, open(t)) })
	t.Run("ContextConcurrency", func(t *testing.T) { testContextConcurrency(t, open(t)) })
	t.Run("ContextAccountDelete", func(t *testing.T) { testContextAccountDelete(t, open(t)) })
	t.Run("ContextUsage", func(t *testing.T) { testContextUsage(t, open(t)) })
	t.Run("ContextQuota", func(t *testing.T) { testContextQuota(t, open(t)) })
	t.Run("ContextRetention", func(t *testing.T) { testContextRetention(t, open(t)) })
	t.Run("ContextCapExpiry", func(t *testing.T) { testContextCapExpiry(t, open(t)) })
	t.Run("Policies", func(t *testing.T) { testPolicies(t, open(t)) })
	t.Run("PoliciesConcurrentCreate", func(t *testing.T) { testPoliciesConcurrentCreate(t, open(t)) })
	t.Run("PoliciesMove", func(t *testing.T) { testPoliciesMove(t, open(t)) })
	t.Run("PolicyEvaluations", func(t *testing.T) { testPolicyEvaluations(t, open(t)) })
	t.Run("PoliciesAccountDelete", func(t *testing.T) { testPoliciesAccountDelete(t, open(t)) })
	t.Run("AccountAttributes", func(t *testing.T) { testAccountAttributes(t, open(t)) })
	t.Run("MaxCharsRace", func(t *testing.T) { b := open(t); testMaxCharsRace(t, b, b) })
	t.Run("QuotaRace", func(t *testing.T) { b := open(t); testQuotaRace(t, b, b) })
	t.Run("PolicyOrderRace", func(t *testing.T) { b := open(t); testPolicyOrderRace(t, b, b) })
	t.Run("PolicyMaxRace", func(t *testing.T) { b := open(t); testPolicyMaxRace(t, b, b) })
	t.Run("PurgeRace", func(t *testing.T) { b := open(t); testPurgeRace(t, b, b) })
	t.Run("ExpiryBoundary", func(t *testing.T) { testExpiryBoundary(t, open(t)) })
	t.Run("DocumentPaging", func(t *testing.T) { testDocumentPaging(t, open(t)) })
	t.Run("UnknownAccountWrites", func(t *testing.T) { testUnknownAccountWrites(t, open(t)) })
	t.Run("SigningKeysSameSignsFrom", func(t *testing.T) { testSigningKeysSameSignsFrom(t, open(t)) })
	t.Run("UnstorableKeys", func(t *testing.T) { testUnstorableKeys(t, open(t)) })
	t.Run("CancelledContext", func(t *testing.T) { testCancelledContext(t, open(t)) })
	t.Run("UpgradeRace", func(t *testing.T) { b := open(t); testUpgradeRace(t, b, b) })
	t.Run("RotateRace", func(t *testing.T) { b := open(t); testRotateRace(t, b, b) })
	t.Run("LogCapRace", func(t *testing.T) { b := open(t); testLogCapRace(t, b, b) })
	t.Run("ContextWritesRace", func(t *testing.T) { b := open(t); testContextWritesRace(t, b, b) })
}
