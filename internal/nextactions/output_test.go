package nextactions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// ampPolicy is the policy of finding F2: actions SEND_MESSAGE actions,
// each a message of refs references to custom.a.
func ampPolicy(actions, refs int) Policy {
	p := Policy{Name: "amp", Conditions: []Condition{}}
	for range actions {
		p.Actions = append(p.Actions, Action{Type: ActionSendMessage,
			Payload: map[string]any{"message": strings.Repeat("{{custom.a}}", refs)}})
	}
	return p
}

// TestSubstitutedOutputBounded reproduces finding F2 through the service:
// custom.a is 65,000 "<" and the policy has 20 messages of 16 references
// each (20 MiB of text, 125 MB of HTML-escaped answer before). The
// evaluation stops with the budget error, and it allocates about one
// MiB (the first message, made at its size), not the 20 MiB of the
// messages.
func TestSubstitutedOutputBounded(t *testing.T) {
	ctx := context.Background()
	s := newSQLiteService(t, Config{})
	const acct = "67005361"
	if _, err := s.PutAttributes(ctx, acct, map[string]any{"a": strings.Repeat("<", 65_000)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, acct, ampPolicy(20, 16)); err != nil {
		t.Fatal(err)
	}
	req := Request{AccountID: acct, ConversationID: "c1"}
	// The first evaluation compiles the policy and decodes the
	// attributes; the second one is measured.
	if _, err := s.NextActions(ctx, req); !errors.Is(err, ErrTooExpensive) {
		t.Fatalf("NextActions = %v, want ErrTooExpensive", err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d, err := s.NextActions(ctx, req)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooExpensive) || !errors.Is(err, errSubstitutedTooLarge) {
		t.Fatalf("NextActions = %+v, %v; want ErrTooExpensive (substituted actions too large)", d, err)
	}
	if !strings.Contains(err.Error(), "evaluation too expensive") {
		t.Errorf("error %q, want evaluation too expensive", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes", alloc)
	if alloc > 2*MaxSubstituted {
		t.Errorf("allocated %d bytes, want at most %d (2 × MaxSubstituted)", alloc, 2*MaxSubstituted)
	}
}

// A policy whose substituted actions come near MaxSubstituted, but stay
// under it, still matches, whether its values are inserted or whole; one
// byte more is too expensive.
func TestSubstitutedOutputUnderBound(t *testing.T) {
	const n = 65_000
	a := strings.Repeat("<", n)
	lookup := vars(t, map[string]string{"custom.a": `"` + a + `"`})
	// 16 insertions and the quotes: 1,040,002 bytes.
	inserted := mustCompile(t, ampPolicy(1, 16))
	res, err := Evaluate(context.Background(), []*Compiled{inserted}, lookup, time.Now())
	if err != nil || res.Matched == nil || res.Actions[0].Payload["message"] != strings.Repeat(a, 16) {
		t.Fatalf("inserted: %v (trace %+v), want the policy's 16 × 65,000 bytes", err, res.Trace)
	}
	// 16 whole references to a string of about 65,000 bytes, and the
	// rest of the bound (under 4,096 bytes) as the literal text of a
	// 17th message: exactly MaxSubstituted.
	n2 := (MaxSubstituted-4000)/16 - 2
	rest := MaxSubstituted - 16*(n2+2) - 2
	whole := Policy{Name: "whole", Conditions: []Condition{}}
	for range 16 {
		whole.Actions = append(whole.Actions, Action{Type: ActionSendMessage, Payload: map[string]any{"message": "{{custom.w}}"}})
	}
	whole.Actions = append(whole.Actions, Action{Type: ActionSendMessage, Payload: map[string]any{"message": strings.Repeat("x", rest) + "{{custom.b}}"}})
	for _, tt := range []struct {
		b    string
		fits bool
	}{{`""`, true}, {`"y"`, false}} {
		lookup := vars(t, map[string]string{"custom.w": `"` + strings.Repeat("<", n2) + `"`, "custom.b": tt.b})
		res, err := Evaluate(context.Background(), []*Compiled{mustCompile(t, whole)}, lookup, time.Now())
		if tt.fits && (err != nil || res.Matched == nil || len(res.Actions) != 17) {
			t.Errorf("custom.b %s: %v (trace %+v), want a match of exactly %d bytes", tt.b, err, res.Trace, MaxSubstituted)
		}
		if !tt.fits && !errors.Is(err, errSubstitutedTooLarge) {
			t.Errorf("custom.b %s: %v, want ErrTooExpensive one byte over %d", tt.b, err, MaxSubstituted)
		}
	}
}

// The bound is for the whole evaluation: a policy that fails (ERROR)
// after part of its substitution counts too.
func TestSubstitutedOutputAcrossPolicies(t *testing.T) {
	half := Policy{ID: "half", Conditions: []Condition{}, Actions: []Action{
		{Type: ActionSendMessage, Payload: map[string]any{"message": "{{custom.a}}{{custom.a}}"}},
		{Type: ActionSendMessage, Payload: map[string]any{"message": "{{custom.missing}}"}},
	}}
	h1, h2 := half, half
	h2.ID = "half2"
	lookup := vars(t, map[string]string{"custom.a": `"` + strings.Repeat("x", MaxSubstituted/4) + `"`})
	_, err := Evaluate(context.Background(), []*Compiled{mustCompile(t, h1), mustCompile(t, h2), mustCompile(t, h1)}, lookup, time.Now())
	if !errors.Is(err, errSubstitutedTooLarge) {
		t.Errorf("three ERROR policies of half the bound each: %v, want ErrTooExpensive", err)
	}
}

// An object inserted into a string counts as its JSON text encoded as
// a string, and one too large is refused before its text is made.
func TestSubstitutedObjectBounded(t *testing.T) {
	big := map[string]any{"k": strings.Repeat(`"`, MaxSubstituted/2)}
	b, _ := json.Marshal(big)
	lookup := func(ns, name string) (any, bool, error) { return big, true, nil }
	c := mustCompile(t, Policy{Conditions: []Condition{}, Actions: []Action{{Type: ActionSendMessage, Payload: map[string]any{"message": "x{{custom.o}}"}}}})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Evaluate(context.Background(), []*Compiled{c}, lookup, time.Now())
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errSubstitutedTooLarge) {
		t.Errorf("an object of %d bytes of JSON inserted: %v, want ErrTooExpensive", len(b), err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > MaxSubstituted {
		t.Errorf("allocated %d bytes, want the text not made", alloc)
	}
}

// jsonSize is the size encoding/json writes without HTML escaping (or
// more, within a byte or two for a number).
func TestJSONSize(t *testing.T) {
	for _, s := range []string{
		`"plain"`, `"<b>&amp;</b>"`, `"quote \" back \\ slash"`, `"\b\f\n\r\t\u0001\u001f"`,
		`"é€😀"`, `"\u2028\u2029"`, `0`, `-1.5e-300`, `12345678901234567890`, `1e21`, `true`, `false`, `null`,
		`[]`, `{}`, `[1,"a",{"k":[null]}]`, `{"a<":1,"b":{"c":"\n"},"d":[true,false]}`,
	} {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		want := int64(b.Len() - 1)
		if got := jsonSize(v, 1<<20); got < want || got > want+2 {
			t.Errorf("jsonSize(%s) = %d, want %d (%s)", s, got, want, b.Bytes())
		}
	}
	if got := jsonStringSize("\xff", 100); got != 6 {
		t.Errorf("jsonStringSize(invalid UTF-8) = %d, want 6 (\\ufffd)", got)
	}
	if got := jsonSize(strings.Repeat("x", 1000), 10); got <= 10 || got > 100 {
		t.Errorf("jsonSize past its limit = %d, want it to stop soon after 10", got)
	}
}
