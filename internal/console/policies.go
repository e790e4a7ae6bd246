package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/nextactions"
)

// Policies is what the Policies pages need from the Next Actions service.
type Policies interface {
	List(ctx context.Context, accountID string) ([]nextactions.Policy, error)
	Get(ctx context.Context, accountID, id string) (nextactions.Policy, error)
	Create(ctx context.Context, accountID string, p nextactions.Policy) (nextactions.Policy, error)
	Update(ctx context.Context, accountID string, p nextactions.Policy) (nextactions.Policy, error)
	Delete(ctx context.Context, accountID, id string) error
	Move(ctx context.Context, accountID, id string, up bool) error
}

// policiesURL is the Policies list.
const policiesURL = "/console/policies"

// policyRoutes adds the Policies pages: the list in evaluation order, the
// form that creates and edits a policy, and the posts that enable,
// disable, move and (after a confirmation page) delete one. Every page
// works without script: a post answers with a redirect to the list and a
// one-time message, or with the form again and the errors beside the
// fields they concern.
func (c *Console) policyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/policies", c.handle(c.policyList))
	mux.HandleFunc("GET /console/policies/new", c.handle(c.policyNew))
	mux.HandleFunc("POST /console/policies/new", c.handle(c.policySave))
	mux.HandleFunc("GET /console/policies/{id}", c.handle(c.policyEdit))
	mux.HandleFunc("POST /console/policies/{id}", c.handle(c.policySave))
	mux.HandleFunc("POST /console/policies/{id}/enabled", c.handle(c.policyEnabled))
	mux.HandleFunc("POST /console/policies/{id}/move", c.handle(c.policyMove))
	mux.HandleFunc("GET /console/policies/{id}/delete", c.handle(c.policyConfirmDelete))
	mux.HandleFunc("POST /console/policies/{id}/delete", c.handle(c.policyDelete))
}

// policyURL is the address of a policy's page, or of one of its actions
// (suffix "/delete" and so on).
func policyURL(id, suffix string) string {
	return policiesURL + "/" + segment(id) + suffix
}

// policyLabel names a policy to people: its name, or its id when it has
// none (the API does not require a name).
func policyLabel(p nextactions.Policy) string {
	if strings.TrimSpace(p.Name) != "" {
		return p.Name
	}
	return "policy " + p.ID
}

// policyFailure turns a service error of a change made from the list
// (enable, move, delete) into the page the user sees: not found is a 404,
// a refusal the service explains is shown with its message, anything else
// is the console's generic failure.
func policyFailure(err error) error {
	if errors.Is(err, fault.ErrNotFound) {
		return &pageError{status: http.StatusNotFound, title: "Policy not found",
			msg: "This account has no policy with this ID. It may have been deleted."}
	}
	if status, msg, ok := fault.Status(err); ok && status >= 400 && status < 500 {
		return &pageError{status: status, title: "The policy was not changed", msg: msg}
	}
	return err
}

// ---- the list ----

// policyRow is one policy of the list (and of the delete confirmation).
type policyRow struct {
	Position            int
	ID, Name, Label     string
	Enabled             bool
	When, Then, Except  []string
	EditURL, EnabledURL string
	MoveURL, DeleteURL  string
	First, Last         bool
	ElementID           string
}

func (c *Console) policyList(w http.ResponseWriter, r *http.Request) error {
	id, ss, a, ok, err := c.signedIn(w, r)
	if !ok {
		return err
	}
	list, err := c.cfg.Policies.List(r.Context(), a.ID)
	if err != nil {
		return err
	}
	rows := make([]policyRow, len(list))
	for i, p := range list {
		rows[i] = rowOf(p)
		rows[i].Position, rows[i].First, rows[i].Last = i+1, i == 0, i == len(list)-1
	}
	data := c.pageData(ss, a, "Policies", navPolicies)
	data["Policies"], data["Flash"] = rows, c.takeFlash(r, id)
	c.render(w, r, http.StatusOK, "policies", data)
	return nil
}

