package tokens

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// TestNewWarnsWhenSigningKeysWereLost: generating the first signing key
// is silent on a new store, and a WARN on a store that was in use (its
// keys were deleted: every token they signed dies).
func TestNewWarnsWhenSigningKeysWereLost(t *testing.T) {
	for _, tc := range []struct {
		name     string
		restart  bool
		haveKey  bool
		wantWarn bool
	}{
		{name: "new store", restart: false, wantWarn: false},
		{name: "restart with its key", restart: true, haveKey: true, wantWarn: false},
		{name: "restart without a key", restart: true, wantWarn: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			keys, _ := secret.Load(secret.Random(secret.KeySize))
			cfg := Config{Issuer: "https://z1.example", Zone: "z1", TTL: time.Hour, Alg: EdDSA}
			if tc.haveKey {
				if _, err := New(ctx, store, keys, creds{}, cfg); err != nil {
					t.Fatal(err)
				}
			}
			var logs bytes.Buffer
			cfg.Restart, cfg.Log = tc.restart, slog.New(slog.NewTextHandler(&logs, nil))
			if _, err := New(ctx, store, keys, creds{}, cfg); err != nil {
				t.Fatal(err)
			}
			warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "no signing key")
			if warned != tc.wantWarn {
				t.Errorf("WARN logged: %v, want %v: %q", warned, tc.wantWarn, logs.String())
			}
		})
	}
}
