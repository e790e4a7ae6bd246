package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/orchestrator/orchestrator/wire"
)

// The policy shapes (SPEC §6), shared with the server through package
// wire; condition values and action payloads are raw JSON.
type (
	// Policy is a Next Actions policy. Enabled is nil when not given:
	// the server takes that as enabled. Expression is the v2 editor's
	// expression; empty when none.
	Policy = wire.Policy[json.RawMessage, json.RawMessage]
	// Condition is one condition of a policy: Property ("ns.var")
	// compared with Value by Type (EQUAL, NOT_EQUAL, LESS_THAN,
	// LESS_THAN_OR_EQUAL, GREATER_THAN, GREATER_THAN_OR_EQUAL, CONTAINS,
	// IS_IN). Value is a JSON constant or a "{{ns.var}}" reference.
	Condition = wire.Condition[json.RawMessage]
	// Action is what a matching policy returns: TRANSFER_TO_SKILL,
	// TRANSFER_TO_AGENT or SEND_MESSAGE, with its payload.
	Action = wire.Action[json.RawMessage]
	// Exception replaces a policy's actions when its conditions hold.
	Exception = wire.Exception[json.RawMessage, json.RawMessage]
	// Rule is the policy that matched in a v1 answer.
	Rule = wire.Rule[json.RawMessage]
	// NextActionsV1Result is the v1 answer: Rule is nil when nothing
	// matched, and NoMatchReason says why (NO_MATCHED_RULES,
	// NO_POLICIES_ENABLED).
	NextActionsV1Result = wire.NextActionsV1Result[json.RawMessage]
)

// PolicyLog is one evaluation of a policy.
type PolicyLog struct {
	Time           Timestamp `json:"time"`
	ConversationID string    `json:"conversationId"`
	PolicyID       string    `json:"policyId"`
	// State is TRUE, FALSE, ERROR, INVALID or DISABLED.
	State string `json:"state"`
}

// NextActionsRequest asks for the next actions (v2). Empty fields are
// left out.
type NextActionsRequest = wire.NextActionsRequest

// NextActions evaluates the account's policies (v2) and returns the
// actions of the one that matched, none when nothing matched.
func (c *Client) NextActions(ctx context.Context, r NextActionsRequest) ([]Action, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	in := struct {
		AccountID string `json:"accountId"`
		NextActionsRequest
	}{a, r}
	out := []Action{}
	return out, c.v2(ctx, http.MethodPost, "/v2/policy/nextaction", in, &out)
}

// NextActionsV1Request asks for the next actions (v1). Empty fields are
// left out.
//
// v1 has no sessionId: the CCS session whose variables the policies read
// is the groupId (default: the conversation id). SessionID is sent as
// groupId; give it or GroupID (both only when they are equal).
type NextActionsV1Request struct {
	ConversationID, ConsumerID, GroupID string
	SessionID                           string
}

// NextActionsV1 evaluates the account's policies with the API key (v1).
func (c *Client) NextActionsV1(ctx context.Context, r NextActionsV1Request) (*NextActionsV1Result, error) {
	a, err := c.v1Account()
	if err != nil {
		return nil, err
	}
	group := r.GroupID
	if r.SessionID != "" {
		if group != "" && group != r.SessionID {
			return nil, fmt.Errorf("sdk: NextActionsV1Request: SessionID %q and GroupID %q differ; v1 sends the session as groupId", r.SessionID, r.GroupID)
		}
		group = r.SessionID
	}
	q := url.Values{}
	for k, v := range map[string]string{"conversationId": r.ConversationID, "consumerId": r.ConsumerID, "groupId": group} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out NextActionsV1Result
	if err := c.v1At(ctx, c.naV1Base, http.MethodGet, path("v1", "account", a, "next-actions"), q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// policyBody is the body of a policy's create and update.
type policyBody = wire.PolicyWrite[json.RawMessage, json.RawMessage]

// CreatePolicy adds a policy at the end of the account's list and returns
// it with its id (v2).
func (c *Client) CreatePolicy(ctx context.Context, p Policy) (*Policy, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	var out Policy
	if err := c.v2(ctx, http.MethodPost, "/v2/config/create", policyBody{AccountID: a, Policy: &p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPolicies returns the account's policies in evaluation order (v2).
func (c *Client) ListPolicies(ctx context.Context) ([]Policy, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	out := []Policy{}
	return out, c.v2(ctx, http.MethodGet, path("v2", "config", a), nil, &out)
}

// GetPolicy returns one policy; an *APIError with status 404 when there is
// none (v2).
func (c *Client) GetPolicy(ctx context.Context, id string) (*Policy, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	var out Policy
	if err := c.v2(ctx, http.MethodGet, path("v2", "config", a, id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdatePolicy replaces the policy with p.ID (v2).
func (c *Client) UpdatePolicy(ctx context.Context, p Policy) (*Policy, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	var out Policy
	if err := c.v2(ctx, http.MethodPost, "/v2/config/update", policyBody{AccountID: a, Policy: &p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletePolicy deletes a policy (v2).
func (c *Client) DeletePolicy(ctx context.Context, id string) error {
	a, err := c.account(ctx)
	if err != nil {
		return err
	}
	return c.v2(ctx, http.MethodDelete, "/v2/config/delete", wire.PolicyDelete{AccountID: a, ID: id}, nil)
}

// PolicyLogs returns the evaluations of the last 7 days, of one
// conversation when conversationID is not empty (v2).
func (c *Client) PolicyLogs(ctx context.Context, conversationID string) ([]PolicyLog, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	p := path("v2", "policy", "logs", a)
	if conversationID != "" {
		p += "?" + url.Values{"conversationId": {conversationID}}.Encode()
	}
	out := []PolicyLog{}
	return out, c.v2(ctx, http.MethodGet, p, nil, &out)
}

// PutAttributes replaces the account's static policy attributes (the
// custom.* variables of policies) with attrs and returns them (v2).
func (c *Client) PutAttributes(ctx context.Context, attrs map[string]any) (map[string]any, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	if attrs == nil {
		attrs = map[string]any{}
	}
	out := map[string]any{}
	return out, c.v2(ctx, http.MethodPut, path("v2", "config", "attributes", a), attrs, &out)
}

// Attributes returns the account's static policy attributes, empty when
// none are set (v2).
func (c *Client) Attributes(ctx context.Context) (map[string]any, error) {
	a, err := c.account(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	return out, c.v2(ctx, http.MethodGet, path("v2", "config", "attributes", a), nil, &out)
}
