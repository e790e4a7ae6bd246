package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// TestBrowserContextData drives the Context data pages in headless
// Chromium against a full server: data written through the v1 API is
// browsed from the namespaces down to a session's properties, a long value
// is cut and downloads whole, and a property deleted through the
// confirmation is gone from the API.
func TestBrowserContextData(t *testing.T) {
	tb := newShotTab(t)

	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	email := "admin@example.com"
	pw := consoleUser(t, env, acct.AccountID, email)

	// The data, through the v1 API with the account's key.
	const ns = "faas-demo-namespace"
	base := env.URL + "/v1/account/" + acct.AccountID
	key := map[string]string{"maven-api-key": acct.APIKey, "Content-Type": "application/json"}
	transcript := `"` + strings.Repeat("The consumer asked about the invoice. ", 40) + `"`
	for _, w := range []struct{ method, path, body string }{
		{"POST", "?ttlSecond=86400", `{"name":"` + ns + `"}`},
		{"POST", "", `{"name":"empty-namespace"}`},
		{"PATCH", "/" + ns + "/properties", `{"region":"emea","tier":"gold"}`},
		{"PUT", "/" + ns + "/conv-42/properties/intent", `"billing"`},
		{"PUT", "/" + ns + "/conv-42/properties/transcript", transcript},
		{"PATCH", "/" + ns + "/conv-43/properties", `{"intent":"sales","score":0.8}`},
	} {
		if st, body := servertest.Do(t, w.method, base+w.path, key, w.body); st != http.StatusNoContent {
			t.Fatalf("%s %s: %d %s", w.method, w.path, st, body)
		}
	}
	propURL := base + "/" + ns + "/conv-42/properties/"

	tb.signIn(env.URL, acct.AccountID, email, pw)

	// Namespaces, reached from the page navigation.
	tb.do("open Context data", chromedp.Click(chromedp.CSS(`nav.pages a[href="/console/data"]`)), chromedp.WaitVisible(chromedp.ID("data-namespaces")))
	if got := tb.eval(`Array.from(document.querySelectorAll('#namespaces tbody th a')).map(a => a.textContent).join(',')`); got != "empty-namespace,"+ns {
		t.Errorf("namespaces listed: %q", got)
	}
	if got := tb.eval(`document.querySelector('nav.pages a[aria-current="page"]').textContent`); got != "Context data" {
		t.Errorf("current page in the navigation: %q", got)
	}
	if got := tb.eval(`document.getElementById('namespaces').innerText`); !strings.Contains(got, "1 d") {
		t.Errorf("namespace TTL not shown: %q", got)
	}
	tb.screenshot("data-namespaces")

	// Its sessions: the namespace-level properties first.
	tb.do("open namespace", chromedp.Click(chromedp.CSS(`#namespaces a[href="/console/data/`+ns+`"]`)), chromedp.WaitVisible(chromedp.ID("data-sessions")))
	if got := tb.eval(`Array.from(document.querySelectorAll('#sessions tbody th a')).map(a => a.textContent).join(',')`); got != "__default__,conv-42,conv-43" {
		t.Errorf("sessions listed: %q", got)
	}
	if got := tb.eval(`document.querySelector('nav.crumbs').getAttribute('aria-label') + ': ' + document.querySelector('nav.crumbs').innerText.replace(/\s+/g, ' ')`); !strings.Contains(got, "Breadcrumb: Context data") || !strings.Contains(got, ns) {
		t.Errorf("breadcrumbs: %q", got)
	}
	tb.screenshot("data-sessions")

	// A session: its properties, the long one cut with a download.
	tb.do("open session", chromedp.Click(chromedp.CSS(`#sessions a[href="/console/data/`+ns+`/conv-42"]`)), chromedp.WaitVisible(chromedp.ID("data-session")))
	if got := tb.eval(`Array.from(document.querySelectorAll('#properties tbody th')).map(th => th.textContent).join(',')`); got != "intent,transcript" {
		t.Errorf("properties listed: %q", got)
	}
	shown := tb.eval(`document.querySelectorAll('#properties tbody tr')[1].querySelector('code').textContent`)
	if !strings.HasSuffix(shown, "…") || len([]rune(shown)) != 501 || !strings.HasPrefix(transcript, strings.TrimSuffix(shown, "…")) {
		t.Errorf("long value shown as %d characters: %q", len([]rune(shown)), shown)
	}
	if got := tb.eval(`document.querySelectorAll('#properties tbody tr')[1].querySelectorAll('td')[1].textContent`); !strings.Contains(got, "UTC") {
		t.Errorf("expiry of the property (namespace TTL of a day): %q", got)
	}
	download := tb.eval(`document.querySelector('#properties a[download]').textContent`)
	if download != "Download full value" {
		t.Errorf("download link: %q", download)
	}
	// The link gives the whole value as a JSON attachment.
	got := run(tb, "fetch download", chromedp.Evaluate[string](`fetch(document.querySelector('#properties a[download]').href).then(async r =>
		r.status + ' ' + r.headers.get('Content-Type') + ' ' + r.headers.get('Content-Disposition').split(';')[0] + ' ' + await r.text())`, chromedp.EvalAwaitPromise))
	if want := "200 application/json attachment " + transcript; got != want {
		t.Errorf("download:\n got %.120q\nwant %.120q", got, want)
	}
	tb.screenshot("data-session")

	// Narrow screen: the long value does not push the page sideways.
	tb.do("narrow", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("data-session")))
	if !run(tb, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)) {
		t.Error("the session page scrolls sideways on a 375 px screen")
	}
	tb.screenshot("data-session-narrow")
	tb.do("wide", chromedp.EmulateViewport(1280, 1000), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("data-session")))

	// Delete "intent": the confirmation first, which deletes nothing.
	tb.do("delete intent", chromedp.Click(chromedp.CSS(`#properties a[href$="/properties/intent/delete"]`)), chromedp.WaitVisible(chromedp.ID("confirm-delete")))
	if got := run(tb, "confirm text", chromedp.Text(chromedp.ID("confirm-delete"))); !strings.Contains(got, "intent") || !strings.Contains(got, "conv-42") || !strings.Contains(got, "cannot be restored") {
		t.Errorf("confirmation text: %q", got)
	}
	tb.screenshot("data-delete-confirm")
	if st, _ := servertest.Do(t, "GET", propURL+"intent", key, ""); st != http.StatusOK {
		t.Fatalf("the confirmation page deleted the property: %d", st)
	}
	tb.do("confirm delete", chromedp.Click(chromedp.ID("confirm-delete-button")), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := tb.eval(`document.getElementById('flash').textContent`); got != `Property "intent" was deleted.` {
		t.Errorf("flash: %q", got)
	}
	if got := tb.eval(`Array.from(document.querySelectorAll('#properties tbody th')).map(th => th.textContent).join(',')`); got != "transcript" {
		t.Errorf("properties after the delete: %q", got)
	}

	// Through the API: gone, and only it.
	if st, body := servertest.Do(t, "GET", propURL+"intent", key, ""); st != http.StatusNotFound {
		t.Errorf("deleted property through the API: %d %s", st, body)
	}
	// (The API ends its JSON answers with a newline.)
	if st, body := servertest.Do(t, "GET", propURL+"transcript", key, ""); st != http.StatusOK || strings.TrimSpace(body) != transcript {
		t.Errorf("other property through the API: %d %.80s", st, body)
	}

	if errs := tb.errors(); len(errs) > 0 {
		t.Errorf("browser errors:\n%s", strings.Join(errs, "\n"))
	}
}
