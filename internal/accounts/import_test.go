package accounts

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/storage"
)

const (
	importedKey  = "lp-maven-0123456789abcdef0123456789abcdef"
	importedUser = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	importedPW   = "An:existing/tenant's-password_42"
)

// TestImportExistingTenant: SPEC §2. Imported secrets authenticate at
// once, come back from Reveal (the console) as they were given, and a
// later regeneration replaces the password as for any account.
func TestImportExistingTenant(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	a, err := s.Create(ctx, CreateRequest{Name: "Moved", APIKey: importedKey,
		Credentials: &Credentials{UserID: importedUser, Password: importedPW}})
	if err != nil {
		t.Fatal(err)
	}
	if a.APIKey != importedKey || a.Credentials == nil || *a.Credentials != (Credentials{UserID: importedUser, Password: importedPW}) {
		t.Fatalf("Create = %+v, want the imported secrets back", a)
	}
	if got, err := s.AuthenticateAPIKey(ctx, importedKey); err != nil || got.ID != a.AccountID {
		t.Errorf("AuthenticateAPIKey(imported) = %+v, %v", got, err)
	}
	if c, err := s.AuthenticateClient(ctx, importedUser, importedPW); err != nil || c.AccountID != a.AccountID {
		t.Errorf("AuthenticateClient(imported) = %+v, %v", c, err)
	}
	if _, err := s.AuthenticateClient(ctx, importedUser, importedPW+"x"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("wrong password: %v", err)
	}
	key, creds, err := s.Reveal(ctx, a.AccountID)
	if err != nil || key != importedKey || creds == nil || *creds != *a.Credentials {
		t.Errorf("Reveal = %q %+v %v; want the imported secrets", key, creds, err)
	}
	// Stored as generated secrets are: nothing in the store is the
	// password or the key in clear.
	c, _ := s.store.CredentialByUserID(ctx, importedUser)
	k, _ := s.store.CurrentAPIKey(ctx, a.AccountID)
	for _, b := range [][]byte{c.SecretHash, c.Seed, k.Hash, k.Sealed} {
		if strings.Contains(string(b), importedPW) || strings.Contains(string(b), importedKey) {
			t.Errorf("a stored field holds a secret in clear")
		}
	}

	fresh, err := s.RegeneratePassword(ctx, a.AccountID, 0)
	if err != nil || fresh.UserID != importedUser || fresh.Password == importedPW {
		t.Fatalf("RegeneratePassword = %+v, %v", fresh, err)
	}
	if _, err := s.AuthenticateClient(ctx, importedUser, importedPW); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("imported password after regeneration: %v, want refused", err)
	}
	if _, creds, _ := s.Reveal(ctx, a.AccountID); creds == nil || creds.Password != fresh.Password {
		t.Errorf("Reveal after regeneration = %+v, want %q", creds, fresh.Password)
	}
	// An imported key alone: generated credentials beside it.
	b, err := s.Create(ctx, CreateRequest{Name: "Key only", APIKey: strings.Repeat("k", 20)})
	if err != nil || b.Credentials == nil || len(b.Credentials.Password) < 32 {
		t.Fatalf("Create(key only) = %+v, %v", b, err)
	}
	if got, err := s.AuthenticateAPIKey(ctx, strings.Repeat("k", 20)); err != nil || got.ID != b.AccountID {
		t.Errorf("AuthenticateAPIKey(key only) = %+v, %v", got, err)
	}
}

func TestImportValidation(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	creds := func(u, p string) *Credentials { return &Credentials{UserID: u, Password: p} }
	for _, tc := range []struct {
		req   CreateRequest
		field string
	}{
		{CreateRequest{APIKey: strings.Repeat("k", 19)}, "apiKey:"},
		{CreateRequest{APIKey: strings.Repeat("k", 257)}, "apiKey:"},
		{CreateRequest{APIKey: strings.Repeat("k", 20) + " x"}, "apiKey:"},
		{CreateRequest{APIKey: strings.Repeat("k", 20) + "é"}, "apiKey:"},
		{CreateRequest{APIKey: "orch_" + strings.Repeat("A", 38)}, "apiKey:"},
		{CreateRequest{AuthVersion: storage.AuthV1, Credentials: creds(importedUser, importedPW)}, "credentials:"},
		{CreateRequest{Credentials: creds("not-a-uuid", importedPW)}, "credentials.userId:"},
		{CreateRequest{Credentials: creds("", importedPW)}, "credentials.userId:"},
		{CreateRequest{Credentials: creds("{"+importedUser+"}", importedPW)}, "credentials.userId:"},
		{CreateRequest{Credentials: creds(importedUser, "")}, "credentials.password:"},
		{CreateRequest{Credentials: creds(importedUser, "short")}, "credentials.password:"},
		{CreateRequest{Credentials: creds(importedUser, strings.Repeat("p", 30)+"\n")}, "credentials.password:"},
	} {
		tc.req.Name = "x"
		_, err := s.Create(ctx, tc.req)
		if !errors.Is(err, fault.ErrInvalid) || !strings.HasPrefix(err.Error(), tc.field) {
			t.Errorf("Create(%+v) = %v, want ErrInvalid naming %s", tc.req, err, tc.field)
		}
	}
	if as, _ := s.List(ctx); len(as) != 0 {
		t.Errorf("refused imports created %d accounts", len(as))
	}
}

// TestImportConflicts: a key or user ID that another account has is a
// conflict naming the field, not the account; nothing is created.
func TestImportConflicts(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	a, err := s.Create(ctx, CreateRequest{Name: "A", APIKey: importedKey, Credentials: &Credentials{UserID: importedUser, Password: importedPW}})
	if err != nil {
		t.Fatal(err)
	}
	gen, err := s.Create(ctx, CreateRequest{Name: "Generated"})
	if err != nil {
		t.Fatal(err)
	}
	other := "0b7e7dee-87ac-4f2b-8a6c-4a8d8f7a1e21"
	for _, tc := range []struct {
		name  string
		req   CreateRequest
		field string
	}{
		{"imported key", CreateRequest{APIKey: importedKey}, "apiKey:"},
		{"generated key", CreateRequest{APIKey: gen.APIKey}, "apiKey:"},
		{"imported user", CreateRequest{Credentials: &Credentials{UserID: importedUser, Password: importedPW}}, "credentials.userId:"},
		{"generated user", CreateRequest{Credentials: &Credentials{UserID: gen.Credentials.UserID, Password: importedPW}}, "credentials.userId:"},
		{"with an id", CreateRequest{ID: "555", APIKey: importedKey, Credentials: &Credentials{UserID: other, Password: importedPW}}, "apiKey:"},
	} {
		tc.req.Name = "dup"
		_, err := s.Create(ctx, tc.req)
		if !errors.Is(err, fault.ErrConflict) || !strings.HasPrefix(err.Error(), tc.field) {
			t.Errorf("%s: %v, want ErrConflict naming %s", tc.name, err, tc.field)
		}
		if err != nil && (strings.Contains(err.Error(), a.AccountID) || strings.Contains(err.Error(), gen.AccountID)) {
			t.Errorf("%s: %q names an account", tc.name, err)
		}
	}
	if as, _ := s.List(ctx); len(as) != 2 {
		t.Errorf("%d accounts after refused imports, want 2", len(as))
	}
}
