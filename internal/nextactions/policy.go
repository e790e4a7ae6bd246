package nextactions

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/wire"
)

// Operators of a condition (SPEC §6).
const (
	OpEqual              = "EQUAL"
	OpNotEqual           = "NOT_EQUAL"
	OpLessThan           = "LESS_THAN"
	OpLessThanOrEqual    = "LESS_THAN_OR_EQUAL"
	OpGreaterThan        = "GREATER_THAN"
	OpGreaterThanOrEqual = "GREATER_THAN_OR_EQUAL"
	OpContains           = "CONTAINS"
	OpIsIn               = "IS_IN"
)

var operators = map[string]bool{
	OpEqual: true, OpNotEqual: true, OpLessThan: true, OpLessThanOrEqual: true,
	OpGreaterThan: true, OpGreaterThanOrEqual: true, OpContains: true, OpIsIn: true,
}

// Action types (SPEC §6).
const (
	ActionTransferToSkill = "TRANSFER_TO_SKILL"
	ActionTransferToAgent = "TRANSFER_TO_AGENT"
	ActionSendMessage     = "SEND_MESSAGE"
)

// Namespaces of the variables that do not come from the Context Service
// (SPEC §6): ConversationNamespace and SDENamespace from the request,
// CustomNamespace from the account's static attributes.
const (
	ConversationNamespace = "conversation"
	SDENamespace          = "sde"
	CustomNamespace       = "custom"
)

// Limits that keep a policy, and so an evaluation, small.
const (
	MaxConditions       = 50
	MaxActions          = 20
	MaxExpressionChars  = 4096
	MaxNameChars        = 256
	MaxPayloadChars     = 4096
	MaxPoliciesPerAccnt = 500
)

// The policy shapes of the config API (package wire owns them), with
// condition values and action payloads decoded for evaluation.
type (
	Policy    = wire.Policy[any, map[string]any]
	Condition = wire.Condition[any]
	Action    = wire.Action[map[string]any]
	Exception = wire.Exception[any, map[string]any]
)

// payloadKeys lists, per action type, the payload keys that are required
// (true) or allowed (false).
var payloadKeys = map[string]map[string]bool{
	ActionTransferToSkill: {"skillId": true},
	ActionTransferToAgent: {"agentId": true, "fallbackSkillId": false},
	ActionSendMessage:     {"message": true},
}

// Normalize validates p and brings it to its stored form: SEND_MESSAGE
// payloads use "message" (a v1-style "text" is accepted), a policy
// without "enabled" is enabled, and nil slices become empty ones. field
// is the JSON path of the policy in the request ("policy"); every error is
// a fault.Invalid naming the bad field. It does not compile the
// expression; Compile does.
func Normalize(field string, p *Policy) error {
	if utf8.RuneCountInString(p.Name) > MaxNameChars || !utf8.ValidString(p.Name) {
		return fault.Invalid("%s.name: must be at most %d characters of valid UTF-8", field, MaxNameChars)
	}
	if p.Enabled == nil {
		on := true
		p.Enabled = &on
	}
	if p.Conditions == nil {
		p.Conditions = []Condition{}
	}
	if err := normalizeRule(field, p.Conditions, p.Expression, p.Actions); err != nil {
		return err
	}
	if p.Exception != nil {
		e := p.Exception
		if e.Conditions == nil {
			e.Conditions = []Condition{}
		}
		f := field + ".exception"
		if len(e.Conditions) == 0 && strings.TrimSpace(e.Expression) == "" {
			return fault.Invalid("%s.conditions: an exception needs at least one condition or an expression", f)
		}
		if err := normalizeRule(f, e.Conditions, e.Expression, e.Actions); err != nil {
			return err
		}
	}
	return nil
}

func normalizeRule(field string, conds []Condition, expression string, actions []Action) error {
	if len(conds) > MaxConditions {
		return fault.Invalid("%s.conditions: at most %d conditions", field, MaxConditions)
	}
	for i := range conds {
		if err := checkCondition(fmt.Sprintf("%s.conditions[%d]", field, i), &conds[i]); err != nil {
			return err
		}
	}
	if len(expression) > MaxExpressionChars {
		return fault.Invalid("%s.expression: at most %d characters", field, MaxExpressionChars)
	}
	if len(actions) == 0 {
		return fault.Invalid("%s.actions: at least one action is required", field)
	}
	if len(actions) > MaxActions {
		return fault.Invalid("%s.actions: at most %d actions", field, MaxActions)
	}
	for i := range actions {
		if err := normalizeAction(fmt.Sprintf("%s.actions[%d]", field, i), &actions[i]); err != nil {
			return err
		}
	}
	return nil
}

