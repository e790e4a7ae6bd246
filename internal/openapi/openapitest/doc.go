// Package openapitest checks HTTP traffic against the OpenAPI document of
// package openapi with kin-openapi, for tests: a Validator wraps a server's
// handler, records every request and its answer, and reports each
// exchange that disagrees with the document.
//
// The rules, for each exchange (Validator.Check is the one place that
// applies them):
//
//  1. Requests to /console and below (the browser console, SPEC §7, not
//     an API) and answers with status 499 (the client went away; nobody
//     reads them) are not checked.
//  2. A request whose method and path the document does not describe must
//     have been refused: a 4xx answer, whose body (when JSON) is the
//     document's Error. A route the server serves and the document lacks
//     (an answer other than 4xx) is a failure. With an operator listener
//     of its own (--admin-addr), /admin/… and /metrics are not part of
//     the public listener's document, and only they and the health routes
//     are part of the operator listener's.
//  3. A request the document calls invalid (parameters, body, missing
//     credentials of every accepted kind) must have been answered 4xx:
//     negative tests send bad input on purpose, and the server must
//     refuse what the document refuses. A request the document calls
//     valid may still be refused (a wrong password, an absent property)
//     as long as the answer is documented.
//  4. Every answer must match the document: its status must be listed for
//     the operation, its required headers present, its Content-Type
//     documented, and its body valid against the schema (strict schemas:
//     no undocumented member, no missing required one).
//
// Quirks the document states and the checks therefore apply: a v1 path
// (/v1/…) with one trailing "/" is checked as the path without it; a
// request body without Content-Type is checked as JSON (the server reads
// JSON bodies whatever their Content-Type); HEAD is checked as GET, and
// its (empty) body is not. Bodies over 4 MiB, and request bodies the
// server did not read to the end (it refused the request first), are not
// checked; everything else about their exchange is.
package openapitest
