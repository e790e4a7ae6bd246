package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/orchestrator/orchestrator/internal/openapi"
	"github.com/orchestrator/orchestrator/internal/openapi/openapitest"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// TestOpenAPIServed checks GET /openapi.json: 200, JSON, cacheable, the
// embedded document, and a document kin-openapi loads.
func TestOpenAPIServed(t *testing.T) {
	env := servertest.Start(t)
	resp, err := http.Get(env.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" ||
		resp.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("status %d, Content-Type %q, Cache-Control %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	if !bytes.Equal(bytes.TrimSuffix(b, []byte("\n")), openapi.JSON()) {
		t.Error("GET /openapi.json is not the embedded document")
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
}

// registeredRoutes returns the routes internal/httpapi registers: the
// ServeMux patterns of its source ("METHOD /path", or "/path" for every
// method), and the v1 routes that ccs_v1.go splits by hand, from the
// table of its opening comment (which the code follows).
func registeredRoutes(t *testing.T) (patterns []string, v1 []string) {
	t.Helper()
	srcs, _ := filepath.Glob(filepath.Join(repoRoot, "internal", "httpapi", "*.go"))
	pattern := regexp.MustCompile(`\b(?:route|handle|Handle|ownV1)\("((?:[A-Z]+ )?/[^"]*)"`)
	for _, src := range srcs {
		if strings.HasSuffix(src, "_test.go") {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range pattern.FindAllStringSubmatch(string(b), -1) {
			patterns = append(patterns, m[1])
		}
	}
	b, err := os.ReadFile(filepath.Join(repoRoot, "internal", "httpapi", "ccs_v1.go"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`^//\t((?:[A-Z]+, )*[A-Z]+)\s{2,}(.+)$`)
	for _, line := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		rest := strings.TrimSuffix(m[2], " (Next Actions)")
		for _, p := range strings.Split(rest, ", ") {
			path := "/v1/account/{a}"
			if p != "(none)" {
				path += "/" + p
			}
			for _, method := range strings.Split(m[1], ", ") {
				v1 = append(v1, method+" "+path)
			}
		}
	}
	return patterns, v1
}

// TestOpenAPICoversRoutes checks that every route the server registers
// has an operation in the document, and that the document has no v1
// operation the dispatch table lacks. (The catch-alls "/", "/v2/" and the
// v1 prefixes hand requests on; the console is no API.)
func TestOpenAPICoversRoutes(t *testing.T) {
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	has := func(method, path string) bool {
		item := doc.Paths.Find(path)
		return item != nil && item.GetOperation(method) != nil
	}
	patterns, v1 := registeredRoutes(t)
	skip := map[string]bool{"/": true, "/v2/": true, "/v1/account/{a}": true, "/v1/account/{a}/": true, "/console/": true, "GET /console": true}
	found := 0
	for _, p := range patterns {
		if skip[p] {
			continue
		}
		found++
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			method, path = http.MethodGet, p // every method: GET at least
		}
		if !has(method, path) {
			t.Errorf("the server registers %q; the document has no %s %s", p, method, path)
		}
	}
	if found < 30 || len(v1) < 20 {
		t.Fatalf("found %d routes and %d v1 routes: is the parser out of date?", found, len(v1))
	}
	for _, r := range v1 {
		method, path, _ := strings.Cut(r, " ")
		if !has(method, path) {
			t.Errorf("ccs_v1.go serves %s; the document lacks it", r)
		}
	}
	for path, item := range doc.Paths.Map() {
		if !strings.HasPrefix(path, "/v1/") {
			continue
		}
		for method := range item.Operations() {
			if !slices.Contains(v1, method+" "+path) && !slices.Contains(patterns, path) && !slices.Contains(patterns, method+" "+path) {
				t.Errorf("the document has %s %s; neither ccs_v1.go's table nor server.go's routes serve it", method, path)
			}
		}
	}
}

// TestOpenAPIRoutesServed sends one request to every operation of the
// document, with the credentials it names, and checks that the server
// has the route (no "no route" 404, no 405). servertest checks each
// exchange against the document on the way.
func TestOpenAPIRoutesServed(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	other := env.CreateAccount(t, false) // for the operator's destructive calls
	tok := env.Login(t, a)
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	type op struct{ method, path string }
	var ops []op
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, op{method, path})
		}
	}
	// Destructive calls last, so that the others meet a live account.
	slices.SortFunc(ops, func(x, y op) int {
		xd, yd := x.method == http.MethodDelete, y.method == http.MethodDelete
		if xd != yd {
			if xd {
				return 1
			}
			return -1
		}
		return strings.Compare(x.path+x.method, y.path+y.method)
	})
	vals := strings.NewReplacer("{a}", a.AccountID, "{ns}", "ns1", "{sid}", "s1", "{p}", "p1", "{id}", other.AccountID)
	for _, o := range ops {
		operation := doc.Paths.Value(o.path).GetOperation(o.method)
		var body io.Reader
		ct := ""
		if rb := operation.RequestBody; rb != nil && rb.Value != nil {
			switch {
			case rb.Value.Content.Get("application/json") != nil:
				body, ct = strings.NewReader("{}"), "application/json"
			case rb.Value.Content.Get("application/x-www-form-urlencoded") != nil:
				body, ct = strings.NewReader("grant_type=client_credentials&token=x"), "application/x-www-form-urlencoded"
			}
		}
		path := vals.Replace(o.path)
		if strings.HasPrefix(o.path, "/v2/config/{a}/{id}") {
			path = "/v2/config/" + a.AccountID + "/p1"
		}
		req, _ := http.NewRequest(o.method, env.URL+path, body)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		security := doc.Security
		if operation.Security != nil {
			security = *operation.Security
		}
		for _, sr := range security {
			for name := range sr {
				switch name {
				case "mavenApiKey":
					req.Header.Set("maven-api-key", a.APIKey)
				case "bearerToken":
					req.Header.Set("Authorization", "Bearer "+tok)
				case "basicClient":
					req.SetBasicAuth(a.UserID, a.Password)
				case "adminToken":
					req.Header.Set("Authorization", "Bearer "+env.AdminToken)
				}
			}
			if len(req.Header) > 1 || (ct == "" && len(req.Header) > 0) {
				break // the first scheme that applied
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Message string }
		json.Unmarshal(b, &e)
		if resp.StatusCode == http.StatusMethodNotAllowed || (resp.StatusCode == http.StatusNotFound && e.Message == "no route") {
			t.Errorf("%s %s (document: %s) → %d %s: the server does not serve it", o.method, path, o.path, resp.StatusCode, b)
		}
	}
}

