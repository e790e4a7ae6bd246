package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// TestNextActionsVariablesEndToEnd is issue 15's acceptance for Next
// Actions: v1 next-actions reads variables of the groupId session (and
// takes userId for consumerId), a {{custom.vipSkill}} payload comes back
// substituted from the account's attributes, a policy on
// conversation.minutesSincePreviousMessage given in the v2 body matches,
// and an unresolved reference makes its policy ERROR in the log while the
// next one wins.
func TestNextActionsVariablesEndToEnd(t *testing.T) {
	clock := &naClock{now: time.Date(2026, 3, 10, 14, 30, 0, 0, time.UTC)}
	env := servertest.StartClock(t, clock.Now)
	acct := env.CreateAccount(t, true)
	a := acct.AccountID
	v2 := &naClient{t: t, base: env.URL, token: env.Login(t, acct)}
	v1 := &naClient{t: t, base: env.URL, apiKey: acct.APIKey}
	create := func(policy string) {
		t.Helper()
		v2.must(201, "POST", "/v2/config/create", `{"accountId":"`+a+`","policy":`+policy+`}`)
	}

	// Attributes: {} when none, PUT replaces the set and returns it.
	if diff := cmp.Diff(jsonOf(t, `{}`), v2.must(200, "GET", "/v2/config/attributes/"+a, "")); diff != "" {
		t.Errorf("attributes before PUT (-want +got):\n%s", diff)
	}
	v2.must(200, "PUT", "/v2/config/attributes/"+a, `{"old":1}`)
	got := v2.must(200, "PUT", "/v2/config/attributes/"+a, `{"vipSkill":42,"greeting":"Welcome"}`)
	if diff := cmp.Diff(jsonOf(t, `{"vipSkill":42,"greeting":"Welcome"}`), got); diff != "" {
		t.Errorf("PUT answer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(jsonOf(t, `{"vipSkill":42,"greeting":"Welcome"}`), v2.must(200, "GET", "/v2/config/attributes/"+a, "")); diff != "" {
		t.Errorf("attributes after PUT (-want +got):\n%s", diff)
	}

	// A malformed payload reference: 400 naming the field, nothing saved.
	st, body := v2.call("POST", "/v2/config/create", `{"accountId":"`+a+`","policy":{"name":"bad","conditions":[],
		"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"{{custom.vipSkill"}}]}}`)
	if msg, _ := body.(map[string]any)["message"].(string); st != 400 || !strings.HasPrefix(msg, "policy.actions[0].payload.skillId:") {
		t.Errorf("malformed reference: %d %v; want 400 naming policy.actions[0].payload.skillId", st, body)
	}
	if diff := cmp.Diff(jsonOf(t, `[]`), v2.must(200, "GET", "/v2/config/"+a, "")); diff != "" {
		t.Errorf("policies after a refused create (-want +got):\n%s", diff)
	}

	// 1. Idle conversations, from the v2 body, go to the previous agent;
	//    an unresolved reference (no previousAgentId) is ERROR.
	create(`{"id":"idle","name":"idle","conditions":[{"property":"conversation.minutesSincePreviousMessage","type":"GREATER_THAN","value":10}],
		"actions":[{"type":"TRANSFER_TO_AGENT","payload":{"agentId":"{{conversation.previousAgentId}}","fallbackSkillId":"{{custom.vipSkill}}"}}]}`)
	// 2. VIPs (CCS variable of the session) go to the VIP skill.
	create(`{"id":"vip","name":"vip","conditions":[{"property":"shop.tier","type":"EQUAL","value":"gold"}],
		"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"{{custom.vipSkill}}"}},
		{"type":"SEND_MESSAGE","payload":{"message":"{{custom.greeting}}, {{conversation.consumerId}} ({{shop.tier}})!"}}]}`)
	// 3. Known customers (sde from the v2 body).
	create(`{"id":"known","name":"known","conditions":[{"property":"sde.visitorinfo.customerinfo.customerid","type":"EQUAL","value":"c9"}],
		"actions":[{"type":"SEND_MESSAGE","payload":{"message":"hi {{sde.visitorinfo.customerinfo.customerid}}"}}]}`)
	// 4. Anyone else.
	create(`{"id":"rest","name":"rest","conditions":[],"actions":[{"type":"SEND_MESSAGE","payload":{"message":"hello"}}]}`)

	nextV2 := func(body string) any {
		t.Helper()
		return v2.must(200, "POST", "/v2/policy/nextaction", `{"accountId":"`+a+`"`+body+`}`)
	}

	// conversation.minutesSincePreviousMessage from the body matches.
	got = nextV2(`,"conversationId":"c1","conversation":{"minutesSincePreviousMessage":12,"previousAgentId":"a1","currentSkillId":"s1"}`)
	if diff := cmp.Diff(jsonOf(t, `[{"type":"TRANSFER_TO_AGENT","payload":{"agentId":"a1","fallbackSkillId":42}}]`), got); diff != "" {
		t.Errorf("idle conversation (-want +got):\n%s", diff)
	}
	rest := jsonOf(t, `[{"type":"SEND_MESSAGE","payload":{"message":"hello"}}]`)
	if diff := cmp.Diff(rest, nextV2(`,"conversationId":"c1","conversation":{"minutesSincePreviousMessage":3}`)); diff != "" {
		t.Errorf("active conversation (-want +got):\n%s", diff)
	}

	// Unresolved: idle is ERROR, and rest wins.
	if diff := cmp.Diff(rest, nextV2(`,"conversationId":"c2","conversation":{"minutesSincePreviousMessage":30}`)); diff != "" {
		t.Errorf("unresolved reference (-want +got):\n%s", diff)
	}
	logs := v2.must(200, "GET", "/v2/policy/logs/"+a+"?conversationId=c2", "").([]any)
	states := map[string]string{}
	for _, l := range logs {
		e := l.(map[string]any)
		states[e["policyId"].(string)] = e["state"].(string)
	}
	if diff := cmp.Diff(map[string]string{"idle": "ERROR", "vip": "FALSE", "known": "FALSE", "rest": "TRUE"}, states); diff != "" {
		t.Errorf("log of c2 (-want +got):\n%s", diff)
	}

	// sde.* from the body.
	got = nextV2(`,"conversationId":"c1","sde":{"visitorinfo":{"customerinfo":{"customerid":"c9"}}}`)
	if diff := cmp.Diff(jsonOf(t, `[{"type":"SEND_MESSAGE","payload":{"message":"hi c9"}}]`), got); diff != "" {
		t.Errorf("sde customer id (-want +got):\n%s", diff)
	}

	// v1: the VIP's variables live in the groupId session, userId is the
	// consumerId, and the payload is substituted (v1 shows message as
	// text).
	v2.must(201, "POST", "/v2/context/document/create", `{"accountId":"`+a+`","nameSpace":"shop","sessionId":"g1","payload":{"tier":"gold"}}`)
	r := v1.must(200, "GET", "/v1/account/"+a+"/next-actions?conversationId=c3&groupId=g1&userId=u1", "").(map[string]any)
	rule, _ := r["rule"].(map[string]any)
	if rule == nil || rule["id"] != "vip" {
		t.Fatalf("v1 with groupId g1 = %v, want rule vip", r)
	}
	if diff := cmp.Diff(jsonOf(t, `[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":42}},
		{"type":"SEND_MESSAGE","payload":{"text":"Welcome, u1 (gold)!"}}]`), rule["actions"]); diff != "" {
		t.Errorf("v1 actions (-want +got):\n%s", diff)
	}
	// consumerId wins over userId.
	r = v1.must(200, "GET", "/v1/account/"+a+"/next-actions?conversationId=c3&groupId=g1&userId=u1&consumerId=u2", "").(map[string]any)
	if acts := r["rule"].(map[string]any)["actions"].([]any); acts[1].(map[string]any)["payload"].(map[string]any)["text"] != "Welcome, u2 (gold)!" {
		t.Errorf("consumerId and userId: %v, want u2", acts)
	}
	// Without the groupId session, the VIP is not found.
	r = v1.must(200, "GET", "/v1/account/"+a+"/next-actions?conversationId=c3&userId=u1", "").(map[string]any)
	if rule, _ := r["rule"].(map[string]any); rule == nil || rule["id"] != "rest" {
		t.Errorf("v1 without groupId = %v, want rule rest", r)
	}

	// A PUT is seen by the next evaluation.
	v2.must(200, "PUT", "/v2/config/attributes/"+a, `{"vipSkill":"s7","greeting":"Hi"}`)
	r = v1.must(200, "GET", "/v1/account/"+a+"/next-actions?conversationId=c3&groupId=g1&userId=u1", "").(map[string]any)
	if diff := cmp.Diff(jsonOf(t, `[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"s7"}},
		{"type":"SEND_MESSAGE","payload":{"text":"Hi, u1 (gold)!"}}]`), r["rule"].(map[string]any)["actions"]); diff != "" {
		t.Errorf("after a new PUT (-want +got):\n%s", diff)
	}
}

// TestAttributesRequests: the attribute routes' errors.
func TestAttributesRequests(t *testing.T) {
	env := servertest.Start(t)
	mine, other := env.CreateAccount(t, true), env.CreateAccount(t, true)
	c := &naClient{t: t, base: env.URL, token: env.Login(t, mine)}
	a, o := mine.AccountID, other.AccountID
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"another account's", "GET", "/v2/config/attributes/" + o, "", 403},
		{"PUT another account's", "PUT", "/v2/config/attributes/" + o, `{}`, 403},
		{"not an object", "PUT", "/v2/config/attributes/" + a, `[1]`, 400},
		{"null", "PUT", "/v2/config/attributes/" + a, `null`, 400},
		{"bad name", "PUT", "/v2/config/attributes/" + a, `{"a\u0001":1}`, 400},
		{"too large", "PUT", "/v2/config/attributes/" + a, `{"a":"` + strings.Repeat("x", 64<<10) + `"}`, 413},
		{"empty object", "PUT", "/v2/config/attributes/" + a, `{}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			if st, body := c.call(tt.method, tt.path, tt.body); st != tt.status {
				t.Errorf("status %d (%v), want %d", st, body, tt.status)
			}
		})
	}
	anon := &naClient{t: t, base: env.URL}
	if st, _ := anon.call("GET", "/v2/config/attributes/"+a, ""); st != 403 {
		t.Errorf("no token: status %d, want 403", st)
	}
}
