package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/console"
	"github.com/orchestrator/orchestrator/internal/nextactions"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// lazyPolicies lets the console be built before the Next Actions service
// that needs the stack's store: newStack adjusts the Config before it
// opens the store, so the service is set once the stack exists.
type lazyPolicies struct{ *nextactions.Service }

// policyStack is a console with the Policies pages over a real Next
// Actions service on the stack's SQLite store, and a signed-in browser.
type policyStack struct {
	*stack
	svc  *nextactions.Service
	user user
	b    *browser
	csrf string
}

func newPolicyStack(t *testing.T, wrap ...func(storage.Audit) storage.Audit) *policyStack {
	t.Helper()
	lp := &lazyPolicies{}
	var w func(storage.Audit) storage.Audit
	if len(wrap) > 0 {
		w = wrap[0]
	}
	s := newStackAudit(t, w, func(c *console.Config) { c.Policies = lp })
	lp.Service = nextactions.New(s.store, nextactions.CCSVariables{CCS: ccs.New(s.store, ccs.Config{Now: s.clock.Now})},
		nextactions.Config{Now: s.clock.Now, Log: slog.New(slog.DiscardHandler)})
	u := s.account(t, "v2")
	b := s.browser(t)
	pg := b.mustSignIn(u)
	return &policyStack{stack: s, svc: lp.Service, user: u, b: b, csrf: csrfOf(t, pg.body)}
}

