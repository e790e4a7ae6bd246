package compat_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// The LivePerson Functions toolbelt's Context Service client, replayed:
//
//   - LivePersonInc/faas-cli
//     src/shared/core-functions-toolbelt/context-service-client/faasContextServiceClient.ts
//     asks CSDS for the service "mavenContext" before every call and builds
//     its client on that base URI;
//   - .../csds-client/csdsClient.ts fetches
//     /api/account/{brandId}/service/baseURI.json?version=1.0 with no
//     headers of its own, requires an array "baseURIs" and maps each entry's
//     "service" to its "baseURI";
//   - .../context-service-client/context-service-sdk/restclient/client.ts
//     sends every Context Service call with the headers of toolbeltHeaders,
//     a JSON body only when there is one, and accepts one status per call
//     (204 for writes and deletes, 200 for reads); its baseURI is a host
//     (https is implied unless it starts with "http").

// toolbeltHeaders are RestClient.generateHeaders(), on top of what Node's
// fetch adds.
func toolbeltHeaders(apiKey string) map[string]string {
	return merge(undici, map[string]string{
		"maven-api-key": apiKey,
		"Content-Type":  "application/json",
		"Accept":        "application/json",
		"X-REQUEST-ID":  uuid4(),
		"User-Agent":    "@liveperson/context-service v0.1.0",
	})
}

// toolbelt is the toolbelt's client for one brand, on the base URI CSDS
// gave it.
type toolbelt struct {
	t       *testing.T
	base    string // scheme://host[:port]
	brandID string // X_LIVEPERSON_BRAND_ID
	apiKey  string
}

// csdsLookup is CsdsClient.get(service) against our server standing in
// for the CSDS domain (X_LIVEPERSON_CSDS_DOMAIN).
func csdsLookup(t *testing.T, csdsBase, brandID, service string) string {
	t.Helper()
	x := send(t, "GET", csdsBase+"/api/account/"+brandID+"/service/baseURI.json?version=1.0", undici, nil)
	var r struct {
		BaseURIs []struct {
			Service, Account, BaseURI string
		} `json:"baseURIs"`
	}
	x.json(t, &r) // isCsdsServiceResponse: an object with an array baseURIs
	if r.BaseURIs == nil {
		t.Fatalf("CSDS answered %d %q: no baseURIs array, the toolbelt fails with CSDS-Client failure", x.status, x.body)
	}
	for _, e := range r.BaseURIs {
		if e.Service == service {
			return e.BaseURI
		}
	}
	t.Fatalf("CSDS answer %q has no service %q", x.body, service)
	return ""
}

func (c *toolbelt) url(path string) string { return c.base + "/v1/account/" + c.brandID + path }

func (c *toolbelt) do(method, path string, body string, accept int) exchange {
	c.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body) // JSON.stringify(body)
	}
	x := send(c.t, method, c.url(path), toolbeltHeaders(c.apiKey), b)
	expect(c.t, x, method+" "+path, accept)
	return x
}

// namespaces is getListOfNamespaces: name, createdAt through new Date(),
// ttlSecond when truthy.
func (c *toolbelt) namespaces() map[string]int {
	c.t.Helper()
	var list []map[string]any
	c.do("GET", "", "", 200).json(c.t, &list)
	out := map[string]int{}
	for _, n := range list {
		name, _ := n["name"].(string)
		created, _ := n["createdAt"].(string)
		if _, err := time.Parse(time.RFC3339Nano, created); err != nil {
			c.t.Errorf("namespace %q createdAt %q: new Date() gives Invalid Date", name, created)
		}
		ttl, _ := n["ttlSecond"].(float64)
		out[name] = int(ttl)
	}
	return out
}

