package console

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/wire"
)

// ContextData is what the Context data pages need from the Context
// Service (*ccs.Service). Reads never return an expired property.
type ContextData interface {
	Namespaces(ctx context.Context, accountID string) ([]ccs.Namespace, error)
	// Documents pages through the sessions of a namespace that have live
	// properties, ordered by id.
	Documents(ctx context.Context, accountID, namespace string, page, perPage int, withProperties bool) ([]storage.ContextDocument, error)
	Get(ctx context.Context, k ccs.Key, names []string) (ccs.Document, error)
	// Property returns one live value, or a fault.ErrNotFound error.
	Property(ctx context.Context, k ccs.Key, name string) ([]byte, error)
	DeleteSession(ctx context.Context, k ccs.Key) error
	DeleteProperties(ctx context.Context, k ccs.Key, names []string) error
}

// Context data pages: sizes.
const (
	// sessionsPerPage is the sessions one page of a namespace lists.
	sessionsPerPage = 50
	// propertiesPerPage is the properties one page of a session shows; a
	// later page past the last shows the last.
	propertiesPerPage = 100
	// valuePreviewChars is the characters of a value shown on the
	// session page; a longer value is cut there and offered as a
	// download.
	valuePreviewChars = 500
	// maxPage bounds the page number of the sessions list.
	maxPage = 1_000_000
)

// dataURL is the Context data pages' root.
const dataURL = "/console/data"

// dataRoutes adds the Context data pages. Only deletions change
// anything; each is asked for on a confirmation page, checked against the
// session's CSRF token and audited before it is made.
func (c *Console) dataRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/data", c.handle(c.dataNamespaces))
	mux.HandleFunc("GET /console/data/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, dataURL, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /console/data/{ns}", c.handle(c.dataSessions))
	mux.HandleFunc("GET /console/data/{ns}/{session}", c.handle(c.dataSession))
	mux.HandleFunc("GET /console/data/{ns}/{session}/properties/{name}/value", c.handle(c.dataValue))
	mux.HandleFunc("GET /console/data/{ns}/{session}/properties/{name}/delete", c.handle(c.confirmDeleteProperty))
	mux.HandleFunc("POST /console/data/{ns}/{session}/properties/{name}/delete", c.handle(c.deleteProperty))
	mux.HandleFunc("GET /console/data/{ns}/{session}/delete", c.handle(c.confirmDeleteSession))
	mux.HandleFunc("POST /console/data/{ns}/{session}/delete", c.handle(c.deleteSessionData))
}

// Answers for names that are not valid Context Service names, and for
// data that does not exist (or expired, or belongs to another account:
// the pages cannot tell them apart, nor can their users).
var (
	errBadNamespace = &pageError{status: http.StatusBadRequest, title: "Not a namespace name",
		msg: "Namespace names are 1 to 64 characters of A-Z, a-z, 0-9, _ and -."}
	errBadSession = &pageError{status: http.StatusBadRequest, title: "Not a session id",
		msg: "Session ids are 1 to 256 printable characters."}
	errBadProperty = &pageError{status: http.StatusBadRequest, title: "Not a property name",
		msg: "Property names are 1 to 256 printable characters."}
	errBadPage = &pageError{status: http.StatusBadRequest, title: "Bad request",
		msg: "The page number must be a whole number from 1."}
	errNoNamespace = &pageError{status: http.StatusNotFound, title: "Namespace not found",
		msg: "This account has no namespace of that name."}
	errNoSession = &pageError{status: http.StatusNotFound, title: "Session not found",
		msg: "This namespace has no session of that id with live properties: it may have expired or been deleted."}
	errNoProperty = &pageError{status: http.StatusNotFound, title: "Property not found",
		msg: "This session has no live property of that name: it may have expired or been deleted."}
	errReadOnly = &pageError{status: http.StatusBadRequest, title: "Read-only namespace",
		msg: "Reserved namespaces cannot be changed."}
)

// dataKey is the document a request names, validated with the Context
// Service's rules so that no malformed name reaches the store. The
// account is always the signed-in one.
func dataKey(r *http.Request, accountID string) (ccs.Key, error) {
	k := ccs.Key{AccountID: accountID, Namespace: r.PathValue("ns"), SessionID: r.PathValue("session")}
	if ccs.CheckNamespace("namespace", k.Namespace) != nil {
		return k, errBadNamespace
	}
	if ccs.CheckName("sessionId", k.SessionID) != nil {
		return k, errBadSession
	}
	return k, nil
}