func (ps *policyStack) list(t *testing.T) []nextactions.Policy {
	t.Helper()
	l, err := ps.svc.List(context.Background(), ps.user.accountID)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (ps *policyStack) ids(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, p := range ps.list(t) {
		out = append(out, p.ID)
	}
	return out
}

// create makes a policy through the service (not the form).
func (ps *policyStack) create(t *testing.T, name string, skill float64) nextactions.Policy {
	t.Helper()
	p, err := ps.svc.Create(context.Background(), ps.user.accountID, nextactions.Policy{Name: name,
		Conditions: []nextactions.Condition{{Property: "orchestrator.intent", Type: "EQUAL", Value: name}},
		Actions:    []nextactions.Action{{Type: "TRANSFER_TO_SKILL", Payload: map[string]any{"skillId": skill}}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// auditActions returns the account's audit log, oldest first, keeping
// the entries that start with "policy.".
func (ps *policyStack) auditActions(t *testing.T) []string {
	t.Helper()
	events, err := ps.store.ListAudit(context.Background(), ps.user.accountID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range slices.Backward(events) {
		if strings.HasPrefix(e.Action, "policy.") {
			if e.Actor != ps.user.email {
				t.Errorf("audit entry %q: actor %q, want %q", e.Action, e.Actor, ps.user.email)
			}
			out = append(out, e.Action)
		}
	}
	return out
}

// acceptanceForm is the acceptance policy as typed in the form:
// orchestrator.intent EQUAL billing → TRANSFER_TO_SKILL 42, with the
// blank rows the form carries.
func acceptanceForm(csrf string, extra ...string) url.Values {
	f := url.Values{
		"csrf": {csrf}, "name": {"Billing"}, "enabled": {"true"},
		"cond-rows": {"2"}, "action-rows": {"1"}, "exc-cond-rows": {"2"}, "exc-action-rows": {"1"},
		"cond-0-property": {"orchestrator.intent"}, "cond-0-type": {"EQUAL"}, "cond-0-value": {"billing"},
		"cond-1-property": {""}, "cond-1-type": {"EQUAL"}, "cond-1-value": {""},
		"action-0-type": {"TRANSFER_TO_SKILL"}, "action-0-payload": {`{"skillId": 42}`},
		"exc-cond-0-type": {"EQUAL"}, "exc-cond-1-type": {"EQUAL"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// tagOf returns the opening tag of the element with the id.
func tagOf(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<(?:input|textarea|select)\b[^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(body)
	if m == "" {
		t.Fatalf("no field with id %q in the page:\n%s", id, body)
	}
	return m
}

// checkFieldError asserts that the field has the error beside it: the
// error element follows the field, the field points at it with
// aria-describedby and is aria-invalid, and the summary links to it.
func checkFieldError(t *testing.T, body, id, text string) {
	t.Helper()
	tag := tagOf(t, body, id)
	if !strings.Contains(tag, `aria-invalid="true"`) {
		t.Errorf("field %s is not aria-invalid: %s", id, tag)
	}
	desc := regexp.MustCompile(`aria-describedby="([^"]*)"`).FindStringSubmatch(tag)
	if desc == nil || !slices.Contains(strings.Fields(desc[1]), id+"-error") {
		t.Errorf("field %s is not described by %s-error: %s", id, id, tag)
	}
	errRE := regexp.MustCompile(`<p class="field-error" id="` + regexp.QuoteMeta(id) + `-error">([^<]*)</p>`)
	m := errRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no error element %s-error", id)
	}
	if !strings.Contains(m[1], text) {
		t.Errorf("error beside %s: %q, want it to contain %q", id, m[1], text)
	}
	// Beside the field: the error comes after the field and before the
	// next field's label.
	after := body[strings.Index(body, tag)+len(tag):]
	if i, j := strings.Index(after, `id="`+id+`-error"`), strings.Index(after, "<label"); i < 0 || (j >= 0 && j < i) {
		t.Errorf("the error of %s is not next to it", id)
	}
	if !regexp.MustCompile(`(?s)<div class="alert error" role="alert" id="error-summary">.*<a href="#` + regexp.QuoteMeta(id) + `">`).MatchString(body) {
		t.Errorf("the error summary has no link to #%s", id)
	}
}

// checkLabels asserts that every form field of the page has a label.
func checkLabels(t *testing.T, body string) {
	t.Helper()
	for _, m := range regexp.MustCompile(`<(?:input|textarea|select)\b[^>]*>`).FindAllString(body, -1) {
		if strings.Contains(m, `type="hidden"`) {
			continue
		}
		id := regexp.MustCompile(`\bid="([^"]+)"`).FindStringSubmatch(m)
		if id == nil {
			t.Errorf("field without id (so without label): %s", m)
			continue
		}
		if !strings.Contains(body, `<label for="`+id[1]+`">`) {
			t.Errorf("field %s has no label", id[1])
		}
	}
}

func checkNoInline(t *testing.T, body string) {
	t.Helper()
	for _, bad := range []string{"<script>", "style=", "onclick", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

func TestPolicyListEmptyAndInOrder(t *testing.T) {
	ps := newPolicyStack(t)
	p := ps.b.get("/console/policies")
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="no-policies"`) || !strings.Contains(p.body, `href="/console/policies/new"`) {
		t.Fatalf("empty list: %d\n%s", p.status, p.body)
	}
	if !strings.Contains(p.body, `href="/console/policies" aria-current="page"`) {
		t.Error("the nav does not mark Policies as the current page")
	}
	a := ps.create(t, "alpha", 1)
	b := ps.create(t, "beta", 2)
	off := false
	b.Enabled = &off
	if _, err := ps.svc.Update(context.Background(), ps.user.accountID, b); err != nil {
		t.Fatal(err)
	}
	p = ps.b.get("/console/policies")
	if p.status != http.StatusOK || strings.Contains(p.body, `id="no-policies"`) {
		t.Fatalf("list: %d\n%s", p.status, p.body)
	}
	checkNoInline(t, p.body)
	rows := regexp.MustCompile(`(?s)<tr id="policy-[^"]*" data-policy-id="([^"]+)">(.*?)</tr>`).FindAllStringSubmatch(p.body, -1)
	if len(rows) != 2 || rows[0][1] != a.ID || rows[1][1] != b.ID {
		t.Fatalf("rows: %q, want %s then %s", rows, a.ID, b.ID)
	}
	for i, want := range []struct{ pos, name, state, when, then string }{
		{"1", "alpha", "Enabled", "orchestrator.intent EQUAL alpha", `TRANSFER_TO_SKILL {&#34;skillId&#34;:1}`},
		{"2", "beta", "Disabled", "orchestrator.intent EQUAL beta", `TRANSFER_TO_SKILL {&#34;skillId&#34;:2}`},
	} {
		row := rows[i][2]
		for _, s := range []string{`<td class="position">` + want.pos + `</td>`, `<th scope="row"`, ">" + want.name + "</a>", want.state + "</span>", want.when, want.then} {
			if !strings.Contains(row, s) {
				t.Errorf("row %d lacks %q:\n%s", i+1, s, row)
			}
		}
	}
	// Buttons say what they do to which policy; the first cannot move up,
	// the last cannot move down.
	for _, s := range []string{
		`Move<span class="visually-hidden"> alpha</span> down`, `Move<span class="visually-hidden"> beta</span> up`,
		`Disable<span class="visually-hidden"> alpha</span>`, `Enable<span class="visually-hidden"> beta</span>`,
		`Edit<span class="visually-hidden"> alpha</span>`, `Delete<span class="visually-hidden"> beta</span>`,
		`<th scope="col">`,
	} {
		if !strings.Contains(p.body, s) {
			t.Errorf("list lacks %q", s)
		}
	}
	for _, s := range []string{`Move<span class="visually-hidden"> alpha</span> up`, `Move<span class="visually-hidden"> beta</span> down`} {
		if strings.Contains(p.body, s) {
			t.Errorf("list has %q", s)
		}
	}
	// Every form of the list carries the session's CSRF token.
	if n, m := strings.Count(p.body, `<form method="post"`), strings.Count(p.body, `name="csrf" value="`+ps.csrf+`"`); n != m {
		t.Errorf("%d forms, %d with the CSRF token", n, m)
	}
}

// TestPolicyCreateThroughForm is the acceptance case through the no-JS
// form: the policy is stored as typed, listed, and audited.
func TestPolicyCreateThroughForm(t *testing.T) {
	ps := newPolicyStack(t)
	form := ps.b.get("/console/policies/new")
	if form.status != http.StatusOK {
		t.Fatalf("new: %d\n%s", form.status, form.body)
	}
	checkLabels(t, form.body)
	checkNoInline(t, form.body)
	for _, id := range []string{"name", "enabled", "cond-0-property", "cond-0-type", "cond-0-value", "cond-1-property", "expression",
		"action-0-type", "action-0-payload", "exc-cond-0-property", "exc-expression", "exc-action-0-payload"} {
		tagOf(t, form.body, id)
	}
	if strings.Contains(form.body, `id="cond-2-property"`) || strings.Contains(form.body, `id="action-1-type"`) {
		t.Error("the new form has more than 2 blank conditions and 1 blank action")
	}
	// The value's hint says how the text is typed.
	if !strings.Contains(form.body, `id="conditions-hint"`) || !strings.Contains(tagOf(t, form.body, "cond-0-value"), `aria-describedby="conditions-hint"`) {
		t.Error("the value field is not described by the typing hint")
	}

	p := ps.b.post("/console/policies/new", acceptanceForm(csrfOf(t, form.body)))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/policies" {
		t.Fatalf("create: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	got := ps.list(t)
	if len(got) != 1 {
		t.Fatalf("%d policies after create", len(got))
	}
	pol := got[0]
	want := `{"id":"` + pol.ID + `","name":"Billing","enabled":true,"conditions":[{"property":"orchestrator.intent","type":"EQUAL","value":"billing"}],` +
		`"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":42}}]}`
	if asJSON(pol) != want {
		t.Errorf("stored policy:\n got %s\nwant %s", asJSON(pol), want)
	}
	list := ps.b.get("/console/policies")
	if !strings.Contains(list.body, `id="flash">Policy “Billing” created.`) || !strings.Contains(list.body, `data-policy-id="`+pol.ID+`"`) {
		t.Errorf("list after create:\n%s", list.body)
	}
	if strings.Contains(ps.b.get("/console/policies").body, `id="flash"`) {
		t.Error("the message is shown twice")
	}
	if got := ps.auditActions(t); !slices.Equal(got, []string{console.ActionPolicyCreate + " id=" + pol.ID}) {
		t.Errorf("audit: %q", got)
	}
}

// TestPolicyValueTyping: a value is JSON when it parses as JSON, else
// text; the edit form shows each so that saving it again keeps it.
func TestPolicyValueTyping(t *testing.T) {
	ps := newPolicyStack(t)
	values := []struct {
		typed string
		want  any
		shown string
	}{
		{"billing", "billing", `value="billing"`},
		{"42", 42.0, `value="42"`},
		{"true", true, `value="true"`},
		{`"42"`, "42", `value="&#34;42&#34;"`},
		{"{{orchestrator.intent}}", "{{orchestrator.intent}}", `value="{{orchestrator.intent}}"`},
		{`["a", "b"]`, []any{"a", "b"}, `value="[&#34;a&#34;,&#34;b&#34;]"`},
		{`""`, "", `value="&#34;&#34;"`},
		{"  two words ", "two words", `value="two words"`},
	}
	f := acceptanceForm(ps.csrf, "cond-rows", fmt.Sprint(len(values)))
	for i, v := range values {
		op := "EQUAL"
		if _, ok := v.want.([]any); ok {
			op = "IS_IN"
		}
		f.Set(fmt.Sprintf("cond-%d-property", i), fmt.Sprintf("orchestrator.v%d", i))
		f.Set(fmt.Sprintf("cond-%d-type", i), op)
		f.Set(fmt.Sprintf("cond-%d-value", i), v.typed)
	}
	if p := ps.b.post("/console/policies/new", f); p.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	pol := ps.list(t)[0]
	if len(pol.Conditions) != len(values) {
		t.Fatalf("conditions: %d", len(pol.Conditions))
	}
	edit := ps.b.get("/console/policies/" + pol.ID)
	for i, v := range values {
		if asJSON(pol.Conditions[i].Value) != asJSON(v.want) {
			t.Errorf("typed %q: stored %s, want %s", v.typed, asJSON(pol.Conditions[i].Value), asJSON(v.want))
		}
		if tag := tagOf(t, edit.body, fmt.Sprintf("cond-%d-value", i)); !strings.Contains(tag, v.shown) {
			t.Errorf("typed %q: edit form shows %s, want %s", v.typed, tag, v.shown)
		}
	}
}

func TestPolicyEdit(t *testing.T) {
	ps := newPolicyStack(t)
	first := ps.create(t, "first", 1)
	pol := ps.create(t, "billing", 42)
	edit := ps.b.get("/console/policies/" + pol.ID)
	if edit.status != http.StatusOK {
		t.Fatalf("edit: %d", edit.status)
	}
	checkLabels(t, edit.body)
	for id, want := range map[string]string{
		"name": `value="billing"`, "cond-0-property": `value="orchestrator.intent"`, "cond-0-value": `value="billing"`,
		"cond-1-property": `value=""`, "cond-2-property": `value=""`, "policy-id": `value="` + pol.ID + `"`,
	} {
		if tag := tagOf(t, edit.body, id); !strings.Contains(tag, want) {
			t.Errorf("edit form %s: %s, want %s", id, tag, want)
		}
	}
	if !strings.Contains(edit.body, `<option value="TRANSFER_TO_SKILL" selected>`) || !strings.Contains(edit.body, `{&#34;skillId&#34;:42}</textarea>`) {
		t.Error("the edit form does not show the action")
	}
	if strings.Contains(edit.body, `id="cond-3-property"`) || strings.Contains(edit.body, `id="action-2-type"`) {
		t.Error("more than 2 blank conditions or 1 blank action")
	}
	// Change the name, the value and the expression, add an exception.
	f := acceptanceForm(csrfOf(t, edit.body), "name", "Billing v2", "cond-rows", "3", "cond-0-value", "invoice",
		"expression", "orchestrator.priority > 2", "enabled", "",
		"exc-cond-0-property", "orchestrator.vip", "exc-cond-0-type", "EQUAL", "exc-cond-0-value", "true",
		"exc-action-0-type", "SEND_MESSAGE", "exc-action-0-payload", `{"message": "Hello VIP"}`)
	p := ps.b.post("/console/policies/"+pol.ID, f)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/policies" {
		t.Fatalf("update: %d\n%s", p.status, p.body)
	}
	got, err := ps.svc.Get(context.Background(), ps.user.accountID, pol.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + pol.ID + `","name":"Billing v2","enabled":false,"conditions":[{"property":"orchestrator.intent","type":"EQUAL","value":"invoice"}],` +
		`"expression":"orchestrator.priority \u003e 2","actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":42}}],` +
		`"exception":{"conditions":[{"property":"orchestrator.vip","type":"EQUAL","value":true}],"actions":[{"type":"SEND_MESSAGE","payload":{"message":"Hello VIP"}}]}}`
	if asJSON(got) != want {
		t.Errorf("updated policy:\n got %s\nwant %s", asJSON(got), want)
	}
	// Still in its place.
	if ids := ps.ids(t); !slices.Equal(ids, []string{first.ID, pol.ID}) {
		t.Errorf("order after update: %q", ids)
	}
	// The form of a policy with an exception opens it.
	edit = ps.b.get("/console/policies/" + pol.ID)
	if !strings.Contains(edit.body, `id="exception" open`) || !strings.Contains(tagOf(t, edit.body, "exc-cond-0-value"), `value="true"`) {
		t.Error("the exception is not shown open with its values")
	}
	if strings.Contains(tagOf(t, edit.body, "enabled"), "checked") {
		t.Error("a disabled policy's form has Enabled checked")
	}
	if got := ps.auditActions(t); !slices.Equal(got, []string{console.ActionPolicyUpdate + " id=" + pol.ID}) {
		t.Errorf("audit: %q", got)
	}
	// The list and the delete confirmation summarize the exception.
	for _, path := range []string{"/console/policies", "/console/policies/" + pol.ID + "/delete"} {
		body := ps.b.get(path).body
		for _, s := range []string{"<code>orchestrator.vip EQUAL true</code>", "<code>→ SEND_MESSAGE {&#34;message&#34;:&#34;Hello VIP&#34;}</code>", "<code>orchestrator.priority &gt; 2</code>"} {
			if !strings.Contains(body, s) {
				t.Errorf("%s lacks %s", path, s)
			}
		}
	}
	// Unknown policies are a 404, for the form and its post.
	if p := ps.b.get("/console/policies/no-such-policy"); p.status != http.StatusNotFound || !strings.Contains(p.body, "Policy not found") {
		t.Errorf("unknown policy: %d", p.status)
	}
	if p := ps.b.post("/console/policies/no-such-policy", acceptanceForm(ps.csrf)); p.status != http.StatusNotFound {
		t.Errorf("post to an unknown policy: %d", p.status)
	}
}

func TestPolicyEnableDisable(t *testing.T) {
	ps := newPolicyStack(t)
	pol := ps.create(t, "billing", 42)
	p := ps.b.post("/console/policies/"+pol.ID+"/enabled", url.Values{"csrf": {ps.csrf}, "enabled": {"false"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/policies" {
		t.Fatalf("disable: %d\n%s", p.status, p.body)
	}
	if ps.list(t)[0].IsEnabled() {
		t.Fatal("still enabled")
	}
	list := ps.b.get("/console/policies")
	if !strings.Contains(list.body, "Policy “billing” is disabled.") || !strings.Contains(list.body, `<span class="state DISABLED">Disabled</span>`) ||
		!strings.Contains(list.body, `<input type="hidden" name="enabled" value="true">`) {
		t.Errorf("list after disable:\n%s", list.body)
	}
	if p := ps.b.post("/console/policies/"+pol.ID+"/enabled", url.Values{"csrf": {ps.csrf}, "enabled": {"true"}}); p.status != http.StatusSeeOther {
		t.Fatalf("enable: %d", p.status)
	}
	got := ps.list(t)[0]
	if !got.IsEnabled() || asJSON(got.Conditions) != asJSON(pol.Conditions) || asJSON(got.Actions) != asJSON(pol.Actions) {
		t.Errorf("after enable: %s", asJSON(got))
	}
	// Enabling an enabled policy changes (and audits) nothing.
	ps.b.post("/console/policies/"+pol.ID+"/enabled", url.Values{"csrf": {ps.csrf}, "enabled": {"true"}})
	if p := ps.b.post("/console/policies/"+pol.ID+"/enabled", url.Values{"csrf": {ps.csrf}, "enabled": {"maybe"}}); p.status != http.StatusBadRequest {
		t.Errorf("enabled=maybe: %d", p.status)
	}
	if p := ps.b.post("/console/policies/nope/enabled", url.Values{"csrf": {ps.csrf}, "enabled": {"true"}}); p.status != http.StatusNotFound {
		t.Errorf("unknown policy: %d", p.status)
	}
	want := []string{console.ActionPolicyUpdate + " id=" + pol.ID + " enabled=false", console.ActionPolicyUpdate + " id=" + pol.ID + " enabled=true"}
	if got := ps.auditActions(t); !slices.Equal(got, want) {
		t.Errorf("audit:\n got %q\nwant %q", got, want)
	}
}

func TestPolicyMove(t *testing.T) {
	ps := newPolicyStack(t)
	a, b, c := ps.create(t, "a", 1), ps.create(t, "b", 2), ps.create(t, "c", 3)
	move := func(p nextactions.Policy, dir string) page {
		t.Helper()
		pg := ps.b.post("/console/policies/"+p.ID+"/move", url.Values{"csrf": {ps.csrf}, "direction": {dir}})
		if pg.status != http.StatusSeeOther || pg.header.Get("Location") != "/console/policies" {
			t.Fatalf("move %s %s: %d\n%s", p.Name, dir, pg.status, pg.body)
		}
		return pg
	}
	move(c, "up")
	if ids := ps.ids(t); !slices.Equal(ids, []string{a.ID, c.ID, b.ID}) {
		t.Fatalf("after moving c up: %q", ids)
	}
	if !strings.Contains(ps.b.get("/console/policies").body, "Policy “c” moved up: it is now evaluated at position 2.") {
		t.Error("no message after the move")
	}
	move(a, "down")
	if ids := ps.ids(t); !slices.Equal(ids, []string{c.ID, a.ID, b.ID}) {
		t.Fatalf("after moving a down: %q", ids)
	}
	// The list shows the new order.
	list := ps.b.get("/console/policies")
	order := regexp.MustCompile(`data-policy-id="([^"]+)"`).FindAllStringSubmatch(list.body, -1)
	if len(order) != 3 || order[0][1] != c.ID || order[1][1] != a.ID || order[2][1] != b.ID {
		t.Errorf("list order: %q", order)
	}
	// At the ends nothing moves (and nothing is audited).
	move(c, "up")
	move(b, "down")
	if ids := ps.ids(t); !slices.Equal(ids, []string{c.ID, a.ID, b.ID}) {
		t.Fatalf("after moves past the ends: %q", ids)
	}
	if !strings.Contains(ps.b.get("/console/policies").body, "Policy “b” is already last.") {
		t.Error("no message for a move past the end")
	}
	if p := ps.b.post("/console/policies/"+a.ID+"/move", url.Values{"csrf": {ps.csrf}, "direction": {"sideways"}}); p.status != http.StatusBadRequest {
		t.Errorf("direction=sideways: %d", p.status)
	}
	if p := ps.b.post("/console/policies/nope/move", url.Values{"csrf": {ps.csrf}, "direction": {"up"}}); p.status != http.StatusNotFound {
		t.Errorf("unknown policy: %d", p.status)
	}
	want := []string{console.ActionPolicyMove + " id=" + c.ID + " direction=up", console.ActionPolicyMove + " id=" + a.ID + " direction=down"}
	if got := ps.auditActions(t); !slices.Equal(got, want) {
		t.Errorf("audit:\n got %q\nwant %q", got, want)
	}
}

func TestPolicyDelete(t *testing.T) {
	ps := newPolicyStack(t)
	keep := ps.create(t, "keep", 1)
	pol := ps.create(t, "billing", 42)
	confirm := ps.b.get("/console/policies/" + pol.ID + "/delete")
	if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "Delete the policy “billing”?") ||
		!strings.Contains(confirm.body, `action="/console/policies/`+pol.ID+`/delete"`) {
		t.Fatalf("confirmation: %d\n%s", confirm.status, confirm.body)
	}
	checkNoInline(t, confirm.body)
	if len(ps.list(t)) != 2 {
		t.Fatal("opening the confirmation deleted the policy")
	}
	// The post needs the CSRF token.
	for name, form := range map[string]url.Values{"no token": {}, "wrong token": {"csrf": {ps.csrf[:len(ps.csrf)-2] + "xx"}}} {
		if p := ps.b.post("/console/policies/"+pol.ID+"/delete", form); p.status != http.StatusForbidden {
			t.Errorf("delete with %s: %d", name, p.status)
		}
	}
	if len(ps.list(t)) != 2 {
		t.Fatal("a refused post deleted the policy")
	}
	p := ps.b.post("/console/policies/"+pol.ID+"/delete", url.Values{"csrf": {csrfOf(t, confirm.body)}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/policies" {
		t.Fatalf("delete: %d\n%s", p.status, p.body)
	}
	if ids := ps.ids(t); !slices.Equal(ids, []string{keep.ID}) {
		t.Errorf("after delete: %q", ids)
	}
	if !strings.Contains(ps.b.get("/console/policies").body, "Policy “billing” deleted.") {
		t.Error("no message after delete")
	}
	if p := ps.b.get("/console/policies/" + pol.ID + "/delete"); p.status != http.StatusNotFound {
		t.Errorf("confirmation of a deleted policy: %d", p.status)
	}
	if p := ps.b.post("/console/policies/"+pol.ID+"/delete", url.Values{"csrf": {ps.csrf}}); p.status != http.StatusNotFound {
		t.Errorf("deleting it again: %d", p.status)
	}
	if got := ps.auditActions(t); !slices.Equal(got, []string{console.ActionPolicyDelete + " id=" + pol.ID}) {
		t.Errorf("audit: %q", got)
	}
}

// TestPolicyCSRF: every post of the Policies pages is refused without
// the session's token (or from another site), and changes nothing.
func TestPolicyCSRF(t *testing.T) {
	ps := newPolicyStack(t)
	pol := ps.create(t, "billing", 42)
	other := ps.create(t, "other", 1)
	before := asJSON(ps.list(t))
	bad := ps.csrf[:len(ps.csrf)-2] + "xx"
	posts := map[string]url.Values{
		"/console/policies/new":                    acceptanceForm(""),
		"/console/policies/" + pol.ID:              acceptanceForm("", "name", "changed"),
		"/console/policies/" + pol.ID + "/enabled": {"enabled": {"false"}},
		"/console/policies/" + other.ID + "/move":  {"direction": {"up"}},
		"/console/policies/" + pol.ID + "/delete":  {},
	}
	for path, form := range posts {
		for name, tok := range map[string]string{"no token": "", "wrong token": bad} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			f.Set("csrf", tok)
			if tok == "" {
				f.Del("csrf")
			}
			if p := ps.b.post(path, f); p.status != http.StatusForbidden {
				t.Errorf("%s with %s: %d", path, name, p.status)
			}
		}
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("csrf", ps.csrf)
		if p := ps.b.post(path, f, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
			t.Errorf("%s cross-site: %d", path, p.status)
		}
		// Signed out, the right token opens nothing either.
		if p := ps.stack.browser(t).post(path, f); p.status != http.StatusForbidden {
			t.Errorf("%s signed out: %d", path, p.status)
		}
	}
	if after := asJSON(ps.list(t)); after != before {
		t.Errorf("refused posts changed the policies:\n%s\n%s", before, after)
	}
	if got := ps.auditActions(t); len(got) != 0 {
		t.Errorf("refused posts were audited: %q", got)
	}
}

func TestPolicySignedOut(t *testing.T) {
	ps := newPolicyStack(t)
	pol := ps.create(t, "billing", 42)
	b := ps.stack.browser(t)
	for _, path := range []string{"/console/policies", "/console/policies/new", "/console/policies/" + pol.ID, "/console/policies/" + pol.ID + "/delete"} {
		if p := b.get(path); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/" {
			t.Errorf("signed-out GET %s: %d %s", path, p.status, p.header.Get("Location"))
		}
	}
}

// TestPolicyInvalidExpression: the service's error is shown beside the
// expression field, with 400 as the API answers, and nothing is saved
// or audited; the form keeps what was typed.
func TestPolicyInvalidExpression(t *testing.T) {
	ps := newPolicyStack(t)
	p := ps.b.post("/console/policies/new", acceptanceForm(ps.csrf, "expression", "orchestrator.intent =="))
	if p.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400\n%s", p.status, p.body)
	}
	checkFieldError(t, p.body, "expression", "Unexpected token EOF")
	if !strings.Contains(p.body, `>orchestrator.intent ==</textarea>`) || !strings.Contains(tagOf(t, p.body, "cond-0-value"), `value="billing"`) ||
		!strings.Contains(p.body, `{&#34;skillId&#34;: 42}</textarea>`) {
		t.Error("the form lost what was typed")
	}
	if !strings.Contains(p.body, "The policy was not saved.") {
		t.Error("the summary does not say nothing was saved")
	}
	checkLabels(t, p.body)
	if n := len(ps.list(t)); n != 0 {
		t.Errorf("%d policies saved", n)
	}
	// The same on the edit form, and the policy keeps its expression.
	pol := ps.create(t, "billing", 42)
	p = ps.b.post("/console/policies/"+pol.ID, acceptanceForm(ps.csrf, "expression", "orchestrator.intent == 'billing' and"))
	if p.status != http.StatusBadRequest {
		t.Fatalf("edit: status %d", p.status)
	}
	checkFieldError(t, p.body, "expression", "Unexpected token EOF")
	if got, _ := ps.svc.Get(context.Background(), ps.user.accountID, pol.ID); got.Expression != "" {
		t.Errorf("expression saved: %q", got.Expression)
	}
	if got := ps.auditActions(t); len(got) != 0 {
		t.Errorf("refused forms were audited: %q", got)
	}
}

// TestPolicyFieldErrors: each error is shown beside the field it
// concerns, the row counted in the form (blank rows included), in the
// policy or its exception.
func TestPolicyFieldErrors(t *testing.T) {
	ps := newPolicyStack(t)
	for _, tc := range []struct {
		name  string
		extra []string
		field string
		text  string
	}{
		{"payload not JSON", []string{"action-0-payload", `{"skillId": 42`}, "action-0-payload", "Not valid JSON"},
		{"payload not an object", []string{"action-0-payload", `[42]`}, "action-0-payload", "Not a JSON object"},
		{"payload without skillId", []string{"action-0-payload", `{}`}, "action-0-payload", "skillId: required for TRANSFER_TO_SKILL"},
		{"payload with a foreign key", []string{"action-0-payload", `{"skillId": 1, "color": "red"}`}, "action-0-payload", "color: not a payload field of TRANSFER_TO_SKILL"},
		{"unknown action type", []string{"action-0-type", "FLY_AWAY"}, "action-0-type", "Unknown action type"},
		{"blank value", []string{"cond-0-value", ""}, "cond-0-value", "Enter a value"},
		// Row 0 is blank: the service's conditions[0] is the form's row 1.
		{"operator of the second row", []string{"cond-0-property", "", "cond-0-value", "", "cond-1-property", "orchestrator.intent", "cond-1-type", "ALMOST", "cond-1-value", "x"},
			"cond-1-type", "Unknown operator"},
		{"property", []string{"cond-0-property", "intent"}, "cond-0-property", "is not a variable reference"},
		{"malformed reference", []string{"cond-0-value", "{{orchestrator.intent"}, "cond-0-value", "Malformed variable reference"},
		{"no action", []string{"action-0-type", "", "action-0-payload", ""}, "action-0-type", "At least one action is required"},
		{"exception without condition", []string{"exc-action-0-type", "SEND_MESSAGE", "exc-action-0-payload", `{"message": "hi"}`},
			"exc-cond-0-property", "An exception needs at least one condition or an expression"},
		{"exception payload", []string{"exc-cond-0-property", "orchestrator.vip", "exc-cond-0-value", "true", "exc-action-0-type", "TRANSFER_TO_SKILL", "exc-action-0-payload", `{"skillId": ""}`},
			"exc-action-0-payload", "skillId: must be a non-empty string or an integer"},
		// Larger than the console's 16 KiB forms: the service names the limit.
		{"expression too long", []string{"expression", strings.Repeat("orchestrator.intent == 'billing' or ", 600) + "true"}, "expression", "At most 4096 characters"},
		{"exception expression", []string{"exc-expression", "orchestrator.vip ==", "exc-action-0-type", "SEND_MESSAGE", "exc-action-0-payload", `{"message": "hi"}`},
			"exc-expression", "Unexpected token EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ps.b.post("/console/policies/new", acceptanceForm(ps.csrf, tc.extra...))
			if p.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400\n%s", p.status, p.body)
			}
			if tc.field == "action-0-type" && strings.Contains(tc.text, "At least one") {
				// A group error: shown in the group, describing its first field.
				if !strings.Contains(p.body, `<p class="field-error" id="actions-error">`+tc.text) ||
					!strings.Contains(tagOf(t, p.body, "action-0-type"), "actions-error") || !strings.Contains(p.body, `<a href="#action-0-type">`) {
					t.Errorf("group error not shown with the actions:\n%s", p.body)
				}
			} else if tc.field == "exc-cond-0-property" {
				if !strings.Contains(p.body, `<p class="field-error" id="exc-conditions-error">`+tc.text) ||
					!strings.Contains(tagOf(t, p.body, "exc-cond-0-property"), "exc-conditions-error") || !strings.Contains(p.body, `id="exception" open`) {
					t.Errorf("exception error not shown with its conditions:\n%s", p.body)
				}
			} else {
				checkFieldError(t, p.body, tc.field, tc.text)
			}
			if strings.HasPrefix(tc.field, "exc-") && !strings.Contains(p.body, `id="exception" open`) {
				t.Error("the exception with the error is not open")
			}
			if n := len(ps.list(t)); n != 0 {
				t.Errorf("%d policies saved", n)
			}
		})
	}
	if got := ps.auditActions(t); len(got) != 0 {
		t.Errorf("refused forms were audited: %q", got)
	}
}

// TestPolicyAddRow: the Add buttons show the form again with one more
// blank row and what was typed, and save nothing.
func TestPolicyAddRow(t *testing.T) {
	ps := newPolicyStack(t)
	p := ps.b.post("/console/policies/new", acceptanceForm(ps.csrf, "add", "cond"))
	if p.status != http.StatusOK {
		t.Fatalf("add: %d", p.status)
	}
	if !strings.Contains(p.body, `name="cond-rows" value="3"`) || !strings.Contains(tagOf(t, p.body, "cond-2-property"), `value=""`) ||
		!strings.Contains(tagOf(t, p.body, "cond-0-value"), `value="billing"`) {
		t.Errorf("form after Add a condition:\n%s", p.body)
	}
	if strings.Contains(p.body, `role="alert"`) {
		t.Error("adding a row shows errors")
	}
	p = ps.b.post("/console/policies/new", acceptanceForm(ps.csrf, "add", "exc-action"))
	if !strings.Contains(p.body, `name="exc-action-rows" value="2"`) || !strings.Contains(p.body, `id="exception" open`) {
		t.Error("Add an exception action did not add an open row")
	}
	if n := len(ps.list(t)); n != 0 {
		t.Errorf("%d policies saved by Add", n)
	}
	// The first submit button, the one Enter presses, saves.
	form := ps.b.get("/console/policies/new").body
	first := regexp.MustCompile(`<button type="submit"[^>]*>([^<]*)</button>`).FindStringSubmatch(form[strings.Index(form, `id="policy-form"`):])
	if first == nil || first[1] != "Save policy" || strings.Contains(first[0], `name="add"`) {
		t.Errorf("the form's first submit button: %q", first)
	}
}

// TestPolicyConflict: the service's refusal that names no field (too
// many policies) is shown at the top of the form, with its status.
func TestPolicyConflict(t *testing.T) {
	ps := newPolicyStack(t)
	for i := range nextactions.MaxPoliciesPerAccnt {
		if _, err := ps.svc.Create(context.Background(), ps.user.accountID, nextactions.Policy{Name: fmt.Sprint(i),
			Actions: []nextactions.Action{{Type: "SEND_MESSAGE", Payload: map[string]any{"message": "hi"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	p := ps.b.post("/console/policies/new", acceptanceForm(ps.csrf))
	if p.status != http.StatusConflict || !regexp.MustCompile(`id="form-problem">An account has at most \d+ policies`).MatchString(p.body) {
		t.Fatalf("status %d\n%s", p.status, p.body)
	}
	if !strings.Contains(tagOf(t, p.body, "cond-0-value"), `value="billing"`) {
		t.Error("the form lost what was typed")
	}
	if n := len(ps.list(t)); n != nextactions.MaxPoliciesPerAccnt {
		t.Errorf("%d policies", n)
	}
}

// prefixFailingAudit is in data_test.go.

// TestPolicyNoChangeWithoutAudit: a change whose audit entry cannot be
// written is not made.
func TestPolicyNoChangeWithoutAudit(t *testing.T) {
	ps := newPolicyStack(t, func(a storage.Audit) storage.Audit { return prefixFailingAudit{Audit: a, prefix: "policy."} })
	a, b := ps.create(t, "a", 1), ps.create(t, "b", 2)
	before := asJSON(ps.list(t))
	for path, form := range map[string]url.Values{
		"/console/policies/new":                  acceptanceForm(ps.csrf),
		"/console/policies/" + a.ID:              acceptanceForm(ps.csrf, "name", "changed"),
		"/console/policies/" + a.ID + "/enabled": {"csrf": {ps.csrf}, "enabled": {"false"}},
		"/console/policies/" + b.ID + "/move":    {"csrf": {ps.csrf}, "direction": {"up"}},
		"/console/policies/" + a.ID + "/delete":  {"csrf": {ps.csrf}},
	} {
		if p := ps.b.post(path, form); p.status != http.StatusInternalServerError {
			t.Errorf("%s without audit: %d", path, p.status)
		}
	}
	if after := asJSON(ps.list(t)); after != before {
		t.Errorf("changes made without audit:\n%s\n%s", before, after)
	}
}
