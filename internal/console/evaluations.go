package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/httpapi"
	"github.com/orchestrator/orchestrator/internal/nextactions"
	"github.com/orchestrator/orchestrator/wire"
)

// Evaluations is what the Try it and Evaluation logs pages need from the
// Next Actions service.
type Evaluations interface {
	Explain(ctx context.Context, req nextactions.Request) (nextactions.Explanation, error)
	Logs(ctx context.Context, accountID, conversationID string) ([]nextactions.LogEntry, error)
	// List gives the logs page the names of the policies.
	List(ctx context.Context, accountID string) ([]nextactions.Policy, error)
}

// URLs of the Try it and Evaluation logs pages.
const (
	tryURL  = "/console/try"
	logsURL = "/console/logs"
)

// Bounds of the Try it form. Ids are what the v2 API accepts (at most
// 256 printable characters); the attribute objects are kept small enough
// that the whole form fits the console's 16 KiB form limit even when
// every ASCII character is percent-encoded (a larger body is refused as a
// bad form, not beside a field).
const (
	evalMaxID   = nextactions.MaxRequestID
	evalMaxAttr = 2048
	// logsPerPage is the page size of the evaluation log.
	logsPerPage = 50
	// evalMaxShown is how much of a value (compact JSON) or an error the
	// pages show before an ellipsis.
	evalMaxShown = 200
)

// evaluationRoutes adds the Try it and Evaluation logs pages.
func (c *Console) evaluationRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+tryURL, c.handle(c.tryPage))
	mux.HandleFunc("POST "+tryURL, c.handle(c.tryRun))
	mux.HandleFunc("GET "+logsURL, c.handle(c.evaluationLogs))
}

// ---- Try it ----

// evalField is one field of a console form as the templates render it:
// its label, hint, value and the error shown beside it.
type evalField struct {
	ID, Name, Label, Hint, Value, Error string
	MaxLen                              int
	Required, Multiline                 bool
}

// evalError is one entry of a form's error summary: a link to the
// field and what is wrong with it.
type evalError struct{ ID, Msg string }

// tryForm is the Try it form as typed.
type tryForm struct {
	conversation, session, consumer, convAttrs, sdeAttrs evalField
}

func newTryForm() *tryForm {
	return &tryForm{
		conversation: evalField{ID: "try-conversation", Name: "conversation", Label: "Conversation ID", Required: true, MaxLen: evalMaxID,
			Hint: "The conversation whose next actions are asked for: conversation.conversationId, and the default Context session."},
		session: evalField{ID: "try-session", Name: "session", Label: "Session ID", MaxLen: evalMaxID,
			Hint: "The Context Service session the policies read. Empty: the conversation ID."},
		consumer: evalField{ID: "try-consumer", Name: "consumer", Label: "Consumer ID", MaxLen: evalMaxID,
			Hint: "conversation.consumerId."},
		convAttrs: evalField{ID: "try-conversation-attributes", Name: "conversationAttributes", Label: "Conversation attributes",
			Multiline: true, MaxLen: evalMaxAttr,
			Hint: `A JSON object of conversation.* variables, as the v2 body's "conversation", e.g. {"minutesSincePreviousMessage": 5}.`},
		sdeAttrs: evalField{ID: "try-sde-attributes", Name: "sdeAttributes", Label: "SDE attributes",
			Multiline: true, MaxLen: evalMaxAttr,
			Hint: `A JSON object of sde.* variables, as the v2 body's "sde", e.g. {"visitorinfo": {"customerinfo": {"customerid": "c9"}}}.`},
	}
}

func (f *tryForm) fields() []*evalField {
	return []*evalField{&f.conversation, &f.session, &f.consumer, &f.convAttrs, &f.sdeAttrs}
}

// errors lists the form's field errors in the order of the form.
func (f *tryForm) errors() []evalError {
	var out []evalError
	for _, fd := range f.fields() {
		if fd.Error != "" {
			out = append(out, evalError{ID: fd.ID, Msg: fd.Label + ": " + fd.Error})
		}
	}
	return out
}

