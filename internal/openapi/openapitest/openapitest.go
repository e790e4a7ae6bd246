package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/orchestrator/orchestrator/internal/openapi"
)

// Scope is which routes a wrapped handler serves.
type Scope int

const (
	// All: every route of the document (one listener for everything).
	All Scope = iota
	// Public: every route but the operator API and /metrics, which
	// answer on a listener of their own (--admin-addr).
	Public
	// Operator: the operator listener: the operator API, /metrics and the
	// health routes.
	Operator
)

// maxCapture bounds the bytes of a body kept for the check.
const maxCapture = 4 << 20

// Load parses the embedded document and validates it as OpenAPI 3.1. Each
// call returns a new document, which the caller may change.
func Load() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.JSON())
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPIMajorMinor() != "3.1" {
		return nil, fmt.Errorf("openapi.yaml is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml does not validate: %w", err)
	}
	return doc, nil
}

// Document holds a loaded document with its routers, compiled once.
type Document struct {
	doc     *openapi3.T
	routers [3]routers.Router
	errs    *openapi3.Schema
}

// Compile builds the routers of doc.
func Compile(doc *openapi3.T) (*Document, error) {
	d := &Document{doc: doc}
	for _, sc := range []Scope{All, Public, Operator} {
		sub := *doc
		sub.Paths = openapi3.NewPaths()
		for path, item := range doc.Paths.Map() {
			if inScope(sc, path) {
				sub.Paths.Set(path, item)
			}
		}
		r, err := gorillamux.NewRouter(&sub)
		if err != nil {
			return nil, err
		}
		d.routers[sc] = r
	}
	ref := doc.Components.Schemas["Error"]
	if ref == nil || ref.Value == nil {
		return nil, errors.New("openapi.yaml has no Error schema")
	}
	d.errs = ref.Value
	return d, nil
}

func operatorPath(path string) bool {
	return strings.HasPrefix(path, "/admin/") || path == "/metrics"
}

func inScope(sc Scope, path string) bool {
	switch sc {
	case Public:
		return !operatorPath(path)
	case Operator:
		return operatorPath(path) || path == "/healthz" || path == "/readyz"
	}
	return true
}

// embedded is the embedded document, compiled once per process.
var embedded = sync.OnceValues(func() (*Document, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	return Compile(doc)
})

// Embedded returns the embedded document, compiled once per process.
func Embedded() (*Document, error) { return embedded() }

// Validator records the exchanges that disagree with a document.
type Validator struct {
	doc      *Document
	mu       sync.Mutex
	checked  int
	failures []string
}

// New returns a Validator of d.
func New(d *Document) *Validator { return &Validator{doc: d} }

// ForTest returns, for server.Deps.Wrap, a wrapper that checks every
// exchange of the handlers it wraps against the embedded document, and
// fails t at its end with every mismatch (t.Cleanup: register it before
// the server's own clean-up, so that it runs once the server has
// stopped). separateAdmin says that the operator API has a listener of
// its own. Benchmarks get nil: a check per request would be what they
// measure.
func ForTest(t testing.TB, separateAdmin bool) func(http.Handler, bool) http.Handler {
	t.Helper()
	if _, ok := t.(*testing.B); ok {
		return nil
	}
	d, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	v := New(d)
	t.Cleanup(func() { v.Report(t) })
	return func(h http.Handler, admin bool) http.Handler {
		sc := All
		switch {
		case admin:
			sc = Operator
		case separateAdmin:
			sc = Public
		}
		return v.Wrap(h, sc)
	}
}

// Report fails t with every mismatch recorded so far.
func (v *Validator) Report(t testing.TB) {
	t.Helper()
	for _, f := range v.Failures() {
		t.Errorf("OpenAPI: %s", f)
	}
}

// Failures returns the mismatches recorded so far.
func (v *Validator) Failures() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.failures...)
}

// Checked returns how many exchanges were checked.
func (v *Validator) Checked() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.checked
}

// Wrap returns h, with each exchange checked once h has answered.
func (v *Validator) Wrap(h http.Handler, sc Scope) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := &teeBody{rc: r.Body}
		if r.Body == nil || r.Body == http.NoBody {
			body.done = true
		} else {
			r.Body = body
		}
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		err := v.doc.Check(sc, r, body.bytes(), rec.exchange())
		v.mu.Lock()
		v.checked++
		if err != nil {
			v.failures = append(v.failures, err.Error())
		}
		v.mu.Unlock()
	})
}

// Response is an answer as a Validator saw it.
type Response struct {
	Status int
	Header http.Header
	Body   []byte // nil: too large to check
}