// rowOf is a policy as the list and the delete confirmation show it: its
// summaries (the exception's: its conditions and expression, then "→"
// and its actions) and the URLs of its forms. The list sets the place.
func rowOf(p nextactions.Policy) policyRow {
	row := policyRow{
		ID: p.ID, Name: p.Name, Label: policyLabel(p), Enabled: p.IsEnabled(),
		When: ruleSummary(p.Conditions, p.Expression), Then: actionsSummary(p.Actions),
		EditURL: policyURL(p.ID, ""), EnabledURL: policyURL(p.ID, "/enabled"),
		MoveURL: policyURL(p.ID, "/move"), DeleteURL: policyURL(p.ID, "/delete"),
		ElementID: "policy-" + p.ID,
	}
	if e := p.Exception; e != nil {
		row.Except = ruleSummary(e.Conditions, e.Expression)
		for _, a := range actionsSummary(e.Actions) {
			row.Except = append(row.Except, "→ "+a)
		}
	}
	return row
}

// summaryMax bounds each line of the list's summaries.
const summaryMax = 100

func clip(s string) string {
	if utf8.RuneCountInString(s) <= summaryMax {
		return s
	}
	return string([]rune(s)[:summaryMax-1]) + "…"
}

func ruleSummary(conds []nextactions.Condition, expression string) []string {
	var out []string
	for _, cd := range conds {
		out = append(out, clip(cd.Property+" "+cd.Type+" "+valueText(cd.Value)))
	}
	if e := strings.Join(strings.Fields(expression), " "); e != "" {
		out = append(out, clip(e))
	}
	if len(out) == 0 {
		out = append(out, "always")
	}
	return out
}

func actionsSummary(actions []nextactions.Action) []string {
	out := make([]string, 0, len(actions))
	for _, a := range actions {
		out = append(out, clip(a.Type+" "+payloadText(a.Payload)))
	}
	return out
}

// ---- values as typed in the form ----

// parseValue reads a condition's value as typed: JSON when it is JSON
// (42, true, null, "quoted", [1,2], {"a":1}), else the text itself
// (billing, {{orchestrator.intent}}). ok is false for a blank field.
func parseValue(text string) (v any, ok bool) {
	t := strings.TrimSpace(text)
	if t == "" {
		return nil, false
	}
	if json.Unmarshal([]byte(t), &v) == nil {
		if v == nil {
			return jsonNull{}, true
		}
		return v, true
	}
	return t, true
}

// jsonNull is a null typed in the form: a value that is there, unlike a
// blank field. It is encoded as null.
type jsonNull struct{}

func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// valueText is the inverse of parseValue: a string that parseValue would
// read back as itself is shown bare, anything else as JSON.
func valueText(v any) string {
	if s, ok := v.(string); ok && s != "" && s == strings.TrimSpace(s) && !json.Valid([]byte(s)) {
		return s
	}
	return compactJSON(v)
}

// payloadText shows a payload as a JSON object.
func payloadText(p map[string]any) string {
	if p == nil {
		return "{}"
	}
	return compactJSON(p)
}

// compactJSON encodes v without escaping <, > and & (the template escapes
// the page; the user sees what they wrote).
func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// ---- the form ----

// Rows of the form: the rows the user has (a hidden count, so blank rows
// survive a re-render), at least one, at most the service's limits (past
// them the service names the limit).
const (
	blankCondRows   = 2
	blankActionRows = 1
)

type condInput struct{ Property, Type, Value string }

type actionInput struct{ Type, Payload string }

type ruleInput struct {
	Conds      []condInput
	Expression string
	Actions    []actionInput
}

func (ri ruleInput) blank() bool {
	if strings.TrimSpace(ri.Expression) != "" {
		return false
	}
	for _, cd := range ri.Conds {
		if !cd.blank() {
			return false
		}
	}
	for _, a := range ri.Actions {
		if !a.blank() {
			return false
		}
	}
	return true
}

func (cd condInput) blank() bool {
	return strings.TrimSpace(cd.Property) == "" && strings.TrimSpace(cd.Value) == ""
}

func (a actionInput) blank() bool {
	return strings.TrimSpace(a.Type) == "" && strings.TrimSpace(a.Payload) == ""
}

// policyForm is the form as the user typed it.
type policyForm struct {
	Name    string
	Enabled bool
	Main    ruleInput
	Exc     ruleInput
	// Open keeps the exception's section open.
	Open bool
}

// excPrefix starts the names of the exception's fields.
const excPrefix = "exc-"

func readPolicyForm(r *http.Request) policyForm {
	f := policyForm{Name: r.PostForm.Get("name"), Enabled: r.PostForm.Get("enabled") == "true"}
	f.Main = readRule(r, "")
	f.Exc = readRule(r, excPrefix)
	f.Open = !f.Exc.blank()
	return f
}

