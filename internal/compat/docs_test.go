package compat_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// curl sends these besides the -H headers of an example.
var curl = map[string]string{"User-Agent": "curl/7.88.1", "Accept": "*/*"}

// The template of LivePerson's Functions documentation, "Working with
// Context Session Store" (LivePersonInc/developer-center,
// pages/Documents/DeveloperTools/LivePersonFunctions, permalink
// liveperson-functions-development-best-practices.html): the toolbelt's
// HTTPClient (request-promise) with json: true, which sends the body as
// JSON and asks for JSON back, on faas-demo-namespace without a session.
func TestFunctionsDocsContextSessionStore(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, false)
	mavenAPI := env.URL + "/v1/account/" + acct.AccountID + "/faas-demo-namespace/properties"
	rp := map[string]string{"maven-api-key": acct.APIKey, "accept": "application/json", "content-type": "application/json"}

	x := send(t, "PATCH", mavenAPI, rp, []byte(`{"agentNotes":"prefers email","lastTopic":"billing"}`))
	expect(t, x, "Save data (PATCH)", 204)
	x = send(t, "GET", mavenAPI, map[string]string{"maven-api-key": acct.APIKey, "accept": "application/json"}, nil)
	expect(t, x, "Get data (GET, simple: true)", 200)
	var got map[string]any
	x.json(t, &got)
	if d := cmp.Diff(map[string]any{"agentNotes": "prefers email", "lastTopic": "billing"}, got); d != "" {
		t.Fatalf("Get data (-want +got):\n%s", d)
	}
}

// ttlMillis is the ttl of the v2 method page's answers:
// "2021-05-11T22:37:39.176Z".
var ttlMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// The curl examples of "Conversation Context Service — Methods v2"
// (LivePersonInc/developer-center,
// pages/Documents/ConversationalAI/ConversationOrchestrator/ConversationContextService/methods-v2.md):
// the token as ?access_token=, the account as le12345678, and answers that
// echo it so.
func TestContextServiceV2DocsExamples(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	token := env.Login(t, acct)
	le := "le" + acct.AccountID
	h := merge(curl, map[string]string{"accept": "application/json", "Content-Type": "application/json"})
	q := "?access_token=" + token
	call := func(method, path, body string, status int) map[string]any {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		hdr := h
		if body == "" {
			hdr = merge(curl, map[string]string{"accept": "application/json"})
		}
		x := send(t, method, env.URL+path+q, hdr, b)
		expect(t, x, method+" "+path, status)
		var v map[string]any
		x.json(t, &v)
		return v
	}

	// Save Properties: 201 with the key and tenant as written.
	got := call("POST", "/v2/context/document/create",
		`{"accountId":"`+le+`","nameSpace":"myNamespace","sessionId":"mySessionId","ttlSeconds":3600,"payload":{"property1":100,"Property2":"abc"}}`, 201)
	if d := cmp.Diff(map[string]any{"documentKey": le + ":myNamespace:mySessionId", "tenantId": le, "success": true}, got); d != "" {
		t.Errorf("create (-want +got):\n%s", d)
	}
	call("POST", "/v2/context/document/create",
		`{"accountId":"`+le+`","nameSpace":"myNamespace","ttlSeconds":3600,"payload":{"property1":100,"Property2":"abc"}}`, 201)

	// Retrieve all properties within a namespace, then a session.
	for _, tc := range []struct{ path, key, sid string }{
		{"/v2/context/document/" + le + "/myNamespace", le + ":myNamespace:", ""},
		{"/v2/context/document/" + le + "/myNamespace/mySessionId", le + ":myNamespace:mySessionId", "mySessionId"},
	} {
		got := call("GET", tc.path, "", 200)
		ttl, _ := got["ttl"].(string)
		if !ttlMillis.MatchString(ttl) {
			t.Errorf("GET %s: ttl %q, want RFC 3339 UTC with milliseconds like 2021-05-11T22:37:39.176Z", tc.path, got["ttl"])
		}
		delete(got, "ttl")
		want := map[string]any{"accountId": le, "documentKey": tc.key, "documentType": "CONTEXT", "nameSpace": "myNamespace",
			"payload": map[string]any{"property1": 100.0, "Property2": "abc"}, "tenantId": le}
		if tc.sid != "" {
			want["sessionId"] = tc.sid
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("GET %s (-want +got):\n%s", tc.path, d)
		}
	}

	// Read specific properties. (The page's example filters
	// "myNamespace.property2" for a property it saved as "Property2";
	// names are case-sensitive, so the replay asks for the saved name.)
	got = call("POST", "/v2/context/document/properties",
		`{"accountId":"`+le+`","nameSpace":"myNamespace","sessionId":"mySessionId","filter":["myNamespace.property1","myNamespace.Property2"]}`, 200)
	if d := cmp.Diff(map[string]any{"myNamespace.property1": 100.0, "myNamespace.Property2": "abc"}, got); d != "" {
		t.Errorf("properties (-want +got):\n%s", d)
	}

	// Delete properties, then the whole document.
	want := map[string]any{"documentKey": le + ":myNamespace:mySessionId", "tenantId": le, "success": true}
	got = call("DELETE", "/v2/context/document/property/delete",
		`{"accountId":"`+le+`","nameSpace":"myNamespace","sessionId":"mySessionId","propertyToDelete":["property1"]}`, 200)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("property/delete (-want +got):\n%s", d)
	}
	got = call("DELETE", "/v2/context/document/delete", `{"accountId":"`+le+`","nameSpace":"myNamespace","sessionId":"mySessionId"}`, 200)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("document/delete (-want +got):\n%s", d)
	}
	call("GET", "/v2/context/document/"+le+"/myNamespace/mySessionId", "", 404)

	// The same account written without the prefix is echoed without it.
	got = call("POST", "/v2/context/document/create",
		`{"accountId":"`+acct.AccountID+`","nameSpace":"myNamespace","payload":{"p":1}}`, 201)
	if got["tenantId"] != acct.AccountID || got["documentKey"] != acct.AccountID+":myNamespace:" {
		t.Errorf("create without le: %v, want tenantId %s", got, acct.AccountID)
	}
}

