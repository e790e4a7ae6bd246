package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/console"
	"github.com/orchestrator/orchestrator/internal/nextactions"
)

// evalsRef names the Next Actions service in the console's configuration
// before newStack has opened the store the service is built on; it
// forwards every call to the real service.
type evalsRef struct{ *nextactions.Service }

// evalStack is the console with the Try it and Evaluation logs pages over
// a real Next Actions service and Context Service on the stack's SQLite
// store, built as internal/server builds them.
type evalStack struct {
	*stack
	next *nextactions.Service
	ccs  *ccs.Service
}

func newEvalStack(t *testing.T, cfg nextactions.Config) *evalStack {
	t.Helper()
	ref := &evalsRef{}
	s := newStack(t, func(c *console.Config) { c.Evaluations = ref })
	cfg.Now = s.clock.Now
	cs := ccs.New(s.store, ccs.Config{Now: s.clock.Now})
	ref.Service = nextactions.New(s.store, nextactions.CCSVariables{CCS: cs}, cfg)
	return &evalStack{stack: s, next: ref.Service, ccs: cs}
}

var evalSkill42 = []nextactions.Action{{Type: nextactions.ActionTransferToSkill, Payload: map[string]any{"skillId": float64(42)}}}

func (s *evalStack) policy(t *testing.T, accountID string, p nextactions.Policy) {
	t.Helper()
	if _, err := s.next.Create(context.Background(), accountID, p); err != nil {
		t.Fatalf("create policy %s: %v", p.ID, err)
	}
}

// setVar writes one Context Service property, as a v1 PUT does.
func (s *evalStack) setVar(t *testing.T, accountID, namespace, session, name, value string) {
	t.Helper()
	if err := s.ccs.Put(context.Background(), ccs.Key{AccountID: accountID, Namespace: namespace, SessionID: session}, name, []byte(value)); err != nil {
		t.Fatalf("put %s.%s: %v", namespace, name, err)
	}
}

func (s *evalStack) logs(t *testing.T, accountID, conversation string) []nextactions.LogEntry {
	t.Helper()
	es, err := s.next.Logs(context.Background(), accountID, conversation)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// try posts the Try it form with the page's CSRF token.
func (b *browser) try(fields url.Values) page {
	b.t.Helper()
	form := b.get("/console/try")
	if form.status != http.StatusOK {
		b.t.Fatalf("GET /console/try: %d\n%s", form.status, form.body)
	}
	fields = evalCloneValues(fields)
	fields.Set("csrf", csrfOf(b.t, form.body))
	return b.post("/console/try", fields)
}

func evalCloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

var tryPolicyRowRE = regexp.MustCompile(`<tr id="try-policy-(\d+)" data-policy-id="([^"]*)" data-state="([^"]*)">`)

// tryPolicyStates returns "id=STATE" of each row of the Try it policy table,
// in the order shown.
func tryPolicyStates(body string) []string {
	var out []string
	for _, m := range tryPolicyRowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[2]+"="+m[3])
	}
	return out
}

// evalElement returns the unescaped text of the element that starts with the
// first match of start and ends at the next end.
func evalElement(t *testing.T, body, start, end string) string {
	t.Helper()
	i := strings.Index(body, start)
	if i < 0 {
		t.Fatalf("no %q in page:\n%s", start, body)
	}
	j := strings.Index(body[i:], end)
	if j < 0 {
		t.Fatalf("no %q after %q", end, start)
	}
	return html.UnescapeString(body[i : i+j])
}