func readRule(r *http.Request, prefix string) ruleInput {
	get := func(k string) string { return r.PostForm.Get(prefix + k) }
	ri := ruleInput{Expression: strings.ReplaceAll(get("expression"), "\r\n", "\n")}
	for i := range rowCount(get("cond-rows"), nextactions.MaxConditions) {
		n := strconv.Itoa(i)
		ri.Conds = append(ri.Conds, condInput{Property: get("cond-" + n + "-property"), Type: get("cond-" + n + "-type"), Value: get("cond-" + n + "-value")})
	}
	for i := range rowCount(get("action-rows"), nextactions.MaxActions) {
		n := strconv.Itoa(i)
		ri.Actions = append(ri.Actions, actionInput{Type: get("action-" + n + "-type"), Payload: strings.ReplaceAll(get("action-"+n+"-payload"), "\r\n", "\n")})
	}
	return ri
}

func rowCount(s string, limit int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 1
	}
	return min(n, limit)
}

// formOf is the form of a stored policy, with blank rows to add to it.
func formOf(p nextactions.Policy) policyForm {
	f := policyForm{Name: p.Name, Enabled: p.IsEnabled(), Main: ruleOf(p.Conditions, p.Expression, p.Actions)}
	if e := p.Exception; e != nil {
		f.Exc = ruleOf(e.Conditions, e.Expression, e.Actions)
		f.Open = true
	} else {
		f.Exc = ruleOf(nil, "", nil)
	}
	return f
}

func ruleOf(conds []nextactions.Condition, expression string, actions []nextactions.Action) ruleInput {
	ri := ruleInput{Expression: expression}
	for _, cd := range conds {
		ri.Conds = append(ri.Conds, condInput{Property: cd.Property, Type: cd.Type, Value: valueText(cd.Value)})
	}
	for _, a := range actions {
		ri.Actions = append(ri.Actions, actionInput{Type: a.Type, Payload: payloadText(a.Payload)})
	}
	for range blankCondRows {
		if len(ri.Conds) < nextactions.MaxConditions {
			ri.Conds = append(ri.Conds, condInput{Type: nextactions.OpEqual})
		}
	}
	for range blankActionRows {
		if len(ri.Actions) < nextactions.MaxActions {
			ri.Actions = append(ri.Actions, actionInput{})
		}
	}
	return ri
}

// addRow adds the blank row an "Add" button asked for; false when the
// button is unknown or the rows are at their limit.
func (f *policyForm) addRow(what string) {
	ri := &f.Main
	if rest, ok := strings.CutPrefix(what, excPrefix); ok {
		ri, what, f.Open = &f.Exc, rest, true
	}
	switch {
	case what == "cond" && len(ri.Conds) < nextactions.MaxConditions:
		ri.Conds = append(ri.Conds, condInput{Type: nextactions.OpEqual})
	case what == "action" && len(ri.Actions) < nextactions.MaxActions:
		ri.Actions = append(ri.Actions, actionInput{})
	}
}

// rowMap maps the index of a condition or action in the policy sent to
// the service to its row in the form (blank rows are left out).
type rowMap struct{ conds, actions []int }

// fieldErrors maps a form field's id to its error.
type fieldErrors map[string]string

// policy builds the policy the form describes. Errors the console can
// find itself (a blank value, a payload that is not a JSON object) are
// returned by field; the service checks the rest.
func (f policyForm) policy() (nextactions.Policy, fieldErrors, [2]rowMap) {
	errs := fieldErrors{}
	enabled := f.Enabled
	p := nextactions.Policy{Name: strings.TrimSpace(f.Name), Enabled: &enabled}
	var maps [2]rowMap
	p.Conditions, p.Actions, maps[0] = f.Main.rule("", errs)
	p.Expression = strings.TrimSpace(f.Main.Expression)
	if !f.Exc.blank() {
		e := &nextactions.Exception{Expression: strings.TrimSpace(f.Exc.Expression)}
		e.Conditions, e.Actions, maps[1] = f.Exc.rule(excPrefix, errs)
		p.Exception = e
	}
	return p, errs, maps
}

