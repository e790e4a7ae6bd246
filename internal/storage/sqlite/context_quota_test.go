package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// TestContextQuotaMigrationSeedsUsage checks that 0006_context_quota.sql
// counts what a database stored before it, as the triggers count it since.
func TestContextQuotaMigrationSeedsUsage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	createAccount(t, s, "7")
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, k := range []storage.ContextKey{{AccountID: "7", Namespace: "a", SessionID: "s"}, {AccountID: "7", Namespace: "bé", SessionID: "__default__"}} {
		err := s.MergeProperties(ctx, storage.ContextMerge{Key: k, Now: now, Properties: []storage.ContextProperty{
			{Name: "x", Value: []byte(`"日本"`)}, {Name: "y", Value: []byte(`[1,2]`)},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutNamespace(ctx, "7", storage.ContextNamespace{Name: "empty", CreatedAt: now}, storage.ContextQuota{}); err != nil {
		t.Fatal(err)
	}
	want, err := s.ContextUsage(ctx, "7")
	if err != nil || want.Properties != 4 {
		t.Fatalf("ContextUsage = %+v, %v", want, err)
	}
	s.Close()

	// Back to the schema before 0006, data kept (0007 to 0010 undone
	// too: goose applies no migration older than the newest applied).
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TABLE ccs_usage`,
		`DROP TRIGGER ccs_usage_namespace_insert`, `DROP TRIGGER ccs_usage_namespace_delete`,
		`DROP TRIGGER ccs_usage_session_insert`, `DROP TRIGGER ccs_usage_session_delete`,
		`DROP TRIGGER ccs_usage_property_insert`, `DROP TRIGGER ccs_usage_property_update`, `DROP TRIGGER ccs_usage_property_delete`,
		`DROP TABLE health_probe`, `DROP TABLE account_attributes`, `DROP TABLE revoked_tokens`,
		`DROP INDEX audit_log_time`, `ALTER TABLE api_keys DROP COLUMN last_used_at`, `ALTER TABLE credentials DROP COLUMN last_used_at`,
		`DELETE FROM goose_db_version WHERE version_id IN (6, 7, 8, 9, 10)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.ContextUsage(ctx, "7"); err != nil || got != want {
		t.Errorf("after the migration: ContextUsage = %+v, %v; want %+v", got, err, want)
	}
}
