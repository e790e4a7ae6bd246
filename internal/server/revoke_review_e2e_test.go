package server_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// useToken is a v2 request of the account with tok; 404 (no such
// namespace) means the token was accepted.
func useToken(t *testing.T, env *servertest.Env, a servertest.Account, tok string) int {
	t.Helper()
	st, _ := get(t, env.URL+"/v2/context/document/"+a.AccountID+"/ns", map[string]string{"Authorization": "Bearer " + tok})
	return st
}

// TestRevokeLimit: past the bound of live revocations per account,
// /oauth2/revoke answers 429 too_many_revocations and the token stays
// live; the earlier revocations still hold, other accounts can still
// revoke, and regenerating the password still kills every token
// (review finding F1).
func TestRevokeLimit(t *testing.T) {
	env := servertest.Start(t)
	env.Server.API.Accounts.LimitRevokedTokens(2)
	a, b := env.CreateAccount(t, true), env.CreateAccount(t, true)
	revoke := func(acct servertest.Account, tok string) (int, string) {
		t.Helper()
		st, hdr, body := postForm(t, env.URL+"/oauth2/revoke", acct.UserID, acct.Password, true, url.Values{"token": {tok}})
		if hdr.Get("Cache-Control") != "no-store" {
			t.Errorf("revoke: Cache-Control %q", hdr.Get("Cache-Control"))
		}
		return st, body
	}
	t1, t2, t3 := env.Login(t, a), env.Login(t, a), env.Login(t, a)
	for _, tok := range []string{t1, t2} {
		if st, body := revoke(a, tok); st != 200 {
			t.Fatalf("revoke within the limit: %d %s", st, body)
		}
	}
	st, body := revoke(a, t3)
	var e struct{ Error, Message string }
	if st != 429 || json.Unmarshal([]byte(body), &e) != nil || e.Error != "too_many_revocations" || !strings.Contains(e.Message, "regenerate the password") {
		t.Errorf("revoke past the limit: %d %s, want 429 too_many_revocations", st, body)
	}
	if st := useToken(t, env, a, t3); st != 404 {
		t.Errorf("the token whose revocation was refused: %d, want it to work", st)
	}
	for i, tok := range []string{t1, t2} {
		if st := useToken(t, env, a, tok); st != 403 {
			t.Errorf("token %d revoked before the limit was reached: %d, want 403", i+1, st)
		}
	}
	if st, _ := revoke(a, t1); st != 200 {
		t.Errorf("revoking an already revoked token at the limit: %d, want 200", st)
	}
	if st, body := revoke(b, env.Login(t, b)); st != 200 {
		t.Errorf("another account's revocation: %d %s", st, body)
	}
	if got := env.Metric(t, "orchestrator_revocations_total"); got != 3 {
		t.Errorf("orchestrator_revocations_total = %v, want 3 (the refused one not counted)", got)
	}
	if st := env.Admin(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/credentials/regenerate", nil, nil); st != 200 {
		t.Fatalf("regenerate: %d", st)
	}
	if st := useToken(t, env, a, t3); st != 403 {
		t.Errorf("the token after a password regeneration: %d, want 403", st)
	}
}

// TestReimportedAccountDoesNotReviveTokens: an account deleted and
// imported again with the same id and credentials starts with none of
// the old tokens, revoked or not; its new logins work (review finding
// F3).
func TestReimportedAccountDoesNotReviveTokens(t *testing.T) {
	env := servertest.Start(t)
	req := map[string]any{
		"name": "Imported", "id": "73012345",
		"credentials": map[string]string{"userId": "0e9c2f1a-6b4d-4c1e-9a7f-3d2b1c0e9f8a", "password": "imported-tenant-password-0123456789"},
	}
	var created struct{ AccountID string }
	if st := env.Admin(t, "POST", "/admin/v1/accounts", req, &created); st != 201 {
		t.Fatalf("import: %d", st)
	}
	a := servertest.Account{AccountID: "73012345", UserID: "0e9c2f1a-6b4d-4c1e-9a7f-3d2b1c0e9f8a", Password: "imported-tenant-password-0123456789"}
	revoked, kept := env.Login(t, a), env.Login(t, a)
	if st, _, body := postForm(t, env.URL+"/oauth2/revoke", a.UserID, a.Password, true, url.Values{"token": {revoked}}); st != 200 {
		t.Fatalf("revoke: %d %s", st, body)
	}
	if st := useToken(t, env, a, kept); st != 404 {
		t.Fatalf("the other token before the deletion: %d", st)
	}
	if st := env.Admin(t, "DELETE", "/admin/v1/accounts/"+a.AccountID, nil, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st := env.Admin(t, "POST", "/admin/v1/accounts", req, nil); st != 201 {
		t.Fatalf("import again: %d", st)
	}
	for name, tok := range map[string]string{"revoked": revoked, "not revoked": kept} {
		if st := useToken(t, env, a, tok); st != 403 {
			t.Errorf("%s token of the deleted account, after the account was imported again: %d, want 403", name, st)
		}
	}
	// Logins right after the import, in its millisecond or not, work.
	if st := useToken(t, env, a, env.Login(t, a)); st != 404 {
		t.Errorf("a new login after the import: %d, want it to work", st)
	}
}

// TestIntrospectionDuringGrace: while a password regeneration's grace
// runs, introspection of a token it covers reports the end of the grace
// as exp, not the token's own exp; a token issued after it keeps its exp
// (review finding F5).
func TestIntrospectionDuringGrace(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	old := env.Login(t, a)
	var regen struct{ Password string }
	before := time.Now()
	if st := env.Admin(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/credentials/regenerate", map[string]string{"grace": "10m"}, &regen); st != 200 {
		t.Fatalf("regenerate: %d", st)
	}
	after := time.Now()
	a.Password = regen.Password
	fresh := env.Login(t, a)
	exp := func(tok string) int64 {
		t.Helper()
		st, _, body := postForm(t, env.URL+"/oauth2/introspect", a.UserID, a.Password, true, url.Values{"token": {tok}})
		var m struct {
			Active bool
			Exp    int64
		}
		if st != 200 || json.Unmarshal([]byte(body), &m) != nil || !m.Active {
			t.Fatalf("introspect: %d %s, want an active token", st, body)
		}
		return m.Exp
	}
	if got := exp(old); got < before.Add(10*time.Minute).Unix()-1 || got > after.Add(10*time.Minute).Unix() {
		t.Errorf("introspection exp of a token in the grace = %v, want the end of the grace (%v)", time.Unix(got, 0), before.Add(10*time.Minute))
	}
	if got := exp(fresh); got < after.Add(23*time.Hour).Unix() {
		t.Errorf("introspection exp of a token issued after the regeneration = %v, want its own (+24 h)", time.Unix(got, 0))
	}
	if st := useToken(t, env, a, old); st != 404 {
		t.Errorf("the old token during the grace: %d, want it to work", st)
	}
}