func (ri ruleInput) rule(prefix string, errs fieldErrors) ([]nextactions.Condition, []nextactions.Action, rowMap) {
	conds := []nextactions.Condition{}
	var actions []nextactions.Action
	var m rowMap
	for i, cd := range ri.Conds {
		if cd.blank() {
			continue
		}
		v, ok := parseValue(cd.Value)
		if !ok {
			errs[fmt.Sprintf("%scond-%d-value", prefix, i)] = `Enter a value. For empty text, type "".`
		}
		conds = append(conds, nextactions.Condition{Property: strings.TrimSpace(cd.Property), Type: cd.Type, Value: v})
		m.conds = append(m.conds, i)
	}
	for i, a := range ri.Actions {
		if a.blank() {
			continue
		}
		payload := map[string]any{}
		if t := strings.TrimSpace(a.Payload); t != "" {
			if err := json.Unmarshal([]byte(t), &payload); err != nil || !strings.HasPrefix(t, "{") {
				msg := `Not a JSON object. Write the payload as JSON, such as {"skillId": 42}.`
				var se *json.SyntaxError
				if errors.As(err, &se) {
					msg = fmt.Sprintf(`Not valid JSON (%s, at character %d). Write the payload as a JSON object, such as {"skillId": 42}.`, se.Error(), se.Offset)
				}
				errs[fmt.Sprintf("%saction-%d-payload", prefix, i)] = msg
			}
		}
		actions = append(actions, nextactions.Action{Type: strings.TrimSpace(a.Type), Payload: payload})
		m.actions = append(m.actions, i)
	}
	return conds, actions, m
}

// fieldPath matches what follows "policy." or "policy.exception." in the
// service's messages: "expression", "conditions", "conditions[1].type",
// "actions[0].payload.skillId", ...
var fieldPath = regexp.MustCompile(`^(name|expression|conditions|actions)(?:\[(\d+)\])?(?:\.([A-Za-z]+))?(?:\.(.+))?$`)

// fieldOf maps the field path of a service error ("policy.conditions[1].type")
// to the id of the form field it concerns and the part of the path below
// it ("skillId" of a payload). field is "" when no field of the form
// matches: the error is shown at the top.
func fieldOf(path string, maps [2]rowMap) (field, sub string) {
	rest, ok := strings.CutPrefix(path, "policy.")
	if !ok {
		return "", ""
	}
	prefix, m := "", maps[0]
	if r, ok := strings.CutPrefix(rest, "exception."); ok {
		prefix, m, rest = excPrefix, maps[1], r
	} else if rest == "exception" {
		return excPrefix + "conditions", ""
	}
	g := fieldPath.FindStringSubmatch(rest)
	if g == nil {
		return "", ""
	}
	what, index, part, below := g[1], g[2], g[3], g[4]
	if what == "name" {
		if prefix != "" || index != "" || part != "" {
			return "", ""
		}
		return "name", ""
	}
	if index == "" {
		if part != "" || below != "" {
			return "", ""
		}
		return prefix + what, ""
	}
	i, _ := strconv.Atoi(index)
	switch what {
	case "conditions":
		if i >= len(m.conds) {
			return prefix + what, ""
		}
		switch part {
		case "property", "type", "value":
			return fmt.Sprintf("%scond-%d-%s", prefix, m.conds[i], part), below
		}
		return fmt.Sprintf("%scond-%d-property", prefix, m.conds[i]), ""
	case "actions":
		if i >= len(m.actions) {
			return prefix + what, ""
		}
		if part == "type" {
			return fmt.Sprintf("%saction-%d-type", prefix, m.actions[i]), ""
		}
		sub = below
		if part != "payload" && part != "" {
			sub = strings.TrimPrefix(part+"."+below, ".")
		}
		return fmt.Sprintf("%saction-%d-payload", prefix, m.actions[i]), strings.TrimSuffix(sub, ".")
	}
	return prefix + what, ""
}

