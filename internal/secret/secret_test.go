package secret

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestAPIKeyFormat(t *testing.T) {
	k := NewAPIKey()
	if !strings.HasPrefix(k, APIKeyPrefix) || len(k) != APIKeyLen {
		t.Fatalf("NewAPIKey() = %q, want prefix %q and length %d", k, APIKeyPrefix, APIKeyLen)
	}
	if !WellFormedAPIKey(k) {
		t.Fatalf("WellFormedAPIKey(%q) = false", k)
	}
	// Every single-character typo in the body is caught by the checksum.
	for i := len(APIKeyPrefix); i < len(k); i++ {
		c := k[i]
		sub := byte('A')
		if c == 'A' {
			sub = 'B'
		}
		typo := k[:i] + string(sub) + k[i+1:]
		if WellFormedAPIKey(typo) {
			t.Errorf("typo at %d accepted: %q", i, typo)
		}
	}
	for _, bad := range []string{"", "orch_", k + "x", "xxxx" + k[4:], strings.Replace(k, k[10:11], "-", 1)} {
		if WellFormedAPIKey(bad) {
			t.Errorf("WellFormedAPIKey(%q) = true", bad)
		}
	}
	if NewAPIKey() == k {
		t.Error("two keys are equal")
	}
}

func TestSealOpenAndHash(t *testing.T) {
	k, err := Load(Random(KeySize))
	if err != nil {
		t.Fatal(err)
	}
	sealed := k.Seal([]byte("hello"), "acct:1")
	if got, err := k.Open(sealed, "acct:1"); err != nil || string(got) != "hello" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(sealed, "acct:2"); err == nil {
		t.Error("Open with another aad succeeded")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open(sealed, "acct:1"); err == nil {
		t.Error("Open of a tampered value succeeded")
	}
	if !Equal(k.Hash("p", "s"), k.Hash("p", "s")) || Equal(k.Hash("p", "s"), k.Hash("q", "s")) {
		t.Error("Hash is not deterministic per purpose")
	}
	other, _ := Load(Random(KeySize))
	if Equal(k.Hash("p", "s"), other.Hash("p", "s")) {
		t.Error("Hash does not depend on the key")
	}
	pw := k.Password("user", []byte("seed"))
	if len(pw) != PasswordLen || pw != k.Password("user", []byte("seed")) || pw == k.Password("user", []byte("seed2")) {
		t.Errorf("Password = %q: want %d stable characters that change with the seed", pw, PasswordLen)
	}
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	k1, created, err := LoadOrCreate(dir, "")
	if err != nil || !created {
		t.Fatalf("first LoadOrCreate = %v, created=%v", err, created)
	}
	fi, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret.key mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	k2, created, err := LoadOrCreate(dir, "")
	if err != nil || created {
		t.Fatalf("second LoadOrCreate = %v, created=%v", err, created)
	}
	if !Equal(k1.Hash("a", "b"), k2.Hash("a", "b")) {
		t.Error("reloaded key differs")
	}
	if _, _, err := LoadOrCreate(dir, "too-short"); err == nil {
		t.Error("short env key accepted")
	}
	if _, _, err := LoadOrCreate(t.TempDir(), strings.Repeat("ab", 32)); err != nil {
		t.Errorf("hex env key refused: %v", err)
	}
}

func TestHumanPassword(t *testing.T) {
	h := HashHumanPassword("correct horse")
	if !CheckHumanPassword(h, "correct horse") {
		t.Error("right password refused")
	}
	if CheckHumanPassword(h, "wrong") || CheckHumanPassword("garbage", "x") || CheckHumanPassword(DummyHumanHash, "") {
		t.Error("wrong password accepted")
	}
}

// TestHumanHashBounded pins the process-wide bound on argon2id work: with
// every slot taken, a check waits (allocating nothing) until one frees.
func TestHumanHashBounded(t *testing.T) {
	if n := HumanHashConcurrency(); n != runtime.GOMAXPROCS(0) || n < 1 {
		t.Fatalf("HumanHashConcurrency = %d, want GOMAXPROCS %d", n, runtime.GOMAXPROCS(0))
	}
	h := HashHumanPassword("correct horse")
	for range HumanHashConcurrency() {
		humanHashSlots <- struct{}{}
	}
	done := make(chan bool, 1)
	go func() { done <- CheckHumanPassword(h, "correct horse") }()
	select {
	case <-done:
		t.Fatal("a password check ran while every hashing slot was taken")
	case <-time.After(300 * time.Millisecond):
	}
	<-humanHashSlots // one slot frees
	select {
	case ok := <-done:
		if !ok {
			t.Error("the check failed once it ran")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the check did not run after a slot freed")
	}
	for range HumanHashConcurrency() - 1 {
		<-humanHashSlots
	}
}
