package accounts

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

func newService(t testing.TB) (*Service, *time.Time) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keys, _ := secret.Load(secret.Random(32))
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	return New(store, keys, "z1", func() time.Time { return now }), &now
}

func TestCreateAndAuthenticate(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	a, err := s.Create(ctx, CreateRequest{Name: " Acme ", ConsoleEmail: "ops@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Acme" || a.AuthVersion != "v2" || len(a.AccountID) != 8 || a.Credentials == nil || len(a.Credentials.Password) < 32 || a.ConsoleUser == nil || a.ConsoleUser.Password == "" {
		t.Fatalf("Create = %+v", a)
	}
	if got, err := s.AuthenticateAPIKey(ctx, a.APIKey); err != nil || got.ID != a.AccountID {
		t.Errorf("AuthenticateAPIKey = %+v, %v", got, err)
	}
	if c, err := s.AuthenticateClient(ctx, a.Credentials.UserID, a.Credentials.Password); err != nil || c.AccountID != a.AccountID {
		t.Errorf("AuthenticateClient = %+v, %v", c, err)
	}
	for name, pw := range map[string]string{"wrong": "x", "empty": "", "long": strings.Repeat("p", 1000)} {
		if _, err := s.AuthenticateClient(ctx, a.Credentials.UserID, pw); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s password: %v", name, err)
		}
	}
	if _, err := s.AuthenticateClient(ctx, "nobody", a.Credentials.Password); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("unknown user: %v", err)
	}
	if u, err := s.AuthenticateConsole(ctx, a.AccountID, "OPS@example.com", a.ConsoleUser.Password); err != nil || u.Email != "ops@example.com" {
		t.Errorf("AuthenticateConsole = %+v, %v", u, err)
	}
	if _, err := s.AuthenticateConsole(ctx, a.AccountID, "ops@example.com", "nope"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("console wrong password: %v", err)
	}
	if _, err := s.AuthenticateConsole(ctx, "1", "ops@example.com", a.ConsoleUser.Password); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("console other account: %v", err)
	}
	key, creds, err := s.Reveal(ctx, a.AccountID)
	if err != nil || key != a.APIKey || creds == nil || *creds != *a.Credentials {
		t.Errorf("Reveal = %q %+v %v; want what Create returned", key, creds, err)
	}
}

func TestCreateValidation(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	for _, req := range []CreateRequest{
		{Name: ""}, {Name: strings.Repeat("n", 201)}, {Name: "x", ID: "12ab"}, {Name: "x", ID: "le"},
		{Name: "x", AuthVersion: "v3"}, {Name: "x", ConsoleEmail: "nope"},
	} {
		if _, err := s.Create(ctx, req); !errors.Is(err, fault.ErrInvalid) {
			t.Errorf("Create(%+v) = %v, want ErrInvalid", req, err)
		}
	}
	if _, err := s.Create(ctx, CreateRequest{Name: "x", ID: "le42", AuthVersion: "v1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, CreateRequest{Name: "y", ID: "42"}); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("duplicate id: %v, want ErrConflict", err)
	}
	a, _ := s.Get(ctx, "42")
	if a.AuthVersion != "v1" {
		t.Errorf("v1 account = %+v", a)
	}
	if _, creds, err := s.Reveal(ctx, "42"); err != nil || creds != nil {
		t.Errorf("Reveal(v1) creds = %+v, %v; want none", creds, err)
	}
	if _, err := s.RegeneratePassword(ctx, "42", 0); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("RegeneratePassword(v1) = %v, want ErrConflict", err)
	}
}