// serviceError places a validation error of the service: beside its
// field when the message names one, else at the top (problem).
func serviceError(msg string, maps [2]rowMap, errs fieldErrors) (problem string) {
	path, text, ok := strings.Cut(msg, ": ")
	if ok && !strings.ContainsAny(path, " ") {
		if field, sub := fieldOf(path, maps); field != "" {
			if sub != "" {
				errs[field] = sub + ": " + text // a payload key keeps its case
			} else {
				errs[field] = capitalize(text)
			}
			return ""
		}
	}
	return capitalize(msg)
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// ---- the form's view ----

type policyOption struct {
	Value, Label string
	Selected     bool
}

type policyField struct {
	ID, Label, Value, Error string
	// Hints are the ids of the texts that describe the field.
	Hints   []string
	Options []policyOption
}

// DescribedBy is the field's aria-describedby: its error, then its
// hints (the order they are shown in).
func (f policyField) DescribedBy() string {
	var ids []string
	if f.Error != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(append(ids, f.Hints...), " ")
}

type policyCondView struct {
	N                     int
	Property, Type, Value policyField
}

type policyActionView struct {
	N             int
	Type, Payload policyField
}

type policyRuleView struct {
	Prefix       string
	FormURL      string
	Conditions   []policyCondView
	CondError    string
	Expression   policyField
	Actions      []policyActionView
	ActionsError string
	CanAddCond   bool
	CanAddAction bool
}

// policySummaryItem is one line of the error summary: a link to the field.
type policySummaryItem struct{ Field, Label, Message string }

var operatorOptions = []struct{ op, label string }{
	{nextactions.OpEqual, "equals"},
	{nextactions.OpNotEqual, "does not equal"},
	{nextactions.OpLessThan, "is less than"},
	{nextactions.OpLessThanOrEqual, "is less than or equal to"},
	{nextactions.OpGreaterThan, "is greater than"},
	{nextactions.OpGreaterThanOrEqual, "is greater than or equal to"},
	{nextactions.OpContains, "contains"},
	{nextactions.OpIsIn, "is in"},
}

var actionTypeOptions = []struct{ typ, label string }{
	{nextactions.ActionTransferToSkill, "Transfer to skill"},
	{nextactions.ActionTransferToAgent, "Transfer to agent"},
	{nextactions.ActionSendMessage, "Send message"},
}

func operatorSelect(current string) []policyOption {
	out := make([]policyOption, 0, len(operatorOptions)+1)
	known := false
	for _, o := range operatorOptions {
		sel := strings.EqualFold(strings.TrimSpace(current), o.op)
		known = known || sel
		out = append(out, policyOption{Value: o.op, Label: o.op + " (" + o.label + ")", Selected: sel})
	}
	if !known && current != "" {
		// Keep what was sent, so the service's error can be fixed here.
		out = append(out, policyOption{Value: current, Label: current + " (unknown)", Selected: true})
	}
	return out
}

func actionSelect(current string) []policyOption {
	out := []policyOption{{Value: "", Label: "Choose an action", Selected: strings.TrimSpace(current) == ""}}
	known := current == ""
	for _, o := range actionTypeOptions {
		sel := strings.EqualFold(strings.TrimSpace(current), o.typ)
		known = known || sel
		out = append(out, policyOption{Value: o.typ, Label: o.typ + " (" + o.label + ")", Selected: sel})
	}
	if !known {
		out = append(out, policyOption{Value: current, Label: current + " (unknown)", Selected: true})
	}
	return out
}

// view is the form's template data: fields with their errors, and the
// error summary in the order of the form.
func (f policyForm) view(formURL string, errs fieldErrors) (main, exc policyRuleView, summary []policySummaryItem) {
	used := map[string]bool{}
	note := func(id, label string) string {
		msg, ok := errs[id]
		if ok {
			used[id] = true
			summary = append(summary, policySummaryItem{Field: id, Label: label, Message: msg})
		}
		return msg
	}
	if msg, ok := errs["name"]; ok {
		used["name"] = true
		summary = append(summary, policySummaryItem{Field: "name", Label: "Name", Message: msg})
	}
	main = f.Main.view("", "", formURL, note)
	exc = f.Exc.view(excPrefix, "Exception ", formURL, note)
	for id, msg := range errs {
		if !used[id] && id != "name" {
			summary = append(summary, policySummaryItem{Label: id, Message: msg})
		}
	}
	return main, exc, summary
}

func (ri ruleInput) view(prefix, labelPrefix, formURL string, note func(id, label string) string) policyRuleView {
	lower := func(s string) string {
		if labelPrefix == "" {
			return s
		}
		return labelPrefix + strings.ToLower(s[:1]) + s[1:]
	}
	v := policyRuleView{Prefix: prefix, FormURL: formURL,
		CanAddCond: len(ri.Conds) < nextactions.MaxConditions, CanAddAction: len(ri.Actions) < nextactions.MaxActions}
	// A group's error (all conditions, all actions) describes its first
	// row's first field; the summary links there.
	v.CondError = note(prefix+"conditions", lower("Conditions"))
	for i, cd := range ri.Conds {
		n := strconv.Itoa(i)
		id := prefix + "cond-" + n + "-"
		row := policyCondView{N: i + 1,
			Property: policyField{ID: id + "property", Label: "Property", Value: cd.Property,
				Error: note(id+"property", lower(fmt.Sprintf("Condition %d property", i+1)))},
			Type: policyField{ID: id + "type", Label: "Operator", Options: operatorSelect(cd.Type),
				Error: note(id+"type", lower(fmt.Sprintf("Condition %d operator", i+1)))},
			Value: policyField{ID: id + "value", Label: "Value", Value: cd.Value, Hints: []string{prefix + "conditions-hint"},
				Error: note(id+"value", lower(fmt.Sprintf("Condition %d value", i+1)))},
		}
		if i == 0 && v.CondError != "" {
			row.Property.Hints = append(row.Property.Hints, prefix+"conditions-error")
		}
		v.Conditions = append(v.Conditions, row)
	}
	v.Expression = policyField{ID: prefix + "expression", Label: "Expression", Value: ri.Expression,
		Hints: []string{prefix + "expression-hint"}, Error: note(prefix+"expression", lower("Expression"))}
	v.ActionsError = note(prefix+"actions", lower("Actions"))
	for i, a := range ri.Actions {
		id := prefix + "action-" + strconv.Itoa(i) + "-"
		row := policyActionView{N: i + 1,
			Type: policyField{ID: id + "type", Label: "Action type", Options: actionSelect(a.Type),
				Error: note(id+"type", lower(fmt.Sprintf("Action %d type", i+1)))},
			Payload: policyField{ID: id + "payload", Label: "Payload", Value: a.Payload, Hints: []string{prefix + "actions-hint"},
				Error: note(id+"payload", lower(fmt.Sprintf("Action %d payload", i+1)))},
		}
		if i == 0 && v.ActionsError != "" {
			row.Type.Hints = append(row.Type.Hints, prefix+"actions-error")
		}
		v.Actions = append(v.Actions, row)
	}
	return v
}

// renderPolicyForm renders the create or edit form.
func (c *Console) renderPolicyForm(w http.ResponseWriter, r *http.Request, status int, data map[string]any, f policyForm, policyID string, errs fieldErrors, problem string) {
	formURL := policiesURL + "/new"
	if policyID != "" {
		formURL = policyURL(policyID, "")
	}
	main, exc, summary := f.view(formURL, errs)
	// The summary links a group's error to the group's first field.
	for i, s := range summary {
		switch {
		case strings.HasSuffix(s.Field, "conditions"):
			summary[i].Field = strings.TrimSuffix(s.Field, "conditions") + "cond-0-property"
		case strings.HasSuffix(s.Field, "actions"):
			summary[i].Field = strings.TrimSuffix(s.Field, "actions") + "action-0-type"
		}
	}
	data["FormURL"], data["PolicyID"], data["New"] = formURL, policyID, policyID == ""
	data["Name"] = policyField{ID: "name", Label: "Name", Value: f.Name, Hints: []string{"name-hint"}, Error: errs["name"]}
	data["Enabled"], data["Main"], data["Exc"], data["ExcOpen"] = f.Enabled, main, exc, f.Open || hasExcError(errs)
	data["CondRows"], data["ActionRows"] = len(f.Main.Conds), len(f.Main.Actions)
	data["ExcCondRows"], data["ExcActionRows"] = len(f.Exc.Conds), len(f.Exc.Actions)
	data["Errors"], data["Problem"] = summary, problem
	c.render(w, r, status, "policies-form", data)
}

func hasExcError(errs fieldErrors) bool {
	for id := range errs {
		if strings.HasPrefix(id, excPrefix) {
			return true
		}
	}
	return false
}

// pathPolicy is the account's policy that the request's path names.
func (c *Console) pathPolicy(r *http.Request, accountID string) (nextactions.Policy, error) {
	p, err := c.cfg.Policies.Get(r.Context(), accountID, r.PathValue("id"))
	if err != nil {
		return p, policyFailure(err)
	}
	return p, nil
}

// policyNew shows the empty form.
func (c *Console) policyNew(w http.ResponseWriter, r *http.Request) error {
	_, ss, a, ok, err := c.signedIn(w, r)
	if !ok {
		return err
	}
	f := formOf(nextactions.Policy{})
	c.renderPolicyForm(w, r, http.StatusOK, c.pageData(ss, a, "New policy", navPolicies), f, "", nil, "")
	return nil
}

// policyEdit shows a policy in the form.
func (c *Console) policyEdit(w http.ResponseWriter, r *http.Request) error {
	_, ss, a, ok, err := c.signedIn(w, r)
	if !ok {
		return err
	}
	p, err := c.pathPolicy(r, a.ID)
	if err != nil {
		return err
	}
	data := c.pageData(ss, a, "Edit policy "+policyLabel(p), navPolicies)
	c.renderPolicyForm(w, r, http.StatusOK, data, formOf(p), p.ID, nil, "")
	return nil
}

// policySave creates (POST /console/policies/new) or updates (POST
// /console/policies/{id}) a policy from the form. An "Add" button shows
// the form again with one more row. Errors the console finds, then those
// the service finds, are shown beside their fields with the status the
// API would answer; nothing is saved then, and nothing is audited: only
// a change about to be made is.
func (c *Console) policySave(w http.ResponseWriter, r *http.Request) error {
	if err := readPolicyPost(w, r); err != nil {
		return err
	}
	sid, ss, a, ok, err := c.signedInPost(w, r)
	if !ok {
		return err
	}
	policyID := r.PathValue("id") // "" for a new policy
	title := "New policy"
	if policyID != "" {
		title = "Edit policy"
	}
	data := c.pageData(ss, a, title, navPolicies)
	f := readPolicyForm(r)
	if add := r.PostForm.Get("add"); add != "" {
		f.addRow(add)
		c.renderPolicyForm(w, r, http.StatusOK, data, f, policyID, nil, "")
		return nil
	}
	p, errs, maps := f.policy()
	problem := ""
	if len(errs) == 0 {
		// The service validates again; checking first keeps a refused
		// form out of the audit log.
		if _, err := nextactions.Compile("policy", p); err != nil {
			status, msg, _ := fault.Status(err)
			if status != http.StatusBadRequest {
				return err
			}
			problem = serviceError(msg, maps, errs)
		}
	}
	if len(errs) > 0 || problem != "" {
		c.renderPolicyForm(w, r, http.StatusBadRequest, data, f, policyID, errs, problem)
		return nil
	}
	action := ActionPolicyUpdate
	if policyID == "" {
		action, p.ID = ActionPolicyCreate, uuid.NewString()
	} else {
		p.ID = policyID
	}
	if err := c.auditChange(r, ss, action, "id", p.ID); err != nil {
		return err
	}
	var saved nextactions.Policy
	if policyID == "" {
		saved, err = c.cfg.Policies.Create(r.Context(), a.ID, p)
	} else {
		saved, err = c.cfg.Policies.Update(r.Context(), a.ID, p)
	}
	if err != nil {
		if errors.Is(err, fault.ErrNotFound) {
			return policyFailure(err)
		}
		status, msg, isFault := fault.Status(err)
		if !isFault || status >= 500 {
			return err
		}
		errs = fieldErrors{}
		problem = serviceError(msg, maps, errs)
		c.renderPolicyForm(w, r, status, data, f, policyID, errs, problem)
		return nil
	}
	verb := "updated"
	if policyID == "" {
		verb = "created"
	}
	c.setFlash(r, sid, "Policy “"+policyLabel(saved)+"” "+verb+".")
	http.Redirect(w, r, policiesURL, http.StatusSeeOther)
	return nil
}

// policyFormMax bounds the body of the policy form. The console's other
// forms are small (readForm allows 16 KiB); a policy at the service's
// limits (50 conditions, a 4,096-character expression, 20 payloads) is
// larger, and its form should reach the service, which names the limit
// beside the field, rather than fail as unreadable.
const policyFormMax = 256 << 10

// readPolicyPost parses the policy form's body within policyFormMax;
// signedInPost's readForm then finds it parsed.
func readPolicyPost(w http.ResponseWriter, r *http.Request) error {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return errBadForm
	}
	r.Body = http.MaxBytesReader(w, r.Body, policyFormMax)
	if err := r.ParseForm(); err != nil {
		return &pageError{status: http.StatusRequestEntityTooLarge, title: "Form too large",
			msg: "The policy form is too large to be read. Shorten its expression or payloads and try again."}
	}
	return nil
}

