package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// TestBrowserConsoleFlow is issue 19's walk through the console in
// headless Chromium against a full server, as a business user makes it:
// create a policy with the form, write the variable it reads through the
// v1 API, see the policy match in Try it, find that evaluation in the
// logs, and browse to the context data it read.
func TestBrowserConsoleFlow(t *testing.T) {
	tb := newShotTab(t)

	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	email := "flow@example.com"
	tb.signIn(env.URL, acct.AccountID, email, consoleUser(t, env, acct.AccountID, email))

	// 1. The policy, through the form only.
	tb.do("open the new policy form", chromedp.Click(chromedp.CSS(`nav.pages a[href="/console/policies"]`)),
		chromedp.WaitVisible(chromedp.ID("new-policy")), chromedp.Click(chromedp.ID("new-policy")), chromedp.WaitVisible(chromedp.ID("policy-form")))
	tb.do("fill and save the policy",
		chromedp.SendKeys(chromedp.ID("name"), "Billing desk"),
		chromedp.SendKeys(chromedp.ID("cond-0-property"), "orchestrator.intent"),
		chromedp.SetValue(chromedp.ID("cond-0-type"), "EQUAL"),
		chromedp.SendKeys(chromedp.ID("cond-0-value"), "billing"),
		chromedp.SetValue(chromedp.ID("action-0-type"), "TRANSFER_TO_SKILL"),
		chromedp.SendKeys(chromedp.ID("action-0-payload"), `{"skillId": 42}`),
		chromedp.Click(chromedp.ID("save-policy")), chromedp.WaitVisible(chromedp.ID("policy-list")))
	policyID := tb.eval(`document.querySelector('#policy-list tbody tr').dataset.policyId`)
	if policyID == "" {
		t.Fatal("no policy in the list after saving the form")
	}
	tb.screenshot("flow-1-policies")

	// 2. The variable it reads, through the v1 API.
	conv := "conv-flow-7"
	if st, body := servertest.Do(t, "PATCH", env.URL+"/v1/account/"+acct.AccountID+"/orchestrator/"+conv+"/properties",
		map[string]string{"maven-api-key": acct.APIKey, "Content-Type": "application/json"}, `{"intent":"billing","channel":"web"}`); st != http.StatusNoContent {
		t.Fatalf("v1 PATCH: %d %s", st, body)
	}

	// 3. Try it: the console's policy matches, and says what it read.
	tb.do("run Try it", chromedp.Click(chromedp.CSS(`nav.pages a[href="/console/try"]`)), chromedp.WaitVisible(chromedp.ID("try-form")),
		chromedp.SendKeys(chromedp.ID("try-conversation"), conv),
		chromedp.Click(chromedp.ID("try-run")), chromedp.WaitVisible(chromedp.ID("try-result")))
	if got := tb.eval(`document.getElementById('try-matched-policy').textContent`); got != "Billing desk" {
		t.Errorf("Try it matched %q, want Billing desk", got)
	}
	if got := tb.eval(`document.getElementById('try-matched-id').textContent`); got != policyID {
		t.Errorf("Try it matched id %q, want %q", got, policyID)
	}
	if got := tb.eval(`document.querySelector('#try-policies tbody tr .state').textContent`); got != "TRUE" {
		t.Errorf("the policy's state in Try it: %q, want TRUE", got)
	}
	if got := tb.eval(`document.querySelector('#try-variables tr[data-variable="orchestrator.intent"] td').textContent`); got != `"billing"` {
		t.Errorf("Try it shows orchestrator.intent as %q", got)
	}
	tb.screenshot("flow-2-try-it")

	// 4. The evaluation in the logs, from Try it's link.
	tb.do("open the log", chromedp.Click(chromedp.ID("try-logs-link")), chromedp.WaitVisible(chromedp.ID("logs-table")))
	rows := tb.eval(`Array.from(document.querySelectorAll('#logs-table tbody tr')).map(function (r) {
		return r.dataset.conversation + '/' + r.cells[2].textContent.trim() + '/' + r.cells[3].textContent.trim(); }).join(',')`)
	if rows != conv+"/Billing desk/TRUE" {
		t.Errorf("log rows %q, want the one evaluation of %s: Billing desk TRUE", rows, conv)
	}
	tb.screenshot("flow-3-logs")

	// 5. The data it read: namespaces → sessions → the session.
	tb.do("browse the data", chromedp.Click(chromedp.CSS(`nav.pages a[href="/console/data"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/console/data/orchestrator"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/console/data/orchestrator"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/console/data/orchestrator/`+conv+`"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/console/data/orchestrator/`+conv+`"]`)),
		chromedp.WaitVisible(chromedp.ID("data-session")))
	props := tb.eval(`Array.from(document.querySelectorAll('#data-session tbody tr')).map(function (r) {
		return r.cells[0].textContent.trim() + '=' + r.cells[1].textContent.trim(); }).join(',')`)
	if !strings.Contains(props, `intent="billing"`) || !strings.Contains(props, `channel="web"`) {
		t.Errorf("session properties shown: %q", props)
	}
	tb.screenshot("flow-4-data")

	if errs := tb.errors(); len(errs) > 0 {
		t.Errorf("browser errors:\n%s", strings.Join(errs, "\n"))
	}
}
