// Package openapi owns the OpenAPI 3.1 document of the public HTTP API
// (SPEC §1: GET /openapi.json): openapi.yaml, written by hand next to this
// file and embedded in the binary, and its JSON form, converted once.
//
// The document is a contract that tests enforce, not a description that
// may drift: internal/server/servertest validates every request and
// response of the end-to-end suites against it (package
// openapi/openapitest), so a field the server sends that the document
// lacks, a required field the server omits, or a status a route answers
// that the document does not list fails the suite.
package openapi