// policyEnabled enables (enabled=true) or disables (enabled=false) a
// policy; it keeps its place in the order.
func (c *Console) policyEnabled(w http.ResponseWriter, r *http.Request) error {
	sid, ss, a, ok, err := c.signedInPost(w, r)
	if !ok {
		return err
	}
	var on bool
	switch r.PostForm.Get("enabled") {
	case "true":
		on = true
	case "false":
	default:
		return errBadForm
	}
	p, err := c.pathPolicy(r, a.ID)
	if err != nil {
		return err
	}
	word := map[bool]string{true: "enabled", false: "disabled"}[on]
	if p.IsEnabled() != on {
		if err := c.auditChange(r, ss, ActionPolicyUpdate, "id", p.ID, "enabled", strconv.FormatBool(on)); err != nil {
			return err
		}
		p.Enabled = &on
		if _, err := c.cfg.Policies.Update(r.Context(), a.ID, p); err != nil {
			return policyFailure(err)
		}
	}
	c.setFlash(r, sid, "Policy “"+policyLabel(p)+"” is "+word+".")
	http.Redirect(w, r, policiesURL, http.StatusSeeOther)
	return nil
}

// policyMove moves a policy one place up (direction=up, evaluated
// earlier) or down.
func (c *Console) policyMove(w http.ResponseWriter, r *http.Request) error {
	sid, ss, a, ok, err := c.signedInPost(w, r)
	if !ok {
		return err
	}
	dir := r.PostForm.Get("direction")
	if dir != "up" && dir != "down" {
		return errBadForm
	}
	list, err := c.cfg.Policies.List(r.Context(), a.ID)
	if err != nil {
		return err
	}
	id, pos := r.PathValue("id"), -1
	for i, p := range list {
		if p.ID == id {
			pos = i
		}
	}
	if pos < 0 {
		return policyFailure(fault.NotFound("policy not found"))
	}
	label := policyLabel(list[pos])
	to := pos - 1
	if dir == "down" {
		to = pos + 1
	}
	if to < 0 || to >= len(list) {
		c.setFlash(r, sid, "Policy “"+label+"” is already "+map[bool]string{true: "first", false: "last"}[to < 0]+".")
		http.Redirect(w, r, policiesURL, http.StatusSeeOther)
		return nil
	}
	if err := c.auditChange(r, ss, ActionPolicyMove, "id", id, "direction", dir); err != nil {
		return err
	}
	if err := c.cfg.Policies.Move(r.Context(), a.ID, id, dir == "up"); err != nil {
		return policyFailure(err)
	}
	c.setFlash(r, sid, fmt.Sprintf("Policy “%s” moved %s: it is now evaluated at position %d.", label, dir, to+1))
	http.Redirect(w, r, policiesURL, http.StatusSeeOther)
	return nil
}