func TestToolbeltNamespaceLifecycle(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	const ns = "faas-demo-namespace" // LivePerson's own example name

	// FaasContextServiceClient.initializeClient: CSDS first.
	baseURI := strings.TrimPrefix(env.URL, "http://") // TEMP
	u, _ := url.Parse(env.URL)
	if baseURI != u.Host {
		t.Fatalf("mavenContext baseURI = %q, want the public URL's host %q", baseURI, u.Host)
	}
	// RestClient: a base URI without a scheme means https; our test
	// server listens without TLS, so the replay keeps the host and port
	// the toolbelt was given and only changes the scheme.
	c := &toolbelt{t: t, base: "http://" + baseURI, brandID: acct.AccountID, apiKey: acct.APIKey}

	// createNamespace(ns, {ttl: 3600}): POST ?ttlSecond=3600, then the
	// list, and the namespace found in it.
	c.do("POST", "?ttlSecond=3600", `{"name":"`+ns+`"}`, 204)
	if got := c.namespaces(); got[ns] != 3600 {
		t.Fatalf("namespaces after create = %v, want %s with ttlSecond 3600", got, ns)
	}
	// Creating it again is not an error for the toolbelt.
	c.do("POST", "?ttlSecond=3600", `{"name":"`+ns+`"}`, 204)

	// setPropertiesInNamespace(ns, props) without a session: PATCH
	// __default__, then the session read back.
	c.do("PATCH", "/"+ns+"/__default__/properties", `{"agentNote":"called back","visits":3,"tags":["vip"]}`, 204)
	var doc map[string]any
	c.do("GET", "/"+ns+"/__default__/properties", "", 200).json(t, &doc)
	want := map[string]any{"agentNote": "called back", "visits": 3.0, "tags": []any{"vip"}}
	if d := cmp.Diff(want, doc); d != "" {
		t.Fatalf("__default__ after PATCH (-want +got):\n%s", d)
	}
	// The namespace-level path is the same data (SPEC §5), as the
	// Functions documentation's template reads it.
	c.do("GET", "/"+ns+"/properties", "", 200).json(t, &doc)
	if d := cmp.Diff(want, doc); d != "" {
		t.Fatalf("/%s/properties (-want +got):\n%s", ns, d)
	}

	// updatePropertiesInNamespace(ns, props, "conv-1"): a session.
	c.do("PATCH", "/"+ns+"/conv-1/properties", `{"step":"payment"}`, 204)
	c.do("PATCH", "/"+ns+"/conv-1/properties", `{"step":"done","score":0.5}`, 204)

	// getPropertyInSession: the body is read as text and JSON.parse'd.
	for _, tc := range []struct {
		sid, name string
		want      any
	}{{"__default__", "agentNote", "called back"}, {"__default__", "visits", 3.0}, {"conv-1", "step", "done"}} {
		x := c.do("GET", "/"+ns+"/"+tc.sid+"/properties/"+tc.name, "", 200)
		var v any
		x.json(t, &v)
		if !cmp.Equal(v, tc.want) {
			t.Errorf("property %s/%s = %s, JSON.parse gives %v, want %v", tc.sid, tc.name, x.body, v, tc.want)
		}
	}

	// getSelectedPropertiesInSession(["step","missing"], "conv-1"): one GET
	// per name, a 404 means "absent" and nothing else may.
	c.do("GET", "/"+ns+"/conv-1/properties/step", "", 200)
	c.do("GET", "/"+ns+"/conv-1/properties/missing", "", 404)

	// getListOfSessions.
	var sessions []string
	c.do("GET", "/"+ns+"/session-ids", "", 200).json(t, &sessions)
	if d := cmp.Diff([]string{"__default__", "conv-1"}, sessions); d != "" {
		t.Fatalf("session-ids (-want +got):\n%s", d)
	}

	// deletePropertyInSession, twice: gone, and deleting again is fine.
	c.do("DELETE", "/"+ns+"/conv-1/properties/score", "", 204)
	c.do("DELETE", "/"+ns+"/conv-1/properties/score", "", 204)
	c.do("GET", "/"+ns+"/conv-1/properties/score", "", 404)

	// deleteSession: note the trailing slash the toolbelt sends.
	c.do("DELETE", "/"+ns+"/conv-1/properties/", "", 204)
	c.do("DELETE", "/"+ns+"/conv-1/properties/", "", 204)
	c.do("GET", "/"+ns+"/session-ids", "", 200).json(t, &sessions)
	if d := cmp.Diff([]string{"__default__"}, sessions); d != "" {
		t.Fatalf("session-ids after deleteSession (-want +got):\n%s", d)
	}

	// deleteNamespace, twice (the SDK documents "already deleted: no error").
	c.do("DELETE", "/"+ns, "", 204)
	c.do("DELETE", "/"+ns, "", 204)
	if got := c.namespaces(); func() bool { _, ok := got[ns]; return ok }() {
		t.Fatalf("namespaces after delete = %v, still has %s", got, ns)
	}
}

