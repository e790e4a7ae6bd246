package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// do sends a request straight to the server's handler.
func do(h http.Handler, method, target string, hdr map[string]string, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.1:1234"
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func basic(u, p string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))
}

func jsonBody(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	return m
}

func TestLogin(t *testing.T) {
	env := servertest.Start(t)
	h := env.Server.Handler()
	a := env.CreateAccount(t, true)
	form := url.Values{"client_id": {a.UserID}, "client_secret": {a.Password}}.Encode()
	cases := []struct {
		name       string
		method     string
		hdr        map[string]string
		body       string
		wantStatus int
		wantError  string
		wantHeader map[string]string
	}{
		{"GET basic", "GET", map[string]string{"Authorization": basic(a.UserID, a.Password)}, "", 200, "", map[string]string{"Cache-Control": "no-store"}},
		{"POST basic", "POST", map[string]string{"Authorization": basic(a.UserID, a.Password)}, "", 200, "", nil},
		{"POST form", "POST", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, form, 200, "", nil},
		{"missing header", "GET", nil, "", 401, "invalid_request", map[string]string{"WWW-Authenticate": `Basic realm="orchestrator"`}},
		{"malformed header", "GET", map[string]string{"Authorization": "Basic %%%"}, "", 401, "invalid_request", map[string]string{"WWW-Authenticate": `Basic realm="orchestrator"`}},
		{"bearer instead of basic", "GET", map[string]string{"Authorization": "Bearer x"}, "", 401, "invalid_request", nil},
		{"wrong password", "GET", map[string]string{"Authorization": basic(a.UserID, "wrong")}, "", 401, "invalid_client", map[string]string{"WWW-Authenticate": `Basic realm="orchestrator"`}},
		{"unknown user", "GET", map[string]string{"Authorization": basic("00000000-0000-0000-0000-000000000000", a.Password)}, "", 401, "invalid_client", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := do(h, tc.method, "/v2/authenticate/login", tc.hdr, tc.body)
			if w.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.wantStatus, w.Body)
			}
			for k, v := range tc.wantHeader {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			m := jsonBody(t, w)
			if tc.wantStatus != 200 {
				if m["error"] != tc.wantError || m["message"] == "" {
					t.Errorf("body = %v, want error %q with a message", m, tc.wantError)
				}
				return
			}
			if m["token"] == "" || m["token"] != m["access_token"] || m["token_type"] != "Bearer" || m["expires_in"] != float64(86400) {
				t.Errorf("body = %v", m)
			}
		})
	}
}

