package nextactions_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/nextactions"
)

func TestAttributes(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	s, st := newService(t, &fakeVars{}, clk)

	got, err := s.Attributes(ctx, acct)
	if err != nil || len(got) != 0 || got == nil {
		t.Fatalf("Attributes(none) = %#v, %v; want {}", got, err)
	}
	p := nextactions.Policy{ID: "vip",
		Conditions: []nextactions.Condition{{Property: "custom.vip", Type: nextactions.OpEqual, Value: true}},
		Actions:    []nextactions.Action{{Type: nextactions.ActionTransferToSkill, Payload: map[string]any{"skillId": "{{custom.vipSkill}}"}}}}
	if _, err := s.Create(ctx, acct, p); err != nil {
		t.Fatal(err)
	}
	eval := func() []nextactions.Action {
		t.Helper()
		d, err := s.NextActions(ctx, nextactions.Request{AccountID: acct, ConversationID: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		return d.Actions
	}
	if acts := eval(); len(acts) != 0 {
		t.Errorf("without attributes: %v, want none", acts)
	}

	if _, err := s.PutAttributes(ctx, acct, map[string]any{"vip": true, "vipSkill": float64(42)}); err != nil {
		t.Fatal(err)
	}
	want := []nextactions.Action{{Type: nextactions.ActionTransferToSkill, Payload: map[string]any{"skillId": float64(42)}}}
	if diff := cmp.Diff(want, eval()); diff != "" {
		t.Errorf("after PUT (-want +got):\n%s", diff)
	}

	// A PUT replaces the set, and is seen at once, also by another
	// service over the same store (another node).
	other := nextactions.New(st, &fakeVars{}, nextactions.Config{Now: clk.now})
	if _, err := other.NextActions(ctx, nextactions.Request{AccountID: acct}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.PutAttributes(ctx, acct, map[string]any{"vip": true, "vipSkill": "s9"}); err != nil {
		t.Fatal(err)
	}
	want[0].Payload["skillId"] = "s9"
	if diff := cmp.Diff(want, eval()); diff != "" {
		t.Errorf("after PUT on another node (-want +got):\n%s", diff)
	}
	if got, _ := s.Attributes(ctx, acct); !cmp.Equal(got, map[string]any{"vip": true, "vipSkill": "s9"}) {
		t.Errorf("Attributes = %v", got)
	}

	// Bounds: nothing is saved past them.
	many := map[string]any{}
	for i := range nextactions.MaxAttributes + 1 {
		many[fmt.Sprint(i)] = 1
	}
	for name, tt := range map[string]struct {
		attrs map[string]any
		kind  error
	}{
		"too many":   {many, fault.ErrInvalid},
		"too large":  {map[string]any{"a": strings.Repeat("x", nextactions.MaxAttributesBytes)}, fault.ErrTooLarge},
		"bad name":   {map[string]any{"a\nb": 1}, fault.ErrInvalid},
		"empty name": {map[string]any{"": 1}, fault.ErrInvalid},
		"not object": {nil, fault.ErrInvalid},
	} {
		if _, err := s.PutAttributes(ctx, acct, tt.attrs); !errors.Is(err, tt.kind) {
			t.Errorf("%s: err = %v, want %v", name, err, tt.kind)
		}
	}
	if got, _ := s.Attributes(ctx, acct); !cmp.Equal(got, map[string]any{"vip": true, "vipSkill": "s9"}) {
		t.Errorf("after refused PUTs: Attributes = %v", got)
	}
}

// conversation.* and sde.* variables come from the request's objects.
func TestRequestVariables(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	s, _ := newService(t, &fakeVars{}, clk)
	for _, p := range []nextactions.Policy{
		{ID: "idle", Conditions: []nextactions.Condition{{Property: "conversation.minutesSincePreviousMessage", Type: nextactions.OpGreaterThan, Value: float64(10)}},
			Actions: []nextactions.Action{{Type: nextactions.ActionTransferToAgent, Payload: map[string]any{"agentId": "{{conversation.previousAgentId}}"}}}},
		{ID: "customer", Expression: "sde.visitorinfo.customerinfo.customerid == 'c9' and conversation.conversationId == 'conv'",
			Actions: []nextactions.Action{{Type: nextactions.ActionSendMessage, Payload: map[string]any{"message": "hi {{sde.visitorinfo.customerinfo.customerid}}"}}}},
	} {
		if _, err := s.Create(ctx, acct, p); err != nil {
			t.Fatalf("%s: %v", p.ID, err)
		}
	}
	sde := map[string]any{"visitorinfo": map[string]any{"customerinfo": map[string]any{"customerid": "c9"}}}
	tests := []struct {
		name string
		req  nextactions.Request
		want []nextactions.Action
	}{
		{"conversation variable", nextactions.Request{ConversationID: "conv", Conversation: map[string]any{"minutesSincePreviousMessage": float64(12), "previousAgentId": "a1"}},
			[]nextactions.Action{{Type: nextactions.ActionTransferToAgent, Payload: map[string]any{"agentId": "a1"}}}},
		{"sde path", nextactions.Request{ConversationID: "conv", Conversation: map[string]any{"minutesSincePreviousMessage": float64(3)}, SDE: sde},
			[]nextactions.Action{{Type: nextactions.ActionSendMessage, Payload: map[string]any{"message": "hi c9"}}}},
		{"absent", nextactions.Request{ConversationID: "conv"}, []nextactions.Action{}},
		{"request ids come from the request", nextactions.Request{ConversationID: "other", Conversation: map[string]any{"conversationId": "conv"}, SDE: sde},
			[]nextactions.Action{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.AccountID = acct
			d, err := s.NextActions(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, d.Actions); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
		})
	}
}