// The toolbelt turns any other status into RestError(status, message),
// taking message from a JSON body's "message" (RestClient.transform): an
// error answer must carry it, or the user sees the raw body.
func TestToolbeltErrorsCarryMessage(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	c := &toolbelt{t: t, base: env.URL, brandID: acct.AccountID, apiKey: acct.APIKey}
	for _, tc := range []struct {
		what, method, path, body string
		key                      string
		status                   int
	}{
		{"name over 64 characters", "POST", "", `{"name":"` + strings.Repeat("n", 65) + `"}`, acct.APIKey, 400},
		{"wrong key", "GET", "", "", "not-a-key-of-this-account", 403},
		{"namespace never created", "GET", "/never-made/__default__/properties", "", acct.APIKey, 404},
	} {
		c.apiKey = tc.key
		x := c.do(tc.method, tc.path, tc.body, tc.status)
		var e struct {
			Message *string `json:"message"`
		}
		x.json(t, &e)
		if e.Message == nil || *e.Message == "" {
			t.Errorf("%s: %d %q has no JSON message for RestError", tc.what, x.status, x.body)
		}
	}
}

// CSDS for an account that does not exist: not 200, so the toolbelt's
// lookup fails instead of sending an API key to a made-up base.
func TestCSDSUnknownAccount(t *testing.T) {
	env := servertest.Start(t)
	x := send(t, "GET", env.URL+"/api/account/99999999/service/baseURI.json?version=1.0", undici, nil)
	expect(t, x, "CSDS for an unknown account", 404)
}

// A customer moving here brings the key its Functions already read from
// secret storage and the v2 credentials its bots already log in with
// (SPEC §2: POST /admin/v1/accounts with apiKey and credentials): both
// work on the first request, so no client changes. The key has the shape
// of the Functions documentation's examples.
func TestBringExistingTenant(t *testing.T) {
	env := servertest.Start(t)
	const (
		brand    = "49985427"
		key      = "hNzTR1BjI3NDk5ODU0Mjc="
		userID   = "3f1c9a2e-8b7d-4e6f-9a1b-2c3d4e5f6a7b"
		password = "kq9tMnO5BCMjIyMDkzNzkRsVgzBjLAeMTcyNzYzODU"
	)
	st := env.Admin(t, "POST", "/admin/v1/accounts", map[string]any{
		"name": "Moved brand", "id": brand, "apiKey": key,
		"credentials": map[string]string{"userId": userID, "password": password},
	}, nil)
	if st != 201 {
		t.Fatalf("import: status %d, want 201", st)
	}
	c := &toolbelt{t: t, base: "http://" + csdsLookup(t, env.URL, brand, "mavenContext"), brandID: brand, apiKey: key}
	c.do("PATCH", "/faas-demo-namespace/__default__/properties", `{"moved":true}`, 204)
	c.do("GET", "/faas-demo-namespace/__default__/properties/moved", "", 200)

	tok := env.Login(t, servertest.Account{UserID: userID, Password: password})
	x := send(t, "GET", env.URL+"/v2/context/document/le"+brand+"/faas-demo-namespace?access_token="+tok, merge(curl, map[string]string{"accept": "application/json"}), nil)
	expect(t, x, "v2 read with the imported credentials", 200)
}
