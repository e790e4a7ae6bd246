package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// ccsClock is a settable clock for the context service tests.
type ccsClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *ccsClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *ccsClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// ccsStep is one request of a scripted sequence and what it must answer.
// want is compared as JSON; "" means an empty body.
type ccsStep struct {
	name         string
	method, path string
	body         string
	status       int
	want         string            // "": an empty body; "-": any body
	advance      time.Duration     // clock moves before the request
	hdr          map[string]string // instead of the sequence's headers
}

func ccsRequest(h http.Handler, method, target string, hdr map[string]string, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// runCCSSteps runs steps in order; each is a subtest and later steps
// depend on earlier ones, so a failure stops the sequence.
func runCCSSteps(t *testing.T, h http.Handler, clock *ccsClock, hdr map[string]string, steps []ccsStep) {
	t.Helper()
	for i, st := range steps {
		ok := t.Run(fmt.Sprintf("%02d %s", i, st.name), func(t *testing.T) {
			if clock != nil && st.advance > 0 {
				clock.Advance(st.advance)
			}
			hh := hdr
			if st.hdr != nil {
				hh = st.hdr
			}
			w := ccsRequest(h, st.method, st.path, hh, st.body)
			if w.Code != st.status {
				t.Fatalf("%s %s: status = %d, want %d: %s", st.method, st.path, w.Code, st.status, w.Body)
			}
			got := strings.TrimSpace(w.Body.String())
			if st.want == "-" { // any body
				return
			}
			if st.want == "" {
				if got != "" {
					t.Fatalf("body = %q, want empty", got)
				}
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var gotV, wantV any
			if err := json.Unmarshal([]byte(got), &gotV); err != nil {
				t.Fatalf("body %q: %v", got, err)
			}
			if err := json.Unmarshal([]byte(st.want), &wantV); err != nil {
				t.Fatalf("bad want %q: %v", st.want, err)
			}
			if diff := cmp.Diff(wantV, gotV); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
		if !ok {
			t.FailNow()
		}
	}
}

func TestCCSV1Routes(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	clock := &ccsClock{now: t0}
	env := servertest.StartClock(t, clock.Now)
	h := env.Server.Handler()
	a := env.CreateAccount(t, false)
	base := "/v1/account/" + a.AccountID
	le := "/v1/account/le" + a.AccountID
	created := t0.Format(time.RFC3339)
	steps := []ccsStep{
		{name: "no namespaces", method: "GET", path: base, status: 200, want: `[]`},
		{name: "create namespace with TTL", method: "POST", path: base + "?ttlSecond=60", body: `{"name":"ns"}`, status: 204},
		{name: "again, idempotent, trailing slash", method: "POST", path: base + "/?ttlSecond=60", body: `{"name":"ns"}`, status: 204},
		{name: "second namespace without TTL", method: "POST", path: base, body: `{"name":"other"}`, status: 204},
		{name: "list namespaces", method: "GET", path: base, status: 200,
			want: `[{"name":"ns","createdAt":"` + created + `","ttlSecond":60},{"name":"other","createdAt":"` + created + `"}]`},
		{name: "reserved namespace", method: "POST", path: base, body: `{"name":"consumer"}`, status: 400, want: `{"message":"name: \"consumer\" is reserved"}`},
		{name: "reserved in any letter case", method: "POST", path: base, body: `{"name":"Consumer"}`, status: 400, want: `{"message":"name: \"Consumer\" is reserved"}`},
		{name: "write to reserved, upper case", method: "PUT", path: base + "/CONSUMER/properties/p", body: `1`, status: 400, want: `{"message":"namespace: \"CONSUMER\" is reserved"}`},
		{name: "session in reserved, mixed case", method: "PATCH", path: base + "/Faas/s/properties", body: `{"a":1}`, status: 400, want: `{"message":"namespace: \"Faas\" is reserved"}`},
		{name: "delete reserved, mixed case", method: "DELETE", path: base + "/Sde", status: 400, want: `{"message":"namespace: \"Sde\" is reserved"}`},
		{name: "hyphen in a namespace (SPEC §5)", method: "PUT", path: base + "/faas-demo-namespace/properties/p", body: `1`, status: 204},
		{name: "read it back", method: "GET", path: base + "/faas-demo-namespace/properties", status: 200, want: `{"p":1}`},
		{name: "delete it", method: "DELETE", path: base + "/faas-demo-namespace", status: 204},
		{name: "bad namespace name", method: "POST", path: base, body: `{"name":"a.b"}`, status: 400, want: `{"message":"name: must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -"}`},
		{name: "missing name", method: "POST", path: base, body: `{}`, status: 400, want: `{"message":"name: required"}`},
		{name: "negative ttlSecond", method: "POST", path: base + "?ttlSecond=-1", body: `{"name":"ns"}`, status: 400, want: `{"message":"ttlSecond: must be an integer from 0 (forever) to 3153600000"}`},
		{name: "write to reserved namespace", method: "PATCH", path: base + "/sde/properties", body: `{"a":1}`, status: 400, want: `{"message":"namespace: \"sde\" is reserved"}`},

		{name: "PATCH namespace properties", method: "PATCH", path: base + "/ns/properties", body: `{"a": 1, "b": {"x": [1, 2]}}`, status: 204},
		{name: "PUT one property", method: "PUT", path: base + "/ns/properties/c", body: `"text"`, status: 204},
		{name: "GET namespace properties", method: "GET", path: base + "/ns/properties", status: 200, want: `{"a":1,"b":{"x":[1,2]},"c":"text"}`},
		{name: "same data as __default__", method: "GET", path: le + "/ns/__default__/properties/", status: 200, want: `{"a":1,"b":{"x":[1,2]},"c":"text"}`},
		{name: "include", method: "GET", path: base + "/ns/properties?include=a,c,zz", status: 200, want: `{"a":1,"c":"text"}`},
		{name: "one property", method: "GET", path: base + "/ns/properties/b", status: 200, want: `{"x":[1,2]}`},
		{name: "absent property", method: "GET", path: base + "/ns/properties/zz", status: 404, want: `{"message":"property \"zz\" not found"}`},
		{name: "delete property", method: "DELETE", path: base + "/ns/properties/a", status: 204},
		{name: "delete it again (idempotent)", method: "DELETE", path: base + "/ns/properties/a", status: 204},
		{name: "after delete", method: "GET", path: base + "/ns/properties", status: 200, want: `{"b":{"x":[1,2]},"c":"text"}`},

		{name: "session TTL", method: "POST", path: base + "/namespace/ns/session?ttlSecond=10", body: `{"sessionId":"s1"}`, status: 204},
		{name: "PATCH session", method: "PATCH", path: base + "/ns/s1/properties", body: `{"k1":"v1","k2":2}`, status: 204},
		{name: "PUT session property with escaped name", method: "PUT", path: base + "/ns/s1/properties/a%2Fb", body: `true`, status: 204},
		{name: "PATCH another session", method: "PATCH", path: base + "/ns/s2/properties", body: `{"z":null}`, status: 204},
		{name: "GET session", method: "GET", path: base + "/ns/s1/properties", status: 200, want: `{"a/b":true,"k1":"v1","k2":2}`},
		{name: "session named properties", method: "PUT", path: base + "/ns/properties/properties/p", body: `"s"`, status: 204},
		{name: "its property", method: "GET", path: base + "/ns/properties/properties/p", status: 200, want: `"s"`},
		{name: "not the default session's", method: "GET", path: base + "/ns/properties/p", status: 404, want: `{"message":"property \"p\" not found"}`},
		{name: "delete that session", method: "DELETE", path: base + "/namespace/ns/session/properties", status: 204},
		{name: "GET session property", method: "GET", path: base + "/ns/s1/properties/k2/", status: 200, want: `2`},
		{name: "list sessions", method: "GET", path: base + "/namespace/ns/session", status: 200,
			want: `[{"sessionId":"__default__","createdAt":"` + created + `","ttlSecond":60},{"sessionId":"s1","createdAt":"` + created + `","ttlSecond":10},{"sessionId":"s2","createdAt":"` + created + `","ttlSecond":60}]`},
		{name: "session ids", method: "GET", path: base + "/ns/session-ids", status: 200, want: `["__default__","s1","s2"]`},
		{name: "session ids page 1 of 2", method: "GET", path: base + "/ns/session-ids?page=1&perPage=2", status: 200, want: `["s2"]`},
		{name: "session properties", method: "GET", path: base + "/ns/session-properties?perPage=2", status: 200,
			want: `[{"sessionId":"__default__","property":{"b":{"x":[1,2]},"c":"text"}},{"sessionId":"s1","property":{"a/b":true,"k1":"v1","k2":2}}]`},
		{name: "perPage 0", method: "GET", path: base + "/ns/session-ids?perPage=0", status: 400, want: `{"message":"perPage: must be from 1 to 1000"}`},
		{name: "perPage 1001", method: "GET", path: base + "/ns/session-properties?perPage=1001", status: 400, want: `{"message":"perPage: must be from 1 to 1000"}`},
		{name: "page -1", method: "GET", path: base + "/ns/session-ids?page=-1", status: 400, want: `{"message":"page: must be 0 or more"}`},
		{name: "page not a number", method: "GET", path: base + "/ns/session-ids?page=x", status: 400, want: `{"message":"page: must be an integer"}`},

		{name: "session s1 expires after its 10 s", method: "GET", path: base + "/ns/s1/properties", advance: 10 * time.Second, status: 200, want: `{}`},
		{name: "namespace TTL still runs", method: "GET", path: base + "/ns/properties/c", status: 200, want: `"text"`},
		{name: "rewrite restarts the TTL", method: "PUT", path: base + "/ns/properties/c", advance: 45 * time.Second, body: `"again"`, status: 204},
		{name: "b expired with the namespace TTL, c not", method: "GET", path: base + "/ns/properties", advance: 15 * time.Second, status: 200, want: `{"c":"again"}`},

		{name: "delete all session properties", method: "DELETE", path: base + "/ns/s2/properties", status: 204},
		{name: "s2 is empty", method: "GET", path: base + "/ns/s2/properties", status: 200, want: `{}`},
		{name: "delete session", method: "DELETE", path: base + "/namespace/ns/session/s1", status: 204},
		{name: "delete it again", method: "DELETE", path: base + "/namespace/ns/session/s1/", status: 204},
		{name: "delete namespace", method: "DELETE", path: base + "/ns", status: 204},
		{name: "delete it again (idempotent)", method: "DELETE", path: base + "/ns/", status: 204},
		{name: "namespace is gone", method: "GET", path: base + "/ns/properties", status: 404, want: `{"message":"namespace \"ns\" not found"}`},
		{name: "delete reserved", method: "DELETE", path: base + "/faas", status: 400, want: `{"message":"namespace: \"faas\" is reserved"}`},

		{name: "unknown path", method: "GET", path: base + "/ns/a/b/c/d", status: 404, want: `{"message":"no route"}`},
		{name: "wrong method", method: "POST", path: base + "/ns/properties", status: 405, want: `{"message":"method not allowed"}`},
		{name: "PATCH with a non-object", method: "PATCH", path: base + "/other/properties", body: `[1]`, status: 400, want: `{"message":"request body: must be a JSON object"}`},
		{name: "PATCH with bad JSON", method: "PATCH", path: base + "/other/properties", body: `{"a":`, status: 400, want: `{"message":"request body: invalid JSON: unexpected end of JSON input"}`},
		{name: "PUT with no value", method: "PUT", path: base + "/other/properties/p", status: 400, want: `{"message":"request body: a JSON value is required"}`},
		{name: "property name too long", method: "PUT", path: base + "/other/properties/" + strings.Repeat("x", 257), body: `1`, status: 400, want: `{"message":"property name: must be 1 to 256 printable characters"}`},
		{name: "control character in session id", method: "PATCH", path: base + "/other/a%01b/properties", body: `{}`, status: 400, want: `{"message":"sessionId: must be 1 to 256 printable characters"}`},
		{name: "too large", method: "PATCH", path: base + "/other/properties", body: `{"big":"` + strings.Repeat("x", 800_000) + `"}`, status: 413, want: `{"message":"document too large"}`},
		{name: "nothing of it saved", method: "GET", path: base + "/other/properties", status: 200, want: `{}`},
	}
	runCCSSteps(t, h, clock, map[string]string{"maven-api-key": a.APIKey}, steps)
}

func TestCCSV1Forbidden(t *testing.T) {
	env := servertest.Start(t)
	h := env.Server.Handler()
	a, b := env.CreateAccount(t, false), env.CreateAccount(t, false)
	w := ccsRequest(h, "PATCH", "/v1/account/"+b.AccountID+"/ns/properties", map[string]string{"maven-api-key": a.APIKey}, `{"x":1}`)
	if w.Code != http.StatusForbidden {
		t.Fatalf("other account's path: status %d, want 403: %s", w.Code, w.Body)
	}
	w = ccsRequest(h, "GET", "/v1/account/"+b.AccountID+"/ns/properties", map[string]string{"maven-api-key": b.APIKey}, "")
	if w.Code != http.StatusNotFound {
		t.Errorf("after a refused write: status %d, want 404 (nothing written): %s", w.Code, w.Body)
	}
}