// Check checks one exchange: r with its body (nil: not read to the end,
// or too large) and its answer, under the package's rules.
func (d *Document) Check(sc Scope, r *http.Request, reqBody []byte, resp Response) error {
	path := r.URL.Path
	if path == "/console" || strings.HasPrefix(path, "/console/") || resp.Status == 499 {
		return nil
	}
	fail := func(format string, args ...any) error {
		snippet := string(resp.Body)
		if len(snippet) > 300 {
			snippet = snippet[:300] + "…"
		}
		return fmt.Errorf("%s %s → %d: %s\n\tbody: %s", r.Method, r.URL.RequestURI(), resp.Status, fmt.Sprintf(format, args...), snippet)
	}

	req := r.Clone(context.Background())
	if req.Method == http.MethodHead {
		req.Method = http.MethodGet
	}
	if strings.HasPrefix(path, "/v1/") && len(path) > len("/v1/") && strings.HasSuffix(path, "/") {
		req.URL.Path = strings.TrimSuffix(path, "/")
		if req.URL.RawPath != "" {
			req.URL.RawPath = strings.TrimSuffix(req.URL.RawPath, "/")
		}
	}
	route, params, err := d.routers[sc].FindRoute(req)
	if err != nil {
		if !errors.Is(err, routers.ErrPathNotFound) && !errors.Is(err, routers.ErrMethodNotAllowed) {
			return fail("routing: %v", err)
		}
		if resp.Status < 400 || resp.Status > 499 {
			return fail("the document has no %s %s (%v), yet the server did not refuse it", r.Method, path, err)
		}
		return d.checkError(resp, fail)
	}

	opts := &openapi3filter.Options{
		AuthenticationFunc:    presence,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if reqBody == nil {
		opts.ExcludeRequestBody = true
		req.Body = http.NoBody
	} else {
		b := reqBody
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.ContentLength = int64(len(b))
		if len(b) > 0 && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if reqErr := openapi3filter.ValidateRequest(context.Background(), in); reqErr != nil && (resp.Status < 400 || resp.Status > 499) {
		return fail("the document refuses the request, the server did not: %v", reqErr)
	}

	respOpts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	if resp.Body == nil || r.Method == http.MethodHead {
		respOpts.ExcludeResponseBody = true
	}
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.Status,
		Header:                 resp.Header,
		Options:                respOpts,
	}
	rin.SetBodyBytes(resp.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), rin); err != nil {
		return fail("answer does not match %s %s: %v", route.Method, route.Path, err)
	}
	return nil
}

// checkError checks the body of a refusal of an undocumented route: the
// Error schema, when it is JSON.
func (d *Document) checkError(resp Response, fail func(string, ...any) error) error {
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct != "application/json" || resp.Body == nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(resp.Body, &v); err != nil {
		return fail("refusal is not JSON: %v", err)
	}
	if err := d.errs.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fail("refusal does not match Error: %v", err)
	}
	return nil
}

// presence is the AuthenticationFunc of the checks: a credential of the
// scheme is present (whether it is right is the server's to say, and its
// refusal is documented).
func presence(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s, r := in.SecurityScheme, in.RequestValidationInput.Request
	authz := r.Header.Get("Authorization")
	basic := len(authz) > 6 && strings.EqualFold(authz[:6], "basic ")
	ok := false
	switch {
	case s.Type == "apiKey" && s.In == "header":
		ok = r.Header.Get(s.Name) != ""
	case s.Type == "apiKey" && s.In == "query":
		ok = r.URL.Query().Get(s.Name) != ""
	case s.Type == "http" && strings.EqualFold(s.Scheme, "basic"):
		ok = basic
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		ok = strings.TrimSpace(authz) != "" && !basic
	}
	if !ok {
		return fmt.Errorf("no %s credential", in.SecuritySchemeName)
	}
	return nil
}

// teeBody keeps what the handler reads of a request body.
type teeBody struct {
	rc   io.ReadCloser
	buf  bytes.Buffer
	over bool
	done bool
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if b.buf.Len()+n > maxCapture {
		b.over = true
	} else {
		b.buf.Write(p[:n])
	}
	if errors.Is(err, io.EOF) {
		b.done = true
	}
	return n, err
}

func (b *teeBody) Close() error { return b.rc.Close() }

// bytes returns the body, or nil when it was not read to its end or was
// too large.
func (b *teeBody) bytes() []byte {
	if !b.done || b.over {
		return nil
	}
	return append([]byte{}, b.buf.Bytes()...)
}

// recorder keeps the status, headers and body of an answer.
type recorder struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
	over   bool
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		w.header = w.ResponseWriter.Header().Clone()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.body.Len()+len(p) > maxCapture {
		w.over = true
	} else {
		w.body.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

// Flush passes on to the connection's writer.
func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recorder) exchange() Response {
	if w.status == 0 {
		// The handler wrote nothing: net/http answers 200 with no body.
		w.status = http.StatusOK
		w.header = w.ResponseWriter.Header().Clone()
	}
	resp := Response{Status: w.status, Header: w.header}
	if !w.over {
		resp.Body = w.body.Bytes()
		if resp.Body == nil {
			resp.Body = []byte{}
		}
	}
	return resp
}
