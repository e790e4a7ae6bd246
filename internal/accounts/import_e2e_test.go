package accounts_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// TestImportedTenantWorksAtOnce: SPEC §2 over loopback. An account
// created with an existing tenant's key and credentials answers its v1
// key, logs in with Basic and reads v2 with the token, at once; bad
// imports are 400 naming the field, taken ones 409 naming none of the
// accounts.
func TestImportedTenantWorksAtOnce(t *testing.T) {
	e := servertest.Start(t)
	const (
		key  = "LP.maven-key_0123456789abcdefABCDEF"
		user = "6e0bd7f4-3c5b-4a67-9b8e-2f3d0c1a9b77"
		pw   = "the-tenant's:own/password_0123456789"
	)
	var a struct {
		AccountID   string
		APIKey      string
		Credentials struct{ UserID, Password string }
	}
	body := map[string]any{"name": "Moved", "id": "le67005361", "apiKey": key,
		"credentials": map[string]string{"userId": user, "password": pw}}
	if st := e.Admin(t, "POST", "/admin/v1/accounts", body, &a); st != 201 {
		t.Fatalf("import: status %d", st)
	}
	if a.AccountID != "67005361" || a.APIKey != key || a.Credentials.UserID != user || a.Credentials.Password != pw {
		t.Fatalf("import answered %+v", a)
	}
	if st := get(t, e.URL+"/v1/account/67005361", "maven-api-key", key); st != 200 {
		t.Errorf("v1 with the imported key: %d, want 200", st)
	}
	tok := e.Login(t, servertest.Account{AccountID: a.AccountID, UserID: user, Password: pw})
	// The same user ID in capitals is the same user.
	e.Login(t, servertest.Account{AccountID: a.AccountID, UserID: strings.ToUpper(user), Password: pw})
	if st := get(t, e.URL+"/v2/config/"+a.AccountID, "Authorization", "Bearer "+tok); st != 200 {
		t.Errorf("v2 read with the token of the imported credentials: %d, want 200", st)
	}

	other := "0b7e7dee-87ac-4f2b-8a6c-4a8d8f7a1e21"
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		field  string
	}{
		{"short key", map[string]any{"apiKey": "too-short"}, 400, "apiKey:"},
		{"key with a space", map[string]any{"apiKey": "a key with spaces in it"}, 400, "apiKey:"},
		{"user not a UUID", map[string]any{"credentials": map[string]string{"userId": "bob", "password": pw}}, 400, "credentials.userId:"},
		{"short password", map[string]any{"credentials": map[string]string{"userId": other, "password": "pw"}}, 400, "credentials.password:"},
		{"credentials of a v1 account", map[string]any{"authVersion": "v1", "credentials": map[string]string{"userId": other, "password": pw}}, 400, "credentials:"},
		{"unknown credentials field", map[string]any{"credentials": map[string]string{"userId": other, "password": pw, "secret": "x"}}, 400, "credentials.secret"},
		{"key taken", map[string]any{"apiKey": key}, 409, "apiKey:"},
		{"user taken", map[string]any{"credentials": map[string]string{"userId": user, "password": pw}}, 409, "credentials.userId:"},
		// UUIDs ignore letter case: the same user spelt in capitals.
		{"user taken, other case", map[string]any{"credentials": map[string]string{"userId": strings.ToUpper(user), "password": pw}}, 409, "credentials.userId:"},
	} {
		tc.body["name"] = "Again"
		var out struct{ Message string }
		st := e.Admin(t, "POST", "/admin/v1/accounts", tc.body, &out)
		if st != tc.status || !strings.HasPrefix(out.Message, tc.field) || strings.Contains(out.Message, "67005361") {
			t.Errorf("%s: %d %q, want %d naming %s (and no account)", tc.name, st, out.Message, tc.status, tc.field)
		}
	}
	var list []json.RawMessage
	if e.Admin(t, "GET", "/admin/v1/accounts", nil, &list); len(list) != 1 {
		t.Errorf("%d accounts after refused imports, want 1", len(list))
	}

	// A v1 account (account create --v1-only) imports its key alone.
	const v1Key = "v1-only-tenant-key-0123456789"
	var v1 struct{ AccountID, APIKey string }
	if st := e.Admin(t, "POST", "/admin/v1/accounts", map[string]any{"name": "Old", "authVersion": "v1", "apiKey": v1Key}, &v1); st != 201 || v1.APIKey != v1Key {
		t.Fatalf("import a v1 key: %d %+v", st, v1)
	}
	if st := get(t, e.URL+"/v1/account/"+v1.AccountID, "maven-api-key", v1Key); st != 200 {
		t.Errorf("v1 with the imported key of a v1 account: %d, want 200", st)
	}
	if st := get(t, e.URL+"/v1/account/67005361", "maven-api-key", v1Key); st != 403 {
		t.Errorf("an imported key on another account: %d, want 403", st)
	}
}
