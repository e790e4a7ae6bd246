package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/fault"
)

// v1 Context Service routes (SPEC §5), below /v1/account/{a}:
//
//	POST, GET                 (none)
//	DELETE                    {ns}
//	PATCH, GET, DELETE        {ns}/properties
//	PUT, GET, DELETE          {ns}/properties/{p}
//	GET                       {ns}/session-ids, {ns}/session-properties
//	POST, GET                 namespace/{ns}/session
//	DELETE                    namespace/{ns}/session/{sid}
//	PATCH, GET, DELETE        {ns}/{sid}/properties
//	PUT, GET, DELETE          {ns}/{sid}/properties/{p}
//
// ServeMux patterns cannot express these (namespace/{ns}/session and
// {ns}/{sid}/properties overlap), so the guard hands every path here and
// serveV1Account splits the escaped path itself. Where two shapes match
// the same path, the literal segment wins: namespace/{ns}/session[/{sid}]
// before {ns}/{sid}/properties, and {ns}/properties/{p} before
// {ns}/{sid}/properties. A trailing "/" is accepted. Each shape names
// its route for the metrics (setRoute) as the pattern it would have.
//
// GET next-actions is Next Actions' own route (server.go), which the mux
// prefers to this one.

// v1Route is one matched v1 path with its handlers by method.
type v1Route map[string]func(w http.ResponseWriter, r *http.Request, acct string, seg []string) error

// serveV1Account serves every route under /v1/account/{a} once the guard
// has authenticated a v1 API key for the account.
func (s *Server) serveV1Account(w http.ResponseWriter, r *http.Request) error {
	p, ok := PrincipalFrom(r.Context())
	if !ok {
		return &Error{Status: http.StatusForbidden, Code: "invalid_api_key", Message: "missing credentials"}
	}
	seg, ok := v1Segments(r.URL.EscapedPath())
	if !ok {
		return errNoRoute
	}
	var route v1Route
	var name string
	switch n := len(seg); {
	case n == 0:
		route, name = v1Route{http.MethodPost: s.v1CreateNamespace, http.MethodGet: s.v1Namespaces}, "/v1/account/{a}"
	case n == 1:
		route, name = v1Route{http.MethodDelete: s.v1DeleteNamespace}, "/v1/account/{a}/{ns}"
	case n == 2 && seg[1] == "properties":
		route, name = v1Route{http.MethodPatch: s.v1Merge, http.MethodGet: s.v1Get, http.MethodDelete: s.v1DeleteAll}, "/v1/account/{a}/{ns}/properties"
	case n == 2 && seg[1] == "session-ids":
		route, name = v1Route{http.MethodGet: s.v1SessionIDs}, "/v1/account/{a}/{ns}/session-ids"
	case n == 2 && seg[1] == "session-properties":
		route, name = v1Route{http.MethodGet: s.v1SessionProperties}, "/v1/account/{a}/{ns}/session-properties"
	case n == 3 && seg[0] == "namespace" && seg[2] == "session":
		route, name = v1Route{http.MethodPost: s.v1PutSession, http.MethodGet: s.v1Sessions}, "/v1/account/{a}/namespace/{ns}/session"
	case n == 3 && seg[1] == "properties":
		route, name = v1Route{http.MethodPut: s.v1Put, http.MethodGet: s.v1Property, http.MethodDelete: s.v1DeleteProperty}, "/v1/account/{a}/{ns}/properties/{p}"
	case n == 3 && seg[2] == "properties":
		route, name = v1Route{http.MethodPatch: s.v1Merge, http.MethodGet: s.v1Get, http.MethodDelete: s.v1DeleteAll}, "/v1/account/{a}/{ns}/{sid}/properties"
	case n == 4 && seg[0] == "namespace" && seg[2] == "session":
		route, name = v1Route{http.MethodDelete: s.v1DeleteSession}, "/v1/account/{a}/namespace/{ns}/session/{sid}"
	case n == 4 && seg[2] == "properties":
		route, name = v1Route{http.MethodPut: s.v1Put, http.MethodGet: s.v1Property, http.MethodDelete: s.v1DeleteProperty}, "/v1/account/{a}/{ns}/{sid}/properties/{p}"
	default:
		return errNoRoute
	}
	setRoute(r.Context(), name)
	h := route[r.Method]
	if h == nil {
		allow := make([]string, 0, len(route))
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if route[m] != nil {
				allow = append(allow, m)
			}
		}
		return &Error{Status: http.StatusMethodNotAllowed, Message: "method not allowed", Header: map[string]string{"Allow": strings.Join(allow, ", ")}}
	}
	return h(w, r, p.AccountID, seg)
}

// errNoRoute answers a path that no route serves (SPEC: "not found"
// names the thing that is missing; here, the route).
var errNoRoute = &Error{Status: http.StatusNotFound, Message: "no route"}