// replay sends req through a validator of the document as change leaves
// it, wrapped around env's handler, and returns its failures.
func replay(t *testing.T, env *servertest.Env, change func(*openapi3.T), req *http.Request) []string {
	t.Helper()
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	change(doc)
	d, err := openapitest.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	v := openapitest.New(d)
	v.Wrap(env.Server.Handler(), openapitest.All).ServeHTTP(httptest.NewRecorder(), req)
	if v.Checked() != 1 {
		t.Fatalf("the validator checked %d exchanges, want 1", v.Checked())
	}
	return v.Failures()
}

func schema(doc *openapi3.T, name string) *openapi3.Schema { return doc.Components.Schemas[name].Value }

// TestOpenAPIChecksTraffic is the acceptance check of the validator: the
// same real exchanges pass against the document as written, and fail once
// the document loses a field the server sends, requires one it omits,
// drops a status it answers, or refuses a request it accepts.
func TestOpenAPIChecksTraffic(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	tok := env.Login(t, a)
	seed := httptest.NewRequest("POST", "/v2/context/document/create",
		strings.NewReader(`{"accountId":"`+a.AccountID+`","nameSpace":"shop","payload":{"cart":3}}`))
	seed.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(w, seed)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	login := func() *http.Request {
		r := httptest.NewRequest("GET", "/v2/authenticate/login", nil)
		r.SetBasicAuth(a.UserID, a.Password)
		return r
	}
	get := func(path string) func() *http.Request {
		return func() *http.Request {
			r := httptest.NewRequest("GET", path, nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}
	}
	create := func() *http.Request {
		r := httptest.NewRequest("POST", "/v2/context/document/create",
			strings.NewReader(`{"accountId":"`+a.AccountID+`","nameSpace":"shop","ttlSeconds":60,"payload":{"n":1}}`))
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}
	doc := "/v2/context/document/" + a.AccountID + "/shop"
	tests := []struct {
		name   string
		req    func() *http.Request
		change func(*openapi3.T)
		want   string // in the failure
	}{
		{"login without access_token", login, func(d *openapi3.T) {
			s := schema(d, "LoginResponse")
			delete(s.Properties, "access_token")
			s.Required = slices.DeleteFunc(s.Required, func(n string) bool { return n == "access_token" })
		}, "access_token"},
		{"v2 read without documentType", get(doc), func(d *openapi3.T) {
			delete(schema(d, "V2NamespaceDocument").Properties, "documentType")
		}, "documentType"},
		{"v2 read requires a field the server omits", get(doc), func(d *openapi3.T) {
			s := schema(d, "V2NamespaceDocument")
			s.Properties["version"] = openapi3.NewSchemaRef("", openapi3.NewStringSchema())
			s.Required = append(s.Required, "version")
		}, "version"},
		{"undocumented status", get(doc + "/nosuchsession"), func(d *openapi3.T) {
			d.Paths.Value("/v2/context/document/{a}/{ns}/{sid}").Get.Responses.Delete("404")
		}, "status is not supported"},
		{"request the document refuses", create, func(d *openapi3.T) {
			op := d.Paths.Value("/v2/context/document/create").Post
			delete(op.RequestBody.Value.Content.Get("application/json").Schema.Value.Properties, "ttlSeconds")
		}, "the document refuses the request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if f := replay(t, env, func(*openapi3.T) {}, tc.req()); len(f) > 0 {
				t.Fatalf("the document as written fails the exchange: %v", f)
			}
			f := replay(t, env, tc.change, tc.req())
			if len(f) == 0 {
				t.Fatal("the changed document passes the exchange")
			}
			if !strings.Contains(f[0], tc.want) {
				t.Errorf("failure %q does not mention %q", f[0], tc.want)
			}
		})
	}
}