func TestGuard(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	env := servertest.StartClock(t, clock, func(c *config.Serve) { c.TokenTTL = 2 * time.Second })
	h := env.Server.Handler()
	a := env.CreateAccount(t, true)
	b := env.CreateAccount(t, true)
	tok := env.Login(t, a)
	flipped := []byte(tok)
	flipped[len(flipped)/2] ^= 0x01
	path := "/v2/context/document/" + a.AccountID + "/ns"
	_ = b

	cases := []struct {
		name, target string
		hdr          map[string]string
		want         int
		wantError    string
	}{
		{"query token", path + "?access_token=" + tok, nil, 404, ""},
		{"bearer", path, map[string]string{"Authorization": "Bearer " + tok}, 404, ""},
		{"bare header", path, map[string]string{"Authorization": tok}, 404, ""},
		{"le prefix", "/v2/context/document/le" + a.AccountID + "/ns", map[string]string{"Authorization": tok}, 404, ""},
		{"missing", path, nil, 403, "invalid_token"},
		{"one byte changed", path, map[string]string{"Authorization": "Bearer " + string(flipped)}, 403, "invalid_token"},
		{"basic scheme", path, map[string]string{"Authorization": basic(a.UserID, a.Password)}, 403, "invalid_token"},
		{"api key on v2", path, map[string]string{"maven-api-key": a.APIKey}, 403, "invalid_token"},
		{"unknown v2 route unauthenticated", "/v2/nothing", nil, 403, "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := do(h, "GET", tc.target, tc.hdr, "")
			if w.Code != tc.want {
				t.Fatalf("status = %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			m := jsonBody(t, w)
			if tc.wantError != "" {
				if m["error"] != tc.wantError || m["message"] == "" {
					t.Errorf("body = %v", m)
				}
				if got := w.Header().Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			} else if diff := cmp.Diff(map[string]any{"message": `namespace "ns" not found`}, m); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}

	// Token expiry with --token-ttl 2s, on the injected clock.
	advance(2 * time.Second)
	if w := do(h, "GET", path, map[string]string{"Authorization": tok}, ""); w.Code != 403 {
		t.Errorf("expired token: status %d, want 403", w.Code)
	}
}

func TestGuardV1(t *testing.T) {
	env := servertest.Start(t, func(c *config.Serve) { c.V1Sunset = "2999-01-01" })
	h := env.Server.Handler()
	v1 := env.CreateAccount(t, false)
	v2 := env.CreateAccount(t, true)
	p := func(a servertest.Account) string { return "/v1/account/" + a.AccountID + "/ns/properties" }
	cases := []struct {
		name, target string
		key          string
		want         int
		deprecated   bool
	}{
		{"v1 key", p(v1), v1.APIKey, 404, false},
		{"trailing slash", p(v1) + "/", v1.APIKey, 404, false},
		{"le prefix", "/v1/account/le" + v1.AccountID + "/ns/properties", v1.APIKey, 404, false},
		{"v2 account key is deprecated", p(v2), v2.APIKey, 404, true},
		{"missing key", p(v1), "", 403, false},
		{"well-formed unknown key", p(v1), "orch_00000000000000000000000000000000000000", 403, false},
		{"typo in key", p(v1), typo(v1.APIKey), 403, false},
		{"other account's path", p(v2), v1.APIKey, 403, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.key != "" {
				hdr["maven-api-key"] = tc.key
			}
			w := do(h, "GET", tc.target, hdr, "")
			if w.Code != tc.want {
				t.Fatalf("status = %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want == 403 {
				if m := jsonBody(t, w); m["error"] != "invalid_api_key" {
					t.Errorf("body = %v, want invalid_api_key", m)
				}
			}
			dep, sunset := w.Header().Get("Deprecation"), w.Header().Get("Sunset")
			if tc.deprecated != (dep != "") || tc.deprecated != (sunset != "") {
				t.Errorf("Deprecation = %q, Sunset = %q; want deprecated=%v", dep, sunset, tc.deprecated)
			}
			if tc.deprecated && (!strings.HasPrefix(dep, "@") || sunset != "Tue, 01 Jan 2999 00:00:00 GMT") {
				t.Errorf("Deprecation = %q, Sunset = %q", dep, sunset)
			}
		})
	}
}

func TestV1Sunset(t *testing.T) {
	env := servertest.Start(t, func(c *config.Serve) { c.V1Sunset = "2020-01-01" })
	h := env.Server.Handler()
	v1, v2 := env.CreateAccount(t, false), env.CreateAccount(t, true)
	if w := do(h, "GET", "/v1/account/"+v2.AccountID+"/ns/properties", map[string]string{"maven-api-key": v2.APIKey}, ""); w.Code != 403 {
		t.Errorf("v2 account's v1 key after sunset: %d, want 403", w.Code)
	}
	if w := do(h, "GET", "/v1/account/"+v1.AccountID+"/ns/properties", map[string]string{"maven-api-key": v1.APIKey}, ""); w.Code != 404 {
		t.Errorf("v1-only account after sunset: %d, want 404 (still served)", w.Code)
	}
}

func TestAuthFailureStatus401(t *testing.T) {
	env := servertest.Start(t, func(c *config.Serve) { c.AuthFailureStatus = 401 })
	h := env.Server.Handler()
	a := env.CreateAccount(t, true)
	if w := do(h, "GET", "/v2/context/document/"+a.AccountID+"/ns", nil, ""); w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("missing token: %d %q, want 401 with Bearer challenge", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if w := do(h, "GET", "/v1/account/"+a.AccountID+"/ns/properties", nil, ""); w.Code != 401 {
		t.Errorf("missing key: %d, want 401", w.Code)
	}
}

func TestLoginRateLimit(t *testing.T) {
	env := servertest.Start(t)
	h := env.Server.Handler()
	a, b := env.CreateAccount(t, true), env.CreateAccount(t, true)
	for i := 1; i <= 10; i++ {
		// Every other failure spells the UUID in capitals: one user, one
		// budget, however it is spelt.
		user := a.UserID
		if i%2 == 1 {
			user = strings.ToUpper(user)
		}
		if w := do(h, "GET", "/v2/authenticate/login", map[string]string{"Authorization": basic(user, "wrong")}, ""); w.Code != 401 {
			t.Fatalf("failure %d: status %d, want 401", i, w.Code)
		}
	}
	w := do(h, "GET", "/v2/authenticate/login", map[string]string{"Authorization": basic(a.UserID, "wrong")}, "")
	if w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("11th failure: status %d Retry-After %q, want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	// The right password is refused too while the user ID is limited.
	if w := do(h, "GET", "/v2/authenticate/login", map[string]string{"Authorization": basic(a.UserID, a.Password)}, ""); w.Code != 429 {
		t.Errorf("limited user with right password: %d, want 429", w.Code)
	}
	// Another account, from the same address, still logs in.
	if w := do(h, "GET", "/v2/authenticate/login", map[string]string{"Authorization": basic(b.UserID, b.Password)}, ""); w.Code != 200 {
		t.Errorf("other account: %d, want 200", w.Code)
	}
	if got := env.Metric(t, `orchestrator_logins_total{result="limited"}`); got != 2 {
		t.Errorf("limited logins metric = %v, want 2", got)
	}
}

func TestOAuth2TokenErrors(t *testing.T) {
	env := servertest.Start(t)
	h := env.Server.Handler()
	a := env.CreateAccount(t, true)
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name, body string
		hdr        map[string]string
		want       int
		wantError  string
	}{
		{"ok basic", "grant_type=client_credentials", map[string]string{"Content-Type": form, "Authorization": basic(a.UserID, a.Password)}, 200, ""},
		{"ok post", "grant_type=client_credentials&client_id=" + a.UserID + "&client_secret=" + a.Password, map[string]string{"Content-Type": form}, 200, ""},
		{"no grant", "", map[string]string{"Content-Type": form, "Authorization": basic(a.UserID, a.Password)}, 400, "invalid_request"},
		{"other grant", "grant_type=password", map[string]string{"Content-Type": form, "Authorization": basic(a.UserID, a.Password)}, 400, "unsupported_grant_type"},
		{"json body", `{"grant_type":"client_credentials"}`, map[string]string{"Content-Type": "application/json"}, 400, "invalid_request"},
		{"bad secret", "grant_type=client_credentials", map[string]string{"Content-Type": form, "Authorization": basic(a.UserID, "x")}, 401, "invalid_client"},
		{"no client", "grant_type=client_credentials", map[string]string{"Content-Type": form}, 401, "invalid_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := do(h, "POST", "/oauth2/token", tc.hdr, tc.body)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", w.Header().Get("Cache-Control"))
			}
			m := jsonBody(t, w)
			if tc.want == 200 {
				if m["access_token"] == "" || m["token_type"] != "Bearer" || m["expires_in"] != float64(86400) {
					t.Errorf("body = %v", m)
				}
			} else if m["error"] != tc.wantError {
				t.Errorf("error = %v, want %s", m["error"], tc.wantError)
			}
		})
	}
}

func TestAdminAPI(t *testing.T) {
	env := servertest.Start(t)
	h := env.Server.Handler()
	if w := do(h, "GET", "/admin/v1/accounts", nil, ""); w.Code != 401 {
		t.Errorf("no admin token: %d", w.Code)
	}
	if w := do(h, "GET", "/admin/v1/accounts", map[string]string{"Authorization": "Bearer nope"}, ""); w.Code != 401 {
		t.Errorf("wrong admin token: %d", w.Code)
	}
	auth := map[string]string{"Authorization": "Bearer " + env.AdminToken}
	w := do(h, "POST", "/admin/v1/accounts", auth, `{"name":"Acme","id":"le67005361","consoleEmail":"Admin@Example.com"}`)
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	m := jsonBody(t, w)
	if m["accountId"] != "67005361" || m["authVersion"] != "v2" || m["zone"] != "z1" || m["apiKey"] == nil || m["credentials"] == nil || m["consoleUser"] == nil {
		t.Errorf("created = %v", m)
	}
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/admin/v1/accounts", `{"name":"Acme","id":"67005361"}`, 409},
		{"POST", "/admin/v1/accounts", `{"name":""}`, 400},
		{"POST", "/admin/v1/accounts", `{"name":"x","id":"abc"}`, 400},
		{"POST", "/admin/v1/accounts", `{"name":"x","authVersion":"v3"}`, 400},
		{"POST", "/admin/v1/accounts", `{"name":`, 400},
		{"GET", "/admin/v1/accounts/67005361", "", 200},
		{"GET", "/admin/v1/accounts/le67005361", "", 200},
		{"GET", "/admin/v1/accounts/1", "", 404},
		{"POST", "/admin/v1/accounts/67005361/upgrade", "", 409},
		{"POST", "/admin/v1/accounts/67005361/api-key/regenerate", `{"grace":"soon"}`, 400},
		{"POST", "/admin/v1/accounts/67005361/console-users", `{"email":"not-an-email"}`, 400},
		{"POST", "/admin/v1/accounts/67005361/console-users", `{"email":"admin@example.com"}`, 409},
		{"DELETE", "/admin/v1/accounts/67005361", "", 204},
		{"DELETE", "/admin/v1/accounts/67005361", "", 404},
	} {
		if w := do(h, tc.method, tc.path, auth, tc.body); w.Code != tc.want {
			t.Errorf("%s %s %s: %d, want %d: %s", tc.method, tc.path, tc.body, w.Code, tc.want, w.Body)
		} else if tc.want >= 400 {
			if m := jsonBody(t, w); m["message"] == "" {
				t.Errorf("%s %s: error without message: %v", tc.method, tc.path, m)
			}
		}
	}
	// The account list never carries secrets.
	w = do(h, "GET", "/admin/v1/accounts", auth, "")
	if strings.Contains(w.Body.String(), "apiKey") || strings.Contains(w.Body.String(), "password") {
		t.Errorf("list leaks secrets: %s", w.Body)
	}
}

