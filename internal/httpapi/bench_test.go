package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// BenchmarkLogin measures GET /v2/authenticate/login through the whole
// handler stack (middleware, limits, credential check, RS256 signing).
func BenchmarkLogin(b *testing.B) {
	env := servertest.Start(b)
	h := env.Server.Handler()
	a := env.CreateAccount(b, true)
	auth := basic(a.UserID, a.Password)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", "/v2/authenticate/login", nil)
			r.Header.Set("Authorization", auth)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}

// BenchmarkGuard measures an authenticated request through the guard to
// a handler, for a v2 token (repeated) and a v1 key.
func BenchmarkGuard(b *testing.B) {
	env := servertest.Start(b)
	h := env.Server.Handler()
	a := env.CreateAccount(b, true)
	tok := env.Login(b, a)
	// An account that revoked 100 of its tokens: its live token is
	// checked against the denylist remembered with its credential.
	r := env.CreateAccount(b, true)
	for range 100 {
		revoke(b, env.URL, r, env.Login(b, r))
	}
	rtok := env.Login(b, r)
	for _, tc := range []struct{ name, path, header, value string }{
		{"v2-token", "/v2/nothing/" + a.AccountID, "Authorization", "Bearer " + tok},
		{"v2-token-100-revoked", "/v2/nothing/" + r.AccountID, "Authorization", "Bearer " + rtok},
		{"v1-key", "/v1/account/" + a.AccountID + "/ns/properties", "maven-api-key", a.APIKey},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("GET", tc.path, nil)
					r.Header.Set(tc.header, tc.value)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusNotFound { // authenticated; no such resource yet
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		})
	}
}

// revoke revokes tok of account a through POST /oauth2/revoke.
func revoke(b testing.TB, base string, a servertest.Account, tok string) {
	b.Helper()
	req, _ := http.NewRequest("POST", base+"/oauth2/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(a.UserID, a.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("revoke: status %d", resp.StatusCode)
	}
}