func TestRegenerateKeyWithGrace(t *testing.T) {
	s, now := newService(t)
	ctx := context.Background()
	a, _ := s.Create(ctx, CreateRequest{Name: "A"})
	var revoked []string
	s.OnRevoke(func(id string) { revoked = append(revoked, id) })
	k2, err := s.RegenerateAPIKey(ctx, a.AccountID, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 1 || revoked[0] != a.AccountID {
		t.Errorf("OnRevoke calls = %v", revoked)
	}
	for _, k := range []string{a.APIKey, k2} {
		if _, err := s.AuthenticateAPIKey(ctx, k); err != nil {
			t.Errorf("within grace, key %s…: %v", k[:8], err)
		}
	}
	*now = now.Add(10 * time.Minute)
	if _, err := s.AuthenticateAPIKey(ctx, a.APIKey); !errors.Is(err, ErrBadAPIKey) {
		t.Errorf("old key after grace: %v", err)
	}
	if _, err := s.AuthenticateAPIKey(ctx, k2); err != nil {
		t.Errorf("new key: %v", err)
	}
	// Without grace the previous key dies at once.
	k3, _ := s.RegenerateAPIKey(ctx, a.AccountID, 0)
	if _, err := s.AuthenticateAPIKey(ctx, k2); !errors.Is(err, ErrBadAPIKey) {
		t.Errorf("previous key right after regeneration: %v", err)
	}
	if key, _, _ := s.Reveal(ctx, a.AccountID); key != k3 {
		t.Errorf("Reveal shows %q, want the newest key", key)
	}
	if _, err := s.RegenerateAPIKey(ctx, "999", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RegenerateAPIKey(missing) = %v", err)
	}
}

func TestRegeneratePassword(t *testing.T) {
	s, now := newService(t)
	ctx := context.Background()
	a, _ := s.Create(ctx, CreateRequest{Name: "A"})
	c, err := s.RegeneratePassword(ctx, a.AccountID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != a.Credentials.UserID || c.Password == a.Credentials.Password {
		t.Errorf("RegeneratePassword = %+v", c)
	}
	if _, err := s.AuthenticateClient(ctx, c.UserID, a.Credentials.Password); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password: %v", err)
	}
	cred, err := s.AuthenticateClient(ctx, c.UserID, c.Password)
	if err != nil {
		t.Fatal(err)
	}
	// BeforeMs: a new credential refuses the tokens issued before it (bornAt).
	if want := (storage.Revocation{BeforeMs: now.UnixMilli() - 1, PendingBeforeMs: now.UnixMilli(), PendingAt: now.Add(time.Hour)}); cred.Revocation != want {
		t.Errorf("revocation = %+v, want %+v", cred.Revocation, want)
	}
}

func TestUpgrade(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	a, _ := s.Create(ctx, CreateRequest{Name: "A", AuthVersion: "v1"})
	up, err := s.Upgrade(ctx, a.AccountID)
	if err != nil || up.AuthVersion != "v2" || up.Credentials == nil || up.UpgradedAt == nil {
		t.Fatalf("Upgrade = %+v, %v", up, err)
	}
	if _, err := s.AuthenticateClient(ctx, up.Credentials.UserID, up.Credentials.Password); err != nil {
		t.Errorf("login after upgrade: %v", err)
	}
	if _, err := s.AuthenticateAPIKey(ctx, a.APIKey); err != nil {
		t.Errorf("v1 key after upgrade: %v", err)
	}
	if _, err := s.Upgrade(ctx, a.AccountID); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("second upgrade: %v", err)
	}
}

// BenchmarkAuthenticateClient compares a wrong password for a known user
// with an unknown user: both do one lookup and one keyed hash.
func BenchmarkAuthenticateClient(b *testing.B) {
	s, _ := newService(b)
	ctx := context.Background()
	a, _ := s.Create(ctx, CreateRequest{Name: "A"})
	for _, tc := range []struct{ name, user, pw string }{
		{"right", a.Credentials.UserID, a.Credentials.Password},
		{"wrong-password", a.Credentials.UserID, "wrong-password-wrong-password-xx"},
		{"unknown-user", "00000000-0000-0000-0000-000000000000", "wrong-password-wrong-password-xx"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				s.AuthenticateClient(ctx, tc.user, tc.pw)
			}
		})
	}
}

