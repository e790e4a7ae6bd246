package sdk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/orchestrator/orchestrator/wire"
)

// Timestamp is a time in an answer, sent as an RFC 3339 string or as
// milliseconds since the Unix epoch.
type Timestamp struct{ time.Time }

// UnmarshalJSON accepts an RFC 3339 string, epoch milliseconds or null.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" || s == `""` {
		t.Time = time.Time{}
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		p, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return err
		}
		t.Time = p
		return nil
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return err
	}
	t.Time = time.UnixMilli(ms).UTC()
	return nil
}

// MarshalJSON writes RFC 3339.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.Time.Format(time.RFC3339Nano))
}

// Namespace is a CCS namespace (v1).
type Namespace struct {
	Name      string    `json:"name"`
	CreatedAt Timestamp `json:"createdAt"`
	// TTLSecond is the namespace TTL; nil when none was set, 0 = forever.
	TTLSecond *int `json:"ttlSecond,omitempty"`
}

// Session is a session with its TTL (v1).
type Session struct {
	SessionID string    `json:"sessionId"`
	CreatedAt Timestamp `json:"createdAt"`
	TTLSecond *int      `json:"ttlSecond,omitempty"`
}

// SessionProperties are the properties of one session (v1).
type SessionProperties struct {
	SessionID string                     `json:"sessionId"`
	Property  map[string]json.RawMessage `json:"property"`
}

// propsPath is the v1 path of the properties of a namespace (sid "") or a
// session, with more segments after it.
func (c *Client) propsPath(ns, sid string, more ...string) (string, error) {
	a, err := c.v1Account()
	if err != nil {
		return "", err
	}
	segs := []string{"v1", "account", a, ns}
	if sid != "" {
		segs = append(segs, sid)
	}
	segs = append(segs, "properties")
	return path(append(segs, more...)...), nil
}

// ListNamespaces lists the account's namespaces (v1).
func (c *Client) ListNamespaces(ctx context.Context) ([]Namespace, error) {
	a, err := c.v1Account()
	if err != nil {
		return nil, err
	}
	var out []Namespace
	return out, c.v1(ctx, http.MethodGet, path("v1", "account", a), nil, nil, &out)
}

// CreateNamespace creates a namespace (v1; idempotent).
func (c *Client) CreateNamespace(ctx context.Context, ns string) error {
	a, err := c.v1Account()
	if err != nil {
		return err
	}
	return c.v1(ctx, http.MethodPost, path("v1", "account", a), nil, map[string]string{"name": ns}, nil)
}

// SetNamespaceTTL creates a namespace if needed and sets its TTL in
// seconds, 0 = forever (v1).
func (c *Client) SetNamespaceTTL(ctx context.Context, ns string, ttlSeconds int) error {
	a, err := c.v1Account()
	if err != nil {
		return err
	}
	q := url.Values{"ttlSecond": {strconv.Itoa(ttlSeconds)}}
	return c.v1(ctx, http.MethodPost, path("v1", "account", a), q, map[string]string{"name": ns}, nil)
}

// DeleteNamespace deletes a namespace with its properties and TTLs (v1;
// idempotent).
func (c *Client) DeleteNamespace(ctx context.Context, ns string) error {
	a, err := c.v1Account()
	if err != nil {
		return err
	}
	return c.v1(ctx, http.MethodDelete, path("v1", "account", a, ns), nil, nil, nil)
}

// PatchProperties merges props into the properties of a namespace (sid
// "") or a session (v1). Values are encoded as JSON; a json.RawMessage is
// sent as it is.
func (c *Client) PatchProperties(ctx context.Context, ns, sid string, props map[string]any) error {
	p, err := c.propsPath(ns, sid)
	if err != nil {
		return err
	}
	return c.v1(ctx, http.MethodPatch, p, nil, props, nil)
}

// PutProperty sets one property of a namespace (sid "") or a session (v1).
func (c *Client) PutProperty(ctx context.Context, ns, sid, name string, value any) error {
	p, err := c.propsPath(ns, sid, name)
	if err != nil {
		return err
	}
	if value == nil {
		value = json.RawMessage("null")
	}
	return c.v1(ctx, http.MethodPut, p, nil, value, nil)
}