func TestUpgradeV1ToV2(t *testing.T) {
	env := servertest.Start(t)
	h := env.Server.Handler()
	a := env.CreateAccount(t, false)
	auth := map[string]string{"Authorization": "Bearer " + env.AdminToken}
	w := do(h, "POST", "/admin/v1/accounts/"+a.AccountID+"/upgrade", auth, "")
	if w.Code != 200 {
		t.Fatalf("upgrade: %d %s", w.Code, w.Body)
	}
	var up struct {
		AuthVersion string
		Credentials struct{ UserID, Password string }
	}
	json.Unmarshal(w.Body.Bytes(), &up)
	if up.AuthVersion != "v2" || up.Credentials.UserID == "" || len(up.Credentials.Password) < 32 {
		t.Fatalf("upgrade = %+v", up)
	}
	if w := do(h, "GET", "/v2/authenticate/login", map[string]string{"Authorization": basic(up.Credentials.UserID, up.Credentials.Password)}, ""); w.Code != 200 {
		t.Errorf("login after upgrade: %d", w.Code)
	}
	w = do(h, "GET", "/v1/account/"+a.AccountID+"/ns/properties", map[string]string{"maven-api-key": a.APIKey}, "")
	if w.Code != 404 || w.Header().Get("Deprecation") == "" {
		t.Errorf("v1 key after upgrade: %d, Deprecation %q; want it working and deprecated", w.Code, w.Header().Get("Deprecation"))
	}
}

