package console_test

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/console"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/wire"
)

// dataStack is the console with the Context data pages over a real
// ccs.Service on the stack's own SQLite store, built as the server builds
// it. failAudit, when not "", makes the audit log refuse every entry whose
// action starts with it.
type dataStack struct {
	*stack
	ccs *ccs.Service
}

func newDataStack(t *testing.T, failAudit string) *dataStack {
	t.Helper()
	var (
		store storage.ContextStore
		svc   *ccs.Service
	)
	// The audit wrapper is handed the stack's store before the config is
	// adjusted: the service is built on that store, with the stack's clock.
	s := newStackAudit(t, func(a storage.Audit) storage.Audit {
		store = a.(storage.ContextStore)
		if failAudit != "" {
			return prefixFailingAudit{Audit: a, prefix: failAudit}
		}
		return a
	}, func(cfg *console.Config) {
		svc = ccs.New(store, ccs.Config{Now: cfg.Now, Log: cfg.Log})
		cfg.Context = svc
	})
	return &dataStack{stack: s, ccs: svc}
}

// prefixFailingAudit refuses to record the actions that start with prefix.
type prefixFailingAudit struct {
	storage.Audit
	prefix string
}

func (f prefixFailingAudit) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	if strings.HasPrefix(e.Action, f.prefix) {
		return io.ErrClosedPipe
	}
	return f.Audit.AppendAudit(ctx, e)
}

func ttl(sec int64) *int64 { return &sec }

// The data of the tests. Session ids and property names use characters
// that must be escaped in a path (space, slash, question mark, percent,
// non-ASCII) to show the links and the name checks work with them.
const (
	oddSession  = "conv 1/é?%"
	bigProperty = "big value/1"
)

// bigValue is a JSON string longer than the preview, with markup that
// must come out escaped.
var bigValue = `"<script>alert(1)</script>` + strings.Repeat("x", 1200) + `END"`

func (d *dataStack) seed(t *testing.T, accountID string) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.ccs.PutNamespace(ctx, accountID, "alpha", nil))
	must(d.ccs.PutNamespace(ctx, accountID, "beta", ttl(3600)))
	// alpha: namespace-level properties and 55 sessions, 56 in all.
	must(d.ccs.Merge(ctx, ccs.Key{AccountID: accountID, Namespace: "alpha"}, []byte(`{"greeting":"hello","count":3}`)))
	for i := range 55 {
		must(d.ccs.Put(ctx, ccs.Key{AccountID: accountID, Namespace: "alpha", SessionID: fmt.Sprintf("s%03d", i)}, "n", []byte(fmt.Sprint(i))))
	}
	// beta: a long value, a property with its own TTL (v2 write), others
	// with the namespace's TTL.
	k := ccs.Key{AccountID: accountID, Namespace: "beta", SessionID: oddSession}
	must(d.ccs.Put(ctx, k, bigProperty, []byte(bigValue)))
	must(d.ccs.Put(ctx, k, "intent", []byte(`"billing"`)))
	must(d.ccs.Upsert(ctx, k, []byte(`{"short":{"a":[1,2,3]}}`), ttl(600)))
}

var rowRE = regexp.MustCompile(`<tr><th scope="row" class="name"><a href="([^"]+)">([^<]+)</a>`)

// rows returns the linked rows of a list page: link and label.
func rows(body string) [][2]string {
	var out [][2]string
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, [2]string{m[1], m[2]})
	}
	return out
}

