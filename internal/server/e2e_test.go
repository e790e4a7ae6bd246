package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func get(t *testing.T, url string, hdr map[string]string) (int, string) {
	t.Helper()
	return servertest.Do(t, http.MethodGet, url, hdr, "")
}

// TestStockOAuth2Client drives /oauth2/token with golang.org/x/oauth2's
// clientcredentials, and verifies the token with go-jose from our JWKS.
func TestStockOAuth2Client(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)

	// Discovery, as a stock client would do it (RFC 8414).
	var meta struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
		JWKSURI       string `json:"jwks_uri"`
	}
	st, body := get(t, env.URL+"/.well-known/oauth-authorization-server", nil)
	if st != 200 || json.Unmarshal([]byte(body), &meta) != nil || meta.Issuer != env.URL {
		t.Fatalf("metadata: %d %s", st, body)
	}
	for _, style := range []struct {
		name  string
		style oauth2.AuthStyle
	}{{"header", oauth2.AuthStyleInHeader}, {"params", oauth2.AuthStyleInParams}, {"auto", oauth2.AuthStyleAutoDetect}} {
		t.Run(style.name, func(t *testing.T) {
			cc := clientcredentials.Config{ClientID: a.UserID, ClientSecret: a.Password, TokenURL: meta.TokenEndpoint, AuthStyle: style.style}
			tok, err := cc.Token(context.Background())
			if err != nil {
				t.Fatalf("clientcredentials: %v", err)
			}
			if tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 23*time.Hour {
				t.Errorf("token type %q expiry %v", tok.TokenType, tok.Expiry)
			}
			// The stock client's HTTP client calls a guarded API with it.
			hc := cc.Client(context.Background())
			resp, err := hc.Get(env.URL + "/v2/context/document/" + a.AccountID + "/ns")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == 403 || resp.StatusCode == 401 {
				t.Errorf("guarded call with stock client token: %d", resp.StatusCode)
			}
			verifyWithJOSE(t, env.URL, meta.JWKSURI, tok.AccessToken, a.UserID, a.AccountID)
		})
	}
	// A wrong secret is an error for the stock client (invalid_client).
	cc := clientcredentials.Config{ClientID: a.UserID, ClientSecret: "wrong", TokenURL: meta.TokenEndpoint}
	if _, err := cc.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("wrong secret: err = %v, want invalid_client", err)
	}
}

func verifyWithJOSE(t *testing.T, issuer, jwksURI, raw, userID, accountID string) {
	t.Helper()
	_, body := get(t, jwksURI, nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks %s: %v", body, err)
	}
	parsed, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("go-jose parse: %v", err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS", parsed.Headers[0].KeyID)
	}
	var std josejwt.Claims
	var extra struct {
		ClientID string `json:"client_id"`
		Zone     string `json:"zone"`
		TokenUse string `json:"token_use"`
		Name     string `json:"name"`
		Profile  string `json:"profile"`
	}
	if err := parsed.Claims(keys[0].Key, &std, &extra); err != nil {
		t.Fatalf("go-jose verify: %v", err)
	}
	if err := std.Validate(josejwt.Expected{Issuer: issuer, Subject: userID, AnyAudience: josejwt.Audience{"orchestrator"}, Time: time.Now()}); err != nil {
		t.Errorf("claims: %v", err)
	}
	if exp, iat := std.Expiry.Time(), std.IssuedAt.Time(); exp.Sub(iat) != 86400*time.Second {
		t.Errorf("exp - iat = %v, want 86400s", exp.Sub(iat))
	}
	if extra.ClientID != userID || extra.Zone != "z1" || extra.TokenUse != "access" || extra.Name != accountID ||
		extra.Profile != `{"role":"account","tenantId":"`+accountID+`","permissions":{}}` || std.ID == "" {
		t.Errorf("claims = %+v %+v", std, extra)
	}
}