func checkCondition(field string, c *Condition) error {
	c.Type = strings.ToUpper(strings.TrimSpace(c.Type))
	if _, _, err := parseVariable(c.Property); err != nil {
		return fault.Invalid("%s.property: %v", field, err)
	}
	if !operators[c.Type] {
		return fault.Invalid("%s.type: unknown operator %q (want one of EQUAL, NOT_EQUAL, LESS_THAN, LESS_THAN_OR_EQUAL, GREATER_THAN, GREATER_THAN_OR_EQUAL, CONTAINS, IS_IN)", field, printable(c.Type))
	}
	if c.Value == nil {
		return fault.Invalid("%s.value: required", field)
	}
	if _, _, err := reference(c.Value); err != nil {
		return fault.Invalid("%s.value: %v", field, err)
	}
	if b, err := json.Marshal(c.Value); err != nil || len(b) > MaxPayloadChars {
		return fault.Invalid("%s.value: at most %d characters of JSON", field, MaxPayloadChars)
	}
	return nil
}

func normalizeAction(field string, a *Action) error {
	a.Type = strings.ToUpper(strings.TrimSpace(a.Type))
	keys, ok := payloadKeys[a.Type]
	if !ok {
		return fault.Invalid("%s.type: unknown action type %q (want TRANSFER_TO_SKILL, TRANSFER_TO_AGENT or SEND_MESSAGE)", field, printable(a.Type))
	}
	if a.Type == ActionSendMessage {
		if t, ok := a.Payload["text"]; ok {
			if _, dup := a.Payload["message"]; dup {
				return fault.Invalid("%s.payload: give message or text, not both", field)
			}
			delete(a.Payload, "text")
			a.Payload["message"] = t
		}
	}
	for k := range a.Payload {
		if _, ok := keys[k]; !ok {
			return fault.Invalid("%s.payload.%s: not a payload field of %s", field, printable(k), a.Type)
		}
	}
	for k, required := range keys {
		v, ok := a.Payload[k]
		if !ok {
			if required {
				return fault.Invalid("%s.payload.%s: required for %s", field, k, a.Type)
			}
			continue
		}
		if err := payloadRefs(field+".payload."+k, v, func(string) {}); err != nil {
			return fault.Invalid("%v", err)
		}
		if str, ok := v.(string); ok {
			if t, _ := parseTemplate(str); t.whole() {
				continue // any JSON value, once substituted
			}
		}
		if !scalarID(v, a.Type == ActionSendMessage) {
			if a.Type == ActionSendMessage {
				return fault.Invalid("%s.payload.%s: must be a non-empty string of at most %d characters", field, k, MaxPayloadChars)
			}
			return fault.Invalid("%s.payload.%s: must be a non-empty string or an integer", field, k)
		}
	}
	return nil
}

// scalarID reports whether v is a usable id (a non-empty string or an
// integer) or, for text, a non-empty string.
func scalarID(v any, text bool) bool {
	switch v := v.(type) {
	case string:
		return v != "" && utf8.ValidString(v) && len(v) <= MaxPayloadChars && (text || len(v) <= MaxNameChars)
	case float64:
		return !text && v == math.Trunc(v) && math.Abs(v) < 1<<53
	}
	return false
}

// parseVariable splits "ns.var" into its namespace ([A-Za-z0-9_]{1,64})
// and property name (1–256 printable characters). Any conversation.* or
// sde.* name is accepted: the request may carry it.
func parseVariable(s string) (ns, name string, err error) {
	ns, name, ok := strings.Cut(s, ".")
	if !ok {
		return "", "", fmt.Errorf("%q is not a variable reference of the form namespace.name", printable(s))
	}
	if !validNamespace(ns) {
		return "", "", fmt.Errorf("%q: the namespace must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -", printable(s))
	}
	if !validName(name) {
		return "", "", fmt.Errorf("%q: the property name must be 1 to 256 printable characters", printable(s))
	}
	return ns, name, nil
}

// reference reports whether a condition value is a "{{ns.var}}" reference
// and returns the variable. A string that contains "{{" but is not one
// reference is malformed.
func reference(v any) (string, bool, error) {
	s, ok := v.(string)
	if !ok || !strings.Contains(s, "{{") && !strings.Contains(s, "}}") {
		return "", false, nil
	}
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "{{") || !strings.HasSuffix(t, "}}") || len(t) < 4 {
		return "", false, fmt.Errorf("malformed variable reference %q (want {{namespace.name}})", printable(s))
	}
	inner := strings.TrimSpace(t[2 : len(t)-2])
	if _, _, err := parseVariable(inner); err != nil {
		return "", false, fmt.Errorf("malformed variable reference: %v", err)
	}
	return inner, true, nil
}

func validNamespace(ns string) bool {
	if len(ns) == 0 || len(ns) > 64 {
		return false
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func validName(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > 256 {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// printable bounds and cleans an untrusted string for an error message.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}
