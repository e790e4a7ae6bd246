package wire_test

import (
	"encoding/json"
	"testing"

	"github.com/orchestrator/orchestrator/wire"
)

// TestPolicyJSON pins the policy's JSON (SPEC §6: id, name, enabled,
// conditions and actions always; expression and exception only when
// set), and that the server's instance (decoded values) and the SDK's
// (raw JSON) write the same bytes for the same policy.
func TestPolicyJSON(t *testing.T) {
	on := true
	server := wire.Policy[any, map[string]any]{
		ID: "p1", Name: "VIP", Enabled: &on,
		Conditions: []wire.Condition[any]{{Property: "shop.tier", Type: "EQUAL", Value: "gold"}},
		Actions:    []wire.Action[map[string]any]{{Type: "TRANSFER_TO_SKILL", Payload: map[string]any{"skillId": "42"}}},
	}
	sdk := wire.Policy[json.RawMessage, json.RawMessage]{
		ID: "p1", Name: "VIP", Enabled: &on,
		Conditions: []wire.Condition[json.RawMessage]{{Property: "shop.tier", Type: "EQUAL", Value: json.RawMessage(`"gold"`)}},
		Actions:    []wire.Action[json.RawMessage]{{Type: "TRANSFER_TO_SKILL", Payload: json.RawMessage(`{"skillId":"42"}`)}},
	}
	const want = `{"id":"p1","name":"VIP","enabled":true,"conditions":[{"property":"shop.tier","type":"EQUAL","value":"gold"}],"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"42"}}]}`
	for name, v := range map[string]any{"server": server, "sdk": sdk} {
		b, err := json.Marshal(v)
		if err != nil || string(b) != want {
			t.Errorf("%s: %s, %v\nwant %s", name, b, err, want)
		}
	}
	var zero wire.Policy[any, map[string]any]
	if !zero.IsEnabled() {
		t.Error("a policy without enabled is not enabled")
	}
}