// propertyName is the property a request names, validated.
func propertyName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if ccs.CheckName("property name", name) != nil {
		return "", errBadProperty
	}
	return name, nil
}

// segment escapes a name for one path segment. Dot segments are escaped
// too, which url.PathEscape leaves alone and the mux would clean away.
func segment(s string) string {
	if s == "." || s == ".." {
		return strings.ReplaceAll(s, ".", "%2E")
	}
	return url.PathEscape(s)
}

func namespaceURL(ns string) string { return dataURL + "/" + segment(ns) }

func sessionURL(k ccs.Key) string { return namespaceURL(k.Namespace) + "/" + segment(k.SessionID) }

func propertyURL(k ccs.Key, name string) string {
	return sessionURL(k) + "/properties/" + segment(name)
}

// crumb is one step of a page's breadcrumbs; the last has no URL.
type crumb struct{ Label, URL string }

func dataCrumbs(k ccs.Key, last string) []crumb {
	cs := []crumb{{Label: "Context data", URL: dataURL}}
	if k.Namespace != "" {
		cs = append(cs, crumb{Label: k.Namespace, URL: namespaceURL(k.Namespace)})
	}
	if k.SessionID != "" {
		cs = append(cs, crumb{Label: k.SessionID, URL: sessionURL(k)})
	}
	if last != "" {
		cs = append(cs, crumb{Label: last})
	}
	cs[len(cs)-1].URL = "" // the current page
	return cs
}

// namespaceRow is one line of the namespaces list.
type namespaceRow struct {
	Name, URL, TTL string
	Created        time.Time
}

// dataNamespaces lists the account's namespaces.
func (c *Console) dataNamespaces(w http.ResponseWriter, r *http.Request) error {
	id, ss, a, ok, err := c.signedIn(w, r)
	if !ok {
		return err
	}
	list, err := c.cfg.Context.Namespaces(r.Context(), a.ID)
	if err != nil {
		return err
	}
	rows := make([]namespaceRow, len(list))
	for i, n := range list {
		rows[i] = namespaceRow{Name: n.Name, URL: namespaceURL(n.Name), TTL: "not set", Created: n.CreatedAt}
		if n.TTLSeconds != nil {
			rows[i].TTL = ttlText(*n.TTLSeconds)
		}
	}
	data := c.pageData(ss, a, "Context data", navData)
	data["Namespaces"], data["Flash"] = rows, c.takeFlash(r, id)
	data["Crumbs"] = dataCrumbs(ccs.Key{}, "")
	c.render(w, r, http.StatusOK, "data", data)
	return nil
}

// sessionRow is one line of a namespace's sessions.
type sessionRow struct {
	ID, URL    string
	Default    bool // wire.DefaultSession: the namespace-level properties
	Properties int
	Size       string
	// Expires is when its last property expires; zero: never.
	Expires time.Time
}

