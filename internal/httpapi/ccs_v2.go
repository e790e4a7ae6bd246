package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/fault"
)

// ccsV2Routes registers the v2 Context Service routes (SPEC §5); handle
// wraps each in the v2 token guard and the metrics middleware. The guard
// checks {a} of the GET paths; the handlers check accountId of bodies.
func (s *Server) ccsV2Routes(handle func(pattern string, h HandlerFunc)) {
	handle("POST /v2/context/document/create", s.ccsCreate)
	handle("GET /v2/context/document/{a}/{ns}", s.ccsGetNamespace)
	handle("GET /v2/context/document/{a}/{ns}/{sid}", s.ccsGetSession)
	handle("POST /v2/context/document/properties", s.ccsProperties)
	handle("DELETE /v2/context/document/property/delete", s.ccsDeleteProperties)
	handle("DELETE /v2/context/document/delete", s.ccsDelete)
}

// v2Doc is the part every v2 context request body shares.
type v2Doc struct {
	AccountID string  `json:"accountId"`
	NameSpace string  `json:"nameSpace"`
	SessionID *string `json:"sessionId"`
}

// key authorizes the body's account against the token and validates the
// names, with errors naming the v2 fields.
func (d v2Doc) key(r *http.Request, write bool) (ccs.Key, error) {
	if d.AccountID == "" {
		return ccs.Key{}, fault.Invalid("accountId: required")
	}
	acct, err := Authorize(r, d.AccountID)
	if err != nil {
		return ccs.Key{}, err
	}
	if d.NameSpace == "" {
		return ccs.Key{}, fault.Invalid("nameSpace: required")
	}
	check := ccs.CheckNamespace
	if write {
		check = ccs.CheckWritable
	}
	if err := check("nameSpace", d.NameSpace); err != nil {
		return ccs.Key{}, err
	}
	k := ccs.Key{AccountID: acct, Namespace: d.NameSpace}
	if d.SessionID != nil && *d.SessionID != "" {
		if err := ccs.CheckName("sessionId", *d.SessionID); err != nil {
			return ccs.Key{}, err
		}
		k.SessionID = *d.SessionID
	}
	return k, nil
}

// documentKey is "<a>:<ns>:<sid>" with the account as the request wrote
// it; a namespace-level document has an empty session part.
func documentKey(account string, k ccs.Key) string {
	return account + ":" + k.Namespace + ":" + k.SessionID
}

// v2Result is the answer of a v2 write: documentKey and tenantId carry
// the account as the request wrote it (SPEC §5: "le12345678" stays
// "le12345678"), like accountId of the GET answers.
type v2Result struct {
	DocumentKey string `json:"documentKey"`
	TenantID    string `json:"tenantId"`
	Success     bool   `json:"success"`
}

func (s *Server) ccsCreate(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		v2Doc
		TTLSeconds *int64          `json:"ttlSeconds"`
		Payload    json.RawMessage `json:"payload"`
	}
	if err := DecodeJSON(r, &body, false); err != nil {
		return err
	}
	k, err := body.key(r, true)
	if err != nil {
		return err
	}
	if len(body.Payload) == 0 || string(body.Payload) == "null" {
		return fault.Invalid("payload: required, a JSON object")
	}
	if err := s.CCS.Upsert(r.Context(), k, body.Payload, body.TTLSeconds); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v2Result{DocumentKey: documentKey(body.AccountID, k), TenantID: body.AccountID, Success: true})
	return nil
}

// ttlLayout is RFC 3339 in UTC with exactly three fractional digits
// (SPEC §5: "2021-05-11T22:37:39.176Z"), ".000" included.
const ttlLayout = "2006-01-02T15:04:05.000Z07:00"

// v2Document is the GET answer; Payload is encoded already.
type v2Document struct {
	AccountID    string          `json:"accountId"`
	DocumentKey  string          `json:"documentKey"`
	DocumentType string          `json:"documentType"`
	NameSpace    string          `json:"nameSpace"`
	Payload      json.RawMessage `json:"payload"`
	SessionID    string          `json:"sessionId,omitempty"`
	TenantID     string          `json:"tenantId"`
	// TTL is the RFC 3339 expiry (ttlLayout) of the document's last
	// property; absent when a property never expires (or there is none),
	// which with a retention cap (ccs.Config.MaxRetention) cannot be.
	TTL string `json:"ttl,omitempty"`
}

func (s *Server) ccsGetNamespace(w http.ResponseWriter, r *http.Request) error {
	return s.ccsGet(w, r, "")
}