// v1Segments returns the unescaped path segments after /v1/account/{a}.
// One trailing "/" is accepted; empty segments are not.
func v1Segments(escaped string) ([]string, bool) {
	rest, ok := strings.CutPrefix(escaped, "/v1/account/")
	if !ok {
		return nil, false
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return nil, true // /v1/account/{a}
	}
	rest = strings.TrimSuffix(rest[i+1:], "/")
	if rest == "" {
		return nil, true
	}
	n := strings.Count(rest, "/") + 1
	if n > 4 {
		return nil, false
	}
	seg := make([]string, 0, n)
	for part := range strings.SplitSeq(rest, "/") {
		if part == "" {
			return nil, false
		}
		if strings.IndexByte(part, '%') >= 0 {
			u, err := url.PathUnescape(part)
			if err != nil {
				return nil, false
			}
			part = u
		}
		seg = append(seg, part)
	}
	return seg, true
}

// v1Key returns the document of a properties path and the property name
// when the path has one: {ns}/properties[/{p}] is the default session,
// {ns}/{sid}/properties[/{p}] session sid.
func v1Key(acct string, seg []string) (ccs.Key, string) {
	k := ccs.Key{AccountID: acct, Namespace: seg[0]}
	switch {
	case len(seg) == 2:
		return k, ""
	case len(seg) == 3 && seg[1] == "properties":
		return k, seg[2]
	case len(seg) == 3:
		k.SessionID = seg[1]
		return k, ""
	default:
		k.SessionID = seg[1]
		return k, seg[3]
	}
}

// ttlParam parses ?ttlSecond=N; nil when absent.
func ttlParam(r *http.Request) (*int64, error) {
	q := r.URL.Query()
	if !q.Has("ttlSecond") {
		return nil, nil
	}
	v, err := strconv.ParseInt(q.Get("ttlSecond"), 10, 64)
	if err != nil {
		return nil, fault.Invalid("ttlSecond: must be an integer from 0 (forever) to %d", ccs.MaxTTLSeconds)
	}
	if err := ccs.CheckTTL("ttlSecond", v); err != nil {
		return nil, err
	}
	return &v, nil
}

// intParam parses an optional non-negative integer query parameter.
func intParam(r *http.Request, name string, def int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fault.Invalid("%s: must be an integer", name)
	}
	return v, nil
}

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// readBody reads the (already capped) request body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err // *http.MaxBytesError → 413
	}
	return b, nil
}

func (s *Server) v1CreateNamespace(w http.ResponseWriter, r *http.Request, acct string, _ []string) error {
	ttl, err := ttlParam(r)
	if err != nil {
		return err
	}
	var body struct {
		Name *string `json:"name"`
	}
	if err := DecodeJSON(r, &body, false); err != nil {
		return err
	}
	if body.Name == nil {
		return fault.Invalid("name: required")
	}
	if err := s.CCS.PutNamespace(r.Context(), acct, *body.Name, ttl); err != nil {
		return err
	}
	return noContent(w)
}

type v1Namespace struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	TTLSecond *int64    `json:"ttlSecond,omitempty"`
}

