package httpapi

import (
	"net/http"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/nextactions"
	"github.com/orchestrator/orchestrator/wire"
)

// nextActionsV2Routes registers the v2 policy configuration and next
// action routes (SPEC §6); handle wraps each in the v2 token guard and the
// metrics middleware. The guard checks {a} of the GET paths; the handlers
// check accountId of bodies.
func (s *Server) nextActionsV2Routes(handle func(pattern string, h HandlerFunc)) {
	handle("POST /v2/config/create", s.configCreate)
	handle("GET /v2/config/{a}", s.configList)
	handle("GET /v2/config/{a}/{id}", s.configGet)
	handle("POST /v2/config/update", s.configUpdate)
	handle("DELETE /v2/config/delete", s.configDelete)
	handle("POST /v2/policy/nextaction", s.policyNextAction)
	handle("GET /v2/policy/logs/{a}", s.policyLogs)
	handle("PUT /v2/config/attributes/{a}", s.attributesPut)
	handle("GET /v2/config/attributes/{a}", s.attributesGet)
}

// attributesPut replaces the account's static policy attributes (the
// custom.* variables) with the body, a JSON object.
func (s *Server) attributesPut(w http.ResponseWriter, r *http.Request) error {
	acct, err := Authorize(r, r.PathValue("a"))
	if err != nil {
		return err
	}
	var attrs map[string]any
	if err := DecodeJSON(r, &attrs, false); err != nil {
		return err
	}
	out, err := s.NextActions.PutAttributes(r.Context(), acct, attrs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) attributesGet(w http.ResponseWriter, r *http.Request) error {
	acct, err := Authorize(r, r.PathValue("a"))
	if err != nil {
		return err
	}
	out, err := s.NextActions.Attributes(r.Context(), acct)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// bodyAccount authorizes the accountId of a request body against the
// credential and returns the canonical id.
func bodyAccount(r *http.Request, accountID string) (string, error) {
	if accountID == "" {
		return "", fault.Invalid("accountId: required")
	}
	return Authorize(r, accountID)
}

type policyBody wire.PolicyWrite[any, map[string]any]

func (b *policyBody) decode(r *http.Request) (string, error) {
	if err := DecodeJSON(r, b, false); err != nil {
		return "", err
	}
	acct, err := bodyAccount(r, b.AccountID)
	if err != nil {
		return "", err
	}
	if b.Policy == nil {
		return "", fault.Invalid("policy: required")
	}
	return acct, nil
}

func (s *Server) configCreate(w http.ResponseWriter, r *http.Request) error {
	var body policyBody
	acct, err := body.decode(r)
	if err != nil {
		return err
	}
	p, err := s.NextActions.Create(r.Context(), acct, *body.Policy)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, p)
	return nil
}

func (s *Server) configUpdate(w http.ResponseWriter, r *http.Request) error {
	var body policyBody
	acct, err := body.decode(r)
	if err != nil {
		return err
	}
	p, err := s.NextActions.Update(r.Context(), acct, *body.Policy)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) configDelete(w http.ResponseWriter, r *http.Request) error {
	var body wire.PolicyDelete
	if err := DecodeJSON(r, &body, false); err != nil {
		return err
	}
	acct, err := bodyAccount(r, body.AccountID)
	if err != nil {
		return err
	}
	if err := s.NextActions.Delete(r.Context(), acct, body.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	return nil
}

func (s *Server) configList(w http.ResponseWriter, r *http.Request) error {
	acct, err := Authorize(r, r.PathValue("a"))
	if err != nil {
		return err
	}
	ps, err := s.NextActions.List(r.Context(), acct)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ps)
	return nil
}

func (s *Server) configGet(w http.ResponseWriter, r *http.Request) error {
	acct, err := Authorize(r, r.PathValue("a"))
	if err != nil {
		return err
	}
	p, err := s.NextActions.Get(r.Context(), acct, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func checkRequest(req nextactions.Request) error {
	for _, f := range []struct{ name, v string }{
		{"conversationId", req.ConversationID}, {"sessionId", req.SessionID}, {"consumerId", req.ConsumerID},
		{"groupId", req.GroupID}, {"customerId", req.CustomerID}, {"visitorId", req.VisitorID}, {"policyId", req.PolicyID},
	} {
		if err := nextactions.CheckRequestID(f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) policyNextAction(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		AccountID string `json:"accountId"`
		wire.NextActionsRequest
		// LPToken is LivePerson's "Bearer …" for its own services, in
		// the Next Actions v2 page's example body; accepted so that
		// body works unchanged, never used, never logged.
		LPToken string `json:"lpToken"`
	}
	if err := DecodeJSON(r, &body, false); err != nil {
		return err
	}
	acct, err := bodyAccount(r, body.AccountID)
	if err != nil {
		return err
	}
	req := nextactions.Request{
		AccountID: acct, ConversationID: body.ConversationID, SessionID: body.SessionID,
		ConsumerID: body.ConsumerID, GroupID: body.GroupID, CustomerID: body.CustomerID,
		VisitorID: body.VisitorID, PolicyID: body.PolicyID,
		Conversation: body.Conversation, SDE: body.SDE,
	}
	if err := checkRequest(req); err != nil {
		return err
	}
	d, err := s.NextActions.NextActions(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d.Actions) // [] when nothing matched
	return nil
}

func (s *Server) policyLogs(w http.ResponseWriter, r *http.Request) error {
	acct, err := Authorize(r, r.PathValue("a"))
	if err != nil {
		return err
	}
	conv := r.URL.Query().Get("conversationId")
	if err := nextactions.CheckRequestID("conversationId", conv); err != nil {
		return err
	}
	logs, err := s.NextActions.Logs(r.Context(), acct, conv)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, logs)
	return nil
}

// serveV1NextActions serves GET /v1/account/{a}/next-actions once the v1
// guard has authenticated an API key for account {a}.
func (s *Server) serveV1NextActions(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return &Error{Status: http.StatusMethodNotAllowed, Message: "method not allowed", Header: map[string]string{"Allow": "GET, HEAD"}}
	}
	acct, err := Authorize(r, r.PathValue("a"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	// v1 has no session: the groupId names the CCS session the policies
	// read (SPEC §6); a sessionId, when given, still wins.
	session := q.Get("sessionId")
	if session == "" {
		session = q.Get("groupId")
	}
	// userId is the v1 name of consumerId (SPEC §6); consumerId wins.
	consumer := q.Get("consumerId")
	if consumer == "" {
		consumer = q.Get("userId")
	}
	req := nextactions.Request{
		AccountID: acct, ConversationID: q.Get("conversationId"), SessionID: session,
		ConsumerID: consumer, GroupID: q.Get("groupId"),
	}
	if err := checkRequest(req); err != nil {
		return err
	}
	d, err := s.NextActions.NextActions(r.Context(), req)
	if err != nil {
		return err
	}
	resp := wire.NextActionsV1Result[map[string]any]{NextActionID: d.ID, NoMatchReason: d.NoMatchReason}
	if d.Policy != nil {
		rule := &wire.Rule[map[string]any]{ID: d.Policy.ID, Name: d.Policy.Name, Actions: make([]nextactions.Action, 0, len(d.Actions))}
		for _, a := range d.Actions {
			rule.Actions = append(rule.Actions, toV1Action(a))
		}
		resp.Rule = rule
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// toV1Action renames a SEND_MESSAGE payload's "message" to "text", the
// v1 shape.
func toV1Action(a nextactions.Action) nextactions.Action {
	if a.Type != nextactions.ActionSendMessage {
		return a
	}
	p := make(map[string]any, len(a.Payload))
	for k, v := range a.Payload {
		if k == "message" {
			k = "text"
		}
		p[k] = v
	}
	return nextactions.Action{Type: a.Type, Payload: p}
}