// GetProperties returns the properties of a namespace (sid "") or a
// session, only those named in include when it is not empty (v1).
func (c *Client) GetProperties(ctx context.Context, ns, sid string, include ...string) (map[string]json.RawMessage, error) {
	p, err := c.propsPath(ns, sid)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if len(include) > 0 {
		q = url.Values{"include": {strings.Join(include, ",")}}
	}
	out := map[string]json.RawMessage{}
	return out, c.v1(ctx, http.MethodGet, p, q, nil, &out)
}

// GetProperty returns one property as JSON; an *APIError with status 404
// when it is absent (v1).
func (c *Client) GetProperty(ctx context.Context, ns, sid, name string) (json.RawMessage, error) {
	p, err := c.propsPath(ns, sid, name)
	if err != nil {
		return nil, err
	}
	var out json.RawMessage
	return out, c.v1(ctx, http.MethodGet, p, nil, nil, &out)
}

// DeleteProperty deletes one property (v1; idempotent).
func (c *Client) DeleteProperty(ctx context.Context, ns, sid, name string) error {
	p, err := c.propsPath(ns, sid, name)
	if err != nil {
		return err
	}
	return c.v1(ctx, http.MethodDelete, p, nil, nil, nil)
}

// DefaultSession is the session of the namespace-level properties
// (SPEC §5): v1 calls on it read and write what calls without a session
// do.
const DefaultSession = wire.DefaultSession

// DeleteSessionProperties deletes every property of a session, keeping
// its TTL (v1). The session DefaultSession holds the namespace-level
// properties.
func (c *Client) DeleteSessionProperties(ctx context.Context, ns, sid string) error {
	p, err := c.propsPath(ns, sid)
	if err != nil {
		return err
	}
	return c.v1(ctx, http.MethodDelete, p, nil, nil, nil)
}

// SetSessionTTL sets the TTL of a session in seconds, 0 = forever (v1).
func (c *Client) SetSessionTTL(ctx context.Context, ns, sid string, ttlSeconds int) error {
	a, err := c.v1Account()
	if err != nil {
		return err
	}
	q := url.Values{"ttlSecond": {strconv.Itoa(ttlSeconds)}}
	return c.v1(ctx, http.MethodPost, path("v1", "account", a, "namespace", ns, "session"), q, map[string]string{"sessionId": sid}, nil)
}

// ListSessions lists the sessions of a namespace with their TTLs (v1).
func (c *Client) ListSessions(ctx context.Context, ns string) ([]Session, error) {
	a, err := c.v1Account()
	if err != nil {
		return nil, err
	}
	var out []Session
	return out, c.v1(ctx, http.MethodGet, path("v1", "account", a, "namespace", ns, "session"), nil, nil, &out)
}

// DeleteSession deletes a session's properties and TTL (v1).
func (c *Client) DeleteSession(ctx context.Context, ns, sid string) error {
	a, err := c.v1Account()
	if err != nil {
		return err
	}
	return c.v1(ctx, http.MethodDelete, path("v1", "account", a, "namespace", ns, "session", sid), nil, nil, nil)
}

// Page selects a page of a v1 listing: Page from 0, PerPage 1–1000 (0:
// the server's default).
type Page struct{ Page, PerPage int }

func (p Page) query() url.Values {
	q := url.Values{}
	if p.Page > 0 {
		q.Set("page", strconv.Itoa(p.Page))
	}
	if p.PerPage > 0 {
		q.Set("perPage", strconv.Itoa(p.PerPage))
	}
	return q
}

// ListSessionIDs lists the ids of a namespace's sessions (v1).
func (c *Client) ListSessionIDs(ctx context.Context, ns string, page Page) ([]string, error) {
	a, err := c.v1Account()
	if err != nil {
		return nil, err
	}
	var out []string
	return out, c.v1(ctx, http.MethodGet, path("v1", "account", a, ns, "session-ids"), page.query(), nil, &out)
}

