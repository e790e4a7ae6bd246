package httpapi_test

import (
	"testing"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// TestStrictBodies: a misspelled field is refused with its path and
// nothing is saved (issue 20 item 2): a policy with "condition" instead
// of "conditions" would otherwise be saved without conditions and match
// every conversation.
func TestStrictBodies(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	c := &naClient{t: t, base: env.URL, token: env.Login(t, acct)}
	a := acct.AccountID

	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", "/v2/config/create", `{"accountId":"` + a + `","policy":{"name":"p","enabled":true,"condition":[{"property":"ns.x","type":"EQUAL","value":1}],"actions":[{"type":"SEND_MESSAGE","payload":{"message":"hi"}}]}}`,
			"policy.condition: unknown field"},
		{"POST", "/v2/config/create", `{"accountId":"` + a + `","policy":{"name":"p","conditions":[{"property":"ns.x","typ":"EQUAL","value":1}],"actions":[]}}`,
			"policy.conditions[0].typ: unknown field"},
		{"POST", "/v2/config/create", `{"accountId":"` + a + `","policy":{"name":"p","conditions":[],"actions":[],"exception":{"conditions":[],"action":[]}}}`,
			"policy.exception.action: unknown field"},
		{"POST", "/v2/config/create", `{"accountID":"` + a + `","policies":{}}`, "policies: unknown field"},
		{"POST", "/v2/config/create", `{"policy":{"name":"p","conditions":[],"actions":[]}}`, "accountId: required"},
		{"POST", "/v2/context/document/create", `{"accountId":"` + a + `","nameSpace":"ns","ttlSecond":5,"payload":{"x":1}}`,
			"ttlSecond: unknown field"},
		{"POST", "/v2/context/document/create", `{"accountId":"` + a + `","payload":{"x":1}}`, "nameSpace: required"},
		{"POST", "/v2/policy/nextaction", `{"accountId":"` + a + `","conversationID":"c","sessionid":"s","convId":"c"}`,
			"convId: unknown field"},
		{"DELETE", "/v2/config/delete", `{"accountId":"` + a + `","policyId":"x"}`, "policyId: unknown field"},
	} {
		v := c.must(400, tc.method, tc.path, tc.body)
		if m, _ := v.(map[string]any)["message"].(string); m != tc.want {
			t.Errorf("%s %s: message %q, want %q", tc.method, tc.path, m, tc.want)
		}
	}
	if ps := c.must(200, "GET", "/v2/config/"+a, ""); len(ps.([]any)) != 0 {
		t.Errorf("policies saved from refused bodies: %v", ps)
	}
	if st, _ := c.call("GET", "/v2/context/document/"+a+"/ns", ""); st != 404 {
		t.Errorf("document saved from a refused body: status %d", st)
	}
	// User data stays free-form: payloads and condition values.
	c.must(201, "POST", "/v2/context/document/create", `{"accountId":"`+a+`","nameSpace":"ns","payload":{"any":{"thing":[{"x":1}]}}}`)
	c.must(201, "POST", "/v2/config/create", `{"accountId":"`+a+`","policy":{"name":"p","enabled":true,"conditions":[{"property":"ns.any","type":"EQUAL","value":{"thing":[{"x":1}]}}],"actions":[{"type":"SEND_MESSAGE","payload":{"message":"hi"}}]}}`)

	// Operator API bodies too.
	var out map[string]any
	if st := env.Admin(t, "POST", "/admin/v1/accounts", map[string]string{"name": "x", "authVerison": "v1"}, &out); st != 400 || out["message"] != "authVerison: unknown field" {
		t.Errorf("admin create with a misspelled field: %d %v", st, out)
	}
}
