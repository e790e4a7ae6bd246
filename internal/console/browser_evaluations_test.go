package console_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// TestBrowserTryItAndLogs drives Try it and the Evaluation logs in
// headless Chromium against a full server: a policy made through the v2
// config API matches after a v1 PATCH of the intent; the page shows the
// match, each policy's state and the variable read; its link leads to
// the conversation's evaluations in the log.
func TestBrowserTryItAndLogs(t *testing.T) {
	tb := newShotTab(t)

	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	email := "admin@example.com"
	pw := consoleUser(t, env, acct.AccountID, email)
	bearer := map[string]string{"Authorization": "Bearer " + env.Login(t, acct), "Content-Type": "application/json"}

	// Two policies through the v2 config API: one that does not hold,
	// then orchestrator.intent == 'billing' → TRANSFER_TO_SKILL 42.
	ids := map[string]string{}
	for _, p := range []string{
		`{"name":"Sales","conditions":[{"property":"orchestrator.intent","type":"EQUAL","value":"sales"}],"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":7}}]}`,
		`{"name":"Billing","conditions":[{"property":"orchestrator.intent","type":"EQUAL","value":"billing"}],"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":42}}]}`,
	} {
		st, body := servertest.Do(t, "POST", env.URL+"/v2/config/create", bearer, `{"accountId":"`+acct.AccountID+`","policy":`+p+`}`)
		var out struct{ ID, Name string }
		if st != http.StatusCreated || json.Unmarshal([]byte(body), &out) != nil || out.ID == "" {
			t.Fatalf("create policy: %d %s", st, body)
		}
		ids[out.Name] = out.ID
	}
	// The intent, written through v1 with the API key.
	v1 := map[string]string{"maven-api-key": acct.APIKey, "Content-Type": "application/json"}
	if st, body := servertest.Do(t, "POST", env.URL+"/v1/account/"+acct.AccountID, v1, `{"name":"orchestrator"}`); st != http.StatusNoContent {
		t.Fatalf("create namespace: %d %s", st, body)
	}
	if st, body := servertest.Do(t, "PATCH", env.URL+"/v1/account/"+acct.AccountID+"/orchestrator/conv-browser/properties", v1, `{"intent":"billing"}`); st != http.StatusNoContent {
		t.Fatalf("PATCH intent: %d %s", st, body)
	}

	tb.signIn(env.URL, acct.AccountID, email, pw)
	tb.do("open Try it", chromedp.Click(chromedp.CSS(`nav.pages a[href="/console/try"]`)), chromedp.WaitVisible(chromedp.ID("try-form")))
	if got := tb.eval(`document.querySelector('nav.pages a[aria-current="page"]').textContent`); got != "Try it" {
		t.Errorf("current page in the nav: %q", got)
	}
	tb.do("run Try it",
		chromedp.SendKeys(chromedp.ID("try-conversation"), "conv-browser"),
		chromedp.SendKeys(chromedp.ID("try-conversation-attributes"), `{"minutesSincePreviousMessage": 3}`),
		chromedp.Click(chromedp.ID("try-run")),
		chromedp.WaitVisible(chromedp.ID("try-result")),
	)
	if got := run(tb, "matched", chromedp.Text(chromedp.ID("try-matched-policy"))); got != "Billing" {
		t.Errorf("matched policy shown: %q, want Billing", got)
	}
	if got := tb.eval(`document.getElementById('try-matched-id').textContent`); got != ids["Billing"] {
		t.Errorf("matched id shown: %q, want %q", got, ids["Billing"])
	}
	if got := tb.eval(`document.querySelector('#try-actions tbody').innerText`); !strings.Contains(got, "TRANSFER_TO_SKILL") || !strings.Contains(got, `{"skillId":42}`) {
		t.Errorf("actions shown: %q", got)
	}
	states := tb.eval(`Array.from(document.querySelectorAll('#try-policies tbody tr')).map(function (r) {
		return r.querySelector('th').innerText.split('\n')[0] + '=' + r.querySelector('.state').textContent; }).join(',')`)
	if states != "Sales=FALSE,Billing=TRUE" {
		t.Errorf("policy states shown: %q", states)
	}
	if got := tb.eval(`document.querySelector('#try-variables tr[data-variable="orchestrator.intent"] td').textContent`); got != `"billing"` {
		t.Errorf("orchestrator.intent shown as %q", got)
	}
	if got := tb.eval(`document.getElementById('try-conversation').value`); got != "conv-browser" {
		t.Errorf("the form lost the conversation id: %q", got)
	}
	tb.screenshot("try-it")
	// Narrow screen: the result tables scroll in their box, the page
	// does not scroll sideways.
	tb.do("narrow", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	if !run(tb, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)) {
		t.Error("Try it scrolls sideways on a 375 px screen")
	}
	tb.do("wide", chromedp.EmulateViewport(1280, 1000))

	// The same policy matches through the v2 API.
	if st, body := servertest.Do(t, "POST", env.URL+"/v2/policy/nextaction", bearer, `{"accountId":"`+acct.AccountID+`","conversationId":"conv-browser"}`); st != http.StatusOK || !strings.Contains(body, `"skillId":42`) {
		t.Errorf("v2 nextaction: %d %s", st, body)
	}

	// The link leads to the conversation's evaluations.
	tb.do("open the log", chromedp.Click(chromedp.ID("try-logs-link")), chromedp.WaitVisible(chromedp.ID("logs-table")))
	if got := tb.eval(`document.getElementById('logs-conversation').value`); got != "conv-browser" {
		t.Errorf("filter shown: %q", got)
	}
	rows := tb.eval(`Array.from(document.querySelectorAll('#logs-table tbody tr')).map(function (r) {
		return r.dataset.conversation + '/' + r.cells[2].textContent + '/' + r.cells[3].textContent; }).join(',')`)
	// Newest first: the API's evaluation, then Try it's.
	if rows != "conv-browser/Billing/TRUE,conv-browser/Sales/FALSE,conv-browser/Billing/TRUE,conv-browser/Sales/FALSE" {
		t.Errorf("log rows: %q", rows)
	}
	tb.screenshot("logs")

	// Show all, then filter again with the form.
	tb.do("clear the filter", chromedp.Click(chromedp.ID("logs-filter-clear")), chromedp.WaitVisible(chromedp.ID("logs-table")))
	tb.do("filter", chromedp.SendKeys(chromedp.ID("logs-conversation"), "nobody"), chromedp.Click(chromedp.ID("logs-filter-apply")),
		chromedp.WaitVisible(chromedp.ID("logs-empty")))

	// A bad input is said beside the field, and the browser stays on the
	// page with the values typed.
	tb.do("bad attributes", chromedp.Navigate(env.URL+"/console/try"), chromedp.WaitVisible(chromedp.ID("try-form")),
		chromedp.SendKeys(chromedp.ID("try-conversation"), "conv-browser"),
		chromedp.SendKeys(chromedp.ID("try-sde-attributes"), `[1]`),
		chromedp.Click(chromedp.ID("try-run")),
		chromedp.WaitVisible(chromedp.ID("try-sde-attributes-error")))
	if got := tb.eval(`document.getElementById('try-sde-attributes').getAttribute('aria-invalid')`); got != "true" {
		t.Errorf("aria-invalid = %q", got)
	}

	// The 400 of the bad input is logged by the browser as a failed load;
	// anything else, a CSP violation or a script error, is a defect.
	var other []string
	for _, e := range tb.errors() {
		if strings.Contains(e, "status of 400") && strings.HasSuffix(e, "/console/try)") {
			continue
		}
		other = append(other, e)
	}
	if len(other) > 0 {
		t.Errorf("browser errors:\n%s", strings.Join(other, "\n"))
	}
}
