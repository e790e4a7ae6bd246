package nextactions

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/fault"
)

// TestIsInSetSemantics pins that IS_IN and CONTAINS over sets keep the
// equality of conditions (equal), which is not transitive, for constant
// and referenced right sides alike.
func TestIsInSetSemantics(t *testing.T) {
	tests := []struct {
		op          string
		left, right string // JSON
		want        bool
	}{
		{OpIsIn, `42`, `["42"]`, true},
		{OpIsIn, `42`, `["42.0"]`, true},
		{OpIsIn, `"42"`, `[42]`, true},
		{OpIsIn, `"42"`, `["42.0"]`, false}, // strings compare as strings
		{OpIsIn, `"42"`, `"41, 42"`, true},
		{OpIsIn, `42`, `" 41 , 42 "`, true},
		{OpIsIn, `true`, `"TRUE,x"`, true},
		{OpIsIn, `"TRUE"`, `[true]`, true},
		{OpIsIn, `"true"`, `["TRUE"]`, false},
		{OpIsIn, `false`, `[true, "x"]`, false},
		{OpIsIn, `true`, `[1]`, false},
		{OpIsIn, `null`, `[null]`, false},         // a null variable is missing
		{OpIsIn, `[[1,2],"x"]`, `[[1,2]]`, false}, // a left list is searched element by element
		{OpIsIn, `{"a":1,"b":2}`, `[{"b":2,"a":1}]`, true},
		{OpIsIn, `[1,[2,[3]]]`, `[3]`, true}, // any element, at any depth
		{OpIsIn, `"x"`, `"x"`, true},
		{OpIsIn, `"x"`, `7`, false},
		{OpIsIn, `7`, `7`, true},
		{OpContains, `[1,"2",true]`, `"1"`, true},
		{OpContains, `[1,"2",true]`, `2`, true},
		{OpContains, `[1,"2",true]`, `"true"`, true},
		{OpContains, `[[1]]`, `[1]`, true},
		{OpContains, `["a"]`, `"b"`, false},
	}
	for _, tt := range tests {
		for _, ref := range []bool{false, true} {
			name := tt.op + " " + tt.left + " " + tt.right
			if ref {
				name += " by reference"
			}
			t.Run(name, func(t *testing.T) {
				cond := Condition{Property: "v.left", Type: tt.op, Value: decode(t, tt.right)}
				m := map[string]string{"v.left": tt.left}
				if ref {
					cond.Value = "{{v.right}}"
					m["v.right"] = tt.right
				}
				c := mustCompile(t, Policy{ID: "p", Conditions: []Condition{cond}, Actions: skill42})
				res, err := Evaluate(context.Background(), []*Compiled{c}, vars(t, m), time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if got := res.Matched != nil; got != tt.want {
					t.Errorf("matched = %v, want %v", got, tt.want)
				}
			})
		}
	}
}

// bigList is the JSON list [from, from+step, ...] of n numbers.
func bigList(n, from, step int) []any {
	l := make([]any, n)
	for i := range l {
		l[i] = float64(from + i*step)
	}
	return l
}

func cpuLookup(m map[string]any) Lookup {
	return func(ns, name string) (any, bool, error) {
		v, ok := m[ns+"."+name]
		return v, ok, nil
	}
}

// TestIsInLargeLists pins finding 2 (A) at the engine: IS_IN of a
// 40,000-element list in another 40,000-element list costs their sizes,
// not their product (it took 10 s of CPU).
func TestIsInLargeLists(t *testing.T) {
	c := mustCompile(t, Policy{ID: "p", Conditions: []Condition{{Property: "dosa.l", Type: OpIsIn, Value: "{{dosb.r}}"}}, Actions: skill42})
	for _, tt := range []struct {
		name  string
		right []any
		want  bool
	}{
		{"disjoint", bigList(40_000, -1, -1), false},
		{"last element shared", append(bigList(39_999, -1, -1), float64(39_999)), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lookup := cpuLookup(map[string]any{"dosa.l": bigList(40_000, 0, 1), "dosb.r": tt.right})
			start := time.Now()
			res, err := Evaluate(context.Background(), []*Compiled{c}, lookup, time.Now())
			if took := time.Since(start); took > 500*time.Millisecond {
				t.Errorf("took %v", took)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Matched != nil; got != tt.want {
				t.Errorf("matched = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestBudget pins that an evaluation stops with ErrTooExpensive (422)
// past its budget: a concatenation of 120 700,000-character strings
// (finding 2 (B): 26 s of CPU, 228 MB), and many policies that each cost
// a little.
func TestBudget(t *testing.T) {
	s := strings.Repeat("x", 700_000)
	concat := "(" + strings.TrimSuffix(strings.Repeat("dosc.s + ", 120), " + ") + ") == 'y'"
	manyIsIn := make([]*Compiled, 0, 500)
	for range 500 {
		manyIsIn = append(manyIsIn, mustCompile(t, Policy{ID: "p", Actions: skill42,
			Expression: "dosa.l == dosb.r"}))
	}
	for _, tt := range []struct {
		name     string
		policies []*Compiled
		vars     map[string]any
	}{
		{"120-term concatenation", []*Compiled{mustCompile(t, Policy{ID: "p", Expression: concat, Actions: skill42})}, map[string]any{"dosc.s": s}},
		{"500 comparisons of 40,000-element lists", manyIsIn, map[string]any{"dosa.l": bigList(40_000, 0, 1), "dosb.r": bigList(40_000, 1, 1)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Evaluate(context.Background(), tt.policies, cpuLookup(tt.vars), time.Now())
			if took := time.Since(start); took > time.Second {
				t.Errorf("took %v", took)
			}
			if !errors.Is(err, ErrTooExpensive) || !errors.Is(err, fault.ErrTooExpensive) {
				t.Errorf("err = %v, want ErrTooExpensive", err)
			}
		})
	}
}

// TestBudgetAllowsOrdinaryWork pins that the budget leaves room for
// ordinary evaluations: 500 policies over a large document.
func TestBudgetAllowsOrdinaryWork(t *testing.T) {
	var policies []*Compiled
	for range 499 {
		policies = append(policies, mustCompile(t, Policy{ID: "p", Actions: skill42,
			Conditions: []Condition{{Property: "doc.tier", Type: OpIsIn, Value: "gold,platinum"}},
			Expression: "doc.name + '!' == 'no' or doc.text contains 'needle'"}))
	}
	policies = append(policies, mustCompile(t, Policy{ID: "last", Actions: skill42,
		Conditions: []Condition{{Property: "doc.tier", Type: OpEqual, Value: "silver"}}}))
	lookup := cpuLookup(map[string]any{"doc.tier": "silver", "doc.name": "ann", "doc.text": strings.Repeat("hay ", 10_000)})
	res, err := Evaluate(context.Background(), policies, lookup, time.Now())
	if err != nil || res.Matched == nil || res.Matched.Policy.ID != "last" {
		t.Fatalf("matched %v, err %v", res.Matched, err)
	}
}

// TestDeadline pins that an evaluation past its context's deadline is too
// expensive, not a server fault.
func TestDeadline(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	c := mustCompile(t, Policy{ID: "p", Actions: skill42})
	if _, err := Evaluate(ctx, []*Compiled{c}, vars(t, nil), time.Now()); !errors.Is(err, ErrTooExpensive) {
		t.Errorf("err = %v, want ErrTooExpensive", err)
	}
}

// TestValueError pins that a variable that cannot be used makes the
// policies that read it ERROR, and evaluation goes on (finding 10).
func TestValueError(t *testing.T) {
	var bad any
	badErr := json.Unmarshal([]byte(`1e999999999`), &bad)
	if badErr == nil {
		t.Fatal("1e999999999 decodes")
	}
	lookup := func(ns, name string) (any, bool, error) {
		if ns == "numz" {
			return nil, false, &ValueError{Var: ns + "." + name, Err: badErr}
		}
		return "gold", true, nil
	}
	policies := []*Compiled{
		mustCompile(t, Policy{ID: "cond", Conditions: []Condition{{Property: "numz.n", Type: OpGreaterThan, Value: 1.0}}, Actions: skill42}),
		mustCompile(t, Policy{ID: "expr", Expression: "numz.n > 1", Actions: skill42}),
		mustCompile(t, Policy{ID: "ok", Conditions: []Condition{{Property: "vip.tier", Type: OpEqual, Value: "gold"}}, Actions: skill42}),
	}
	res, err := Evaluate(context.Background(), policies, lookup, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched == nil || res.Matched.Policy.ID != "ok" {
		t.Errorf("matched %v, want ok", res.Matched)
	}
	for i, want := range []string{StateError, StateError, StateTrue} {
		if res.Trace[i].State != want {
			t.Errorf("trace[%d] = %+v, want %s", i, res.Trace[i], want)
		}
	}
}
