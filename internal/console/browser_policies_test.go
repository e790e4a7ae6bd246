package console_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// TestBrowserPolicies drives the Policies pages in headless Chromium
// against a full server: the acceptance policy
// (orchestrator.intent == 'billing' → TRANSFER_TO_SKILL 42) is made
// entirely through the form, then matches through POST
// /v2/policy/nextaction once a v1 PATCH has set the intent; an invalid
// expression typed in the form shows its error beside the expression
// field and saves nothing.
func TestBrowserPolicies(t *testing.T) {
	tb := newShotTab(t)

	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	email := "admin@example.com"
	pw := consoleUser(t, env, acct.AccountID, email)
	tb.signIn(env.URL, acct.AccountID, email, pw)

	// The nav leads to the list, empty at first.
	tb.do("open policies", chromedp.Click(chromedp.CSS(`nav.pages a[href="/console/policies"]`)), chromedp.WaitVisible(chromedp.ID("no-policies")))
	if got := tb.eval(`document.querySelector('nav.pages a[aria-current="page"]').textContent`); got != "Policies" {
		t.Errorf("current nav entry %q", got)
	}

	// Create the policy through the form.
	tb.do("new policy", chromedp.Click(chromedp.ID("new-policy")), chromedp.WaitVisible(chromedp.ID("policy-form")))
	tb.do("fill the form",
		chromedp.SendKeys(chromedp.ID("name"), "Billing to skill 42"),
		chromedp.SendKeys(chromedp.ID("cond-0-property"), "orchestrator.intent"),
		chromedp.SetValue(chromedp.ID("cond-0-type"), "EQUAL"),
		chromedp.SendKeys(chromedp.ID("cond-0-value"), "billing"),
		chromedp.SetValue(chromedp.ID("action-0-type"), "TRANSFER_TO_SKILL"),
		chromedp.SendKeys(chromedp.ID("action-0-payload"), `{"skillId": 42}`),
	)
	tb.screenshot("policy-form")
	tb.do("save", chromedp.Click(chromedp.ID("save-policy")), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := tb.eval(`document.getElementById('flash').textContent`); got != "Policy “Billing to skill 42” created." {
		t.Errorf("message after create: %q", got)
	}
	if n := tb.eval(`String(document.querySelectorAll('#policy-list tbody tr').length)`); n != "1" {
		t.Fatalf("%s rows in the list", n)
	}
	policyID := tb.eval(`document.querySelector('#policy-list tbody tr').dataset.policyId`)
	if row := tb.eval(`document.querySelector('#policy-list tbody tr').textContent`); !strings.Contains(row, "orchestrator.intent EQUAL billing") ||
		!strings.Contains(row, `TRANSFER_TO_SKILL {"skillId":42}`) || !strings.Contains(row, "Enabled") {
		t.Errorf("list row: %q", row)
	}
	tb.screenshot("policies-list")

	// Through the APIs: nothing matches until the intent is billing, then
	// the console's policy does.
	token := env.Login(t, acct)
	bearer := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	conv := "conv-console-1"
	nextActions := func() string {
		t.Helper()
		st, body := servertest.Do(t, "POST", env.URL+"/v2/policy/nextaction", bearer,
			`{"accountId":"`+acct.AccountID+`","conversationId":"`+conv+`"}`)
		if st != http.StatusOK {
			t.Fatalf("nextaction: %d %s", st, body)
		}
		return body
	}
	if got := strings.TrimSpace(nextActions()); got != "[]" {
		t.Errorf("before the PATCH: %s, want []", got)
	}
	st, body := servertest.Do(t, "PATCH", env.URL+"/v1/account/"+acct.AccountID+"/orchestrator/"+conv+"/properties",
		map[string]string{"maven-api-key": acct.APIKey, "Content-Type": "application/json"}, `{"intent":"billing"}`)
	if st != http.StatusNoContent {
		t.Fatalf("v1 PATCH: %d %s", st, body)
	}
	var actions []struct {
		Type    string         `json:"type"`
		Payload map[string]any `json:"payload"`
	}
	if err := json.Unmarshal([]byte(nextActions()), &actions); err != nil {
		t.Fatal(err)
	}
	if len(actions) != 1 || actions[0].Type != "TRANSFER_TO_SKILL" || actions[0].Payload["skillId"] != 42.0 {
		t.Fatalf("next actions after the PATCH: %+v, want TRANSFER_TO_SKILL skillId 42", actions)
	}
	// The evaluation log says the console's policy is the one that matched.
	st, body = servertest.Do(t, "GET", env.URL+"/v2/policy/logs/"+acct.AccountID+"?conversationId="+conv, bearer, "")
	var logs []struct{ PolicyID, State string }
	if err := json.Unmarshal([]byte(body), &logs); st != http.StatusOK || err != nil {
		t.Fatalf("logs: %d %s", st, body)
	}
	matched := false
	for _, l := range logs {
		matched = matched || l.PolicyID == policyID && l.State == "TRUE"
	}
	if !matched {
		t.Errorf("the log has no TRUE evaluation of policy %s: %s", policyID, body)
	}
	countPolicies := func() int {
		t.Helper()
		st, body := servertest.Do(t, "GET", env.URL+"/v2/config/"+acct.AccountID, bearer, "")
		var ps []struct{ ID string }
		if err := json.Unmarshal([]byte(body), &ps); st != http.StatusOK || err != nil {
			t.Fatalf("config list: %d %s", st, body)
		}
		return len(ps)
	}

	// An invalid expression: the error beside the expression field, the
	// summary linking to it, what was typed kept, nothing saved.
	tb.do("new policy again", chromedp.Click(chromedp.ID("new-policy")), chromedp.WaitVisible(chromedp.ID("policy-form")))
	tb.do("fill a bad expression",
		chromedp.SendKeys(chromedp.ID("name"), "Broken"),
		chromedp.SendKeys(chromedp.ID("expression"), "orchestrator.intent =="),
		chromedp.SetValue(chromedp.ID("action-0-type"), "TRANSFER_TO_SKILL"),
		chromedp.SendKeys(chromedp.ID("action-0-payload"), `{"skillId": 7}`),
	)
	tb.do("save the bad policy", chromedp.Click(chromedp.ID("save-policy")), chromedp.WaitVisible(chromedp.ID("expression-error")))
	if got := tb.eval(`document.getElementById('expression-error').textContent`); !strings.Contains(got, "Unexpected token EOF") {
		t.Errorf("expression error: %q", got)
	}
	for what, expr := range map[string]string{
		"error in the expression's field": `document.getElementById('expression-error').closest('.field') === document.getElementById('expression').closest('.field')`,
		"aria-invalid":                    `document.getElementById('expression').getAttribute('aria-invalid') === 'true'`,
		"aria-describedby":                `document.getElementById('expression').getAttribute('aria-describedby').split(' ').includes('expression-error')`,
		"summary link":                    `document.querySelector('#error-summary[role="alert"] a[href="#expression"]') !== null`,
		"typed expression kept":           `document.getElementById('expression').value === 'orchestrator.intent =='`,
		"typed name kept":                 `document.getElementById('name').value === 'Broken'`,
		"no other field error":            `document.querySelectorAll('.field-error').length === 1`,
	} {
		if !run(tb, what, chromedp.Evaluate[bool](expr)) {
			t.Errorf("invalid expression: %s does not hold", what)
		}
	}
	tb.screenshot("policy-form-error")
	// The summary's link takes the keyboard to the field.
	tb.do("follow the summary link", chromedp.Click(chromedp.CSS(`#error-summary a[href="#expression"]`)))
	if got := tb.eval(`document.activeElement.id`); got != "expression" {
		t.Errorf("after the summary link the focus is on %q", got)
	}
	if n := countPolicies(); n != 1 {
		t.Errorf("%d policies after the invalid form, want 1", n)
	}

	// Disable and enable from the list; the delete confirmation.
	tb.do("back to the list", chromedp.Navigate(env.URL+"/console/policies"), chromedp.WaitVisible(chromedp.ID("policy-list")))
	tb.do("disable", chromedp.Click(chromedp.CSS(`#policy-list button.toggle`)), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := tb.eval(`document.querySelector('#policy-list tbody tr .state').textContent`); got != "Disabled" {
		t.Errorf("state after Disable: %q", got)
	}
	if got := strings.TrimSpace(nextActions()); got != "[]" {
		t.Errorf("next actions with the policy disabled: %s", got)
	}
	// The disabled list shows a flash too: wait for the new page, not for
	// the flash the old page already has (clicking Delete on the page
	// being replaced failed with "Could not find node").
	tb.eval(`document.documentElement.dataset.stale = "1"`)
	tb.do("enable", chromedp.Click(chromedp.CSS(`#policy-list button.toggle`)),
		chromedp.WaitNotPresent(chromedp.CSS(`html[data-stale]`)), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := tb.eval(`document.querySelector('#policy-list tbody tr .state').textContent`); got != "Enabled" {
		t.Errorf("state after Enable: %q", got)
	}
	tb.do("delete", chromedp.Click(chromedp.CSS(`#policy-list a.delete`)), chromedp.WaitVisible(chromedp.ID("confirm-delete-policy")))
	tb.screenshot("policy-delete-confirm")
	tb.do("cancel delete", chromedp.Click(chromedp.ID("cancel-delete")), chromedp.WaitVisible(chromedp.ID("policy-list")))
	if n := countPolicies(); n != 1 {
		t.Errorf("%d policies after Cancel, want 1", n)
	}

	// Narrow screen: nothing overflows the page sideways (the table
	// scrolls in its own box).
	tb.do("narrow", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile),
		chromedp.Navigate(env.URL+"/console/policies/new"), chromedp.WaitVisible(chromedp.ID("policy-form")))
	if !run(tb, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)) {
		t.Error("the form scrolls sideways on a 375 px screen")
	}
	tb.do("wide", chromedp.EmulateViewport(1280, 1000))

	// The invalid form answered 400 (the browser logs it as a failed
	// load); anything else, a CSP violation or a script error, is a defect.
	var other []string
	for _, e := range tb.errors() {
		if strings.Contains(e, "status of 400") && strings.HasSuffix(e, "/console/policies/new)") {
			continue
		}
		other = append(other, e)
	}
	if len(other) > 0 {
		t.Errorf("browser errors:\n%s", strings.Join(other, "\n"))
	}
}