// dataSessions lists a page of a namespace's sessions (those with live
// properties), sessionsPerPage at a time.
func (c *Console) dataSessions(w http.ResponseWriter, r *http.Request) error {
	id, ss, a, ok, err := c.signedIn(w, r)
	if !ok {
		return err
	}
	ns := r.PathValue("ns")
	if ccs.CheckNamespace("namespace", ns) != nil {
		return errBadNamespace
	}
	page, err := pageParam(r)
	if err != nil {
		return err
	}
	list, err := c.cfg.Context.Namespaces(r.Context(), a.ID)
	if err != nil {
		return err
	}
	var nsInfo *ccs.Namespace
	for i := range list {
		if list[i].Name == ns {
			nsInfo = &list[i]
			break
		}
	}
	if nsInfo == nil {
		return errNoNamespace
	}
	docs, err := c.cfg.Context.Documents(r.Context(), a.ID, ns, page-1, sessionsPerPage, true)
	if err != nil {
		return err
	}
	// The first session of the next page, if any, says whether there is
	// one (Documents counts its offset in pages of perPage: here 1).
	next, err := c.cfg.Context.Documents(r.Context(), a.ID, ns, page*sessionsPerPage, 1, false)
	if err != nil {
		return err
	}
	more := len(next) > 0
	rows := make([]sessionRow, len(docs))
	for i, d := range docs {
		k := ccs.Key{Namespace: ns, SessionID: d.SessionID}
		row := sessionRow{ID: d.SessionID, URL: sessionURL(k), Default: d.SessionID == wire.DefaultSession, Properties: len(d.Properties)}
		size, never := 0, false
		for _, p := range d.Properties {
			size += len(p.Name) + len(p.Value)
			never = never || p.ExpiresAt.IsZero()
			if p.ExpiresAt.After(row.Expires) {
				row.Expires = p.ExpiresAt
			}
		}
		if never {
			row.Expires = time.Time{}
		}
		row.Size = sizeText(size)
		rows[i] = row
	}
	data := c.pageData(ss, a, "Namespace "+ns, navData)
	data["Crumbs"] = dataCrumbs(ccs.Key{Namespace: ns}, "")
	data["Namespace"], data["Created"] = ns, nsInfo.CreatedAt
	data["TTL"] = "not set (properties never expire unless a session or write sets a TTL)"
	if nsInfo.TTLSeconds != nil {
		data["TTL"] = ttlText(*nsInfo.TTLSeconds)
	}
	data["Sessions"], data["Page"], data["Flash"] = rows, page, c.takeFlash(r, id)
	if page > 1 {
		data["PrevURL"] = namespaceURL(ns) + "?page=" + strconv.Itoa(page-1)
	}
	if more {
		data["NextURL"] = namespaceURL(ns) + "?page=" + strconv.Itoa(page+1)
	}
	if page > 1 && len(rows) == 0 {
		data["FirstURL"] = namespaceURL(ns)
	}
	c.render(w, r, http.StatusOK, "data-namespace", data)
	return nil
}

// pageParam is the request's page number: 1 when absent, else a whole
// number from 1 to maxPage (errBadPage otherwise).
func pageParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("page")
	if v == "" {
		return 1, nil
	}
	page, err := strconv.Atoi(v)
	if err != nil || page < 1 || page > maxPage {
		return 0, errBadPage
	}
	return page, nil
}

// propertyRow is one property of the session page.
type propertyRow struct {
	Name string
	// Value is the compact JSON, cut to valuePreviewChars when Cut.
	Value                  string
	Cut                    bool
	Chars                  int
	DownloadURL, DeleteURL string
	Expires                time.Time // zero: never
}

// dataSession shows a session's live properties.
func (c *Console) dataSession(w http.ResponseWriter, r *http.Request) error {
	id, ss, a, ok, err := c.signedIn(w, r)
	if !ok {
		return err
	}
	k, err := dataKey(r, a.ID)
	if err != nil {
		return err
	}
	doc, err := c.cfg.Context.Get(r.Context(), k, nil)
	if err != nil {
		return err
	}
	if len(doc.Properties) == 0 {
		return errNoSession
	}
	page, err := pageParam(r)
	if err != nil {
		return err
	}
	// A session may hold up to the account's quota of properties: the
	// page shows propertiesPerPage of them (an unpaged page of 20,000
	// properties was 7.7 MB of HTML).
	pages := (len(doc.Properties) + propertiesPerPage - 1) / propertiesPerPage
	page = min(page, pages)
	shown := doc.Properties[(page-1)*propertiesPerPage : min(page*propertiesPerPage, len(doc.Properties))]
	rows := make([]propertyRow, len(shown))
	for i, p := range shown {
		v, cut, n := preview(p.Value)
		rows[i] = propertyRow{Name: p.Name, Value: v, Cut: cut, Chars: n, Expires: p.ExpiresAt,
			DownloadURL: propertyURL(k, p.Name) + "/value", DeleteURL: propertyURL(k, p.Name) + "/delete"}
	}
	title := "Session " + k.SessionID
	if k.SessionID == wire.DefaultSession {
		title = "Namespace properties of " + k.Namespace
	}
	data := c.pageData(ss, a, title, navData)
	data["Crumbs"] = dataCrumbs(k, "")
	data["Namespace"], data["Session"], data["Default"] = k.Namespace, k.SessionID, k.SessionID == wire.DefaultSession
	data["Properties"], data["Flash"] = rows, c.takeFlash(r, id)
	data["Page"], data["Pages"], data["Total"] = page, pages, len(doc.Properties)
	if page > 1 {
		data["PrevURL"] = sessionURL(k) + "?page=" + strconv.Itoa(page-1)
	}
	if page < pages {
		data["NextURL"] = sessionURL(k) + "?page=" + strconv.Itoa(page+1)
	}
	data["PreviewChars"] = valuePreviewChars
	data["ReadOnly"] = ccs.IsReserved(k.Namespace)
	data["DeleteURL"] = sessionURL(k) + "/delete"
	c.render(w, r, http.StatusOK, "data-session", data)
	return nil
}