func (s *Server) v1Namespaces(w http.ResponseWriter, r *http.Request, acct string, _ []string) error {
	list, err := s.CCS.Namespaces(r.Context(), acct)
	if err != nil {
		return err
	}
	out := make([]v1Namespace, len(list))
	for i, n := range list {
		out[i] = v1Namespace{Name: n.Name, CreatedAt: n.CreatedAt, TTLSecond: n.TTLSeconds}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) v1DeleteNamespace(w http.ResponseWriter, r *http.Request, acct string, seg []string) error {
	if err := s.CCS.DeleteNamespace(r.Context(), acct, seg[0]); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) v1Merge(w http.ResponseWriter, r *http.Request, acct string, seg []string) error {
	k, _ := v1Key(acct, seg)
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if err := s.CCS.Merge(r.Context(), k, b); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) v1Put(w http.ResponseWriter, r *http.Request, acct string, seg []string) error {
	k, name := v1Key(acct, seg)
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if err := s.CCS.Put(r.Context(), k, name, b); err != nil {
		return err
	}
	return noContent(w)
}

// includeParam returns the names of ?include=p1,p2 (also repeated), or
// nil when absent or empty: everything.
func includeParam(r *http.Request) []string {
	if r.URL.RawQuery == "" {
		return nil
	}
	var names []string
	for _, v := range r.URL.Query()["include"] {
		for n := range strings.SplitSeq(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	return names
}

func (s *Server) v1Get(w http.ResponseWriter, r *http.Request, acct string, seg []string) error {
	k, _ := v1Key(acct, seg)
	d, err := s.CCS.Get(r.Context(), k, includeParam(r))
	if err != nil {
		return err
	}
	if err := s.ccsExists(r, k, len(d.Properties)); err != nil {
		return err
	}
	return writeRaw(w, http.StatusOK, ccs.AppendObject(make([]byte, 0, 256), d.Properties, ""))
}

func (s *Server) v1Property(w http.ResponseWriter, r *http.Request, acct string, seg []string) error {
	k, name := v1Key(acct, seg)
	v, err := s.CCS.Property(r.Context(), k, name)
	if err != nil {
		return err
	}
	return writeRaw(w, http.StatusOK, v)
}

func (s *Server) v1DeleteProperty(w http.ResponseWriter, r *http.Request, acct string, seg []string) error {
	k, name := v1Key(acct, seg)
	if err := s.CCS.DeleteProperties(r.Context(), k, []string{name}); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) v1DeleteAll(w http.ResponseWriter, r *http.Request, acct string, seg []string) error {
	k, _ := v1Key(acct, seg)
	if err := s.CCS.DeleteProperties(r.Context(), k, nil); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) v1PutSession(w http.ResponseWriter, r *http.Request, acct string, seg []string) error {
	ttl, err := ttlParam(r)
	if err != nil {
		return err
	}
	var body struct {
		SessionID *string `json:"sessionId"`
	}
	if err := DecodeJSON(r, &body, false); err != nil {
		return err
	}
	if body.SessionID == nil {
		return fault.Invalid("sessionId: required")
	}
	if err := s.CCS.PutSession(r.Context(), ccs.Key{AccountID: acct, Namespace: seg[1], SessionID: *body.SessionID}, ttl); err != nil {
		return err
	}
	return noContent(w)
}

type v1Session struct {
	SessionID string    `json:"sessionId"`
	CreatedAt time.Time `json:"createdAt"`
	TTLSecond int64     `json:"ttlSecond"`
}

func (s *Server) v1Sessions(w http.ResponseWriter, r *http.Request, acct string, seg []string) error {
	list, err := s.CCS.Sessions(r.Context(), acct, seg[1])
	if err != nil {
		return err
	}
	out := make([]v1Session, len(list))
	for i, cs := range list {
		out[i] = v1Session{SessionID: cs.ID, CreatedAt: cs.CreatedAt, TTLSecond: cs.TTLSeconds}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) v1DeleteSession(w http.ResponseWriter, r *http.Request, acct string, seg []string) error {
	if err := s.CCS.DeleteSession(r.Context(), ccs.Key{AccountID: acct, Namespace: seg[1], SessionID: seg[3]}); err != nil {
		return err
	}
	return noContent(w)
}

func pageParams(r *http.Request) (page, perPage int, err error) {
	if page, err = intParam(r, "page", 0); err != nil {
		return 0, 0, err
	}
	if perPage, err = intParam(r, "perPage", ccs.DefaultPerPage); err != nil {
		return 0, 0, err
	}
	return page, perPage, ccs.CheckPage(page, perPage)
}

func (s *Server) v1SessionIDs(w http.ResponseWriter, r *http.Request, acct string, seg []string) error {
	page, perPage, err := pageParams(r)
	if err != nil {
		return err
	}
	docs, err := s.CCS.Documents(r.Context(), acct, seg[0], page, perPage, false)
	if err != nil {
		return err
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.SessionID
	}
	writeJSON(w, http.StatusOK, ids)
	return nil
}

func (s *Server) v1SessionProperties(w http.ResponseWriter, r *http.Request, acct string, seg []string) error {
	page, perPage, err := pageParams(r)
	if err != nil {
		return err
	}
	docs, err := s.CCS.Documents(r.Context(), acct, seg[0], page, perPage, true)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 512)
	b = append(b, '[')
	for i, d := range docs {
		if i > 0 {
			b = append(b, ',')
		}
		id, _ := json.Marshal(d.SessionID)
		b = append(b, `{"sessionId":`...)
		b = append(b, id...)
		b = append(b, `,"property":`...)
		b = ccs.AppendObject(b, d.Properties, "")
		b = append(b, '}')
	}
	b = append(b, ']')
	return writeRaw(w, http.StatusOK, b)
}

// ccsExists returns 404 for an empty answer about a namespace that does
// not exist: reading an existing but empty document is 200 {}, reading
// one that never was is "not found".
func (s *Server) ccsExists(r *http.Request, k ccs.Key, found int) error {
	if found > 0 {
		return nil
	}
	ok, err := s.CCS.NamespaceExists(r.Context(), k.AccountID, k.Namespace)
	if err != nil {
		return err
	}
	if !ok {
		return &Error{Status: http.StatusNotFound, Message: "namespace " + strconv.Quote(printable(k.Namespace)) + " not found"}
	}
	return nil
}
