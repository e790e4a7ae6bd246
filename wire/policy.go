package wire

// Policy is a Next Actions policy as the configuration API reads and
// writes it (SPEC §6). V holds a condition's value and P an action's
// payload (see the package documentation).
//
// Enabled is a pointer so that a policy written without "enabled" is
// enabled; the server answers it as true or false, never null.
type Policy[V, P any] struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Enabled    *bool            `json:"enabled"`
	Conditions []Condition[V]   `json:"conditions"`
	Expression string           `json:"expression,omitempty"`
	Actions    []Action[P]      `json:"actions"`
	Exception  *Exception[V, P] `json:"exception,omitempty"`
}

// IsEnabled reports whether the policy takes part in evaluation: it does
// unless Enabled is false.
func (p *Policy[V, P]) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// Condition compares the variable Property ("ns.var") with Value by Type
// (EQUAL, NOT_EQUAL, LESS_THAN, LESS_THAN_OR_EQUAL, GREATER_THAN,
// GREATER_THAN_OR_EQUAL, CONTAINS, IS_IN). Value is a JSON constant or a
// "{{ns.var}}" reference.
type Condition[V any] struct {
	Property string `json:"property"`
	Type     string `json:"type"`
	Value    V      `json:"value"`
}

// Action is one next action: TRANSFER_TO_SKILL {skillId},
// TRANSFER_TO_AGENT {agentId, fallbackSkillId?} or SEND_MESSAGE {message}
// (v1 answers show it as text).
type Action[P any] struct {
	Type    string `json:"type"`
	Payload P      `json:"payload"`
}

// Exception replaces a matched policy's actions when its conditions (and
// expression, if any) hold.
type Exception[V, P any] struct {
	Conditions []Condition[V] `json:"conditions"`
	Expression string         `json:"expression,omitempty"`
	Actions    []Action[P]    `json:"actions"`
}

// Rule is the policy that matched, in a v1 Next Actions answer.
type Rule[P any] struct {
	ID      string      `json:"id"`
	Name    string      `json:"name"`
	Actions []Action[P] `json:"actions"`
}

// NextActionsV1Result is the answer of GET /v1/account/{a}/next-actions:
// Rule is nil when nothing matched, and NoMatchReason says why
// (NO_MATCHED_RULES, NO_POLICIES_ENABLED).
type NextActionsV1Result[P any] struct {
	NextActionID  string   `json:"nextActionId"`
	Rule          *Rule[P] `json:"rule"`
	NoMatchReason string   `json:"noMatchReason,omitempty"`
}

// NextActionsRequest is the body of POST /v2/policy/nextaction besides
// its accountId: whose next actions are asked for. Empty fields are left
// out.
type NextActionsRequest struct {
	ConversationID string `json:"conversationId,omitempty"`
	SessionID      string `json:"sessionId,omitempty"`
	CustomerID     string `json:"customerId,omitempty"`
	ConsumerID     string `json:"consumerId,omitempty"`
	GroupID        string `json:"groupId,omitempty"`
	VisitorID      string `json:"visitorId,omitempty"`
	PolicyID       string `json:"policyId,omitempty"`
	// Conversation holds conversation.* variables other than the ids
	// above (e.g. "minutesSincePreviousMessage"); SDE the sde.* ones
	// (e.g. {"visitorinfo":{"customerinfo":{"customerid":"c9"}}}).
	Conversation map[string]any `json:"conversation,omitempty"`
	SDE          map[string]any `json:"sde,omitempty"`
}

// PolicyWrite is the body of POST /v2/config/create and /v2/config/update:
// the account and the policy.
type PolicyWrite[V, P any] struct {
	AccountID string        `json:"accountId"`
	Policy    *Policy[V, P] `json:"policy"`
}

// PolicyDelete is the body of DELETE /v2/config/delete.
type PolicyDelete struct {
	AccountID string `json:"accountId"`
	ID        string `json:"id"`
}
