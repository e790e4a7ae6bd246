package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
)

// Purges run once per zone at a time: while another node's purge holds
// the zone's turn, a node's purge does nothing (and does not wait);
// afterwards it purges.
func TestPurgeOncePerZone(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	s := openURL(t, dsn)
	f := setup(t, s)
	ctx := context.Background()
	now := time.Now()
	m := f.merge("short")
	m.TTL, m.HasTTL, m.Now = time.Second, true, now.Add(-time.Hour)
	if err := s.MergeProperties(ctx, m); err != nil {
		t.Fatal(err)
	}
	other, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The lock another node's PurgeContext takes (class "orc" 1).
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(x'6f726301'::int, hashtext(current_schema()))`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if n, err := s.PurgeContext(ctx, now, 100); err != nil || n != 0 {
		t.Errorf("purge while another node purges: %d, %v; want 0, nil", n, err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("purge waited %v for the other node", waited)
	}
	tx.Rollback(ctx)
	if n, err := s.PurgeContext(ctx, now, 100); err != nil || n != 1 {
		t.Errorf("purge after the other node's turn: %d, %v; want 1", n, err)
	}
	got, _ := s.GetProperties(ctx, f.key, nil, now)
	for _, p := range got {
		if p.Name == "short" {
			t.Error("the expired property is still there")
		}
	}
}