func TestOversizedBodyIs413(t *testing.T) {
	env := servertest.Start(t)
	h := env.Server.Handler()
	// A request with a body over the cap is refused before it is read.
	w := do(h, "POST", "/admin/v1/accounts", map[string]string{"Authorization": "Bearer " + env.AdminToken}, `{"name":"`+strings.Repeat("a", 2<<20)+`"}`)
	if w.Code != 413 {
		t.Errorf("2 MiB body: %d, want 413", w.Code)
	}
}

func TestLoginAddressCeiling(t *testing.T) {
	env := servertest.StartClock(t, servertest.Frozen())
	h := env.Server.Handler()
	a := env.CreateAccount(t, true)
	// 100 failures spread over many user IDs (none reaches its own limit).
	for i := 0; i < 100; i++ {
		user := "00000000-0000-0000-0000-0000000000" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if w := do(h, "GET", "/v2/authenticate/login", map[string]string{"Authorization": basic(user, "x")}, ""); w.Code != 401 {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	if w := do(h, "GET", "/v2/authenticate/login", map[string]string{"Authorization": basic(a.UserID, a.Password)}, ""); w.Code != 429 {
		t.Errorf("101st attempt from the address: %d, want 429", w.Code)
	}
	// Another address is not affected.
	r := httptest.NewRequest("GET", "/v2/authenticate/login", nil)
	r.RemoteAddr = "198.51.100.7:5555"
	r.Header.Set("Authorization", basic(a.UserID, a.Password))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Errorf("other address: %d, want 200", w.Code)
	}
}

// typo changes the last character of key (to one it does not have).
func typo(key string) string {
	c := byte('x')
	if key[len(key)-1] == c {
		c = 'y'
	}
	return key[:len(key)-1] + string(c)
}
