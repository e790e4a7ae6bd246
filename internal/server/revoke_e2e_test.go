package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
	"golang.org/x/oauth2/clientcredentials"
)

// oauthMeta is what a resource server reads from the RFC 8414 metadata
// to introspect and revoke.
type oauthMeta struct {
	Issuer                string   `json:"issuer"`
	TokenEndpoint         string   `json:"token_endpoint"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	IntrospectionAuth     []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	RevocationAuth        []string `json:"revocation_endpoint_auth_methods_supported"`
}

// postForm is a plain RFC 7662 / RFC 7009 request, as any HTTP client
// sends it: a form body, client authentication with Basic (basic) or in
// the form.
func postForm(t *testing.T, endpoint, user, pass string, basic bool, form url.Values) (int, http.Header, string) {
	t.Helper()
	if !basic {
		form.Set("client_id", user)
		form.Set("client_secret", pass)
	}
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		// RFC 6749 §2.3.1: form-encoded, then Basic.
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestIntrospectAndRevoke covers SPEC §3's introspection and revocation
// end to end, with a client no one here wrote: golang.org/x/oauth2's
// clientcredentials gets the tokens (found through the RFC 8414
// metadata), and plain RFC 7662 / RFC 7009 form posts use them.
func TestIntrospectAndRevoke(t *testing.T) {
	env := servertest.Start(t)
	mine, other := env.CreateAccount(t, true), env.CreateAccount(t, true)

	var meta oauthMeta
	st, body := get(t, env.URL+"/.well-known/oauth-authorization-server", nil)
	if st != 200 || json.Unmarshal([]byte(body), &meta) != nil {
		t.Fatalf("metadata: %d %s", st, body)
	}
	methods := []string{"client_secret_basic", "client_secret_post"}
	if meta.IntrospectionEndpoint != env.URL+"/oauth2/introspect" || meta.RevocationEndpoint != env.URL+"/oauth2/revoke" ||
		!cmp.Equal(meta.IntrospectionAuth, methods) || !cmp.Equal(meta.RevocationAuth, methods) {
		t.Fatalf("metadata = %+v", meta)
	}
	token := func(a servertest.Account) string {
		t.Helper()
		cc := clientcredentials.Config{ClientID: a.UserID, ClientSecret: a.Password, TokenURL: meta.TokenEndpoint}
		tok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatalf("clientcredentials: %v", err)
		}
		return tok.AccessToken
	}
	introspect := func(a servertest.Account, basic bool, tok string) map[string]any {
		t.Helper()
		st, hdr, body := postForm(t, meta.IntrospectionEndpoint, a.UserID, a.Password, basic, url.Values{"token": {tok}})
		if st != 200 || hdr.Get("Cache-Control") != "no-store" || hdr.Get("Content-Type") != "application/json" {
			t.Fatalf("introspect: %d %v %s", st, hdr, body)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	revoke := func(a servertest.Account, tok string, extra url.Values) {
		t.Helper()
		form := url.Values{"token": {tok}}
		for k, v := range extra {
			form[k] = v
		}
		if st, hdr, body := postForm(t, meta.RevocationEndpoint, a.UserID, a.Password, true, form); st != 200 || hdr.Get("Cache-Control") != "no-store" {
			t.Fatalf("revoke: %d %v %s", st, hdr, body)
		}
	}
	use := func(a servertest.Account, tok string) (int, string) {
		t.Helper()
		return get(t, env.URL+"/v2/context/document/"+a.AccountID+"/ns", map[string]string{"Authorization": "Bearer " + tok})
	}
	inactive := map[string]any{"active": false}

	t0 := time.Now().Unix()
	tok, otherTok := token(mine), token(other)
	for _, basic := range []bool{true, false} {
		got := introspect(mine, basic, tok)
		for _, k := range []string{"iat", "nbf", "exp"} {
			v, _ := got[k].(float64)
			if int64(v) < t0-5 || int64(v) > t0+24*3600+5 {
				t.Errorf("introspection %s = %v, want about now (exp: +24 h)", k, got[k])
			}
			delete(got, k)
		}
		jti, _ := got["jti"].(string)
		if len(jti) != 36 {
			t.Errorf("introspection jti = %v", got["jti"])
		}
		delete(got, "jti")
		want := map[string]any{
			"active": true, "iss": env.URL, "sub": mine.UserID, "aud": "orchestrator", "client_id": mine.UserID,
			"zone": env.Config.Zone, "token_use": "access", "name": mine.AccountID, "token_type": "Bearer",
			"profile": `{"role":"account","tenantId":"` + mine.AccountID + `","permissions":{}}`,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("introspection of a live own token (basic %v) (-want +got):\n%s", basic, diff)
		}
	}
	for name, tok := range map[string]string{
		"another account's token": otherTok,
		"garbage":                 "not-a-token",
		"a tampered token":        tok[:len(tok)-4] + "AAAA",
	} {
		if got := introspect(mine, true, tok); !cmp.Equal(got, inactive) {
			t.Errorf("introspection of %s = %v, want %v", name, got, inactive)
		}
	}

	// Revoking another account's token answers 200 and leaves it alone.
	revoke(mine, otherTok, nil)
	if st, body := use(other, otherTok); st != 404 {
		t.Errorf("the other account's token after mine tried to revoke it: %d %s, want 404 (authenticated, no such namespace)", st, body)
	}
	if got := introspect(other, true, otherTok); got["active"] != true {
		t.Errorf("the other account's token after mine tried to revoke it introspects %v", got)
	}

	// Revoking one's own token: refused from the next request on.
	if st, _ := use(mine, tok); st != 404 {
		t.Fatalf("own token before revocation: %d", st)
	}
	keep := token(mine)
	revoke(mine, tok, url.Values{"token_type_hint": {"refresh_token"}}) // an unsupported hint is ignored
	st, body = use(mine, tok)
	if st != 403 || !strings.Contains(body, `"invalid_token"`) {
		t.Errorf("revoked token: %d %s, want 403 invalid_token", st, body)
	}
	if got := introspect(mine, true, tok); !cmp.Equal(got, inactive) {
		t.Errorf("introspection of a revoked token = %v", got)
	}
	revoke(mine, tok, nil) // again: still 200
	if st, _ := use(mine, keep); st != 404 {
		t.Errorf("another token of the same account after the revocation: %d, want it to work", st)
	}

	// A token revoked by a password regeneration introspects inactive.
	var regen struct{ Password string }
	if st := env.Admin(t, "POST", "/admin/v1/accounts/"+other.AccountID+"/credentials/regenerate", nil, &regen); st != 200 {
		t.Fatalf("regenerate: %d", st)
	}
	other.Password = regen.Password
	if got := introspect(other, true, otherTok); !cmp.Equal(got, inactive) {
		t.Errorf("introspection of a token revoked by regeneration = %v", got)
	}

	// Client authentication fails as on /oauth2/token.
	for _, ep := range []string{meta.IntrospectionEndpoint, meta.RevocationEndpoint} {
		for _, basic := range []bool{true, false} {
			st, hdr, body := postForm(t, ep, mine.UserID, "wrong", basic, url.Values{"token": {keep}})
			if st != 401 || !strings.Contains(body, `"invalid_client"`) || basic != (hdr.Get("WWW-Authenticate") != "") {
				t.Errorf("%s with a wrong secret (basic %v): %d %v %s, want 401 invalid_client", ep, basic, st, hdr, body)
			}
		}
		if st, _, body := postForm(t, ep, mine.UserID, mine.Password, true, url.Values{}); st != 400 || !strings.Contains(body, `"invalid_request"`) {
			t.Errorf("%s without token: %d %s, want 400 invalid_request", ep, st, body)
		}
	}
	if st, _ := use(mine, keep); st != 404 {
		t.Errorf("a token that a failed revocation named: %d, want it to work", st)
	}

	if got := env.Metric(t, "orchestrator_revocations_total"); got != 1 {
		t.Errorf("orchestrator_revocations_total = %v, want 1 (the own live token; not the other account's, nor the revoked one again)", got)
	}
	if got := env.Metric(t, `orchestrator_introspections_total{active="true"}`); got != 3 {
		t.Errorf(`introspections{active="true"} = %v, want 3`, got)
	}
	if got := env.Metric(t, `orchestrator_introspections_total{active="false"}`); got != 5 {
		t.Errorf(`introspections{active="false"} = %v, want 5`, got)
	}
}