// v1 policies and next actions, as "Next Actions API — Methods v1"
// (LivePersonInc/developer-center,
// pages/Documents/ConversationalAI/ConversationOrchestrator/NextActionsAPI/methods-v1.md)
// calls them: GET with conversationId, consumerId and groupId, the
// variables set in the session named by groupId; the AskMaven page's
// userId for consumerId.
func TestNextActionsV1Docs(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	token := env.Login(t, acct)
	a := acct.AccountID
	v2 := func(method, path, body string, status int) {
		t.Helper()
		x := send(t, method, env.URL+path+"?access_token="+token, merge(curl, map[string]string{"accept": "application/json", "Content-Type": "application/json"}), []byte(body))
		expect(t, x, method+" "+path, status)
	}
	// Static attributes and a policy whose actions read variables.
	v2("PUT", "/v2/config/attributes/"+a, `{"vipSkill":"777","tier":"gold"}`, 200)
	v2("POST", "/v2/config/create", `{"accountId":"`+a+`","policy":{"name":"This is VIP rule","enabled":true,
		"conditions":[{"property":"orchestrator.intent","type":"EQUAL","value":"billing"}],
		"actions":[{"type":"TRANSFER_TO_AGENT","payload":{"agentId":"{{orchestrator.agent}}","fallbackSkillId":"{{custom.vipSkill}}"}},
		           {"type":"SEND_MESSAGE","payload":{"text":"hello {{orchestrator.name}}, you are {{custom.tier}}"}}]}}`, 201)
	v2("POST", "/v2/config/create", `{"accountId":"`+a+`","policy":{"name":"by consumer","enabled":true,
		"conditions":[{"property":"conversation.consumerId","type":"EQUAL","value":"consumer-9"}],
		"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"9"}}]}}`, 201)

	// The bot stores what it learnt in the group's session.
	x := send(t, "PATCH", env.URL+"/v1/account/"+a+"/orchestrator/mygroupId/properties",
		merge(curl, map[string]string{"maven-api-key": acct.APIKey, "Content-Type": "application/json"}),
		[]byte(`{"intent":"billing","agent":"g23hasd234","name":"Ada"}`))
	expect(t, x, "PATCH the group session", 204)

	ask := func(query string) map[string]any {
		t.Helper()
		x := send(t, "GET", env.URL+"/v1/account/"+a+"/next-actions?"+query, merge(curl, map[string]string{"accept": "*/*", "maven-api-key": acct.APIKey}), nil)
		expect(t, x, "next-actions?"+query, 200)
		var v map[string]any
		x.json(t, &v)
		if id, _ := v["nextActionId"].(string); id == "" {
			t.Errorf("next-actions?%s: no nextActionId in %s", query, x.body)
		}
		return v
	}
	got := ask("conversationId=myconversationId&consumerId=myconsumerId&groupId=mygroupId")
	rule, _ := got["rule"].(map[string]any)
	if rule == nil || rule["name"] != "This is VIP rule" {
		t.Fatalf("groupId session: rule %v, want the VIP rule (answer %v)", got["rule"], got)
	}
	wantActions := []any{
		map[string]any{"type": "TRANSFER_TO_AGENT", "payload": map[string]any{"agentId": "g23hasd234", "fallbackSkillId": "777"}},
		map[string]any{"type": "SEND_MESSAGE", "payload": map[string]any{"text": "hello Ada, you are gold"}},
	}
	if d := cmp.Diff(wantActions, rule["actions"]); d != "" {
		t.Errorf("actions with variables (-want +got):\n%s", d)
	}
	// Without groupId the session is the conversation, which knows nothing.
	got = ask("conversationId=mygroupId-not&consumerId=myconsumerId")
	if got["rule"] != nil || got["noMatchReason"] != "NO_MATCHED_RULES" {
		t.Errorf("no groupId: %v, want rule null and NO_MATCHED_RULES", got)
	}
	// groupId absent, conversationId names the session: the same match.
	got = ask("conversationId=mygroupId")
	if r, _ := got["rule"].(map[string]any); r == nil || r["name"] != "This is VIP rule" {
		t.Errorf("conversationId as the session: %v, want the VIP rule", got)
	}
	// userId is the consumerId.
	got = ask("conversationId=c2&userId=consumer-9")
	if r, _ := got["rule"].(map[string]any); r == nil || r["name"] != "by consumer" {
		t.Errorf("userId=consumer-9: %v, want the rule on conversation.consumerId", got)
	}
}

