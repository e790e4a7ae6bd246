package nextactions

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSubstitute(t *testing.T) {
	lookup := vars(t, map[string]string{
		"custom.vipSkill":      `42`,
		"custom.skillName":     `"42"`,
		"orchestrator.name":    `"Ada"`,
		"orchestrator.profile": `{"tier":"gold","n":[1,2]}`,
		"orchestrator.html":    `"<b>&</b>"`,
		"orchestrator.yes":     `true`,
	})
	tests := []struct {
		name    string
		payload map[string]any
		want    map[string]any
	}{
		{"whole reference: the JSON value", map[string]any{"skillId": "{{custom.vipSkill}}"}, map[string]any{"skillId": float64(42)}},
		{"whole reference to a string", map[string]any{"skillId": "{{custom.skillName}}"}, map[string]any{"skillId": "42"}},
		{"blanks around and inside", map[string]any{"skillId": " {{ custom.vipSkill }} "}, map[string]any{"skillId": float64(42)}},
		{"whole reference to an object", map[string]any{"agentId": "{{orchestrator.profile}}"},
			map[string]any{"agentId": map[string]any{"tier": "gold", "n": []any{float64(1), float64(2)}}}},
		{"inserted string as it is", map[string]any{"message": "hello {{orchestrator.name}}!"}, map[string]any{"message": "hello Ada!"}},
		{"inserted values as compact JSON", map[string]any{"message": "{{custom.vipSkill}}/{{orchestrator.yes}}/{{orchestrator.profile}}"},
			map[string]any{"message": `42/true/{"n":[1,2],"tier":"gold"}`}},
		{"no HTML escaping", map[string]any{"message": "x {{orchestrator.html}}"}, map[string]any{"message": "x <b>&</b>"}},
		{"nested values", map[string]any{"x": []any{"{{custom.vipSkill}}", map[string]any{"y": "a{{orchestrator.name}}"}}},
			map[string]any{"x": []any{float64(42), map[string]any{"y": "aAda"}}}},
		{"no reference", map[string]any{"message": "plain"}, map[string]any{"message": "plain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{lookup: lookup, budget: newBudget(context.Background(), EvalBudget), sets: map[string]*valueSet{}}
			got, err := e.substitute([]Action{{Type: "T", Payload: tt.payload}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got[0].Payload); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

// A policy whose payload names a missing variable is ERROR, and the next
// policy wins; the stored actions are not changed by substitution.
func TestSubstituteUnresolvedIsError(t *testing.T) {
	ref := mustCompile(t, Policy{ID: "ref", Actions: []Action{{Type: ActionSendMessage, Payload: map[string]any{"message": "hi {{custom.missing}}"}}}})
	next := mustCompile(t, Policy{ID: "next", Actions: []Action{{Type: ActionTransferToSkill, Payload: map[string]any{"skillId": "{{custom.vipSkill}}"}}}})
	res, err := Evaluate(context.Background(), []*Compiled{ref, next}, vars(t, map[string]string{"custom.vipSkill": `7`}), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched == nil || res.Matched.Policy.ID != "next" {
		t.Fatalf("matched %+v, want next", res.Matched)
	}
	if diff := cmp.Diff(map[string]any{"skillId": float64(7)}, res.Actions[0].Payload); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	if len(res.Trace) != 2 || res.Trace[0].State != StateError || !errors.Is(res.Trace[0].Err, errUnresolved) || res.Trace[1].State != StateTrue {
		t.Errorf("trace = %+v, want ERROR (unresolved) then TRUE", res.Trace)
	}
	if next.Policy.Actions[0].Payload["skillId"] != "{{custom.vipSkill}}" {
		t.Errorf("the compiled policy was changed: %v", next.Policy.Actions[0].Payload)
	}
	if diff := cmp.Diff([]string{"custom.missing", "custom.vipSkill"}, append(ref.Vars(), next.Vars()...)); diff != "" {
		t.Errorf("payload references are variables the policies read (-want +got):\n%s", diff)
	}
}

// The exception's actions are substituted when the exception holds.
func TestSubstituteException(t *testing.T) {
	c := mustCompile(t, Policy{ID: "p", Actions: skill42, Exception: &Exception{
		Conditions: []Condition{{Property: "vip.tier", Type: OpEqual, Value: "gold"}},
		Actions:    []Action{{Type: ActionTransferToAgent, Payload: map[string]any{"agentId": "{{vip.agent}}"}}},
	}})
	res, err := Evaluate(context.Background(), []*Compiled{c}, vars(t, map[string]string{"vip.tier": `"gold"`, "vip.agent": `"a9"`}), time.Now())
	if err != nil || !res.Exception || res.Actions[0].Payload["agentId"] != "a9" {
		t.Fatalf("res = %+v, %v; want the exception with agentId a9", res, err)
	}
}

// Substituted text is bounded like a string made by + in an expression:
// a string over MaxExprString is over MaxSubstituted too, and stops the
// evaluation as too expensive (it made the policy ERROR before the bound
// on the whole answer; a cost bound is 422, as for +).
func TestSubstituteBounded(t *testing.T) {
	big := `"` + strings.Repeat("x", MaxExprString/2+1) + `"`
	c := mustCompile(t, Policy{ID: "p", Actions: []Action{{Type: ActionSendMessage, Payload: map[string]any{"message": "{{a.b}}{{a.b}}"}}}})
	res, err := Evaluate(context.Background(), []*Compiled{c}, vars(t, map[string]string{"a.b": big}), time.Now())
	if !errors.Is(err, ErrTooExpensive) || res.Matched != nil {
		t.Errorf("res = %+v, %v; want ErrTooExpensive for text over %d bytes", res.Trace, err, MaxExprString)
	}
}

func TestParseTemplate(t *testing.T) {
	for _, s := range []string{"{{a}}", "{{a.b", "a}}b", "{{a.{{b.c}}}}", "{{}}", "{{ . }}", "x {{a.b}} }}"} {
		if _, err := parseTemplate(s); err == nil {
			t.Errorf("parseTemplate(%q) = nil error, want malformed", s)
		}
	}
	for _, s := range []string{"plain", "{{a.b}}", "x{{a.b}}y{{c.d e}}", "{{sde.visitorinfo.customerinfo.customerid}}"} {
		if _, err := parseTemplate(s); err != nil {
			t.Errorf("parseTemplate(%q) = %v", s, err)
		}
	}
}
