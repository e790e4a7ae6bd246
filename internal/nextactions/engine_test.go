package nextactions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orchestrator/orchestrator/internal/fault"
)

// vars is a Lookup over a fixed set of variables given as JSON.
func vars(t testing.TB, m map[string]string) Lookup {
	t.Helper()
	decoded := map[string]any{}
	for k, v := range m {
		var x any
		if err := json.Unmarshal([]byte(v), &x); err != nil {
			t.Fatalf("variable %s: %v", k, err)
		}
		decoded[k] = x
	}
	return func(ns, name string) (any, bool, error) {
		v, ok := decoded[ns+"."+name]
		return v, ok, nil
	}
}

func decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

var skill42 = []Action{{Type: ActionTransferToSkill, Payload: map[string]any{"skillId": "42"}}}

func mustCompile(t testing.TB, p Policy) *Compiled {
	t.Helper()
	c, err := Compile("policy", p)
	if err != nil {
		t.Fatalf("Compile(%+v): %v", p, err)
	}
	return c
}

func TestOperators(t *testing.T) {
	tests := []struct {
		op    string
		left  string // the variable's JSON value; "" = missing
		right string // the condition's JSON value
		want  bool
	}{
		// EQUAL: strings, numbers, numeric strings, booleans, lists.
		{OpEqual, `"billing"`, `"billing"`, true},
		{OpEqual, `"billing"`, `"Billing"`, false},
		{OpEqual, `42`, `42`, true},
		{OpEqual, `42`, `42.0`, true},
		{OpEqual, `"42"`, `42`, true},
		{OpEqual, `42`, `"42"`, true},
		{OpEqual, `"042"`, `"42"`, false}, // two strings compare as strings
		{OpEqual, `"abc"`, `42`, false},
		{OpEqual, `true`, `true`, true},
		{OpEqual, `true`, `"true"`, true},
		{OpEqual, `false`, `true`, false},
		{OpEqual, `[1,"a"]`, `[1,"a"]`, true},
		{OpEqual, `{"a":1}`, `{"a":1}`, true},
		{OpEqual, `null`, `"x"`, false},
		{OpEqual, ``, `"billing"`, false},
		// NOT_EQUAL: the negation, except on a missing variable.
		{OpNotEqual, `"billing"`, `"sales"`, true},
		{OpNotEqual, `"billing"`, `"billing"`, false},
		{OpNotEqual, `"42"`, `42`, false},
		{OpNotEqual, ``, `"billing"`, false},
		// Ordering: numbers as numbers, strings as strings.
		{OpLessThan, `9`, `10`, true},
		{OpLessThan, `"9"`, `10`, true},
		{OpLessThan, `"9"`, `"10"`, true}, // both numeric: numbers
		{OpLessThan, `10`, `10`, false},
		{OpLessThan, `"apple"`, `"banana"`, true},
		{OpLessThan, `true`, `1`, false},
		{OpLessThan, `[1]`, `2`, false},
		{OpLessThan, ``, `10`, false},
		{OpLessThanOrEqual, `10`, `10`, true},
		{OpLessThanOrEqual, `10.5`, `10`, false},
		{OpGreaterThan, `100`, `20`, true},
		{OpGreaterThan, `"100"`, `"20"`, true},
		{OpGreaterThan, `"b"`, `"a"`, true},
		{OpGreaterThan, `-1`, `0`, false},
		{OpGreaterThanOrEqual, `0`, `0`, true},
		{OpGreaterThanOrEqual, `"x"`, `0`, false},
		// CONTAINS: substrings, list elements, object keys.
		{OpContains, `"I need a refund"`, `"refund"`, true},
		{OpContains, `"I need a refund"`, `"Refund"`, false},
		{OpContains, `"order 12345"`, `123`, true},
		{OpContains, `["gold","vip"]`, `"vip"`, true},
		{OpContains, `["gold","vip"]`, `"silver"`, false},
		{OpContains, `[1,2,3]`, `2`, true},
		{OpContains, `[1,2,3]`, `"2"`, true},
		{OpContains, `{"vip":true}`, `"vip"`, true},
		{OpContains, `42`, `4`, false},
		{OpContains, ``, `"x"`, false},
		// IS_IN: lists and comma lists.
		{OpIsIn, `"gold"`, `["gold","platinum"]`, true},
		{OpIsIn, `"silver"`, `["gold","platinum"]`, false},
		{OpIsIn, `"gold"`, `"gold, platinum"`, true},
		{OpIsIn, `"platinum"`, `"gold,platinum"`, true},
		{OpIsIn, `"gol"`, `"gold,platinum"`, false},
		{OpIsIn, `3`, `"1, 2, 3"`, true},
		{OpIsIn, `3`, `[1,2,3]`, true},
		{OpIsIn, `"3"`, `[1,2,3]`, true},
		{OpIsIn, `["x","gold"]`, `"gold,silver"`, true},
		{OpIsIn, `["x","y"]`, `"gold,silver"`, false},
		{OpIsIn, `true`, `[true]`, true},
		{OpIsIn, ``, `["gold"]`, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s", tt.op, tt.left, tt.right), func(t *testing.T) {
			m := map[string]string{}
			if tt.left != "" {
				m["ns.v"] = tt.left
			}
			c := mustCompile(t, Policy{ID: "p", Conditions: []Condition{{Property: "ns.v", Type: tt.op, Value: decode(t, tt.right)}}, Actions: skill42})
			res, err := Evaluate(context.Background(), []*Compiled{c}, vars(t, m), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Matched != nil; got != tt.want {
				t.Errorf("%s %s %s = %v, want %v", tt.left, tt.op, tt.right, got, tt.want)
			}
		})
	}
}