// TestRegenerationTakesEffectAtOnce covers the acceptance points on
// regeneration against the real server over loopback.
func TestRegenerationTakesEffectAtOnce(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	v1 := env.URL + "/v1/account/" + a.AccountID + "/ns/properties"
	v2 := env.URL + "/v2/context/document/" + a.AccountID + "/ns"
	tok := env.Login(t, a)
	if st, _ := get(t, v2, map[string]string{"Authorization": "Bearer " + tok}); st == 403 {
		t.Fatal("fresh token refused")
	}
	if st, _ := get(t, v1, map[string]string{"maven-api-key": a.APIKey}); st == 403 {
		t.Fatal("fresh key refused")
	}

	var key struct{ APIKey string }
	if st := env.Admin(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/api-key/regenerate", nil, &key); st != 200 || key.APIKey == "" {
		t.Fatalf("regenerate key: %d", st)
	}
	if st, body := get(t, v1, map[string]string{"maven-api-key": a.APIKey}); st != 403 || !strings.Contains(body, "invalid_api_key") {
		t.Errorf("old key right after regeneration: %d %s, want 403 invalid_api_key", st, body)
	}
	if st, _ := get(t, v1, map[string]string{"maven-api-key": key.APIKey}); st == 403 {
		t.Errorf("new key refused")
	}

	var creds struct{ UserID, Password string }
	if st := env.Admin(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/credentials/regenerate", nil, &creds); st != 200 || creds.UserID != a.UserID {
		t.Fatalf("regenerate password: %d %+v", st, creds)
	}
	if st, _ := get(t, v2, map[string]string{"Authorization": "Bearer " + tok}); st != 403 {
		t.Errorf("token issued before password regeneration: %d, want 403", st)
	}
	a.Password = creds.Password
	tok2 := env.Login(t, a) // at once, same millisecond or not
	if st, _ := get(t, v2, map[string]string{"Authorization": "Bearer " + tok2}); st == 403 {
		t.Errorf("token issued after regeneration refused")
	}

	// Grace: the previous key keeps working for the grace and the new one too.
	if st := env.Admin(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/api-key/regenerate", map[string]string{"grace": "1h"}, &key); st != 200 {
		t.Fatal(st)
	}

	// Deleting the account kills its key and tokens.
	if st := env.Admin(t, "DELETE", "/admin/v1/accounts/"+a.AccountID, nil, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _ := get(t, v2, map[string]string{"Authorization": "Bearer " + tok2}); st != 403 {
		t.Errorf("token of deleted account: %d, want 403", st)
	}
	if st, _ := get(t, v1, map[string]string{"maven-api-key": key.APIKey}); st != 403 {
		t.Errorf("key of deleted account: %d, want 403", st)
	}
}

// TestNoSecretsInLogs runs a session of logins and guarded calls and finds
// none of the secrets in the log output.
func TestNoSecretsInLogs(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	tok := env.Login(t, a)
	get(t, env.URL+"/v2/context/document/"+a.AccountID+"/ns?access_token="+url.QueryEscape(tok)+"&x=1", nil)
	get(t, env.URL+"/v2/context/document/"+a.AccountID+"/ns", map[string]string{"Authorization": tok})
	get(t, env.URL+"/v1/account/"+a.AccountID+"/ns/properties?api_key="+a.APIKey, map[string]string{"maven-api-key": a.APIKey})
	get(t, env.URL+"/v2/authenticate/login?password="+a.Password, map[string]string{"Authorization": "Basic !!"})
	resp, err := http.PostForm(env.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {a.UserID}, "client_secret": {a.Password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", env.URL+"/v2/authenticate/login", nil)
	req.SetBasicAuth(a.UserID, a.Password+"x")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	var key struct{ APIKey string }
	env.Admin(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/api-key/regenerate", nil, &key)

	logs := env.Logs()
	if !strings.Contains(logs, `"path":"/v2/authenticate/login"`) || !strings.Contains(logs, "REDACTED") {
		t.Fatalf("the session was not logged as expected:\n%s", logs)
	}
	for name, s := range map[string]string{
		"token": tok, "token signature": tok[strings.LastIndexByte(tok, '.')+1:], "password": a.Password,
		"api key": a.APIKey, "new api key": key.APIKey, "admin token": env.AdminToken,
	} {
		if strings.Contains(logs, s) {
			t.Errorf("%s found in logs", name)
		}
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	env := servertest.Start(t)
	if st, _ := get(t, env.URL+"/healthz", nil); st != 200 {
		t.Errorf("healthz %d", st)
	}
	if st, _ := get(t, env.URL+"/readyz", nil); st != 200 {
		t.Errorf("readyz %d", st)
	}
	a := env.CreateAccount(t, true)
	env.Login(t, a)
	_, body := get(t, env.URL+"/metrics", nil)
	for _, want := range []string{
		`orchestrator_logins_total{result="success"} 1`, `orchestrator_logins_total{result="failure"} 0`,
		`orchestrator_logins_total{result="limited"} 0`,
		`orchestrator_http_requests_total{code="200",method="GET",route="/v2/authenticate/login"} 1`,
		`orchestrator_http_request_duration_seconds_count{method="GET",route="/v2/authenticate/login"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Closing the store makes the server unready.
	env.Server.Close()
	if st, _ := get(t, env.URL+"/readyz", nil); st != 503 {
		t.Errorf("readyz after store closed: %d, want 503", st)
	}
}
