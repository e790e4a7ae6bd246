package httpapi_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// naClient calls the server over loopback with either credential.
type naClient struct {
	t      *testing.T
	base   string
	token  string // v2
	apiKey string // v1
}

// call sends a request and returns the status and the decoded JSON body.
func (c *naClient) call(method, path, body string) (int, any) {
	c.t.Helper()
	st, b, _ := c.raw(method, path, body)
	var v any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			c.t.Fatalf("%s %s: body %q is not JSON: %v", method, path, b, err)
		}
	}
	return st, v
}

// must calls and fails the test unless the status is want.
func (c *naClient) must(want int, method, path, body string) any {
	c.t.Helper()
	st, v := c.call(method, path, body)
	if st != want {
		c.t.Fatalf("%s %s: status %d (%v), want %d", method, path, st, v, want)
	}
	return v
}

func jsonOf(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

type naClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *naClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *naClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestNextActionsEndToEnd is the acceptance: a billing policy with
// a VIP exception gives the right actions on v1 and v2 as the context
// changes, and an invalid expression is refused naming it.
func TestNextActionsEndToEnd(t *testing.T) {
	// Tuesday 10:30 in New York.
	clock := &naClock{now: time.Date(2026, 3, 10, 14, 30, 0, 0, time.UTC)}
	env := servertest.StartClock(t, clock.Now)
	acct := env.CreateAccount(t, true)
	a := acct.AccountID
	v2 := &naClient{t: t, base: env.URL, token: env.Login(t, acct)}
	v1 := &naClient{t: t, base: env.URL, apiKey: acct.APIKey}

	nextV1 := func(query string) any { return v1.must(200, "GET", "/v1/account/"+a+"/next-actions?"+query, "") }
	nextV2 := func(body string) any {
		return v2.must(200, "POST", "/v2/policy/nextaction", `{"accountId":"`+a+`"`+body+`}`)
	}

	// No policies yet.
	got := nextV1("conversationId=c1").(map[string]any)
	if got["rule"] != nil || got["noMatchReason"] != "NO_POLICIES_ENABLED" || got["nextActionId"] == "" {
		t.Errorf("v1 without policies = %v", got)
	}
	if diff := cmp.Diff(jsonOf(t, `[]`), nextV2(`,"conversationId":"c1"`)); diff != "" {
		t.Errorf("v2 without policies (-want +got):\n%s", diff)
	}

	// An invalid expression: 400 naming expression, nothing saved.
	st, body := v2.call("POST", "/v2/config/create", `{"accountId":"`+a+`","policy":{"name":"bad","conditions":[],"expression":"orchestrator.intent == ","actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"42"}}]}}`)
	if msg, _ := body.(map[string]any)["message"].(string); st != 400 || !strings.Contains(msg, "expression") {
		t.Errorf("invalid expression: %d %v; want 400 naming expression", st, body)
	}
	st, body = v2.call("POST", "/v2/config/create", `{"accountId":"`+a+`","policy":{"name":"bad","conditions":[{"property":"orchestrator.intent","type":"LIKE","value":"x"}],"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"42"}}]}}`)
	if msg, _ := body.(map[string]any)["message"].(string); st != 400 || !strings.Contains(msg, "policy.conditions[0].type") {
		t.Errorf("unknown operator: %d %v; want 400 naming the condition's type", st, body)
	}
	if diff := cmp.Diff(jsonOf(t, `[]`), v2.must(200, "GET", "/v2/config/"+a, "")); diff != "" {
		t.Errorf("policies after invalid creates (-want +got):\n%s", diff)
	}

	// The billing policy with a VIP exception, and a business-hours
	// greeting after it.
	created := v2.must(201, "POST", "/v2/config/create", `{"accountId":"`+a+`","policy":{"name":"billing",
		"conditions":[{"property":"orchestrator.intent","type":"EQUAL","value":"billing"}],
		"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"42"}}],
		"exception":{"conditions":[],"expression":"vip.tier == 'gold'","actions":[{"type":"TRANSFER_TO_AGENT","payload":{"agentId":"7","fallbackSkillId":"42"}}]}}}`).(map[string]any)
	billingID, _ := created["id"].(string)
	if billingID == "" || created["enabled"] != true {
		t.Fatalf("created policy %v: want an id, enabled", created)
	}
	v2.must(201, "POST", "/v2/config/create", `{"accountId":"le`+a+`","policy":{"id":"hours","name":"hours","conditions":[],
		"expression":"isTimeRange('09:00:00','17:00:00','America/New_York',['MON','TUE','WED','THU','FRI'])",
		"actions":[{"type":"SEND_MESSAGE","payload":{"message":"We are open"}}]}}`)

	list := v2.must(200, "GET", "/v2/config/"+a, "").([]any)
	if len(list) != 2 || list[0].(map[string]any)["id"] != billingID || list[1].(map[string]any)["id"] != "hours" {
		t.Fatalf("list = %v, want billing then hours", list)
	}

	skill := `[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"42"}}]`
	agent := `[{"type":"TRANSFER_TO_AGENT","payload":{"agentId":"7","fallbackSkillId":"42"}}]`
	open := `[{"type":"SEND_MESSAGE","payload":{"message":"We are open"}}]`
	openV1 := `[{"type":"SEND_MESSAGE","payload":{"text":"We are open"}}]`
	ccsPut := func(ns, sid, payload string) {
		sess := ""
		if sid != "" {
			sess = `,"sessionId":"` + sid + `"`
		}
		v2.must(201, "POST", "/v2/context/document/create", `{"accountId":"`+a+`","nameSpace":"`+ns+`"`+sess+`,"payload":`+payload+`}`)
	}

	steps := []struct {
		name    string
		change  func()
		v2      string // expected v2 actions
		v1Rule  string // expected v1 rule id ("" none)
		v1      string // expected v1 actions
		clockTo time.Duration
	}{
		{"no context: business hours", func() {}, open, "hours", openV1, 0},
		{"billing intent in the conversation's session", func() { ccsPut("orchestrator", "c1", `{"intent":"billing"}`) }, skill, billingID, skill, 0},
		{"gold VIP at namespace level: exception", func() { ccsPut("vip", "", `{"tier":"gold"}`) }, agent, billingID, agent, 0},
		{"silver VIP in the session overrides", func() { ccsPut("vip", "c1", `{"tier":"silver"}`) }, skill, billingID, skill, 0},
		{"intent changes", func() { ccsPut("orchestrator", "c1", `{"intent":"sales"}`) }, open, "hours", openV1, 0},
		{"after hours: nothing", func() { clock.Add(10 * time.Hour) }, `[]`, "", "", 0},
	}
	for _, s := range steps {
		s.change()
		if diff := cmp.Diff(jsonOf(t, s.v2), nextV2(`,"conversationId":"c1"`)); diff != "" {
			t.Errorf("%s: v2 actions (-want +got):\n%s", s.name, diff)
		}
		r := nextV1("conversationId=c1&consumerId=u1").(map[string]any)
		if s.v1Rule == "" {
			if r["rule"] != nil || r["noMatchReason"] != "NO_MATCHED_RULES" {
				t.Errorf("%s: v1 = %v, want no rule, NO_MATCHED_RULES", s.name, r)
			}
			continue
		}
		rule, _ := r["rule"].(map[string]any)
		if rule == nil || rule["id"] != s.v1Rule {
			t.Errorf("%s: v1 rule = %v, want %s", s.name, r["rule"], s.v1Rule)
			continue
		}
		if diff := cmp.Diff(jsonOf(t, s.v1), rule["actions"]); diff != "" {
			t.Errorf("%s: v1 actions (-want +got):\n%s", s.name, diff)
		}
		if _, has := r["noMatchReason"]; has {
			t.Errorf("%s: v1 has noMatchReason with a rule: %v", s.name, r)
		}
	}

	// sessionId selects another session than the conversation's.
	ccsPut("orchestrator", "s2", `{"intent":"billing"}`)
	if diff := cmp.Diff(jsonOf(t, agent), nextV2(`,"conversationId":"c1","sessionId":"s2"`)); diff != "" {
		t.Errorf("sessionId s2 (-want +got):\n%s", diff)
	}

	// Update in place, then disable: the order stays.
	v2.must(200, "POST", "/v2/config/update", `{"accountId":"`+a+`","policy":{"id":"hours","name":"hours","enabled":false,"conditions":[],
		"actions":[{"type":"SEND_MESSAGE","payload":{"text":"closed"}}]}}`)
	got1 := v2.must(200, "GET", "/v2/config/"+a+"/hours", "").(map[string]any)
	if diff := cmp.Diff(jsonOf(t, `{"id":"hours","name":"hours","enabled":false,"conditions":[],"actions":[{"type":"SEND_MESSAGE","payload":{"message":"closed"}}]}`), any(got1)); diff != "" {
		t.Errorf("updated policy (-want +got):\n%s", diff)
	}
	st, _ = v2.call("POST", "/v2/config/update", `{"accountId":"`+a+`","policy":{"id":"hours","name":"x","expression":"not","actions":[{"type":"SEND_MESSAGE","payload":{"text":"x"}}]}}`)
	if st != 400 {
		t.Errorf("invalid update: status %d, want 400", st)
	}
	if g := v2.must(200, "GET", "/v2/config/"+a+"/hours", "").(map[string]any); g["name"] != "hours" {
		t.Errorf("an invalid update changed the policy: %v", g)
	}

	// The evaluation log of the conversation.
	logs := v2.must(200, "GET", "/v2/policy/logs/"+a+"?conversationId=c1", "").([]any)
	states := map[string]bool{}
	for _, l := range logs {
		e := l.(map[string]any)
		if e["conversationId"] != "c1" {
			t.Errorf("log entry of another conversation: %v", e)
		}
		states[e["state"].(string)] = true
	}
	for _, s := range []string{"TRUE", "FALSE"} {
		if !states[s] {
			t.Errorf("no %s entry in the log: %v", s, logs)
		}
	}
	nextV2(`,"conversationId":"c9"`)
	logs = v2.must(200, "GET", "/v2/policy/logs/"+a+"?conversationId=c9", "").([]any)
	if diff := cmp.Diff(jsonOf(t, `[
		{"time":"2026-03-11T00:30:00Z","conversationId":"c9","policyId":"`+billingID+`","state":"FALSE"},
		{"time":"2026-03-11T00:30:00Z","conversationId":"c9","policyId":"hours","state":"DISABLED"}]`), any(logs),
		// Entries of one evaluation share a time: compare as a set.
		cmpopts.SortSlices(func(x, y any) bool {
			return x.(map[string]any)["policyId"].(string) < y.(map[string]any)["policyId"].(string)
		})); diff != "" {
		t.Errorf("log of c9 (-want +got):\n%s", diff)
	}

	// Delete.
	v2.must(200, "DELETE", "/v2/config/delete", `{"accountId":"`+a+`","id":"hours"}`)
	v2.must(404, "DELETE", "/v2/config/delete", `{"accountId":"`+a+`","id":"hours"}`)
	v2.must(404, "GET", "/v2/config/"+a+"/hours", "")
}

// TestNextActionsAuthorization: each credential reaches only its account.
func TestNextActionsAuthorization(t *testing.T) {
	env := servertest.Start(t)
	mine, other := env.CreateAccount(t, true), env.CreateAccount(t, true)
	c := &naClient{t: t, base: env.URL, token: env.Login(t, mine)}
	a, o := mine.AccountID, other.AccountID
	policy := `"policy":{"name":"p","conditions":[],"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"1"}}]}`
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"create for another account", "POST", "/v2/config/create", `{"accountId":"` + o + `",` + policy + `}`, 403},
		{"create without accountId", "POST", "/v2/config/create", `{` + policy + `}`, 400},
		{"create without policy", "POST", "/v2/config/create", `{"accountId":"` + a + `"}`, 400},
		{"list another account", "GET", "/v2/config/" + o, "", 403},
		{"get another account", "GET", "/v2/config/" + o + "/x", "", 403},
		{"update another account", "POST", "/v2/config/update", `{"accountId":"` + o + `",` + policy + `}`, 403},
		{"delete another account", "DELETE", "/v2/config/delete", `{"accountId":"` + o + `","id":"x"}`, 403},
		{"next action for another account", "POST", "/v2/policy/nextaction", `{"accountId":"` + o + `"}`, 403},
		{"logs of another account", "GET", "/v2/policy/logs/" + o, "", 403},
		{"unknown policyId", "POST", "/v2/policy/nextaction", `{"accountId":"` + a + `","policyId":"nope"}`, 404},
		{"update without id", "POST", "/v2/config/update", `{"accountId":"` + a + `",` + policy + `}`, 400},
		{"malformed JSON", "POST", "/v2/config/create", `{"accountId":`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			if st, body := c.call(tt.method, tt.path, tt.body); st != tt.status {
				t.Errorf("status %d (%v), want %d", st, body, tt.status)
			}
		})
	}
	// Without a token, and a v1 key of another account.
	anon := &naClient{t: t, base: env.URL}
	if st, _ := anon.call("GET", "/v2/config/"+a, ""); st != 403 {
		t.Errorf("no token: status %d, want 403", st)
	}
	v1 := &naClient{t: t, base: env.URL, apiKey: other.APIKey}
	if st, _ := v1.call("GET", "/v1/account/"+a+"/next-actions", ""); st != 403 {
		t.Errorf("v1 key of another account: status %d, want 403", st)
	}
}
