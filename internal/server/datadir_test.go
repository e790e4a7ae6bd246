package server_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/datadir/datadirtest"
	"github.com/orchestrator/orchestrator/internal/openapi/openapitest"
	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/server"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// These tests pin how the server treats its data directory (SPEC §1,
// reliability campaign 2026-12).

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// warns returns the WARN lines logged.
func (l *logBuf) warns() string {
	var w []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, "level=WARN") {
			w = append(w, line)
		}
	}
	return strings.Join(w, "\n")
}

func dataCfg(dir string) config.Serve {
	cfg := config.Defaults()
	cfg.Data = dir
	return cfg
}

func newServer(t *testing.T, cfg config.Serve) (*server.Server, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	srv, err := server.New(context.Background(), cfg, server.Deps{Log: slog.New(slog.NewTextHandler(logs, nil)), Wrap: openapitest.ForTest(t, false)})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	return srv, logs
}

// firstRun starts a server on a fresh data directory, creates an account
// and stops it.
func firstRun(t *testing.T, cfg config.Serve) {
	t.Helper()
	srv, _ := newServer(t, cfg)
	if _, err := srv.Accounts.Create(context.Background(), accounts.CreateRequest{Name: "Before"}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}

// listing describes the files of dir with their sizes.
func listing(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		fi, _ := e.Info()
		out = append(out, fmt.Sprintf("%s:%d", e.Name(), fi.Size()))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestSecondServerOnTheSameDataIsRefused(t *testing.T) {
	cfg := dataCfg(t.TempDir())
	a, _ := newServer(t, cfg)
	_, err := server.New(context.Background(), cfg, server.Deps{Log: slog.New(slog.DiscardHandler)})
	want := fmt.Sprintf("data directory in use by pid %d", os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second server.New: %v, want %q", err, want)
	}
	if _, err := a.Accounts.Create(context.Background(), accounts.CreateRequest{Name: "Still"}); err != nil {
		t.Fatalf("the first server after the refusal: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := newServer(t, cfg) // Close released the lock
	b.Close()
}

func TestStoreMissingOrEmptyBesideSecretsIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    bool // ORCH_SECRET_KEY and ORCH_ADMIN_TOKEN: no secret.key, no admin.token
		damage func(db string) error
		want   string
	}{
		{name: "deleted", damage: os.Remove, want: "is missing while"},
		{name: "truncated", damage: func(db string) error { return os.Truncate(db, 0) }, want: "is empty (0 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := dataCfg(t.TempDir())
			firstRun(t, cfg)
			db := filepath.Join(cfg.Data, "orchestrator.db")
			if err := tc.damage(db); err != nil {
				t.Fatal(err)
			}
			before := listing(t, cfg.Data)
			_, err := server.New(context.Background(), cfg, server.Deps{Log: slog.New(slog.DiscardHandler)})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "refusing to start as a new install") {
				t.Fatalf("server.New: %v, want %q", err, tc.want)
			}
			if after := listing(t, cfg.Data); after != before {
				t.Errorf("the refused start changed the directory:\n before %s\n after  %s", before, after)
			}
		})
	}
}