func TestReferenceValue(t *testing.T) {
	c := mustCompile(t, Policy{ID: "p", Conditions: []Condition{{Property: "order.total", Type: OpGreaterThan, Value: "{{ limits.max }}"}}, Actions: skill42})
	tests := []struct {
		name string
		vars map[string]string
		want bool
	}{
		{"above", map[string]string{"order.total": "150", "limits.max": "100"}, true},
		{"below", map[string]string{"order.total": "50", "limits.max": `"100"`}, false},
		{"reference missing", map[string]string{"order.total": "150"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Evaluate(context.Background(), []*Compiled{c}, vars(t, tt.vars), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Matched != nil; got != tt.want {
				t.Errorf("matched = %v, want %v", got, tt.want)
			}
		})
	}
	if diff := cmp.Diff([]string{"order.total", "limits.max"}, c.Vars()); diff != "" {
		t.Errorf("Vars() mismatch (-want +got):\n%s", diff)
	}
}

func TestExpressions(t *testing.T) {
	v := map[string]string{
		"orchestrator.intent": `"billing"`,
		"orchestrator.count":  `3`,
		"vip.tier":            `"gold"`,
		"vip.flags":           `["a","b"]`,
		"vip.on":              `true`,
		"profile.nested":      `{"city":"Paris"}`,
		"odd.name with space": `"yes"`,
	}
	tests := []struct {
		expr  string
		want  bool
		state string
	}{
		{"orchestrator.intent == 'billing'", true, StateTrue},
		{`orchestrator.intent == "billing"`, true, StateTrue},
		{"orchestrator.intent != 'billing'", false, StateFalse},
		{"orchestrator.intent == 'billing' and vip.tier == 'gold'", true, StateTrue},
		{"orchestrator.intent == 'sales' or vip.tier == 'gold'", true, StateTrue},
		{"not (vip.tier == 'gold')", false, StateFalse},
		{"orchestrator.count >= 3 and orchestrator.count < 4", true, StateTrue},
		{"orchestrator.count * 2 + 1 == 7", true, StateTrue},
		{"(orchestrator.count - 1) / 2 == 1", true, StateTrue},
		{"orchestrator.count % 2 == 1", true, StateTrue},
		{"vip.tier in ['gold', 'platinum']", true, StateTrue},
		{"'b' in vip.flags", true, StateTrue},
		{"vip.on", true, StateTrue},
		{"profile.nested.city == 'Paris'", true, StateTrue},
		{"odd['name with space'] == 'yes'", true, StateTrue},
		{"conversation.conversationId == 'c-1'", true, StateTrue},
		{"conversation.groupId == 'g-1'", true, StateTrue},
		// A missing variable makes the expression false, not an error.
		{"missing.var == 'x'", false, StateFalse},
		{"missing.var > 3", false, StateFalse},
		{"missing.var", false, StateFalse},
		{"not (missing.var > 3)", false, StateFalse},
		{"missing.var != 'x'", true, StateTrue},
		// Run-time failures on present values are errors.
		{"vip.tier > 3", false, StateError},
		{"orchestrator.intent", false, StateError},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			c := mustCompile(t, Policy{ID: "p", Expression: tt.expr, Actions: skill42})
			lookup := vars(t, v)
			withConv := func(ns, name string) (any, bool, error) {
				if ns == ConversationNamespace {
					switch name {
					case "conversationId":
						return "c-1", true, nil
					case "groupId":
						return "g-1", true, nil
					}
					return nil, false, nil
				}
				return lookup(ns, name)
			}
			res, err := Evaluate(context.Background(), []*Compiled{c}, withConv, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Matched != nil; got != tt.want {
				t.Errorf("matched = %v, want %v (trace %+v)", got, tt.want, res.Trace)
			}
			if got := res.Trace[0].State; got != tt.state {
				t.Errorf("state = %s, want %s (err %v)", got, tt.state, res.Trace[0].Err)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	ok := Policy{Name: "ok", Conditions: []Condition{{Property: "a.b", Type: OpEqual, Value: "x"}}, Actions: skill42}
	tests := []struct {
		name   string
		mutate func(p *Policy)
		field  string // the message must start with it
	}{
		{"unknown operator", func(p *Policy) { p.Conditions[0].Type = "EQUALS" }, "policy.conditions[0].type:"},
		{"property without namespace", func(p *Policy) { p.Conditions[0].Property = "intent" }, "policy.conditions[0].property:"},
		{"bad namespace", func(p *Policy) { p.Conditions[0].Property = "a-b.c" }, "policy.conditions[0].property:"},
		{"payload reference without namespace", func(p *Policy) {
			p.Actions = []Action{{Type: ActionTransferToSkill, Payload: map[string]any{"skillId": "{{vipSkill}}"}}}
		}, "policy.actions[0].payload.skillId:"},
		{"payload reference unterminated", func(p *Policy) {
			p.Actions = []Action{{Type: ActionSendMessage, Payload: map[string]any{"message": "hello {{orchestrator.name!"}}}
		}, "policy.actions[0].payload.message:"},
		{"payload closing braces alone", func(p *Policy) {
			p.Actions = []Action{{Type: ActionSendMessage, Payload: map[string]any{"message": "hello }} there"}}}
		}, "policy.actions[0].payload.message:"},
		{"payload nested braces", func(p *Policy) {
			p.Actions = []Action{{Type: ActionSendMessage, Payload: map[string]any{"message": "a {{x.{{y.z}}}}"}}}
		}, "policy.actions[0].payload.message:"},
		{"payload bad namespace", func(p *Policy) {
			p.Actions = []Action{{Type: ActionTransferToAgent, Payload: map[string]any{"agentId": "{{a-b.c}}"}}}
		}, "policy.actions[0].payload.agentId:"},
		{"exception payload reference", func(p *Policy) {
			p.Exception = &Exception{Conditions: []Condition{{Property: "vip.tier", Type: "EQUAL", Value: "g"}},
				Actions: []Action{{Type: ActionTransferToSkill, Payload: map[string]any{"skillId": "{{ x }}"}}}}
		}, "policy.exception.actions[0].payload.skillId:"},
		{"missing value", func(p *Policy) { p.Conditions[0].Value = nil }, "policy.conditions[0].value:"},
		{"malformed reference", func(p *Policy) { p.Conditions[0].Value = "{{intent}}" }, "policy.conditions[0].value:"},
		{"unclosed reference", func(p *Policy) { p.Conditions[0].Value = "{{a.b" }, "policy.conditions[0].value:"},
		{"no actions", func(p *Policy) { p.Actions = nil }, "policy.actions:"},
		{"bad action type", func(p *Policy) { p.Actions = []Action{{Type: "HANG_UP"}} }, "policy.actions[0].type:"},
		{"missing skillId", func(p *Policy) { p.Actions = []Action{{Type: ActionTransferToSkill, Payload: map[string]any{}}} }, "policy.actions[0].payload.skillId:"},
		{"bad skillId", func(p *Policy) {
			p.Actions = []Action{{Type: ActionTransferToSkill, Payload: map[string]any{"skillId": []any{}}}}
		}, "policy.actions[0].payload.skillId:"},
		{"unknown payload field", func(p *Policy) {
			p.Actions = []Action{{Type: ActionTransferToAgent, Payload: map[string]any{"agentId": "7", "color": "red"}}}
		}, "policy.actions[0].payload.color:"},
		{"empty message", func(p *Policy) {
			p.Actions = []Action{{Type: ActionSendMessage, Payload: map[string]any{"message": ""}}}
		}, "policy.actions[0].payload.message:"},
		{"expression syntax", func(p *Policy) { p.Expression = "a.b == " }, "policy.expression:"},
		{"expression unknown name", func(p *Policy) { p.Expression = "intent == 'x'" }, "policy.expression:"},
		{"expression not boolean", func(p *Policy) { p.Expression = "1 + 2" }, "policy.expression:"},
		{"expression unknown function", func(p *Policy) { p.Expression = "len(a.b) > 1" }, "policy.expression:"},
		{"expression predicate", func(p *Policy) { p.Expression = "all([1,2], {# > 0})" }, "policy.expression:"},
		{"expression range", func(p *Policy) { p.Expression = "3 in 1..1000000" }, "policy.expression:"},
		{"expression bad time zone", func(p *Policy) {
			p.Expression = "isTimeRange('09:00:00','17:00:00','Mars/Olympus',['MON'])"
		}, "policy.expression:"},
		{"expression bad time", func(p *Policy) { p.Expression = "isTimeRange('9am','17:00:00','UTC')" }, "policy.expression:"},
		{"expression bad date", func(p *Policy) { p.Expression = "isDateRange('2026-01-31','12/31/26','UTC')" }, "policy.expression:"},
		{"expression bad day", func(p *Policy) { p.Expression = "isTimeRange('09:00:00','17:00:00','UTC',['MOON'])" }, "policy.expression:"},
		{"expression bad variable", func(p *Policy) { p.Expression = "Var('conversation') == 1" }, "policy.expression:"},
		{"expression too long", func(p *Policy) { p.Expression = strings.Repeat("a.b == 1 or ", 400) + "true" }, "policy.expression:"},
		{"exception without conditions", func(p *Policy) { p.Exception = &Exception{Actions: skill42} }, "policy.exception.conditions:"},
		{"exception bad operator", func(p *Policy) {
			p.Exception = &Exception{Conditions: []Condition{{Property: "vip.tier", Type: "LIKE", Value: "g"}}, Actions: skill42}
		}, "policy.exception.conditions[0].type:"},
		{"exception expression", func(p *Policy) {
			p.Exception = &Exception{Expression: "vip.tier ==", Actions: skill42}
		}, "policy.exception.expression:"},
	}
	if _, err := Compile("policy", ok); err != nil {
		t.Fatalf("the base policy must compile: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			p.Conditions = append([]Condition(nil), ok.Conditions...)
			tt.mutate(&p)
			_, err := Compile("policy", p)
			if !errors.Is(err, fault.ErrInvalid) {
				t.Fatalf("Compile = %v, want a fault.ErrInvalid", err)
			}
			if !strings.HasPrefix(err.Error(), tt.field) {
				t.Errorf("error %q does not start with %q", err, tt.field)
			}
		})
	}
}

func TestNormalizeSendMessage(t *testing.T) {
	p := Policy{Actions: []Action{{Type: ActionSendMessage, Payload: map[string]any{"text": "hi"}}}}
	c := mustCompile(t, p)
	want := []Action{{Type: ActionSendMessage, Payload: map[string]any{"message": "hi"}}}
	if diff := cmp.Diff(want, c.Policy.Actions); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	if !c.Policy.IsEnabled() {
		t.Error("a policy without enabled must be enabled")
	}
}

func TestEvaluationOrder(t *testing.T) {
	off := false
	agent := []Action{{Type: ActionTransferToAgent, Payload: map[string]any{"agentId": "a1", "fallbackSkillId": "42"}}}
	msg := []Action{{Type: ActionSendMessage, Payload: map[string]any{"message": "hello"}}}
	billing := Condition{Property: "orchestrator.intent", Type: OpEqual, Value: "billing"}
	policies := []*Compiled{
		mustCompile(t, Policy{ID: "disabled", Enabled: &off, Actions: msg}), // would match everything
		mustCompile(t, Policy{ID: "sales", Conditions: []Condition{{Property: "orchestrator.intent", Type: OpEqual, Value: "sales"}}, Actions: msg}),
		mustCompile(t, Policy{ID: "billing", Conditions: []Condition{billing}, Actions: skill42,
			Exception: &Exception{Conditions: []Condition{{Property: "vip.tier", Type: OpEqual, Value: "gold"}}, Actions: agent}}),
		mustCompile(t, Policy{ID: "billing-too", Conditions: []Condition{billing}, Actions: msg}),
		Invalid(Policy{ID: "broken"}, errors.New("no longer compiles")),
		mustCompile(t, Policy{ID: "boom", Expression: "vip.tier > 1", Actions: msg}),
		mustCompile(t, Policy{ID: "fallback", Actions: msg}),
	}
	type trace struct{ ID, State string }
	tests := []struct {
		name      string
		vars      map[string]string
		matched   string
		actions   []Action
		exception bool
		trace     []trace
	}{
		{"first match wins", map[string]string{"orchestrator.intent": `"billing"`}, "billing", skill42, false,
			[]trace{{"disabled", StateDisabled}, {"sales", StateFalse}, {"billing", StateTrue}}},
		{"exception takes precedence", map[string]string{"orchestrator.intent": `"billing"`, "vip.tier": `"gold"`}, "billing", agent, true,
			[]trace{{"disabled", StateDisabled}, {"sales", StateFalse}, {"billing", StateTrue}}},
		{"exception not holding", map[string]string{"orchestrator.intent": `"billing"`, "vip.tier": `"silver"`}, "billing", skill42, false,
			[]trace{{"disabled", StateDisabled}, {"sales", StateFalse}, {"billing", StateTrue}}},
		{"invalid and failing policies are skipped", map[string]string{"vip.tier": `"gold"`}, "fallback", msg, false,
			[]trace{{"disabled", StateDisabled}, {"sales", StateFalse}, {"billing", StateFalse}, {"billing-too", StateFalse},
				{"broken", StateInvalid}, {"boom", StateError}, {"fallback", StateTrue}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Evaluate(context.Background(), policies, vars(t, tt.vars), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if res.Matched == nil || res.Matched.Policy.ID != tt.matched {
				t.Fatalf("matched %+v, want %s", res.Matched, tt.matched)
			}
			if diff := cmp.Diff(tt.actions, res.Actions); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if res.Exception != tt.exception {
				t.Errorf("exception = %v, want %v", res.Exception, tt.exception)
			}
			var got []trace
			for _, tr := range res.Trace {
				got = append(got, trace{tr.PolicyID, tr.State})
			}
			if diff := cmp.Diff(tt.trace, got); diff != "" {
				t.Errorf("trace (-want +got):\n%s", diff)
			}
			if res.Enabled != 6 {
				t.Errorf("enabled = %d, want 6", res.Enabled)
			}
		})
	}
}

func TestNoPoliciesEnabled(t *testing.T) {
	off := false
	res, err := Evaluate(context.Background(), []*Compiled{mustCompile(t, Policy{ID: "x", Enabled: &off, Actions: skill42})}, vars(t, nil), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched != nil || res.Enabled != 0 {
		t.Errorf("got matched %v, enabled %d; want none, 0", res.Matched, res.Enabled)
	}
}

func TestLookupFailureAborts(t *testing.T) {
	boom := errors.New("store down")
	c := mustCompile(t, Policy{ID: "p", Conditions: []Condition{{Property: "a.b", Type: OpEqual, Value: "x"}}, Actions: skill42})
	_, err := Evaluate(context.Background(), []*Compiled{c}, func(ns, name string) (any, bool, error) { return nil, false, boom }, time.Now())
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want %v", err, boom)
	}
	e := mustCompile(t, Policy{ID: "e", Expression: "a.b == 'x'", Actions: skill42})
	_, err = Evaluate(context.Background(), []*Compiled{e}, func(ns, name string) (any, bool, error) { return nil, false, boom }, time.Now())
	if !errors.Is(err, boom) {
		t.Errorf("expression: err = %v, want %v", err, boom)
	}
}

func TestTimeRanges(t *testing.T) {
	// Tuesday 2026-03-10 14:30:00 UTC is 10:30 in New York (EDT, UTC-4
	// since March 8) and 23:30 in Tokyo.
	tue := time.Date(2026, 3, 10, 14, 30, 0, 0, time.UTC)
	tests := []struct {
		expr string
		now  time.Time
		want bool
	}{
		{"isTimeRange('09:00:00','17:00:00','America/New_York',['MON','TUE','WED','THU','FRI'])", tue, true},
		{"isTimeRange('09:00:00','17:00:00','America/New_York',['SAT','SUN'])", tue, false},
		{"isTimeRange('09:00:00','17:00:00','America/New_York')", tue, true},
		{"isTimeRange('09:00:00','17:00:00','America/New_York',[])", tue, true},
		{"isTimeRange('09:00:00','17:00:00','Asia/Tokyo',['TUE'])", tue, false},
		{"isTimeRange('22:00:00','06:00:00','Asia/Tokyo',['TUE'])", tue, true}, // spans midnight
		{"isTimeRange('14:30:00','14:30:00','UTC')", tue, true},                // both ends included
		{"isTimeRange('14:30:01','15:00:00','UTC')", tue, false},
		// Before the DST change New York is UTC-5: 14:30 UTC is 09:30.
		{"isTimeRange('09:00:00','10:00:00','America/New_York')", time.Date(2026, 3, 6, 14, 30, 0, 0, time.UTC), true},
		{"isTimeRange('10:00:00','11:00:00','America/New_York')", time.Date(2026, 3, 6, 14, 30, 0, 0, time.UTC), false},
		// Days are the days of the time zone: Tuesday 23:30 UTC is Wednesday in Tokyo.
		{"isTimeRange('00:00:00','23:59:59','Asia/Tokyo',['WED'])", time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC), true},
		{"isDateRange('01/31/26','12/31/26','UTC')", tue, true},
		{"isDateRange('01/31/26','12/31/26','UTC',['MON'])", tue, false},
		{"isDateRange('03/11/26','12/31/26','UTC')", tue, false},
		{"isDateRange('03/11/26','12/31/26','Asia/Tokyo')", time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC), true},
		{"isDateRange('01/01/26','03/10/26','UTC')", tue, true},
		{"isDateRange('01/01/26','03/10/26','UTC') and isTimeRange('09:00:00','17:00:00','UTC')", tue, true},
	}
	for _, tt := range tests {
		t.Run(tt.expr+"@"+tt.now.Format(time.RFC3339), func(t *testing.T) {
			c := mustCompile(t, Policy{ID: "p", Expression: tt.expr, Actions: skill42})
			res, err := Evaluate(context.Background(), []*Compiled{c}, vars(t, nil), tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Matched != nil; got != tt.want {
				t.Errorf("matched = %v, want %v (trace %+v)", got, tt.want, res.Trace)
			}
		})
	}
}

func TestTimeRangeDynamicArgs(t *testing.T) {
	// Arguments that are variables are checked when the policy runs.
	c := mustCompile(t, Policy{ID: "p", Expression: "isTimeRange('09:00:00','17:00:00',store.tz)", Actions: skill42})
	now := time.Date(2026, 3, 10, 14, 30, 0, 0, time.UTC)
	res, err := Evaluate(context.Background(), []*Compiled{c}, vars(t, map[string]string{"store.tz": `"Europe/Paris"`}), now)
	if err != nil || res.Matched == nil {
		t.Fatalf("Europe/Paris: matched %v, err %v; want a match", res.Matched, err)
	}
	res, err = Evaluate(context.Background(), []*Compiled{c}, vars(t, map[string]string{"store.tz": `"Nowhere/Land"`}), now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched != nil || res.Trace[0].State != StateError {
		t.Errorf("bad zone: trace %+v, want ERROR", res.Trace)
	}
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := mustCompile(t, Policy{ID: "p", Actions: skill42})
	if _, err := Evaluate(ctx, []*Compiled{c}, vars(t, nil), time.Now()); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// BenchmarkEvaluate evaluates 100 policies of one account where only the
// last matches: the worst case of first-match-wins.
func BenchmarkEvaluate(b *testing.B) {
	var policies []*Compiled
	for i := range 100 {
		p := Policy{ID: fmt.Sprint(i), Actions: skill42,
			Conditions: []Condition{
				{Property: "orchestrator.intent", Type: OpEqual, Value: fmt.Sprintf("intent-%d", i)},
				{Property: "vip.level", Type: OpGreaterThanOrEqual, Value: float64(i % 5)},
			},
			Exception: &Exception{Conditions: []Condition{{Property: "vip.tier", Type: OpIsIn, Value: "gold,platinum"}}, Actions: skill42},
		}
		if i%2 == 0 {
			p.Expression = "isTimeRange('00:00:00','23:59:59','America/New_York',['MON','TUE','WED','THU','FRI','SAT','SUN']) and vip.tier != 'banned'"
		}
		policies = append(policies, mustCompile(b, p))
	}
	lookup := vars(b, map[string]string{"orchestrator.intent": `"intent-99"`, "vip.level": "7", "vip.tier": `"gold"`})
	now := time.Date(2026, 3, 10, 14, 30, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		res, err := Evaluate(context.Background(), policies, lookup, now)
		if err != nil || res.Matched == nil || res.Matched.Policy.ID != "99" {
			b.Fatalf("matched %v, err %v", res.Matched, err)
		}
	}
}
