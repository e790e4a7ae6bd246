package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/datadir"
	"github.com/orchestrator/orchestrator/internal/storage/migrate"
	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
	"github.com/orchestrator/orchestrator/internal/storage/postgres"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// storeStatus runs store status --json with flags and returns what it
// listed.
func storeStatus(t *testing.T, flags ...string) []migrationView {
	t.Helper()
	out := mustRun(t, append([]string{"store", "status", "--json"}, flags...)...)
	var st []migrationView
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("store status --json printed %q: %v", out, err)
	}
	return st
}

// checkStates fails unless st lists every migration of want, in order,
// each in state.
func checkStates(t *testing.T, st []migrationView, want []migrate.Migration, state string) {
	t.Helper()
	if len(st) != len(want) {
		t.Fatalf("status lists %d migrations, want %d: %+v", len(st), len(want), st)
	}
	for i, m := range st {
		if m.Version != want[i].Version || m.Name != want[i].Name || m.State != state {
			t.Errorf("status line %d = %+v, want %d %s %s", i, m, want[i].Version, want[i].Name, state)
		}
		if applied := m.AppliedAt != nil; applied != (state == "applied") {
			t.Errorf("migration %d: appliedAt %v with state %s", m.Version, m.AppliedAt, state)
		} else if applied && time.Since(*m.AppliedAt) > time.Hour {
			t.Errorf("migration %d applied at %v, want just now", m.Version, m.AppliedAt)
		}
	}
}

// migrateRun runs store migrate and checks that it printed one line per
// migration of want, or "up to date" when want is empty.
func migrateRun(t *testing.T, want []migrate.Migration, flags ...string) {
	t.Helper()
	out := mustRun(t, append([]string{"store", "migrate"}, flags...)...)
	if len(want) == 0 {
		if out != "up to date\n" {
			t.Errorf("store migrate printed %q, want \"up to date\"", out)
		}
		return
	}
	var lines []string
	for _, m := range want {
		lines = append(lines, fmt.Sprintf("applied %d %s", m.Version, m.Name))
	}
	if got, want := out, strings.Join(lines, "\n")+"\n"; got != want {
		t.Errorf("store migrate printed\n%s\nwant\n%s", got, want)
	}
}

func TestStoreSQLite(t *testing.T) {
	t.Setenv("ORCH_POSTGRES_URL", "")
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	sources, err := migrate.Sources(sqlite.Migrations())
	if err != nil || len(sources) != 10 {
		t.Fatalf("SQLite migrations: %v, %v; want 10", sources, err)
	}

	checkStates(t, storeStatus(t, "--data", data), sources, "pending")
	if _, err := os.Stat(filepath.Join(data, "orchestrator.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store status created the store (%v)", err)
	}
	out := mustRun(t, "store", "status", "--data", data)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1+len(sources) || !strings.HasPrefix(lines[0], "VERSION") ||
		!strings.Contains(lines[1], "0001_accounts.sql") || !strings.Contains(lines[len(sources)], "pending") {
		t.Errorf("store status printed\n%s\nwant a header and %d pending lines", out, len(sources))
	}

	migrateRun(t, sources, "--data", data)
	checkStates(t, storeStatus(t, "--data", data), sources, "applied")
	migrateRun(t, nil, "--data", data)

	// ORCH_DATA works as --data does.
	t.Setenv("ORCH_DATA", data)
	migrateRun(t, nil)
}

// Migrating under a running server (the data directory locked) is
// refused; reading the status is not.
func TestStoreMigrateRefusesALockedDataDirectory(t *testing.T) {
	t.Setenv("ORCH_POSTGRES_URL", "")
	data := t.TempDir()
	lock, err := datadir.Acquire(data)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	_, err = run(t, "store", "migrate", "--data", data)
	if err == nil || !errors.Is(err, datadir.ErrInUse) || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("store migrate on a locked directory: %v, want data directory in use by pid …", err)
	}
	if _, err := os.Stat(filepath.Join(data, "orchestrator.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused migrate created the store (%v)", err)
	}
	storeStatus(t, "--data", data)
}

// Like serve, migrate does not create a store beside the secrets of an
// earlier start: that store is lost, not new.
func TestStoreMigrateRefusesALostStore(t *testing.T) {
	t.Setenv("ORCH_POSTGRES_URL", "")
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "secret.key"), []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, "store", "migrate", "--data", data)
	if err == nil || !strings.Contains(err.Error(), "is missing while") {
		t.Fatalf("store migrate beside an earlier secret.key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "orchestrator.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused migrate created the store (%v)", err)
	}
}

func TestStoreStatusMissingDataDirectory(t *testing.T) {
	t.Setenv("ORCH_POSTGRES_URL", "")
	data := filepath.Join(t.TempDir(), "typo")
	if _, err := run(t, "store", "status", "--data", data); err == nil || !strings.Contains(err.Error(), "data directory") {
		t.Errorf("store status of a missing directory: %v, want an error naming it", err)
	}
}

func TestStorePostgres(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	sources, err := migrate.Sources(postgres.Migrations())
	if err != nil || len(sources) == 0 {
		t.Fatalf("PostgreSQL migrations: %v, %v", sources, err)
	}
	checkStates(t, storeStatus(t, "--postgres-url", dsn), sources, "pending")
	migrateRun(t, sources, "--postgres-url", dsn)
	checkStates(t, storeStatus(t, "--postgres-url", dsn), sources, "applied")
	migrateRun(t, nil, "--postgres-url", dsn)
	// ORCH_POSTGRES_URL works as --postgres-url does, and wins over --data.
	t.Setenv("ORCH_POSTGRES_URL", dsn)
	migrateRun(t, nil, "--data", filepath.Join(t.TempDir(), "unused"))
}
