package postgres_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
	"github.com/orchestrator/orchestrator/internal/storage/postgres"
	"github.com/orchestrator/orchestrator/internal/storage/storagetest"
)

// openURL opens a Store on dsn, migrating, and closes it when t ends.
func openURL(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{Migrate: true, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T) storagetest.Backend {
	dsn, _ := pgtest.Schema(t)
	return openURL(t, dsn)
}

func TestConformance(t *testing.T) { storagetest.Run(t, open) }

// Two Stores on one schema: two nodes of a zone.
func TestShared(t *testing.T) {
	storagetest.RunShared(t, func(t *testing.T) (a, b storagetest.Backend) {
		dsn, _ := pgtest.Schema(t)
		return openURL(t, dsn), openURL(t, dsn)
	})
}