// TestTryItShowsTheEvaluation runs Next Actions from the form without
// JavaScript: the matched policy and its actions, each policy's state in
// order (a disabled one, a false one, one that fails at run time, the
// match, one never reached), the variables read with their values and
// where they come from; the form keeps what was typed; the evaluation is
// logged for the signed-in account.
func TestTryItShowsTheEvaluation(t *testing.T) {
	s := newEvalStack(t, nextactions.Config{})
	u := s.account(t, "v2")
	off := false
	for _, p := range []nextactions.Policy{
		{ID: "off", Name: "Switched off", Enabled: &off, Expression: "orchestrator.intent == 'billing'", Actions: evalSkill42},
		{ID: "sales", Name: "Sales", Conditions: []nextactions.Condition{{Property: "orchestrator.intent", Type: nextactions.OpEqual, Value: "sales"}}, Actions: evalSkill42},
		{ID: "broken", Name: "Broken", Expression: "orchestrator.intent > 3", Actions: evalSkill42},
		{ID: "billing", Name: "Billing <desk>", Conditions: []nextactions.Condition{{Property: "orchestrator.intent", Type: nextactions.OpEqual, Value: "billing"}}, Actions: evalSkill42},
		{ID: "later", Name: "Later", Expression: "vip.tier == 'gold'", Actions: evalSkill42},
	} {
		s.policy(t, u.accountID, p)
	}
	s.setVar(t, u.accountID, "orchestrator", "conv-1", "intent", `"billing"`)

	b := s.browser(t)
	b.mustSignIn(u)
	p := b.try(url.Values{"conversation": {" conv-1 "}, "consumer": {"cons-7"}})
	if p.status != http.StatusOK {
		t.Fatalf("POST /console/try: %d\n%s", p.status, p.body)
	}
	matched := evalElement(t, p.body, `id="try-matched"`, "</p>")
	if !strings.Contains(matched, "Billing <desk>") || !strings.Contains(matched, `href="/console/policies/billing"`) || !strings.Contains(matched, ">billing</code>") {
		t.Errorf("matched policy: %s", matched)
	}
	if strings.Contains(p.body, "Billing <desk>") {
		t.Error("a policy name was not escaped")
	}
	actions := evalElement(t, p.body, `id="try-actions"`, "</table>")
	if !strings.Contains(actions, "TRANSFER_TO_SKILL") || !strings.Contains(actions, `{"skillId":42}`) {
		t.Errorf("actions: %s", actions)
	}
	want := []string{"off=DISABLED", "sales=FALSE", "broken=ERROR", "billing=TRUE", "later="}
	if got := tryPolicyStates(p.body); !slices.Equal(got, want) {
		t.Errorf("policy states %v, want %v", got, want)
	}
	// State is text, not colour only; an error shows its cause; the
	// policy never reached says so.
	if row := evalElement(t, p.body, `data-policy-id="broken"`, "</tr>"); !strings.Contains(row, ">ERROR<") || !strings.Contains(row, "Cause: ") {
		t.Errorf("broken policy row: %s", row)
	}
	if row := evalElement(t, p.body, `data-policy-id="later"`, "</tr>"); !strings.Contains(row, "NOT EVALUATED") || !strings.Contains(row, "vip.tier</code> <span class=\"muted\">not read") {
		t.Errorf("policy after the match: %s", row)
	}
	if row := evalElement(t, p.body, `data-policy-id="billing"`, "</tr>"); !strings.Contains(row, `orchestrator.intent</code> = <code class="wrap value">"billing"</code>`) {
		t.Errorf("billing row does not show the variable it read: %s", row)
	}
	// The variables table: the value found, and links to the session
	// read and to the namespace level.
	v := evalElement(t, p.body, `<tr data-variable="orchestrator.intent">`, "</tr>")
	for _, w := range []string{`"billing"`, `href="/console/data/orchestrator/conv-1"`, `href="/console/data/orchestrator/__default__"`} {
		if !strings.Contains(v, w) {
			t.Errorf("variable row lacks %s: %s", w, v)
		}
	}
	// The form keeps what was typed (the id trimmed), and links to the
	// conversation's log.
	if !strings.Contains(p.body, `id="try-conversation" name="conversation"`) || !strings.Contains(p.body, `value="conv-1"`) || !strings.Contains(p.body, `value="cons-7"`) {
		t.Error("the form does not keep the typed values")
	}
	if !strings.Contains(p.body, `href="/console/logs?conversation=conv-1" id="try-logs-link"`) {
		t.Error("no link to the conversation's log")
	}
	for _, bad := range []string{"<script>", "style=", "onclick"} {
		if strings.Contains(p.body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// Logged like an API evaluation, for the signed-in account.
	got := map[string]string{}
	for _, e := range s.logs(t, u.accountID, "conv-1") {
		got[e.PolicyID] = e.State
	}
	if got["billing"] != nextactions.StateTrue || got["broken"] != nextactions.StateError || got["off"] != nextactions.StateDisabled {
		t.Errorf("evaluation log %v", got)
	}
}

// TestTryItRequestAttributes: the session id, the conversation and SDE
// attributes reach the evaluation as the v2 body's do.
func TestTryItRequestAttributes(t *testing.T) {
	s := newEvalStack(t, nextactions.Config{})
	u := s.account(t, "v1")
	b := s.browser(t)
	b.mustSignIn(u)

	// No policy at all.
	p := b.try(url.Values{"conversation": {"c-empty"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `<strong id="try-no-match-reason">NO_POLICIES_ENABLED</strong>`) || !strings.Contains(p.body, `id="try-no-policies"`) {
		t.Fatalf("no policies: %d\n%s", p.status, p.body)
	}

	s.policy(t, u.accountID, nextactions.Policy{ID: "late", Name: "Late", Expression: "conversation.minutesSincePreviousMessage > 10", Actions: evalSkill42})
	s.policy(t, u.accountID, nextactions.Policy{ID: "vip", Name: "VIP", Expression: "sde.visitorinfo.customerinfo.customerid == 'c9' and vip.tier == 'gold'",
		Actions: []nextactions.Action{{Type: nextactions.ActionSendMessage, Payload: map[string]any{"message": "Hello {{vip.tier}} <b>"}}}})
	s.setVar(t, u.accountID, "vip", "s-1", "tier", `"gold"`)
	p = b.try(url.Values{"conversation": {"c-1"}, "session": {"s-1"},
		"conversationAttributes": {`{"minutesSincePreviousMessage": 5}`},
		"sdeAttributes":          {`{"visitorinfo": {"customerinfo": {"customerid": "c9"}}}`}})
	if p.status != http.StatusOK {
		t.Fatalf("POST: %d\n%s", p.status, p.body)
	}
	if got, want := tryPolicyStates(p.body), []string{"late=FALSE", "vip=TRUE"}; !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
	if a := evalElement(t, p.body, `id="try-actions"`, "</table>"); !strings.Contains(a, `{"message":"Hello gold <b>"}`) {
		t.Errorf("actions: %s", a)
	}
	if strings.Contains(p.body, "Hello gold <b>") {
		t.Error("a payload was not escaped")
	}
	for name, want := range map[string]string{
		"conversation.minutesSincePreviousMessage": "5",
		"sde.visitorinfo":                          `{"customerinfo":{"customerid":"c9"}}`,
		"vip.tier":                                 `"gold"`,
	} {
		row := evalElement(t, p.body, `<tr data-variable="`+name+`">`, "</tr>")
		if !strings.Contains(row, `<code class="wrap value">`+want+`</code>`) {
			t.Errorf("%s: want %s in %s", name, want, row)
		}
	}
	// The variables read from the session id given, not the
	// conversation's.
	if row := evalElement(t, p.body, `<tr data-variable="vip.tier">`, "</tr>"); !strings.Contains(row, `href="/console/data/vip/s-1"`) {
		t.Errorf("vip.tier links elsewhere: %s", row)
	}
	// The typed JSON is kept in the form.
	if !strings.Contains(html.UnescapeString(p.body), `>{"minutesSincePreviousMessage": 5}</textarea>`) {
		t.Error("the conversation attributes were not kept")
	}

	// A long value is shown truncated, a missing one as missing.
	s.setVar(t, u.accountID, "vip", "s-2", "tier", `"`+strings.Repeat("x", 500)+`"`)
	p = b.try(url.Values{"conversation": {"c-2"}, "session": {"s-2"}, "sdeAttributes": {`{"visitorinfo": {"customerinfo": {"customerid": "c9"}}}`}})
	row := evalElement(t, p.body, `<tr data-variable="vip.tier">`, "</tr>")
	if !strings.Contains(row, strings.Repeat("x", 150)) || strings.Contains(row, strings.Repeat("x", 200)) || !strings.Contains(row, "…") {
		t.Errorf("long value not truncated: %s", row)
	}
	if row := evalElement(t, p.body, `<tr data-variable="conversation.minutesSincePreviousMessage">`, "</tr>"); !strings.Contains(row, ">missing<") {
		t.Errorf("missing variable: %s", row)
	}
	if !strings.Contains(p.body, `<strong id="try-no-match-reason">NO_MATCHED_RULES</strong>`) {
		t.Error("no NO_MATCHED_RULES")
	}
}

// TestTryItBadInput: a field the API would refuse is shown beside the
// field and in a summary, with 400, the typed values kept and nothing
// evaluated or logged.
func TestTryItBadInput(t *testing.T) {
	s := newEvalStack(t, nextactions.Config{})
	u := s.account(t, "v2")
	s.policy(t, u.accountID, nextactions.Policy{ID: "any", Name: "Any", Expression: "true", Actions: evalSkill42})
	b := s.browser(t)
	b.mustSignIn(u)
	for _, tc := range []struct {
		name, field, id, want string
		form                  url.Values
	}{
		{"no conversation", "conversation", "try-conversation", "Enter a conversation ID.", url.Values{"conversation": {"  "}, "session": {"kept-session"}}},
		{"long conversation", "conversation", "try-conversation", "at most 256 printable characters", url.Values{"conversation": {strings.Repeat("c", 257)}}},
		{"control character", "session", "try-session", "at most 256 printable characters", url.Values{"conversation": {"c"}, "session": {"a\x01b"}}},
		{"attributes not JSON", "conversationAttributes", "try-conversation-attributes", "Not valid JSON", url.Values{"conversation": {"c"}, "conversationAttributes": {`{"a": `}}},
		{"attributes an array", "conversationAttributes", "try-conversation-attributes", "not an array", url.Values{"conversation": {"c"}, "conversationAttributes": {`[1, 2]`}}},
		{"attributes null", "sdeAttributes", "try-sde-attributes", "not null", url.Values{"conversation": {"c"}, "sdeAttributes": {`null`}}},
		{"two objects", "sdeAttributes", "try-sde-attributes", "nothing after it", url.Values{"conversation": {"c"}, "sdeAttributes": {`{} {}`}}},
		{"lone surrogate", "sdeAttributes", "try-sde-attributes", "lone surrogate", url.Values{"conversation": {"c"}, "sdeAttributes": {`{"a": "\ud800"}`}}},
		{"number out of range", "sdeAttributes", "try-sde-attributes", "out of range", url.Values{"conversation": {"c"}, "sdeAttributes": {`{"a": 1e999}`}}},
		{"attributes too long", "sdeAttributes", "try-sde-attributes", "at most 2048 characters", url.Values{"conversation": {"c"}, "sdeAttributes": {`{"a": "` + strings.Repeat("y", 2048) + `"}`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.try(tc.form)
			if p.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400\n%s", p.status, p.body)
			}
			summary := evalElement(t, p.body, `<div class="alert error" role="alert" id="error-summary"`, "</div>")
			if !strings.Contains(summary, `href="#`+tc.id+`"`) || !strings.Contains(summary, tc.want) {
				t.Errorf("summary: %s", summary)
			}
			field := evalElement(t, p.body, `<div class="field invalid">`+"\n  <label for=\""+tc.id+`"`, "</div>")
			for _, w := range []string{`aria-invalid="true"`, `aria-describedby="` + tc.id + `-hint ` + tc.id + `-error"`, `<p class="field-error" id="` + tc.id + `-error">`, tc.want} {
				if !strings.Contains(field, w) {
					t.Errorf("field lacks %q: %s", w, field)
				}
			}
			if strings.Contains(p.body, `id="try-result"`) {
				t.Error("a result was shown")
			}
			if tc.name == "no conversation" && !strings.Contains(p.body, `value="kept-session"`) {
				t.Error("the typed session id was not kept")
			}
		})
	}
	if es := s.logs(t, u.accountID, ""); len(es) != 0 {
		t.Errorf("bad input was evaluated: %+v", es)
	}
}

// TestTryItRefusals: a post without its CSRF token, or without a
// session, evaluates nothing; signed-out page views go to sign-in; an
// evaluation the service refuses is shown at the top with its status.
func TestTryItRefusals(t *testing.T) {
	s := newEvalStack(t, nextactions.Config{})
	u := s.account(t, "v2")
	s.policy(t, u.accountID, nextactions.Policy{ID: "any", Name: "Any", Expression: "true", Actions: evalSkill42})
	b := s.browser(t)
	b.mustSignIn(u)
	form := url.Values{"conversation": {"c-csrf"}}
	if p := b.post("/console/try", form); p.status != http.StatusForbidden || !strings.Contains(p.body, "Form expired") {
		t.Errorf("no CSRF token: %d", p.status)
	}
	form.Set("csrf", "not-the-token")
	if p := b.post("/console/try", form); p.status != http.StatusForbidden {
		t.Errorf("wrong CSRF token: %d", p.status)
	}
	// Cross-site, even with the token.
	good := b.get("/console/try")
	form.Set("csrf", csrfOf(t, good.body))
	if p := b.post("/console/try", form, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
		t.Errorf("cross-site post: %d", p.status)
	}
	anon := s.browser(t)
	if p := anon.post("/console/try", form); p.status != http.StatusForbidden {
		t.Errorf("post without a session: %d", p.status)
	}
	if es := s.logs(t, u.accountID, ""); len(es) != 0 {
		t.Errorf("a refused post was evaluated: %+v", es)
	}
	for _, path := range []string{"/console/try", "/console/logs", "/console/logs?conversation=c&page=2"} {
		if p := anon.get(path); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/" {
			t.Errorf("signed-out GET %s: %d %s", path, p.status, p.header.Get("Location"))
		}
	}

	// The service's refusal (here its deadline, 1 ns) keeps the form.
	slow := newEvalStack(t, nextactions.Config{EvalTimeout: time.Nanosecond})
	su := slow.account(t, "v2")
	slow.policy(t, su.accountID, nextactions.Policy{ID: "any", Name: "Any", Expression: "true", Actions: evalSkill42})
	sb := slow.browser(t)
	sb.mustSignIn(su)
	p := sb.try(url.Values{"conversation": {"c-slow"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("too expensive: %d, want 422\n%s", p.status, p.body)
	}
	if msg := evalElement(t, p.body, `id="try-problem"`, "</p>"); !strings.Contains(msg, "evaluation too expensive") {
		t.Errorf("problem: %s", msg)
	}
	if !strings.Contains(p.body, `value="c-slow"`) || strings.Contains(p.body, `id="try-result"`) {
		t.Error("the form was not kept, or a result was shown")
	}
}

var evalLogRowRE = regexp.MustCompile(`<tr data-conversation="([^"]*)" data-policy-id="([^"]*)" data-state="([^"]*)">`)

func evalLogRows(body string) [][]string {
	var out [][]string
	for _, m := range evalLogRowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1:])
	}
	return out
}

// TestEvaluationLogs: an evaluation run in Try it is in the log, newest
// first, with the policy's name; the filter by conversation; pages of 50
// with Previous and Next links that keep the filter; a page out of range;
// a bad page number or filter; another account's evaluations never shown.
func TestEvaluationLogs(t *testing.T) {
	s := newEvalStack(t, nextactions.Config{})
	ctx := context.Background()
	u := s.account(t, "v2")
	other := s.account(t, "v2")
	s.policy(t, u.accountID, nextactions.Policy{ID: "billing", Name: "Billing & co", Conditions: []nextactions.Condition{{Property: "orchestrator.intent", Type: nextactions.OpEqual, Value: "billing"}}, Actions: evalSkill42})
	s.policy(t, other.accountID, nextactions.Policy{ID: "theirs", Name: "Theirs", Expression: "true", Actions: evalSkill42})
	b := s.browser(t)
	b.mustSignIn(u)

	if p := b.get("/console/logs"); p.status != http.StatusOK || !strings.Contains(p.body, `id="logs-empty"`) {
		t.Fatalf("empty log: %d\n%s", p.status, p.body)
	}
	// 60 evaluations of "busy", one a second, then another account's
	// and one from Try it.
	for range 60 {
		if _, err := s.next.NextActions(ctx, nextactions.Request{AccountID: u.accountID, ConversationID: "busy"}); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(time.Second)
	}
	if _, err := s.next.NextActions(ctx, nextactions.Request{AccountID: other.accountID, ConversationID: "secret-conv"}); err != nil {
		t.Fatal(err)
	}
	s.setVar(t, u.accountID, "orchestrator", "tried", "intent", `"billing"`)
	s.clock.Advance(time.Second)
	if p := b.try(url.Values{"conversation": {"tried"}}); p.status != http.StatusOK {
		t.Fatalf("try: %d", p.status)
	}

	// All: the Try it evaluation first (newest), 50 rows, page 1 of 2.
	p := b.get("/console/logs")
	rows := evalLogRows(p.body)
	if p.status != http.StatusOK || len(rows) != 50 {
		t.Fatalf("page 1: %d, %d rows\n%s", p.status, len(rows), p.body)
	}
	if !slices.Equal(rows[0], []string{"tried", "billing", "TRUE"}) || !slices.Equal(rows[1], []string{"busy", "billing", "FALSE"}) {
		t.Errorf("first rows %v", rows[:2])
	}
	first := evalElement(t, p.body, `<tr data-conversation="tried"`, "</tr>")
	for _, w := range []string{`href="/console/logs?conversation=tried"`, `href="/console/policies/billing">Billing & co</a>`, "UTC", `datetime="2026-11-20T10:01:01Z"`} {
		if !strings.Contains(first, w) {
			t.Errorf("row lacks %s: %s", w, first)
		}
	}
	if strings.Contains(p.body, "secret-conv") || strings.Contains(p.body, "theirs") {
		t.Error("another account's evaluation is shown")
	}
	if !strings.Contains(p.body, `href="/console/logs?page=2" rel="next"`) || strings.Contains(p.body, `rel="prev"`) {
		t.Errorf("pager of page 1: %s", evalElement(t, p.body, `<nav class="pager"`, "</nav>"))
	}

	// Filtered: 60 entries of busy, pages keep the filter.
	p = b.get("/console/logs?conversation=busy")
	if rows := evalLogRows(p.body); len(rows) != 50 || rows[0][0] != "busy" {
		t.Fatalf("busy page 1: %d rows", len(rows))
	}
	if !strings.Contains(p.body, `value="busy"`) || !strings.Contains(p.body, "of 60 for conversation") {
		t.Error("the filter is not shown")
	}
	next := `href="/console/logs?conversation=busy&amp;page=2" rel="next" id="logs-next"`
	if !strings.Contains(p.body, next) {
		t.Fatalf("no Next link keeping the filter: %s", evalElement(t, p.body, `<nav class="pager"`, "</nav>"))
	}
	p2 := b.get("/console/logs?conversation=busy&page=2")
	rows2 := evalLogRows(p2.body)
	if p2.status != http.StatusOK || len(rows2) != 10 {
		t.Fatalf("busy page 2: %d, %d rows", p2.status, len(rows2))
	}
	if !strings.Contains(p2.body, `href="/console/logs?conversation=busy" rel="prev" id="logs-prev"`) || strings.Contains(p2.body, `rel="next"`) {
		t.Errorf("pager of page 2: %s", evalElement(t, p2.body, `<nav class="pager"`, "</nav>"))
	}
	// Newest first across the pages.
	times := regexp.MustCompile(`datetime="([^"]+)"`)
	all := append(times.FindAllStringSubmatch(p.body, -1), times.FindAllStringSubmatch(p2.body, -1)...)
	for i := 1; i < len(all); i++ {
		if all[i][1] > all[i-1][1] {
			t.Fatalf("not newest first: %s after %s", all[i][1], all[i-1][1])
		}
	}

	// Past the last page: the last page, said so.
	p = b.get("/console/logs?conversation=busy&page=9")
	if p.status != http.StatusOK || len(evalLogRows(p.body)) != 10 || !strings.Contains(p.body, "There is no page 9; this is the last page, 2.") {
		t.Errorf("page 9: %d, %d rows", p.status, len(evalLogRows(p.body)))
	}
	// Another account's conversation filtered for: nothing.
	p = b.get("/console/logs?conversation=secret-conv")
	if p.status != http.StatusOK || len(evalLogRows(p.body)) != 0 || !strings.Contains(p.body, `id="logs-empty"`) {
		t.Errorf("other account's conversation: %d, %d rows", p.status, len(evalLogRows(p.body)))
	}
	// Bad page numbers and filters: 400, said beside the input.
	for _, q := range []string{"page=0", "page=-1", "page=two", "page=1.5", "page=99999999999999999999"} {
		if p := b.get("/console/logs?" + q); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="logs-page-error"`) || len(evalLogRows(p.body)) != 0 {
			t.Errorf("%s: %d", q, p.status)
		}
	}
	p = b.get("/console/logs?" + url.Values{"conversation": {strings.Repeat("z", 257)}}.Encode())
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `aria-invalid="true"`) || !strings.Contains(p.body, `id="logs-conversation-error"`) || !strings.Contains(p.body, `role="alert" id="error-summary"`) {
		t.Errorf("long filter: %d\n%s", p.status, p.body)
	}

	// The other account sees its own only.
	ob := s.browser(t)
	ob.mustSignIn(other)
	p = ob.get("/console/logs")
	if rows := evalLogRows(p.body); len(rows) != 1 || rows[0][0] != "secret-conv" {
		t.Errorf("other account's log: %v", rows)
	}

	// Seven days later the entries are gone from the page.
	s.clock.Advance(nextactions.LogRetention + time.Minute)
	if p := b.get("/console/logs"); len(evalLogRows(p.body)) != 0 {
		t.Errorf("entries older than 7 days shown: %d", len(evalLogRows(p.body)))
	}
}