// slowDelete is a store whose DeleteAccount waits until released, as the
// deletion of an account with much data does (many small writes).
type slowDelete struct {
	*sqlite.Store
	started, release chan struct{}
}

func (s slowDelete) DeleteAccount(ctx context.Context, id string) error {
	close(s.started)
	<-s.release
	return s.Store.DeleteAccount(ctx, id)
}

// Deleting an account refuses its key and credential from the moment the
// deletion starts, even when they are remembered by the auth cache and the
// store takes seconds to remove the data.
func TestDeleteRefusesCredentialsAtOnce(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keys, _ := secret.Load(secret.Random(32))
	slow := slowDelete{Store: store, started: make(chan struct{}), release: make(chan struct{})}
	s := New(slow, keys, "z1", nil)
	ctx := context.Background()
	a, err := s.Create(ctx, CreateRequest{Name: "Big"})
	if err != nil {
		t.Fatal(err)
	}
	// Remember both in the cache.
	if _, err := s.AuthenticateAPIKey(ctx, a.APIKey); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Credential(ctx, a.Credentials.UserID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Delete(ctx, a.AccountID) }()
	<-slow.started
	if _, err := s.AuthenticateAPIKey(ctx, a.APIKey); !errors.Is(err, ErrBadAPIKey) {
		t.Errorf("API key during the deletion: %v, want ErrBadAPIKey", err)
	}
	if _, err := s.Credential(ctx, a.Credentials.UserID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("credential during the deletion: %v, want ErrNotFound", err)
	}
	if _, err := s.AuthenticateClient(ctx, a.Credentials.UserID, a.Credentials.Password); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("login during the deletion: %v, want ErrBadCredentials", err)
	}
	close(slow.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateAPIKey(ctx, a.APIKey); !errors.Is(err, ErrBadAPIKey) {
		t.Errorf("API key after the deletion: %v", err)
	}
}

// hookedReplace calls after once, right after the first ReplaceCredential
// commits: what a login that read the old secret just before does.
type hookedReplace struct {
	*sqlite.Store
	after func()
}

func (h *hookedReplace) ReplaceCredential(ctx context.Context, c storage.Credential, revokeAt time.Time) (storage.Credential, error) {
	out, err := h.Store.ReplaceCredential(ctx, c, revokeAt)
	if f := h.after; f != nil {
		h.after = nil
		f()
	}
	return out, err
}

// A login racing a password regeneration: it read the old secret before
// the new one committed, and stamps its token after the regeneration's
// instant. Such a token must be dead once the regeneration returns, and a
// login slower still must see that its credential is no longer current.
func TestRegenerationRevokesLoginsItRaced(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keys, _ := secret.Load(secret.Random(32))
	clock := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	tick := func() time.Time { clock = clock.Add(time.Millisecond); return clock } // time moves on
	h := &hookedReplace{Store: store}
	s := New(h, keys, "z1", tick)
	ctx := context.Background()
	a, err := s.Create(ctx, CreateRequest{Name: "Race"})
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.AuthenticateClient(ctx, a.Credentials.UserID, a.Credentials.Password)
	if err != nil {
		t.Fatal(err)
	}
	var stampMs int64
	h.after = func() { stampMs = tick().UnixMilli() } // the racing login's token
	if _, err := s.RegeneratePassword(ctx, a.AccountID, 0); err != nil {
		t.Fatal(err)
	}
	cur, err := store.CredentialByUserID(ctx, a.Credentials.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if !cur.Revocation.Kills(stampMs, tick()) {
		t.Errorf("a token stamped at %d, by a login that read the old password before the new one committed, outlives the regeneration (%+v)", stampMs, cur.Revocation)
	}
	if ok, err := s.StillCurrent(ctx, old); err != nil || ok {
		t.Errorf("StillCurrent(old credential) = %v, %v; want false", ok, err)
	}
	if ok, err := s.StillCurrent(ctx, cur); err != nil || !ok {
		t.Errorf("StillCurrent(new credential) = %v, %v; want true", ok, err)
	}
}
