package secret

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/orchestrator/orchestrator/internal/datadir/datadirtest"
)

// TestLoadOrCreateOnAFullDisk: a first start on a full disk fails and
// leaves no secret.key (it used to leave an empty one that blocked every
// later start) and no temporary file; once there is room it succeeds.
func TestLoadOrCreateOnAFullDisk(t *testing.T) {
	dir := datadirtest.FullDisk(t, 0)
	if _, _, err := LoadOrCreate(dir, ""); err == nil {
		t.Fatal("LoadOrCreate on a full disk succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "fill" {
		t.Fatalf("after the failed write the directory holds %v, want only the filler", ents)
	}
	os.Remove(filepath.Join(dir, "fill"))
	if _, created, err := LoadOrCreate(dir, ""); err != nil || !created {
		t.Fatalf("LoadOrCreate with room: created=%v, %v", created, err)
	}
}

// TestLoadOrCreateReplacesAnEmptyFile: an empty secret.key, what a failed
// write of an earlier version left, is replaced rather than refused.
func TestLoadOrCreateReplacesAnEmptyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, KeyFile)
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, created, err := LoadOrCreate(dir, ""); err != nil || !created {
		t.Fatalf("LoadOrCreate beside an empty key file: created=%v, %v", created, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v: want a 0600 key", fi, err)
	}
}

func TestOpenWithAnotherKeyIsErrWrongKey(t *testing.T) {
	k1, _ := Load(Random(KeySize))
	k2, _ := Load(Random(KeySize))
	if _, err := k2.Open(k1.Seal([]byte("x"), "a"), "a"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with another key: %v, want ErrWrongKey", err)
	}
}