func (s *Server) ccsGetSession(w http.ResponseWriter, r *http.Request) error {
	return s.ccsGet(w, r, r.PathValue("sid"))
}

func (s *Server) ccsGet(w http.ResponseWriter, r *http.Request, sid string) error {
	a := r.PathValue("a")
	acct, err := Authorize(r, a)
	if err != nil {
		return err
	}
	// The store is keyed by the bare account ID; the answer echoes a as
	// written.
	k := ccs.Key{AccountID: acct, Namespace: r.PathValue("ns"), SessionID: sid}
	d, err := s.CCS.Get(r.Context(), k, nil)
	if err != nil {
		return err
	}
	if len(d.Properties) == 0 && sid != "" {
		return &Error{Status: http.StatusNotFound, Message: "session " + strconv.Quote(printable(sid)) + " of namespace " + strconv.Quote(printable(k.Namespace)) + " not found"}
	}
	if err := s.ccsExists(r, k, len(d.Properties)); err != nil {
		return err
	}
	out := v2Document{
		AccountID: a, DocumentKey: documentKey(a, k), DocumentType: "CONTEXT", NameSpace: k.Namespace,
		Payload: ccs.AppendObject(make([]byte, 0, 256), d.Properties, ""), SessionID: sid, TenantID: a,
	}
	if !d.Expires.IsZero() {
		out.TTL = d.Expires.UTC().Format(ttlLayout)
	}
	writeRaw(w, http.StatusOK, out.appendJSON(make([]byte, 0, 256+len(out.Payload))))
	return nil
}

// appendJSON appends d as encoding/json would encode it, without its
// reflection and without compacting the payload again: the hot read path.
func (d *v2Document) appendJSON(b []byte) []byte {
	field := func(b []byte, name, v string) []byte {
		b = append(b, name...)
		return ccs.AppendString(b, v)
	}
	b = field(b, `{"accountId":`, d.AccountID)
	b = field(b, `,"documentKey":`, d.DocumentKey)
	b = field(b, `,"documentType":`, d.DocumentType)
	b = field(b, `,"nameSpace":`, d.NameSpace)
	b = append(b, `,"payload":`...)
	b = append(b, d.Payload...)
	if d.SessionID != "" {
		b = field(b, `,"sessionId":`, d.SessionID)
	}
	b = field(b, `,"tenantId":`, d.TenantID)
	if d.TTL != "" {
		b = field(b, `,"ttl":`, d.TTL)
	}
	return append(b, '}')
}

func (s *Server) ccsProperties(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		v2Doc
		Filter []string `json:"filter"`
	}
	if err := DecodeJSON(r, &body, false); err != nil {
		return err
	}
	k, err := body.key(r, false)
	if err != nil {
		return err
	}
	// Filter entries are "<nameSpace>.<property>"; the answer uses them
	// as keys. No filter: every property.
	prefix := k.Namespace + "."
	var names []string
	if len(body.Filter) > 0 {
		names = make([]string, len(body.Filter))
		for i, f := range body.Filter {
			name, ok := strings.CutPrefix(f, prefix)
			if !ok || name == "" {
				return fault.Invalid("filter: entries must be %q followed by a property name", prefix)
			}
			names[i] = name
		}
	}
	d, err := s.CCS.Get(r.Context(), k, names)
	if err != nil {
		return err
	}
	if err := s.ccsExists(r, k, len(d.Properties)); err != nil {
		return err
	}
	return writeRaw(w, http.StatusOK, ccs.AppendObject(make([]byte, 0, 256), d.Properties, prefix))
}

func (s *Server) ccsDeleteProperties(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		v2Doc
		PropertyToDelete []string `json:"propertyToDelete"`
	}
	if err := DecodeJSON(r, &body, false); err != nil {
		return err
	}
	k, err := body.key(r, true)
	if err != nil {
		return err
	}
	// No list (absent or null): every property. An empty list: none.
	if err := s.CCS.DeleteProperties(r.Context(), k, body.PropertyToDelete); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v2Result{DocumentKey: documentKey(body.AccountID, k), TenantID: body.AccountID, Success: true})
	return nil
}

func (s *Server) ccsDelete(w http.ResponseWriter, r *http.Request) error {
	var body v2Doc
	if err := DecodeJSON(r, &body, false); err != nil {
		return err
	}
	k, err := body.key(r, true)
	if err != nil {
		return err
	}
	if err := s.CCS.DeleteSession(r.Context(), k); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v2Result{DocumentKey: documentKey(body.AccountID, k), TenantID: body.AccountID, Success: true})
	return nil
}