func TestDataPages(t *testing.T) {
	d := newDataStack(t, "")
	u := d.account(t, "v2")
	d.seed(t, u.accountID)
	b := d.browser(t)
	b.mustSignIn(u)

	// Namespaces: name, TTL, created, links.
	p := b.get("/console/data")
	if p.status != http.StatusOK {
		t.Fatalf("namespaces: %d\n%s", p.status, p.body)
	}
	if got := rows(p.body); len(got) != 2 || got[0] != [2]string{"/console/data/alpha", "alpha"} || got[1] != [2]string{"/console/data/beta", "beta"} {
		t.Errorf("namespace rows: %q", got)
	}
	for _, want := range []string{`data-label="TTL">not set<`, `data-label="TTL">1 h<`, "20 Nov 2026, 10:00 UTC", `aria-label="Breadcrumb"`, `aria-current="page">Context data`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("namespaces page lacks %q", want)
		}
	}

	// Sessions, 50 a page: __default__ first, then s000 to s048; page 2
	// has s049 to s054.
	p = b.get("/console/data/alpha")
	got := rows(p.body)
	if p.status != http.StatusOK || len(got) != 50 {
		t.Fatalf("sessions page 1: %d, %d rows\n%s", p.status, len(got), p.body)
	}
	if got[0] != [2]string{"/console/data/alpha/__default__", wire.DefaultSession} || got[49][1] != "s048" {
		t.Errorf("page 1 rows: first %q, last %q", got[0], got[49])
	}
	if !strings.Contains(p.body, "(namespace properties)") || !strings.Contains(p.body, `href="/console/data/alpha?page=2"`) || strings.Contains(p.body, `id="prev-page"`) {
		t.Errorf("page 1: default session label or pager wrong\n%s", p.body)
	}
	p = b.get("/console/data/alpha?page=2")
	got = rows(p.body)
	if p.status != http.StatusOK || len(got) != 6 || got[0][1] != "s049" || got[5][1] != "s054" {
		t.Errorf("page 2: %d, rows %q", p.status, got)
	}
	if !strings.Contains(p.body, `href="/console/data/alpha?page=1"`) || strings.Contains(p.body, `id="next-page"`) {
		t.Errorf("page 2 pager wrong\n%s", p.body)
	}
	if p = b.get("/console/data/alpha?page=3"); p.status != http.StatusOK || len(rows(p.body)) != 0 || !strings.Contains(p.body, "no sessions on this page") {
		t.Errorf("page 3: %d\n%s", p.status, p.body)
	}
	for _, bad := range []string{"0", "-1", "x", "1e3", "99999999999"} {
		if p := b.get("/console/data/alpha?page=" + bad); p.status != http.StatusBadRequest {
			t.Errorf("page=%s: %d", bad, p.status)
		}
	}
	// beta: the namespace TTL, the session's size and expiry.
	p = b.get("/console/data/beta")
	sessionPath := "/console/data/beta/" + url.PathEscape(oddSession)
	if got := rows(p.body); len(got) != 1 || got[0][0] != sessionPath {
		t.Errorf("beta rows %q, want a link to %s", got, sessionPath)
	}
	if !strings.Contains(p.body, `id="namespace-ttl">1 h<`) || !strings.Contains(p.body, "20 Nov 2026, 11:00 UTC") || !strings.Contains(p.body, `data-label="Properties">3<`) {
		t.Errorf("beta page: TTL, last expiry or property count missing\n%s", p.body)
	}

	// A session: names, values (the long one cut), expiries.
	p = b.get(sessionPath)
	if p.status != http.StatusOK {
		t.Fatalf("session: %d\n%s", p.status, p.body)
	}
	for _, want := range []string{
		`<th scope="row" class="name">intent</th>`, `<code>&#34;billing&#34;</code>`,
		`<code>{&#34;a&#34;:[1,2,3]}</code>`, "20 Nov 2026, 10:10 UTC", // short: its own TTL of 600 s
		"20 Nov 2026, 11:00 UTC", // the others: the namespace's hour
		"&lt;script&gt;alert(1)&lt;/script&gt;", "…", "Download full value",
		`href="` + sessionPath + `/properties/` + url.PathEscape(bigProperty) + `/value"`,
		`href="` + sessionPath + `/properties/intent/delete"`, `href="` + sessionPath + `/delete"`,
		`<a href="/console/data/beta">beta</a>`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("session page lacks %q", want)
		}
	}
	if strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, "END") {
		t.Error("the value is not escaped, or not cut")
	}
	if n := strings.Count(p.body, "Download full value"); n != 1 {
		t.Errorf("%d download links, want 1 (only the long value)", n)
	}
	// Namespace-level properties never expire here (alpha has no TTL).
	p = b.get("/console/data/alpha/__default__")
	if p.status != http.StatusOK || !strings.Contains(p.body, "Namespace properties of") || !strings.Contains(p.body, `data-label="Expires">never<`) ||
		!strings.Contains(p.body, "greeting") || !strings.Contains(p.body, "Delete all namespace properties") {
		t.Errorf("namespace properties: %d\n%s", p.status, p.body)
	}

	// The download: the whole value, as a JSON attachment, never cached.
	p = b.get(sessionPath + "/properties/" + url.PathEscape(bigProperty) + "/value")
	if p.status != http.StatusOK || p.body != bigValue {
		t.Fatalf("download: %d, %d bytes, want %d", p.status, len(p.body), len(bigValue))
	}
	if ct := p.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("download Content-Type %q", ct)
	}
	disp, params, err := mime.ParseMediaType(p.header.Get("Content-Disposition"))
	if err != nil || disp != "attachment" || !regexp.MustCompile(`^[A-Za-z0-9_.-]+\.json$`).MatchString(params["filename"]) {
		t.Errorf("Content-Disposition %q: %v", p.header.Get("Content-Disposition"), err)
	}
	if p.header.Get("Cache-Control") != "no-store" || p.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("download headers: %v", p.header)
	}

	// An expired property is not shown, nor downloaded, even before the
	// purge: "short" lived 600 s.
	d.clock.Advance(11 * time.Minute)
	if p := b.get(sessionPath); p.status != http.StatusOK || strings.Contains(p.body, ">short<") || !strings.Contains(p.body, ">intent<") {
		t.Errorf("session page after short expired: %d\n%s", p.status, p.body)
	}
	if p := b.get(sessionPath + "/properties/short/value"); p.status != http.StatusNotFound {
		t.Errorf("download of an expired property: %d", p.status)
	}

	// No inline script or style on any page.
	for _, path := range []string{"/console/data", "/console/data/alpha", sessionPath, sessionPath + "/delete"} {
		body := b.get(path).body
		for _, bad := range []string{"<script>", "style=", "onclick", "javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
}

// auditActions returns the account's audit actions that start with
// context.delete, oldest first.
func auditActions(t *testing.T, s *stack, accountID string) []string {
	t.Helper()
	events, err := s.store.ListAudit(context.Background(), accountID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(events) - 1; i >= 0; i-- {
		if strings.HasPrefix(events[i].Action, console.ActionContextDelete) {
			out = append(out, events[i].Action)
		}
	}
	return out
}

func TestDataDelete(t *testing.T) {
	d := newDataStack(t, "")
	u := d.account(t, "v2")
	d.seed(t, u.accountID)
	ctx := context.Background()
	b := d.browser(t)
	b.mustSignIn(u)
	k := ccs.Key{AccountID: u.accountID, Namespace: "beta", SessionID: oddSession}
	sessionPath := "/console/data/beta/" + url.PathEscape(oddSession)
	propPath := sessionPath + "/properties/" + url.PathEscape(bigProperty) + "/delete"
	has := func(k ccs.Key, name string) bool {
		t.Helper()
		_, err := d.ccs.Property(ctx, k, name)
		return err == nil
	}

	// The confirmation page deletes nothing; it names what is deleted.
	confirm := b.get(propPath)
	if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "Delete this property?") || !strings.Contains(confirm.body, bigProperty) ||
		!strings.Contains(confirm.body, `action="`+propPath+`"`) {
		t.Fatalf("confirmation: %d\n%s", confirm.status, confirm.body)
	}
	if !has(k, bigProperty) {
		t.Fatal("opening the confirmation deleted the property")
	}
	tok := csrfOf(t, confirm.body)
	// Without the CSRF token, with a wrong one, or cross-site: refused.
	for name, form := range map[string]url.Values{"no token": {}, "wrong token": {"csrf": {tok + "x"}}} {
		if p := b.post(propPath, form); p.status != http.StatusForbidden {
			t.Errorf("%s: %d", name, p.status)
		}
	}
	if p := b.post(propPath, url.Values{"csrf": {tok}}, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
		t.Errorf("cross-site: %d", p.status)
	}
	if !has(k, bigProperty) || len(auditActions(t, d.stack, u.accountID)) != 0 {
		t.Fatal("a refused post deleted the property or wrote an audit entry")
	}
	// Confirmed: deleted, audited, back to the session with a message.
	p := b.post(propPath, url.Values{"csrf": {tok}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != sessionPath {
		t.Fatalf("delete property: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if has(k, bigProperty) || !has(k, "intent") {
		t.Error("the property was not deleted, or another was")
	}
	want := []string{"context.delete namespace=beta session=conv+1%2F%C3%A9%3F%25 property=big+value%2F1"}
	if got := auditActions(t, d.stack, u.accountID); len(got) != 1 || got[0] != want[0] {
		t.Errorf("audit after property delete: %q, want %q", got, want)
	}
	p = b.get(sessionPath)
	if !strings.Contains(p.body, `id="flash">Property &#34;big value/1&#34; was deleted.`) || strings.Contains(p.body, "Download full value") {
		t.Errorf("session page after the delete\n%s", p.body)
	}
	// Gone: its pages and a second post are 404, and nothing is audited.
	if p := b.post(propPath, url.Values{"csrf": {tok}}); p.status != http.StatusNotFound {
		t.Errorf("second delete: %d", p.status)
	}
	if p := b.get(propPath); p.status != http.StatusNotFound {
		t.Errorf("confirmation of a deleted property: %d", p.status)
	}

	// A whole session, behind its confirmation.
	sess := "/console/data/alpha/s000/delete"
	confirm = b.get(sess)
	if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "Delete this session?") || !strings.Contains(confirm.body, "<dd>1</dd>") {
		t.Fatalf("session confirmation: %d\n%s", confirm.status, confirm.body)
	}
	if p := b.post(sess, url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("session delete without token: %d", p.status)
	}
	s000 := ccs.Key{AccountID: u.accountID, Namespace: "alpha", SessionID: "s000"}
	if !has(s000, "n") {
		t.Fatal("a refused post deleted the session")
	}
	p = b.post(sess, url.Values{"csrf": {csrfOf(t, confirm.body)}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/data/alpha" {
		t.Fatalf("delete session: %d %s", p.status, p.header.Get("Location"))
	}
	if has(s000, "n") || !has(ccs.Key{AccountID: u.accountID, Namespace: "alpha", SessionID: "s001"}, "n") {
		t.Error("the session was not deleted, or another was")
	}
	p = b.get("/console/data/alpha")
	if !strings.Contains(p.body, `id="flash">Session &#34;s000&#34; was deleted.`) || strings.Contains(p.body, ">s000<") {
		t.Errorf("namespace page after the delete\n%s", p.body)
	}
	if p := b.get("/console/data/alpha/s000"); p.status != http.StatusNotFound {
		t.Errorf("deleted session page: %d", p.status)
	}
	// The namespace-level properties: session __default__.
	def := "/console/data/alpha/__default__/delete"
	confirm = b.get(def)
	if p := b.post(def, url.Values{"csrf": {csrfOf(t, confirm.body)}}); p.status != http.StatusSeeOther {
		t.Errorf("delete namespace properties: %d", p.status)
	}
	if has(ccs.Key{AccountID: u.accountID, Namespace: "alpha"}, "greeting") {
		t.Error("namespace properties not deleted")
	}
	// Deleting the last property of a session goes back to the namespace.
	s001 := "/console/data/alpha/s001/properties/n/delete"
	confirm = b.get(s001)
	if p := b.post(s001, url.Values{"csrf": {csrfOf(t, confirm.body)}}); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/data/alpha" {
		t.Errorf("delete last property: %d %s", p.status, p.header.Get("Location"))
	}
	want = append(want, "context.delete namespace=alpha session=s000", "context.delete namespace=alpha session=__default__",
		"context.delete namespace=alpha session=s001 property=n")
	if got := auditActions(t, d.stack, u.accountID); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n got %q\nwant %q", got, want)
	}
}

func TestDataDeleteNeedsAudit(t *testing.T) {
	d := newDataStack(t, console.ActionContextDelete)
	u := d.account(t, "v2")
	d.seed(t, u.accountID)
	b := d.browser(t)
	b.mustSignIn(u)
	for _, path := range []string{"/console/data/alpha/s002/properties/n/delete", "/console/data/alpha/s002/delete"} {
		confirm := b.get(path)
		if p := b.post(path, url.Values{"csrf": {csrfOf(t, confirm.body)}}); p.status != http.StatusInternalServerError {
			t.Errorf("%s without audit: %d", path, p.status)
		}
	}
	if _, err := d.ccs.Property(context.Background(), ccs.Key{AccountID: u.accountID, Namespace: "alpha", SessionID: "s002"}, "n"); err != nil {
		t.Errorf("deleted without an audit entry: %v", err)
	}
}

func TestDataAccessAndNames(t *testing.T) {
	d := newDataStack(t, "")
	u := d.account(t, "v2")
	other := d.account(t, "v1")
	d.seed(t, u.accountID)
	ctx := context.Background()
	secret := ccs.Key{AccountID: other.accountID, Namespace: "secret-ns", SessionID: "secret-session"}
	if err := d.ccs.Put(ctx, secret, "card", []byte(`"4111"`)); err != nil {
		t.Fatal(err)
	}

	// Signed out: pages send to sign-in, posts are refused.
	anon := d.browser(t)
	for _, path := range []string{"/console/data", "/console/data/alpha", "/console/data/alpha/s001", "/console/data/alpha/s001/properties/n/value", "/console/data/alpha/s001/delete"} {
		if p := anon.get(path); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/" {
			t.Errorf("signed out GET %s: %d %s", path, p.status, p.header.Get("Location"))
		}
	}
	if p := anon.post("/console/data/alpha/s001/delete", url.Values{"csrf": {"x"}}); p.status != http.StatusForbidden {
		t.Errorf("signed out POST: %d", p.status)
	}

	b := d.browser(t)
	pg := b.mustSignIn(u)
	tok := csrfOf(t, pg.body)
	// Another account's names are not found, whatever the page.
	if p := b.get("/console/data"); strings.Contains(p.body, "secret-ns") {
		t.Error("another account's namespace is listed")
	}
	for _, path := range []string{"/console/data/secret-ns", "/console/data/secret-ns/secret-session",
		"/console/data/secret-ns/secret-session/properties/card/value", "/console/data/secret-ns/secret-session/properties/card/delete",
		"/console/data/secret-ns/secret-session/delete"} {
		if p := b.get(path); p.status != http.StatusNotFound || strings.Contains(p.body, "4111") {
			t.Errorf("GET %s: %d", path, p.status)
		}
	}
	for _, path := range []string{"/console/data/secret-ns/secret-session/properties/card/delete", "/console/data/secret-ns/secret-session/delete"} {
		if p := b.post(path, url.Values{"csrf": {tok}}); p.status != http.StatusNotFound {
			t.Errorf("POST %s: %d", path, p.status)
		}
	}
	if _, err := d.ccs.Property(ctx, secret, "card"); err != nil {
		t.Errorf("another account's property: %v", err)
	}
	if got := auditActions(t, d.stack, u.accountID); len(got) != 0 {
		t.Errorf("refused deletions audited: %q", got)
	}

	// Missing data: 404; invalid names: 400; never a failure.
	long := strings.Repeat("s", 257)
	for path, want := range map[string]int{
		"/console/data/nope":                                      http.StatusNotFound,
		"/console/data/alpha/nope":                                http.StatusNotFound,
		"/console/data/alpha/nope/delete":                         http.StatusNotFound,
		"/console/data/alpha/s001/properties/nope/value":          http.StatusNotFound,
		"/console/data/alpha/s001/properties/nope/delete":         http.StatusNotFound,
		"/console/data/bad%20ns":                                  http.StatusBadRequest,
		"/console/data/bad.ns/s001":                               http.StatusBadRequest,
		"/console/data/" + strings.Repeat("n", 65):                http.StatusBadRequest,
		"/console/data/alpha/" + long:                             http.StatusBadRequest,
		"/console/data/alpha/a%01b":                               http.StatusBadRequest,
		"/console/data/alpha/a%FFb":                               http.StatusBadRequest,
		"/console/data/alpha/s001/properties/a%0Ab/value":         http.StatusBadRequest,
		"/console/data/alpha/s001/properties/" + long + "/delete": http.StatusBadRequest,
	} {
		if p := b.get(path); p.status != want {
			t.Errorf("GET %s: %d, want %d", path, p.status, want)
		}
	}
	if p := b.post("/console/data/alpha/a%01b/delete", url.Values{"csrf": {tok}}); p.status != http.StatusBadRequest {
		t.Errorf("POST with a bad session id: %d", p.status)
	}
	// /console/data/ is the namespaces page.
	if p := b.get("/console/data/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/data" {
		t.Errorf("/console/data/: %d %s", p.status, p.header.Get("Location"))
	}
}