func TestSecretKeyMissingBesideAPopulatedStoreIsRefused(t *testing.T) {
	cfg := dataCfg(t.TempDir())
	firstRun(t, cfg)
	key := filepath.Join(cfg.Data, "secret.key")
	os.Remove(key)
	_, err := server.New(context.Background(), cfg, server.Deps{Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "secret key does not match the store") {
		t.Fatalf("server.New: %v, want %q", err, "secret key does not match the store")
	}
	if _, err := os.Stat(key); !os.IsNotExist(err) {
		t.Errorf("a new secret.key was created beside the store (%v)", err)
	}
}

// A store that `orchestrator store migrate` created before the first
// start holds only the schema: the first start is a new install (a new
// secret key, no warning), not a store whose secret key is missing.
func TestStoreMigratedAheadOfFirstStart(t *testing.T) {
	cfg := dataCfg(filepath.Join(t.TempDir(), "data"))
	if err := os.Mkdir(cfg.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Migrate(context.Background(), filepath.Join(cfg.Data, "orchestrator.db")); err != nil {
		t.Fatal(err)
	}
	srv, logs := newServer(t, cfg)
	srv.Close()
	if w := logs.warns(); w != "" {
		t.Errorf("first start on a migrated store warned: %s", w)
	}
	if _, err := os.Stat(filepath.Join(cfg.Data, "secret.key")); err != nil {
		t.Errorf("no secret key generated: %v", err)
	}
}

func TestWrongSecretKeyIsNamed(t *testing.T) {
	cfg := dataCfg(t.TempDir())
	cfg.SecretKey = hex.EncodeToString(secret.Random(secret.KeySize))
	firstRun(t, cfg)
	cfg.SecretKey = hex.EncodeToString(secret.Random(secret.KeySize))
	_, err := server.New(context.Background(), cfg, server.Deps{Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "secret key does not match the store") || !strings.Contains(err.Error(), "ORCH_SECRET_KEY") {
		t.Fatalf("server.New with another ORCH_SECRET_KEY: %v, want %q naming ORCH_SECRET_KEY", err, "secret key does not match the store")
	}
}

func TestDataFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	cfg := dataCfg(filepath.Join(t.TempDir(), "data"))
	if err := os.Mkdir(cfg.Data, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, logs := newServer(t, cfg)
	defer srv.Close()
	if _, err := srv.Accounts.Create(context.Background(), accounts.CreateRequest{Name: "Files"}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(cfg.Data); fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %#o, want 0700", fi.Mode().Perm())
	}
	if !strings.Contains(logs.warns(), "data directory was open to other users") {
		t.Errorf("no WARN for tightening the directory: %s", logs)
	}
	for _, name := range []string{"orchestrator.db", "orchestrator.db-wal", "orchestrator.db-shm", "secret.key", "admin.token", "orchestrator.lock"} {
		fi, err := os.Stat(filepath.Join(cfg.Data, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", name, fi.Mode().Perm())
		}
	}
}

func TestDataDirectoryWritableByEveryoneIsRefused(t *testing.T) {
	cfg := dataCfg(filepath.Join(t.TempDir(), "data"))
	os.Mkdir(cfg.Data, 0o700)
	os.Chmod(cfg.Data, 0o777)
	_, err := server.New(context.Background(), cfg, server.Deps{Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "writable by every user") {
		t.Fatalf("server.New on a 0777 directory: %v", err)
	}
	if got := listing(t, cfg.Data); got != "" {
		t.Errorf("the refused start created %s", got)
	}
}

func TestSecretFilesReadableByOthersWarn(t *testing.T) {
	cfg := dataCfg(t.TempDir())
	firstRun(t, cfg)
	for _, name := range []string{"secret.key", "admin.token"} {
		os.Chmod(filepath.Join(cfg.Data, name), 0o644)
	}
	srv, logs := newServer(t, cfg)
	srv.Close()
	for _, name := range []string{"secret.key", "admin.token"} {
		if !strings.Contains(logs.warns(), filepath.Join(cfg.Data, name)) {
			t.Errorf("no WARN about %s (0644): %s", name, logs)
		}
	}
}

func TestDeletedSigningKeysAreRegeneratedWithAWarning(t *testing.T) {
	cfg := dataCfg(t.TempDir())
	firstRun(t, cfg)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(cfg.Data, "orchestrator.db"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := store.ListSigningKeys(ctx)
	if err != nil || len(recs) == 0 {
		t.Fatalf("signing keys: %v, %v", recs, err)
	}
	for _, r := range recs {
		if err := store.DeleteSigningKey(ctx, r.KID); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()
	srv, logs := newServer(t, cfg)
	srv.Close()
	if !strings.Contains(logs.warns(), "no signing key") {
		t.Errorf("no WARN for the regenerated signing key: %s", logs)
	}
	// A first start generates its key without a warning.
	srv, logs = newServer(t, dataCfg(filepath.Join(t.TempDir(), "data")))
	srv.Close()
	if w := logs.warns(); w != "" {
		t.Errorf("first start warned: %s", w)
	}
}

// TestFirstStartOnAFullDisk: the review's first start on a full disk left
// a 0-byte secret.key that blocked every later start. Now the start fails
// and leaves no secret file; once there is room the next start succeeds.
func TestFirstStartOnAFullDisk(t *testing.T) {
	dir := datadirtest.FullDisk(t, 1) // a page for the lock file's pid
	cfg := dataCfg(dir)
	_, err := server.New(context.Background(), cfg, server.Deps{Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("server.New on a full disk: %v, want no space left", err)
	}
	for _, e := range strings.Fields(listing(t, dir)) {
		if name := e[:strings.IndexByte(e, ':')]; name != "fill" && name != "orchestrator.lock" {
			t.Errorf("the failed start left %s", e)
		}
	}
	os.Remove(filepath.Join(dir, "fill"))
	srv, _ := newServer(t, cfg)
	srv.Close()
}