// policyConfirmDelete asks before a policy is deleted.
func (c *Console) policyConfirmDelete(w http.ResponseWriter, r *http.Request) error {
	_, ss, a, ok, err := c.signedIn(w, r)
	if !ok {
		return err
	}
	p, err := c.pathPolicy(r, a.ID)
	if err != nil {
		return err
	}
	data := c.pageData(ss, a, "Delete policy "+policyLabel(p), navPolicies)
	data["Policy"] = rowOf(p)
	c.render(w, r, http.StatusOK, "policies-delete", data)
	return nil
}

// policyDelete deletes a policy (the post of the confirmation page).
func (c *Console) policyDelete(w http.ResponseWriter, r *http.Request) error {
	sid, ss, a, ok, err := c.signedInPost(w, r)
	if !ok {
		return err
	}
	p, err := c.pathPolicy(r, a.ID)
	if err != nil {
		return err
	}
	if err := c.auditChange(r, ss, ActionPolicyDelete, "id", p.ID); err != nil {
		return err
	}
	if err := c.cfg.Policies.Delete(r.Context(), a.ID, p.ID); err != nil {
		return policyFailure(err)
	}
	c.setFlash(r, sid, "Policy “"+policyLabel(p)+"” deleted.")
	http.Redirect(w, r, policiesURL, http.StatusSeeOther)
	return nil
}
