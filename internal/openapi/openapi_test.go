package openapi_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/orchestrator/orchestrator/internal/openapi"
	"github.com/orchestrator/orchestrator/internal/openapi/openapitest"
)

// TestDocumentValidates loads the embedded document with kin-openapi and
// validates it as OpenAPI 3.1 (JSON Schema 2020-12 schemas).
func TestDocumentValidates(t *testing.T) {
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if _, err := openapitest.Compile(doc); err != nil {
		t.Fatalf("routers: %v", err)
	}
}

// TestJSON checks that the served form is the YAML, as compact JSON, and
// the same bytes on every call.
func TestJSON(t *testing.T) {
	b := openapi.JSON()
	if !json.Valid(b) || bytes.HasSuffix(b, []byte("\n")) {
		t.Fatalf("JSON() is not one compact JSON value")
	}
	if !bytes.Equal(b, openapi.JSON()) {
		t.Fatal("JSON() changed between calls")
	}
	if cap(b) != len(b) {
		t.Error("JSON() leaves capacity: a caller's append would write into the shared bytes")
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || len(doc.Paths) < 40 {
		t.Errorf("openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
}

// specRoutes are the public routes of SPEC §1–§6 and §9, as the SPEC
// writes them (v1 paths without their optional trailing "/").
var specRoutes = []string{
	"GET /healthz", "GET /readyz", "GET /openapi.json", "GET /metrics",
	"POST /admin/v1/accounts", "GET /admin/v1/accounts", "GET /admin/v1/accounts/{id}",
	"DELETE /admin/v1/accounts/{id}", "POST /admin/v1/accounts/{id}/upgrade",
	"POST /admin/v1/accounts/{id}/api-key/regenerate", "POST /admin/v1/accounts/{id}/credentials/regenerate",
	"POST /admin/v1/accounts/{id}/console-users", "GET /admin/v1/accounts/{id}/audit",
	"GET /v2/authenticate/login", "POST /v2/authenticate/login", "POST /oauth2/token",
	"GET /.well-known/oauth-authorization-server", "GET /.well-known/jwks.json",
	"POST /oauth2/introspect", "POST /oauth2/revoke",
	"POST /v1/account/{a}", "GET /v1/account/{a}", "DELETE /v1/account/{a}/{ns}",
	"PATCH /v1/account/{a}/{ns}/properties", "PUT /v1/account/{a}/{ns}/properties/{p}",
	"GET /v1/account/{a}/{ns}/properties", "GET /v1/account/{a}/{ns}/properties/{p}",
	"DELETE /v1/account/{a}/{ns}/properties/{p}", "PATCH /v1/account/{a}/{ns}/{sid}/properties",
	"PUT /v1/account/{a}/{ns}/{sid}/properties/{p}", "GET /v1/account/{a}/{ns}/{sid}/properties",
	"GET /v1/account/{a}/{ns}/{sid}/properties/{p}", "DELETE /v1/account/{a}/{ns}/{sid}/properties",
	"DELETE /v1/account/{a}/{ns}/{sid}/properties/{p}", "POST /v1/account/{a}/namespace/{ns}/session",
	"GET /v1/account/{a}/namespace/{ns}/session", "DELETE /v1/account/{a}/namespace/{ns}/session/{sid}",
	"GET /v1/account/{a}/{ns}/session-ids", "GET /v1/account/{a}/{ns}/session-properties",
	"POST /v2/context/document/create", "GET /v2/context/document/{a}/{ns}",
	"GET /v2/context/document/{a}/{ns}/{sid}", "POST /v2/context/document/properties",
	"DELETE /v2/context/document/property/delete", "DELETE /v2/context/document/delete",
	"GET /api/account/{a}/service/baseURI.json",
	"GET /v1/account/{a}/next-actions", "POST /v2/policy/nextaction", "POST /v2/config/create",
	"GET /v2/config/{a}", "GET /v2/config/{a}/{id}", "POST /v2/config/update", "DELETE /v2/config/delete",
	"GET /v2/policy/logs/{a}", "PUT /v2/config/attributes/{a}", "GET /v2/config/attributes/{a}",
}

// TestDocumentCoversSpec checks that every route of the SPEC has an
// operation in the document.
func TestDocumentCoversSpec(t *testing.T) {
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range specRoutes {
		method, path, _ := bytes.Cut([]byte(r), []byte(" "))
		item := doc.Paths.Find(string(path))
		if item == nil || item.GetOperation(string(method)) == nil {
			t.Errorf("the document has no %s", r)
		}
	}
}
