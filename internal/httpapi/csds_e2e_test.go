package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

type csdsAnswer struct {
	BaseURIs []struct {
		Service string `json:"service"`
		Account string `json:"account"`
		BaseURI string `json:"baseURI"`
	} `json:"baseURIs"`
	Message string `json:"message"`
}

// csds asks the server's service discovery for account a, as the
// Functions toolbelt does (GET, ?version=1.0, no credentials).
func csds(t *testing.T, base, method, a string) (*http.Response, csdsAnswer, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+"/api/account/"+a+"/service/baseURI.json?version=1.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out csdsAnswer
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: not JSON: %q", method, a, b)
		}
	}
	return resp, out, string(b)
}

// TestServiceDiscovery: SPEC §5. A known account gets the host[:port] of
// the public URL for mavenContext, ccs and askMaven, with the account as
// the request wrote it; the toolbelt's next step (the v1 Context Service
// at that base URI) reaches this server; unknown and deleted accounts get
// 404 JSON; only GET and HEAD are served.
func TestServiceDiscovery(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	host := strings.TrimPrefix(env.URL, "http://")

	for _, written := range []string{acct.AccountID, "le" + acct.AccountID} {
		resp, got, raw := csds(t, env.URL, "GET", written)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("GET %s: %d %s %s", written, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
		var want csdsAnswer
		for _, svc := range []string{"mavenContext", "ccs", "askMaven"} {
			want.BaseURIs = append(want.BaseURIs, struct {
				Service string `json:"service"`
				Account string `json:"account"`
				BaseURI string `json:"baseURI"`
			}{svc, written, host})
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("GET %s (-want +got):\n%s", written, d)
		}
	}

	// What the toolbelt does next: https://<mavenContext>/v1/account/…
	// (http here, as the public URL says).
	_, got, _ := csds(t, env.URL, "GET", acct.AccountID)
	var maven string
	for _, e := range got.BaseURIs {
		if e.Service == "mavenContext" {
			maven = e.BaseURI
		}
	}
	req, _ := http.NewRequest("GET", "http://"+maven+"/v1/account/"+acct.AccountID, nil)
	req.Header.Set("maven-api-key", acct.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET the Context Service at the discovered base URI: %d, want 200", resp.StatusCode)
	}

	if resp, _, raw := csds(t, env.URL, "HEAD", acct.AccountID); resp.StatusCode != 200 || raw != "" {
		t.Errorf("HEAD: %d %q, want 200 without a body", resp.StatusCode, raw)
	}
	for _, a := range []string{"99999999999", "le99999999999", "abc", "le"} {
		resp, got, raw := csds(t, env.URL, "GET", a)
		if resp.StatusCode != 404 || got.Message == "" || len(got.BaseURIs) != 0 {
			t.Errorf("GET unknown %q: %d %s, want 404 {\"message\":…}", a, resp.StatusCode, raw)
		}
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		resp, _, raw := csds(t, env.URL, m, acct.AccountID)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d Allow %q %s, want 405 Allow \"GET, HEAD\"", m, resp.StatusCode, resp.Header.Get("Allow"), raw)
		}
	}

	// A deleted account is unknown at once, though it was just looked up.
	if st := env.Admin(t, "DELETE", "/admin/v1/accounts/"+acct.AccountID, nil, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if resp, _, raw := csds(t, env.URL, "GET", acct.AccountID); resp.StatusCode != 404 {
		t.Errorf("GET after delete: %d %s, want 404", resp.StatusCode, raw)
	}
	// An account created after a 404 is found at once.
	if st := env.Admin(t, "POST", "/admin/v1/accounts", map[string]string{"name": "Late", "id": "99999999999"}, nil); st != 201 {
		t.Fatalf("create: %d", st)
	}
	if resp, _, raw := csds(t, env.URL, "GET", "99999999999"); resp.StatusCode != 200 {
		t.Errorf("GET after create: %d %s, want 200", resp.StatusCode, raw)
	}
}

// TestServiceDiscoveryBaseURI: the base URI is the public URL without its
// scheme: host and port as given, and the path of a server behind a
// prefix (without its trailing slash).
func TestServiceDiscoveryBaseURI(t *testing.T) {
	for _, tc := range []struct{ public, want string }{
		{"https://ccs.example.com", "ccs.example.com"},
		{"https://ccs.example.com:8443/", "ccs.example.com:8443"},
		{"https://example.com/orchestrator/", "example.com/orchestrator"},
	} {
		t.Run(tc.public, func(t *testing.T) {
			env := servertest.Start(t, func(c *config.Serve) { c.PublicURL = tc.public })
			acct := env.CreateAccount(t, false)
			resp, got, raw := csds(t, env.URL, "GET", acct.AccountID)
			if resp.StatusCode != 200 || len(got.BaseURIs) != 3 {
				t.Fatalf("GET: %d %s", resp.StatusCode, raw)
			}
			for _, e := range got.BaseURIs {
				if e.BaseURI != tc.want {
					t.Errorf("%s: baseURI %q, want %q", e.Service, e.BaseURI, tc.want)
				}
			}
		})
	}
}