// parse reads the posted form into f and returns the request it asks
// for, for the signed-in account; ok is false when a field is wrong (its
// Error says why).
func (f *tryForm) parse(form url.Values, accountID string) (nextactions.Request, bool) {
	for _, fd := range f.fields() {
		fd.Value = form.Get(fd.Name)
		if !fd.Multiline {
			// A person types or pastes the ids: surrounding blanks are
			// not part of them.
			fd.Value = strings.TrimSpace(fd.Value)
		}
	}
	if f.conversation.Value == "" {
		f.conversation.Error = "Enter a conversation ID."
	}
	for _, fd := range []*evalField{&f.conversation, &f.session, &f.consumer} {
		if fd.Error == "" && nextactions.CheckRequestID(fd.Name, fd.Value) != nil {
			fd.Error = "Must be at most 256 printable characters."
		}
	}
	req := nextactions.Request{AccountID: accountID, ConversationID: f.conversation.Value,
		SessionID: f.session.Value, ConsumerID: f.consumer.Value}
	req.Conversation = tryJSONObject(&f.convAttrs)
	req.SDE = tryJSONObject(&f.sdeAttrs)
	return req, len(f.errors()) == 0
}

// tryJSONObject decodes a field that holds a JSON object, as the v2 API
// decodes its "conversation" and "sde" members; empty is nil. A bad
// value sets the field's Error.
func tryJSONObject(fd *evalField) map[string]any {
	v := strings.TrimSpace(fd.Value)
	if v == "" {
		return nil
	}
	if utf8.RuneCountInString(fd.Value) > evalMaxAttr {
		fd.Error = "Must be at most " + strconv.Itoa(evalMaxAttr) + " characters."
		return nil
	}
	if httpapi.CheckJSONText([]byte(v)) != nil {
		fd.Error = "Must be valid UTF-8 (no escape of a lone surrogate)."
		return nil
	}
	var out map[string]any
	dec := json.NewDecoder(strings.NewReader(v))
	err := dec.Decode(&out)
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case err == nil && dec.More():
		fd.Error = "Must be one JSON object, with nothing after it."
	case err == nil && out == nil:
		fd.Error = `Must be a JSON object such as {"name": "value"}, not null.`
	case err == nil:
		return out
	case errors.As(err, &te) && strings.HasPrefix(te.Value, "number "):
		fd.Error = "The " + te.Value + " cannot be used: it is out of range."
	case errors.As(err, &te):
		kind := map[string]string{"array": "an array", "string": "a string", "number": "a number", "bool": "true or false"}[te.Value]
		if kind == "" {
			kind = te.Value
		}
		fd.Error = `Must be a JSON object such as {"name": "value"}, not ` + kind + "."
	case errors.As(err, &se):
		fd.Error = "Not valid JSON: " + se.Error() + " (at character " + strconv.FormatInt(se.Offset, 10) + ")."
	case errors.Is(err, io.ErrUnexpectedEOF):
		fd.Error = "Not valid JSON: it ends too early."
	default:
		fd.Error = "Not valid JSON."
	}
	return nil
}

// ---- handlers ----

// tryPage shows the empty Try it form.
func (c *Console) tryPage(w http.ResponseWriter, r *http.Request) error {
	_, ss, a, ok, err := c.signedIn(w, r)
	if !ok {
		return err
	}
	data := c.pageData(ss, a, "Try it", navTry)
	c.renderTry(w, r, http.StatusOK, data, newTryForm(), "", nil)
	return nil
}

// tryRun runs Next Actions for the signed-in account with the form's
// request and shows the result under the form. The evaluation is logged
// like one made through the API, so it is a form post with CSRF. Bad
// input evaluates nothing.
func (c *Console) tryRun(w http.ResponseWriter, r *http.Request) error {
	_, ss, a, ok, err := c.signedInPost(w, r)
	if !ok {
		return err
	}
	data := c.pageData(ss, a, "Try it", navTry)
	f := newTryForm()
	req, valid := f.parse(r.PostForm, a.ID)
	if !valid {
		data["Title"] = "Error: Try it"
		c.renderTry(w, r, http.StatusBadRequest, data, f, "", nil)
		return nil
	}
	ex, err := c.cfg.Evaluations.Explain(r.Context(), req)
	if err != nil {
		status, msg, isFault := fault.Status(err)
		if !isFault {
			return err // the store's failure: the generic error page
		}
		data["Title"] = "Error: Try it"
		c.renderTry(w, r, status, data, f, "The evaluation failed: "+msg+". Nothing was matched or logged.", nil)
		return nil
	}
	c.renderTry(w, r, http.StatusOK, data, f, "", newTryResult(req, ex))
	return nil
}

func (c *Console) renderTry(w http.ResponseWriter, r *http.Request, status int, data map[string]any, f *tryForm, problem string, res *tryResult) {
	data["Conversation"], data["Session"], data["Consumer"] = f.conversation, f.session, f.consumer
	data["ConvAttrs"], data["SDEAttrs"] = f.convAttrs, f.sdeAttrs
	data["ErrorList"], data["Problem"] = f.errors(), problem
	if res != nil {
		data["Result"] = res
	}
	c.render(w, r, status, "try", data)
}

