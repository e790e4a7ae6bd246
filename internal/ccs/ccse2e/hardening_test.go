package ccse2e

import (
	"regexp"
	"testing"

	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// Reproductions of the 2026-12 security review (findings 3, 10 and 15),
// over loopback against a real server.

// TestOutOfRangeNumbersRefused pins finding 10: a number that does not
// fit a finite float64 is refused by every write path with 400 and is not
// stored (stored, it made every Next Actions evaluation answer 500).
func TestOutOfRangeNumbersRefused(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	v1, v2 := v1Client(t, env, a), v2Client(t, env, a)
	base := "/v1/account/" + a.AccountID
	const msg = "a number is out of range (it must fit a finite 64-bit float)"
	v1.expect("v1 PATCH", "PATCH", base+"/numz/properties", `{"n":1e999999999}`, 400, `{"message":"request body: `+msg+`"}`)
	v1.expect("v1 PATCH session, nested", "PATCH", base+"/numz/s/properties", `{"n":{"deep":[1, -1E400]}}`, 400, `{"message":"request body: `+msg+`"}`)
	v1.expect("v1 PUT", "PUT", base+"/numz/properties/n", `2e308`, 400, `{"message":"request body: `+msg+`"}`)
	v2.expect("v2 create", "POST", "/v2/context/document/create", `{"accountId":"`+a.AccountID+`","nameSpace":"numz","payload":{"n":1e999999999}}`, 400, `{"message":"payload: `+msg+`"}`)
	v1.expect("nothing stored", "GET", base+"/numz/properties", "", 404, `{"message":"namespace \"numz\" not found"}`)
	v1.expect("the largest finite number is fine", "PUT", base+"/numz/properties/n", `1.7976931348623157e308`, 204, "")
	v1.expect("and underflow to 0", "PUT", base+"/numz/properties/m", `1e-999999999`, 204, "")
}

// TestInvalidUTF8Refused pins finding 15 (invalid UTF-8 stored and
// returned raw, or silently replaced): names and values in every write.
func TestInvalidUTF8Refused(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	v1, v2 := v1Client(t, env, a), v2Client(t, env, a)
	base := "/v1/account/" + a.AccountID
	create := func(rest string) string {
		return `{"accountId":"` + a.AccountID + `","nameSpace":"u8"` + rest + `}`
	}
	v1.expect("v1 PATCH, raw byte in a value", "PATCH", base+"/u8/properties", "{\"v\":\"a\xffb\"}", 400, `{"message":"request body: invalid UTF-8"}`)
	v1.expect("v1 PATCH, raw byte in a name", "PATCH", base+"/u8/properties", "{\"a\xff\":1}", 400, `{"message":"request body: invalid UTF-8"}`)
	v1.expect("v1 PATCH, lone surrogate", "PATCH", base+"/u8/properties", `{"v":"\ud800"}`, 400, "-")
	v1.expect("v1 PUT, raw byte in a value", "PUT", base+"/u8/properties/p", "\"\xc3\"", 400, `{"message":"request body: invalid UTF-8"}`)
	v1.expect("v1 PUT to a property path with %FF", "PUT", base+"/u8/properties/%FF", `1`, 400, `{"message":"property name: must be 1 to 256 printable characters"}`)
	v1.expect("v1 PATCH to a session path with %C3%28", "PATCH", base+"/u8/%C3%28/properties", `{"a":1}`, 400, `{"message":"sessionId: must be 1 to 256 printable characters"}`)
	v1.expect("v1 create session, raw byte in its id", "POST", base+"/namespace/u8/session", "{\"sessionId\":\"s\xff\"}", 400, `{"message":"request body: invalid UTF-8"}`)
	v2.expect("v2 create, raw byte in a value", "POST", "/v2/context/document/create", create(",\"payload\":{\"v\":\"\xe2\x82\"}"), 400, `{"message":"request body: invalid UTF-8"}`)
	v2.expect("v2 create, raw byte in the session id", "POST", "/v2/context/document/create", create(",\"sessionId\":\"s\xff\",\"payload\":{\"v\":1}"), 400, `{"message":"request body: invalid UTF-8"}`)
	v2.expect("v2 create, lone surrogate in the session id", "POST", "/v2/context/document/create", create(`,"sessionId":"s\udfff","payload":{"v":1}`), 400, "-")
	v1.expect("nothing stored", "GET", base+"/u8/properties", "", 404, `{"message":"namespace \"u8\" not found"}`)
	v1.expect("no namespace either", "GET", base, "", 200, `[]`)
	v1.expect("valid non-ASCII is fine", "PATCH", base+"/u8/properties", `{"é":"日本 \ud83d\ude00"}`, 204, "")
	v1.expect("and reads back", "GET", base+"/u8/properties", "", 200, `{"é":"日本 😀"}`)
}

// TestReservedNamespacesAnyCase pins finding 15: "Consumer" was writable.
func TestReservedNamespacesAnyCase(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	v1, v2 := v1Client(t, env, a), v2Client(t, env, a)
	base := "/v1/account/" + a.AccountID
	for _, ns := range []string{"Consumer", "OPERATIONAL", "Conversation", "fAAs", "Custom", "SDE"} {
		v1.expect("v1 create "+ns, "POST", base, `{"name":"`+ns+`"}`, 400, `{"message":"name: \"`+ns+`\" is reserved"}`)
		v1.expect("v1 PATCH "+ns, "PATCH", base+"/"+ns+"/properties", `{"a":1}`, 400, `{"message":"namespace: \"`+ns+`\" is reserved"}`)
		v1.expect("v1 PUT "+ns, "PUT", base+"/"+ns+"/s/properties/a", `1`, 400, `{"message":"namespace: \"`+ns+`\" is reserved"}`)
		v1.expect("v1 DELETE "+ns, "DELETE", base+"/"+ns, "", 400, `{"message":"namespace: \"`+ns+`\" is reserved"}`)
		v2.expect("v2 create "+ns, "POST", "/v2/context/document/create", `{"accountId":"`+a.AccountID+`","nameSpace":"`+ns+`","payload":{"a":1}}`, 400, `{"message":"nameSpace: \"`+ns+`\" is reserved"}`)
		v2.expect("v2 delete "+ns, "DELETE", "/v2/context/document/delete", `{"accountId":"`+a.AccountID+`","nameSpace":"`+ns+`"}`, 400, `{"message":"nameSpace: \"`+ns+`\" is reserved"}`)
	}
	v1.expect("none created", "GET", base, "", 200, `[]`)
	v1.expect("hyphens are allowed (SPEC §5)", "PATCH", base+"/faas-demo-namespace/properties", `{"a":1}`, 204, "")
	v2.expect("also in v2", "POST", "/v2/context/document/create", `{"accountId":"`+a.AccountID+`","nameSpace":"faas-demo-namespace","sessionId":"s","payload":{"b":2}}`, 201, "-")
	v1.expect("read through v1", "GET", base+"/faas-demo-namespace/s/properties", "", 200, `{"b":2}`)
}

// goName matches what encoding/json's messages show of Go: struct and
// type names.
var goName = regexp.MustCompile(`v2Doc|policyBody|nextactions|\bGo\b|\bint(64)?\b|float64|\*|\[\]|map\[|struct`)

// TestErrorsNameJSONFields pins finding 15: a 400 named Go types
// ("field v2Doc.accountId").
func TestErrorsNameJSONFields(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	v2 := v2Client(t, env, a)
	for _, tc := range []struct{ path, body, field string }{
		{"/v2/context/document/create", `{"accountId":5,"nameSpace":"ns","payload":{}}`, "accountId"},
		{"/v2/context/document/create", `{"accountId":"` + a.AccountID + `","nameSpace":"ns","ttlSeconds":"x","payload":{}}`, "ttlSeconds"},
		{"/v2/context/document/properties", `{"accountId":"` + a.AccountID + `","nameSpace":"ns","filter":[1]}`, "filter"},
		{"/v2/config/create", `{"accountId":"` + a.AccountID + `","policy":{"name":5}}`, "policy.name"},
		{"/v2/config/create", `{"accountId":"` + a.AccountID + `","policy":[]}`, "policy"},
	} {
		st, body := v2.do("POST", tc.path, tc.body)
		if st != 400 {
			t.Errorf("%s %s: status %d, want 400: %s", tc.path, tc.body, st, body)
			continue
		}
		if !regexp.MustCompile(`"message":"` + regexp.QuoteMeta(tc.field) + `: `).MatchString(body) {
			t.Errorf("%s %s: %s, want a message that starts with the JSON field %q", tc.path, tc.body, body, tc.field)
		}
		if m := goName.FindString(body); m != "" {
			t.Errorf("%s %s: %s names Go (%q)", tc.path, tc.body, body, m)
		}
	}
}

// TestAccountQuotaOverHTTP pins finding 3 (Context Service part) through
// the real server on loopback, with a small quota set by its flag.
func TestAccountQuotaOverHTTP(t *testing.T) {
	env := servertest.Start(t, func(c *config.Serve) { c.AccountMaxProperties = 3 })
	a := env.CreateAccount(t, true)
	v1 := &client{t: t, url: env.URL, header: "maven-api-key", value: a.APIKey}
	v2 := &client{t: t, url: env.URL, header: "Authorization", value: "Bearer " + env.Login(t, a)}
	base := "/v1/account/" + a.AccountID
	const over = `{"message":"account storage quota exceeded"}`
	v1.expect("three properties", "PATCH", base+"/q/properties", `{"a":1,"b":2,"c":3}`, 204, "")
	v1.expect("a fourth by PATCH", "PATCH", base+"/q/s/properties", `{"d":4}`, 413, over)
	v1.expect("a fourth by PUT", "PUT", base+"/q/properties/d", `4`, 413, over)
	v2.expect("a fourth by v2 create", "POST", "/v2/context/document/create", `{"accountId":"`+a.AccountID+`","nameSpace":"q2","payload":{"d":4}}`, 413, over)
	v1.expect("nothing of them saved", "GET", base+"/q/properties", "", 200, `{"a":1,"b":2,"c":3}`)
	v1.expect("no session s", "GET", base+"/q/session-ids", "", 200, `["__default__"]`)
	v1.expect("no namespace q2", "GET", base+"/q2/properties", "", 404, `{"message":"namespace \"q2\" not found"}`)
	v1.expect("replacing one is fine", "PUT", base+"/q/properties/a", `"new"`, 204, "")
	v1.expect("a delete releases quota", "DELETE", base+"/q/properties/b", "", 204, "")
	v2.expect("so v2 create fits", "POST", "/v2/context/document/create", `{"accountId":"`+a.AccountID+`","nameSpace":"q2","payload":{"d":4}}`, 201, "-")
}