// "Next Actions API — Methods v2" (LivePersonInc/developer-center,
// pages/Documents/ConversationalAI/ConversationOrchestrator/NextActionsAPI/methods-v2.md):
// its curl body carries lpToken, which we do not use but must accept;
// conversation.* variables come from the body's "conversation" object
// (SPEC §6).
func TestNextActionsV2Docs(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	token := env.Login(t, acct)
	le := "le" + acct.AccountID
	h := merge(curl, map[string]string{"accept": "application/json", "Content-Type": "application/json"})
	post := func(path, body string, status int) exchange {
		t.Helper()
		x := send(t, "POST", env.URL+path+"?access_token="+token, h, []byte(body))
		expect(t, x, "POST "+path, status)
		return x
	}
	post("/v2/config/create", `{"accountId":"`+le+`","policy":{"name":"idle","enabled":true,
		"conditions":[{"property":"conversation.minutesSincePreviousMessage","type":"GREATER_THAN","value":10}],
		"actions":[{"type":"SEND_MESSAGE","payload":{"message":"TEST Hello World"}}]}}`, 201)

	body := func(extra string) string {
		return `{"accountId":"` + le + `","customerId":"myCustomerId","sessionId":"mySessionId","conversationId":"myConversationId","lpToken":"Bearer myToken"` + extra + `}`
	}
	var got []any
	post("/v2/policy/nextaction", body(`,"conversation":{"minutesSincePreviousMessage":12,"previousAgentId":"a1"}`), 200).json(t, &got)
	want := []any{map[string]any{"payload": map[string]any{"message": "TEST Hello World"}, "type": "SEND_MESSAGE"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("minutesSincePreviousMessage 12 (-want +got):\n%s", d)
	}
	post("/v2/policy/nextaction", body(`,"conversation":{"minutesSincePreviousMessage":5}`), 200).json(t, &got)
	if len(got) != 0 {
		t.Errorf("minutesSincePreviousMessage 5: %v, want []", got)
	}
	// The page's own body, as its curl example sends it.
	x := post("/v2/policy/nextaction", body(""), 200)
	if strings.TrimSpace(string(x.body)) != "[]" {
		t.Errorf("the page's example: %s, want []", x.body)
	}
}
