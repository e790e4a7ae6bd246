package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// User IDs and keys that a store cannot hold (NUL, invalid UTF-8:
// PostgreSQL refuses them as text) are unknown credentials, answered as
// any wrong credential is, never a server fault. Runs on both stores
// (scripts/test, ORCH_TEST_STORE).
func TestUnstorableCredentials(t *testing.T) {
	env := servertest.Start(t)
	for _, user := range []string{"a\xffb", "nul\x00id", "\xc3"} {
		req, _ := http.NewRequest("GET", env.URL+"/v2/authenticate/login", nil)
		req.SetBasicAuth(user, "password")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("login as %q: %d, want 401", user, resp.StatusCode)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {user}, "client_secret": {"x"}}
		resp, err = http.Post(env.URL+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("token for %q: %d", user, resp.StatusCode)
		}
	}
	for _, key := range []string{"orch_\xff\xfe", "k\xc3"} {
		req, _ := http.NewRequest("GET", env.URL+"/v1/account/12345678/ns/properties", nil)
		req.Header.Set("maven-api-key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("API key %q: %d, want 403", key, resp.StatusCode)
		}
	}
}