// ---- the result ----

// tryResult is an evaluation as the Try it page shows it.
type tryResult struct {
	EvaluationID   string
	ConversationID string
	LogsURL        string
	Matched        *evalPolicyLink
	Actions        []tryAction
	NoMatchReason  string
	NoMatchText    string
	Policies       []tryPolicyRow
	Variables      []tryVarRow
}

type evalPolicyLink struct{ ID, Name, URL string }

type tryAction struct{ Type, Payload string }

// tryPolicyRow is one policy of the evaluation, in evaluation order.
type tryPolicyRow struct {
	Pos int
	evalPolicyLink
	// State is TRUE, FALSE, ERROR, INVALID or DISABLED; empty when the
	// policy was not evaluated (a policy before it matched).
	State string
	Cause string // of ERROR and INVALID
	Vars  []tryVar
}

// tryVar is a variable as a policy row shows it.
type tryVar struct {
	Name, Value      string
	Missing, NotRead bool
}

// tryVarRow is a variable the evaluation looked up, with where it
// comes from.
type tryVarRow struct {
	tryVar
	// Source says where a variable not of the Context Service comes
	// from; DataURL and DefaultURL are the Context data pages of the
	// session and of the namespace level.
	Source, Namespace, Session, DataURL, DefaultURL string
}

func newTryResult(req nextactions.Request, ex nextactions.Explanation) *tryResult {
	d := ex.Decision
	res := &tryResult{EvaluationID: d.ID, ConversationID: req.ConversationID,
		LogsURL: logsURL + "?" + url.Values{"conversation": {req.ConversationID}}.Encode()}
	if d.Policy != nil {
		res.Matched = evalPolicyLinkTo(d.Policy.ID, d.Policy.Name)
		for _, a := range d.Actions {
			res.Actions = append(res.Actions, tryAction{Type: a.Type, Payload: evalJSON(a.Payload)})
		}
	} else {
		res.NoMatchReason = d.NoMatchReason
		switch d.NoMatchReason {
		case nextactions.NoPoliciesEnabled:
			res.NoMatchText = "The account has no enabled policy."
		default:
			res.NoMatchText = "No enabled policy held for this conversation."
		}
	}
	looked := map[string]bool{}
	for _, v := range ex.Looked {
		looked[v] = true
	}
	show := func(name string) tryVar {
		vv := tryVar{Name: name}
		if val, ok := ex.Values[name]; ok {
			vv.Value = evalJSON(val)
		} else if looked[name] {
			vv.Missing = true
		} else {
			vv.NotRead = true
		}
		return vv
	}
	trace := make(map[string]nextactions.Trace, len(ex.Trace))
	for _, t := range ex.Trace {
		trace[t.PolicyID] = t
	}
	for i, p := range ex.Policies {
		row := tryPolicyRow{Pos: i + 1, evalPolicyLink: *evalPolicyLinkTo(p.ID, p.Name)}
		if t, ok := trace[p.ID]; ok {
			row.State = t.State
			if t.Err != nil {
				row.Cause = evalClip(t.Err.Error())
			}
		}
		for _, v := range ex.Reads[p.ID] {
			row.Vars = append(row.Vars, show(v))
		}
		res.Policies = append(res.Policies, row)
	}
	session := req.SessionID
	if session == "" {
		session = req.ConversationID
	}
	for _, v := range ex.Looked {
		row := tryVarRow{tryVar: show(v)}
		ns, _, _ := strings.Cut(v, ".")
		switch ns {
		case nextactions.ConversationNamespace:
			row.Source = "The request (conversation attributes and ids)"
		case nextactions.SDENamespace:
			row.Source = "The request (SDE attributes)"
		case nextactions.CustomNamespace:
			row.Source = "The account's static attributes"
		default:
			row.Namespace, row.Session = ns, session
			row.DataURL = evalDataURL(ns, session)
			if session != wire.DefaultSession {
				row.DefaultURL = evalDataURL(ns, wire.DefaultSession)
			}
		}
		res.Variables = append(res.Variables, row)
	}
	return res
}

func evalPolicyLinkTo(id, name string) *evalPolicyLink {
	if name == "" {
		name = id
	}
	return &evalPolicyLink{ID: id, Name: name, URL: "/console/policies/" + segment(id)}
}

