package console

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/nextactions"
)

// FuzzPolicyForm runs what a posted policy form goes through before the
// store — reading, Add row, turning it into a policy, the service's
// validation with its error mapped back to a field, rendering the form
// again — on any urlencoded body: no panic, and the answer is the form
// (200 or 400), never a template failure.
func FuzzPolicyForm(f *testing.F) {
	for _, seed := range []string{
		"name=Billing&enabled=true&cond-rows=2&cond-0-property=orchestrator.intent&cond-0-type=EQUAL&cond-0-value=billing&action-rows=1&action-0-type=TRANSFER_TO_SKILL&action-0-payload=%7B%22skillId%22%3A42%7D",
		"expression=orchestrator.intent+%3D%3D&action-0-type=SEND_MESSAGE&action-0-payload=%7B%22message%22%3A%22hi%22%7D",
		"exc-cond-rows=999999999999999999999&exc-cond-0-value=%5B1%2C&exc-action-0-payload=%7B",
		"cond-rows=-3&action-rows=x&add=cond&cond-0-value=%7B%7Bns.v%7D%7D",
		"add=exc-action&exc-expression=1%2F0&name=%3Cscript%3E",
	} {
		f.Add(seed)
	}
	c := New(Config{Log: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return // readForm answers 400 before any of this
		}
		r := httptest.NewRequest("POST", "/console/policies/new", strings.NewReader(body))
		r.PostForm = form
		pf := readPolicyForm(r)
		if add := form.Get("add"); add != "" {
			pf.addRow(add)
		}
		p, errs, maps := pf.policy()
		problem := ""
		if len(errs) == 0 {
			if _, err := nextactions.Compile("policy", p); err != nil {
				if status, msg, _ := fault.Status(err); status == http.StatusBadRequest {
					problem = serviceError(msg, maps, errs)
				}
			}
		}
		w := httptest.NewRecorder()
		c.renderPolicyForm(w, r, http.StatusBadRequest, map[string]any{"Title": "New policy"}, pf, "", errs, problem)
		if w.Code != http.StatusBadRequest {
			t.Fatalf("the form rendered with status %d for %q:\n%s", w.Code, body, w.Body.String())
		}
	})
}

// FuzzTryForm: Try it's form, on any urlencoded body, is a request or
// field errors, never a panic; every field error names a field of the
// form.
func FuzzTryForm(f *testing.F) {
	for _, seed := range []string{
		"conversation=c1&session=s1&consumer=u1&conversation-attributes=%7B%22a%22%3A1%7D&sde-attributes=%7B%7D",
		"conversation=&conversation-attributes=%5B1%5D",
		"conversation=c1&sde-attributes=%7B%22x%22%3A1e999%7D",
		"conversation=%00%FF&conversation-attributes=%7B%22%5Cud800%22%3A1%7D",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		tf := newTryForm()
		req, ok := tf.parse(form, "123")
		if ok && req.AccountID != "123" {
			t.Fatalf("request for account %q, want the signed-in 123", req.AccountID)
		}
		ids := map[string]bool{}
		for _, fl := range tf.fields() {
			ids[fl.ID] = true
		}
		for _, e := range tf.errors() {
			if !ids[e.ID] {
				t.Fatalf("error %+v names no field of the form", e)
			}
		}
		if !ok && len(tf.errors()) == 0 {
			t.Fatalf("refused %q without a field error", body)
		}
	})
}
