package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
	"github.com/orchestrator/orchestrator/internal/storage/storecopy"
)

// storeRoot wires StoreCopyCmd as the root will (orchestrator store
// copy), until the store command group lands there.
type storeRoot struct {
	Globals
	Store struct {
		Copy StoreCopyCmd `cmd:"" help:"Copy the embedded store into PostgreSQL."`
	} `cmd:""`
}

func runStore(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var r storeRoot
	p, err := kong.New(&r, kong.Name("orchestrator"), kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := p.Parse(args)
	if err != nil {
		return "", "", err
	}
	var out, errb bytes.Buffer
	r.Globals.Stdout, r.Globals.Stderr, r.Globals.Ctx = &out, &errb, context.Background()
	r.Globals.JSON = selectedJSON(kctx)
	err = kctx.Run(&r.Globals)
	return out.String(), errb.String(), err
}

// storeDir is a data directory whose store holds two accounts.
func storeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(dir, storecopy.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, id := range []string{"a1", "a2"} {
		err := s.CreateAccount(ctx, storage.NewAccount{
			Account: storage.Account{ID: id, Name: id, AuthVersion: storage.AuthV1, CreatedAt: at},
			APIKey:  storage.APIKey{AccountID: id, Hash: []byte("h" + id), Sealed: []byte("s" + id), CreatedAt: at},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStoreCopy(t *testing.T) {
	dir := storeDir(t)
	dsn, _ := pgtest.Schema(t)
	out, progress, err := runStore(t, "store", "copy", "--from", dir, "--to", dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Copied " + filepath.Join(dir, "orchestrator.db") + " into PostgreSQL", "TABLE", "SHA-256", "same secret key", filepath.Join(dir, "secret.key")} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	lines := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[3] == "ok" && len(f[2]) == 64 {
			lines++
			if f[0] == "accounts" && f[1] != "2" {
				t.Errorf("accounts line %q, want 2 rows", line)
			}
		}
	}
	if lines != 15 {
		t.Errorf("%d table lines marked ok, want 14:\n%s", lines, out)
	}
	if !strings.Contains(progress, "copied accounts: 2 rows") {
		t.Errorf("progress on stderr: %q", progress)
	}

	// A second copy into the same database is refused, and says why.
	_, _, err = runStore(t, "store", "copy", "--from", dir, "--to", dsn)
	if !errors.Is(err, storecopy.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "accounts has 2 rows") {
		t.Errorf("second copy: %v", err)
	}
}

func TestStoreCopyJSONFromEnv(t *testing.T) {
	dir := storeDir(t)
	dsn, _ := pgtest.Schema(t)
	t.Setenv("ORCH_POSTGRES_URL", dsn)
	out, _, err := runStore(t, "store", "copy", "--from", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v storeCopyView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(v.Tables) != 15 || v.Tables[0].Name != "accounts" || v.Tables[0].Rows != 2 || v.From != filepath.Join(dir, "orchestrator.db") {
		t.Fatalf("JSON %+v", v)
	}
	for _, tb := range v.Tables {
		if !tb.OK || tb.Checksum != tb.TargetChecksum || tb.Rows != tb.TargetRows {
			t.Errorf("table %+v not verified", tb)
		}
	}
}

func TestStoreCopyFlags(t *testing.T) {
	t.Setenv("ORCH_POSTGRES_URL", "")
	os.Unsetenv("ORCH_POSTGRES_URL") // restored by Setenv's cleanup
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"store", "copy", "--to", "postgres://x"}, "--from"},
		{[]string{"store", "copy", "--from", t.TempDir()}, "--to"},
		{[]string{"store", "copy", "--from", t.TempDir(), "--to", ""}, "--to or ORCH_POSTGRES_URL"},
	} {
		_, _, err := runStore(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error about %s", c.args, err, c.want)
		}
	}
}