// dataValue sends one property's full value as a JSON download. It is an
// attachment and never rendered as a page: the value is user data.
func (c *Console) dataValue(w http.ResponseWriter, r *http.Request) error {
	_, _, a, ok, err := c.signedIn(w, r)
	if !ok {
		return err
	}
	k, err := dataKey(r, a.ID)
	if err != nil {
		return err
	}
	name, err := propertyName(r)
	if err != nil {
		return err
	}
	value, err := c.property(r, k, name)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": downloadName(k, name)}))
	h.Set("Content-Length", strconv.Itoa(len(value)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(value)
	return nil
}

// property returns a live property's value; a missing one is errNoProperty.
func (c *Console) property(r *http.Request, k ccs.Key, name string) ([]byte, error) {
	value, err := c.cfg.Context.Property(r.Context(), k, name)
	if errors.Is(err, fault.ErrNotFound) {
		return nil, errNoProperty
	}
	return value, err
}

// renderConfirm renders a deletion's confirmation page.
func (c *Console) renderConfirm(w http.ResponseWriter, r *http.Request, data map[string]any) {
	c.render(w, r, http.StatusOK, "data-confirm", data)
}

// confirmDeleteProperty asks before a property is deleted.
func (c *Console) confirmDeleteProperty(w http.ResponseWriter, r *http.Request) error {
	_, ss, a, ok, err := c.signedIn(w, r)
	if !ok {
		return err
	}
	k, name, err := c.deletableProperty(r, a.ID)
	if err != nil {
		return err
	}
	data := c.pageData(ss, a, "Delete property "+name+"?", navData)
	data["Crumbs"] = dataCrumbs(k, "Delete property")
	data["Namespace"], data["Session"], data["Property"] = k.Namespace, k.SessionID, name
	data["Default"] = k.SessionID == wire.DefaultSession
	data["Action"], data["CancelURL"] = propertyURL(k, name)+"/delete", sessionURL(k)
	c.renderConfirm(w, r, data)
	return nil
}

// deletableProperty validates the property a deletion names and checks
// that it exists in a namespace that may be changed.
func (c *Console) deletableProperty(r *http.Request, accountID string) (ccs.Key, string, error) {
	k, err := dataKey(r, accountID)
	if err != nil {
		return k, "", err
	}
	name, err := propertyName(r)
	if err != nil {
		return k, "", err
	}
	if ccs.IsReserved(k.Namespace) {
		return k, "", errReadOnly
	}
	if _, err := c.property(r, k, name); err != nil {
		return k, "", err
	}
	return k, name, nil
}

// deleteProperty deletes one property after the confirmation, audited
// first: a deletion that cannot be recorded is not made.
func (c *Console) deleteProperty(w http.ResponseWriter, r *http.Request) error {
	id, ss, a, ok, err := c.signedInPost(w, r)
	if !ok {
		return err
	}
	k, name, err := c.deletableProperty(r, a.ID)
	if err != nil {
		return err
	}
	if err := c.auditChange(r, ss, ActionContextDelete, auditFields(k, name)...); err != nil {
		return err
	}
	if err := c.cfg.Context.DeleteProperties(r.Context(), k, []string{name}); err != nil {
		return err
	}
	c.setFlash(r, id, fmt.Sprintf("Property %q was deleted.", name))
	// Back to the session, or to its namespace when nothing is left.
	to := sessionURL(k)
	if doc, err := c.cfg.Context.Get(r.Context(), k, nil); err != nil || len(doc.Properties) == 0 {
		to = namespaceURL(k.Namespace)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// deletableSession validates the session a deletion names and checks
// that it has live properties in a namespace that may be changed.
func (c *Console) deletableSession(r *http.Request, accountID string) (ccs.Key, int, error) {
	k, err := dataKey(r, accountID)
	if err != nil {
		return k, 0, err
	}
	if ccs.IsReserved(k.Namespace) {
		return k, 0, errReadOnly
	}
	doc, err := c.cfg.Context.Get(r.Context(), k, nil)
	if err != nil {
		return k, 0, err
	}
	if len(doc.Properties) == 0 {
		return k, 0, errNoSession
	}
	return k, len(doc.Properties), nil
}

// confirmDeleteSession asks before a whole session is deleted.
func (c *Console) confirmDeleteSession(w http.ResponseWriter, r *http.Request) error {
	_, ss, a, ok, err := c.signedIn(w, r)
	if !ok {
		return err
	}
	k, n, err := c.deletableSession(r, a.ID)
	if err != nil {
		return err
	}
	title := "Delete session " + k.SessionID + "?"
	if k.SessionID == wire.DefaultSession {
		title = "Delete the namespace properties of " + k.Namespace + "?"
	}
	data := c.pageData(ss, a, title, navData)
	data["Crumbs"] = dataCrumbs(k, "Delete session")
	data["Namespace"], data["Session"], data["Count"] = k.Namespace, k.SessionID, n
	data["Default"] = k.SessionID == wire.DefaultSession
	data["Action"], data["CancelURL"] = sessionURL(k)+"/delete", sessionURL(k)
	c.renderConfirm(w, r, data)
	return nil
}

// deleteSessionData deletes a session's properties and TTL after the
// confirmation, audited first.
func (c *Console) deleteSessionData(w http.ResponseWriter, r *http.Request) error {
	id, ss, a, ok, err := c.signedInPost(w, r)
	if !ok {
		return err
	}
	k, _, err := c.deletableSession(r, a.ID)
	if err != nil {
		return err
	}
	if err := c.auditChange(r, ss, ActionContextDelete, auditFields(k, "")...); err != nil {
		return err
	}
	if err := c.cfg.Context.DeleteSession(r.Context(), k); err != nil {
		return err
	}
	msg := fmt.Sprintf("Session %q was deleted.", k.SessionID)
	if k.SessionID == wire.DefaultSession {
		msg = "The namespace properties were deleted."
	}
	c.setFlash(r, id, msg)
	http.Redirect(w, r, namespaceURL(k.Namespace), http.StatusSeeOther)
	return nil
}

// auditFields names what a deletion deletes, for auditChange (which
// escapes each name).
func auditFields(k ccs.Key, property string) []string {
	f := []string{"namespace", k.Namespace, "session", k.SessionID}
	if property != "" {
		f = append(f, "property", property)
	}
	return f
}

// preview returns a value's text, cut to valuePreviewChars characters
// with "…" when longer, whether it was cut, and its length in characters.
func preview(v []byte) (string, bool, int) {
	n := utf8.RuneCount(v)
	if n <= valuePreviewChars {
		return string(v), false, n
	}
	i, count := 0, 0
	for count < valuePreviewChars {
		_, size := utf8.DecodeRune(v[i:])
		i += size
		count++
	}
	return string(v[:i]) + "…", true, n
}

// downloadName is the file name of a value's download: the namespace,
// session and property, reduced to characters safe in any file system and
// header.
func downloadName(k ccs.Key, name string) string {
	safe := func(s string) string {
		s = strings.Map(func(r rune) rune {
			if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' {
				return r
			}
			return '_'
		}, s)
		if len(s) > 60 {
			s = s[:60]
		}
		return s
	}
	return safe(k.Namespace) + "." + safe(k.SessionID) + "." + safe(name) + ".json"
}

// ttlText says a TTL in seconds the way people read it; 0 is forever.
func ttlText(sec int64) string {
	if sec == 0 {
		return "forever"
	}
	var parts []string
	for _, u := range []struct {
		n    int64
		name string
	}{{86400, "d"}, {3600, "h"}, {60, "min"}, {1, "s"}} {
		if sec >= u.n {
			parts = append(parts, strconv.FormatInt(sec/u.n, 10)+" "+u.name)
			sec %= u.n
		}
	}
	return strings.Join(parts, " ")
}

// sizeText says a size in bytes.
func sizeText(n int) string {
	switch {
	case n < 1000:
		return strconv.Itoa(n) + " B"
	case n < 1000_000:
		return strconv.FormatFloat(float64(n)/1000, 'f', 1, 64) + " kB"
	}
	return strconv.FormatFloat(float64(n)/1000_000, 'f', 1, 64) + " MB"
}