// ListSessionProperties lists the sessions of a namespace with their
// properties (v1).
func (c *Client) ListSessionProperties(ctx context.Context, ns string, page Page) ([]SessionProperties, error) {
	a, err := c.v1Account()
	if err != nil {
		return nil, err
	}
	var out []SessionProperties
	return out, c.v1(ctx, http.MethodGet, path("v1", "account", a, ns, "session-properties"), page.query(), nil, &out)
}

// DocumentWrite is a v2 write: Payload is merged into the document of a
// namespace (SessionID "") or a session.
type DocumentWrite struct {
	NameSpace string
	SessionID string
	// TTLSeconds is the lifetime of the written properties: nil leaves
	// the server's default (13 months); new(0) never expires.
	TTLSeconds *int
	Payload    map[string]any
}

// DocumentResult is the answer of v2 writes and deletes.
type DocumentResult struct {
	DocumentKey string `json:"documentKey"`
	TenantID    string `json:"tenantId"`
	Success     bool   `json:"success"`
}

// Document is a v2 context document.
type Document struct {
	AccountID    string                     `json:"accountId"`
	DocumentKey  string                     `json:"documentKey"`
	DocumentType string                     `json:"documentType"`
	NameSpace    string                     `json:"nameSpace"`
	SessionID    string                     `json:"sessionId,omitempty"`
	Payload      map[string]json.RawMessage `json:"payload"`
	TenantID     string                     `json:"tenantId"`
	// TTL is when the document expires (RFC 3339), as the server sent it.
	TTL string `json:"ttl,omitempty"`
}

type docRef struct {
	AccountID string   `json:"accountId"`
	NameSpace string   `json:"nameSpace"`
	SessionID string   `json:"sessionId,omitempty"`
	Filter    []string `json:"filter,omitempty"`
	Delete    []string `json:"propertyToDelete,omitempty"`
}

// SetDocument creates or merges into a document (v2).
func (c *Client) SetDocument(ctx context.Context, w DocumentWrite) (*DocumentResult, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	in := struct {
		AccountID  string         `json:"accountId"`
		NameSpace  string         `json:"nameSpace"`
		SessionID  string         `json:"sessionId,omitempty"`
		TTLSeconds *int           `json:"ttlSeconds,omitempty"`
		Payload    map[string]any `json:"payload"`
	}{a, w.NameSpace, w.SessionID, w.TTLSeconds, w.Payload}
	if in.Payload == nil {
		in.Payload = map[string]any{}
	}
	var out DocumentResult
	if err := c.v2(ctx, http.MethodPost, "/v2/context/document/create", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetDocument returns the document of a namespace (sid "") or a session
// (v2); an *APIError with status 404 when there is none.
func (c *Client) GetDocument(ctx context.Context, ns, sid string) (*Document, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	segs := []string{"v2", "context", "document", a, ns}
	if sid != "" {
		segs = append(segs, sid)
	}
	var out Document
	if err := c.v2(ctx, http.MethodGet, path(segs...), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetDocumentProperties returns the named properties of a document (v2),
// keyed "<ns>.<name>" as the server answers.
func (c *Client) GetDocumentProperties(ctx context.Context, ns, sid string, names ...string) (map[string]json.RawMessage, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	filter := make([]string, len(names))
	for i, n := range names {
		filter[i] = ns + "." + n
	}
	out := map[string]json.RawMessage{}
	return out, c.v2(ctx, http.MethodPost, "/v2/context/document/properties", docRef{AccountID: a, NameSpace: ns, SessionID: sid, Filter: filter}, &out)
}

// DeleteDocumentProperties deletes the named properties of a document
// (v2); with no names, all of them.
func (c *Client) DeleteDocumentProperties(ctx context.Context, ns, sid string, names ...string) (*DocumentResult, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	var out DocumentResult
	if err := c.v2(ctx, http.MethodDelete, "/v2/context/document/property/delete", docRef{AccountID: a, NameSpace: ns, SessionID: sid, Delete: names}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteDocument deletes the whole document of a namespace (sid "") or a
// session (v2).
func (c *Client) DeleteDocument(ctx context.Context, ns, sid string) (*DocumentResult, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	var out DocumentResult
	if err := c.v2(ctx, http.MethodDelete, "/v2/context/document/delete", docRef{AccountID: a, NameSpace: ns, SessionID: sid}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