// evalDataURL is the Context data page of one session of a namespace.
// segment (data.go) escapes dot segments too: policy ids and session ids
// may be "." or "..", which a browser would resolve away.
func evalDataURL(namespace, session string) string {
	return "/console/data/" + segment(namespace) + "/" + segment(session)
}

// evalJSON is v as compact JSON, shortened for display. The page
// escapes it.
func evalJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "(cannot be shown: " + err.Error() + ")"
	}
	return evalClip(strings.TrimSuffix(b.String(), "\n"))
}

// evalClip shortens s to evalMaxShown characters with an ellipsis.
func evalClip(s string) string {
	if utf8.RuneCountInString(s) <= evalMaxShown {
		return s
	}
	r := []rune(s)
	return string(r[:evalMaxShown-1]) + "…"
}

// ---- Evaluation logs ----

// evalLogRow is one entry of the evaluation log as the page shows it.
type evalLogRow struct {
	Time            time.Time
	TimeText        string
	ConversationID  string
	ConversationURL string
	Policy          evalPolicyLink
	State           string
}

// evaluationLogs shows the account's evaluation log of the last seven
// days, newest first, logsPerPage entries a page, only one
// conversation's when the filter is set.
func (c *Console) evaluationLogs(w http.ResponseWriter, r *http.Request) error {
	_, ss, a, ok, err := c.signedIn(w, r)
	if !ok {
		return err
	}
	data := c.pageData(ss, a, "Evaluation logs", navLogs)
	q := r.URL.Query()
	filter := evalField{ID: "logs-conversation", Name: "conversation", Label: "Conversation ID", MaxLen: evalMaxID,
		Value: strings.TrimSpace(q.Get("conversation")), Hint: "Show only this conversation's evaluations."}
	page, pageErr := 1, ""
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			pageErr = "The page number must be a whole number from 1 up."
		}
		page = n
	}
	if nextactions.CheckRequestID(filter.Name, filter.Value) != nil {
		filter.Error = "Must be at most 256 printable characters."
	}
	data["Filter"] = filter
	if filter.Error != "" || pageErr != "" {
		var list []evalError
		if filter.Error != "" {
			list = append(list, evalError{ID: filter.ID, Msg: filter.Label + ": " + filter.Error})
		}
		data["ErrorList"], data["PageError"], data["Title"] = list, pageErr, "Error: Evaluation logs"
		c.render(w, r, http.StatusBadRequest, "logs", data)
		return nil
	}
	entries, err := c.cfg.Evaluations.Logs(r.Context(), a.ID, filter.Value)
	if err != nil {
		return err
	}
	names := map[string]string{}
	if len(entries) > 0 {
		ps, err := c.cfg.Evaluations.List(r.Context(), a.ID)
		if err != nil {
			return err
		}
		for _, p := range ps {
			names[p.ID] = p.Name
		}
	}
	pages := max((len(entries)+logsPerPage-1)/logsPerPage, 1)
	if page > pages {
		if len(entries) > 0 {
			data["Notice"] = "There is no page " + strconv.Itoa(page) + "; this is the last page, " + strconv.Itoa(pages) + "."
		} else {
			data["Notice"] = "There is no page " + strconv.Itoa(page) + ": there is nothing to show."
		}
		page = pages
	}
	link := func(p int) string {
		v := url.Values{}
		if filter.Value != "" {
			v.Set("conversation", filter.Value)
		}
		if p > 1 {
			v.Set("page", strconv.Itoa(p))
		}
		if len(v) == 0 {
			return logsURL
		}
		return logsURL + "?" + v.Encode()
	}
	from := (page - 1) * logsPerPage
	shown := entries[from:min(from+logsPerPage, len(entries))]
	rows := make([]evalLogRow, len(shown))
	for i, e := range shown {
		rows[i] = evalLogRow{Time: e.Time, TimeText: e.Time.UTC().Format("2 Jan 2006, 15:04:05 UTC"),
			ConversationID:  e.ConversationID,
			ConversationURL: logsURL + "?" + url.Values{"conversation": {e.ConversationID}}.Encode(),
			Policy:          *evalPolicyLinkTo(e.PolicyID, names[e.PolicyID]), State: e.State}
	}
	data["Entries"], data["Total"], data["Page"], data["Pages"] = rows, len(entries), page, pages
	data["First"], data["Last"] = from+1, from+len(shown)
	data["Capped"] = len(entries) >= nextactions.MaxLogEntries
	if page > 1 {
		data["PrevURL"] = link(page - 1)
	}
	if page < pages {
		data["NextURL"] = link(page + 1)
	}
	c.render(w, r, http.StatusOK, "logs", data)
	return nil
}
