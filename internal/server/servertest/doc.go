// Package servertest starts the real server on a loopback port for
// end-to-end tests, with helpers to create accounts and log in over HTTP.
//
// Every server started here checks its traffic against the OpenAPI
// document (internal/openapi/openapi.yaml): each request and answer of
// the test, on both listeners, over the network or through
// Env.Server.Handler(), is checked under the rules of package
// openapitest, and every exchange that disagrees fails the test when it
// ends, with its method, path, status and kin-openapi's reason. In short:
// an answer must match its documented status, headers and body; a request
// the document calls invalid must have been answered 4xx; a route the
// document lacks must have been refused (4xx). Benchmarks are not
// checked.
package servertest
