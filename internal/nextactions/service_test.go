package nextactions_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/nextactions"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
	"github.com/orchestrator/orchestrator/wire"
)

// fakeVars is a Variables over account → namespace → session → name →
// JSON, counting reads.
type fakeVars struct {
	mu    sync.Mutex
	data  map[string]string // "ns/session/name" → JSON
	reads int
}

func (f *fakeVars) set(ns, session, name, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data == nil {
		f.data = map[string]string{}
	}
	f.data[ns+"/"+session+"/"+name] = value
}

func (f *fakeVars) Get(ctx context.Context, accountID, ns, session string, names []string) (map[string][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	out := map[string][]byte{}
	for _, n := range names {
		if v, ok := f.data[ns+"/"+session+"/"+n]; ok {
			out[n] = []byte(v)
		}
	}
	return out, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const acct = "67005361"

func newService(t *testing.T, vars nextactions.Variables, clk *clock) (*nextactions.Service, *sqlite.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	err = st.CreateAccount(ctx, storage.NewAccount{
		Account: storage.Account{ID: acct, Name: "a", AuthVersion: storage.AuthV2, CreatedAt: clk.now()},
		APIKey:  storage.APIKey{AccountID: acct, Hash: []byte("h"), Sealed: []byte("s"), CreatedAt: clk.now()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return nextactions.New(st, vars, nextactions.Config{Now: clk.now}), st
}

func billingPolicy() nextactions.Policy {
	return nextactions.Policy{
		Name:       "billing",
		Conditions: []nextactions.Condition{{Property: "orchestrator.intent", Type: nextactions.OpEqual, Value: "billing"}},
		Actions:    []nextactions.Action{{Type: nextactions.ActionTransferToSkill, Payload: map[string]any{"skillId": float64(42)}}},
		Exception: &nextactions.Exception{
			Expression: "vip.tier == 'gold'",
			Actions:    []nextactions.Action{{Type: nextactions.ActionTransferToAgent, Payload: map[string]any{"agentId": "a7"}}},
		},
	}
}

func TestConfigLifecycle(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	s, _ := newService(t, &fakeVars{}, clk)

	p1, err := s.Create(ctx, acct, billingPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if p1.ID == "" || p1.Enabled == nil || !*p1.Enabled {
		t.Fatalf("created %+v: want an id and enabled", p1)
	}
	second := billingPolicy()
	second.ID, second.Name = "second", "second"
	p2, err := s.Create(ctx, acct, second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, acct, second); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("duplicate id: err = %v, want conflict", err)
	}

	// An invalid policy saves nothing, on create and on update.
	bad := billingPolicy()
	bad.Expression = "orchestrator.intent =="
	if _, err := s.Create(ctx, acct, bad); !errors.Is(err, fault.ErrInvalid) {
		t.Fatalf("invalid create: err = %v, want invalid", err)
	}
	bad.ID = p1.ID
	if _, err := s.Update(ctx, acct, bad); !errors.Is(err, fault.ErrInvalid) {
		t.Fatalf("invalid update: err = %v, want invalid", err)
	}
	list, err := s.List(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]nextactions.Policy{p1, p2}, list); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}

	// Update keeps the place in the order.
	up := billingPolicy()
	up.ID, up.Name = p1.ID, "renamed"
	if _, err := s.Update(ctx, acct, up); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, acct, p1.ID)
	if err != nil || got.Name != "renamed" {
		t.Fatalf("Get after update = %+v, %v", got, err)
	}
	list, _ = s.List(ctx, acct)
	if len(list) != 2 || list[0].ID != p1.ID {
		t.Errorf("order after update: %+v", list)
	}
	up.ID = "nope"
	if _, err := s.Update(ctx, acct, up); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("update missing: err = %v, want not found", err)
	}

	if err := s.Delete(ctx, acct, p1.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, acct, p1.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("delete again: err = %v, want not found", err)
	}
	if _, err := s.Get(ctx, acct, p1.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("get deleted: err = %v, want not found", err)
	}
}

func TestNextActionsAndLogs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	vars := &fakeVars{}
	s, _ := newService(t, vars, clk)
	go s.Run(ctx)

	d, err := s.NextActions(ctx, nextactions.Request{AccountID: acct, ConversationID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Policy != nil || d.NoMatchReason != nextactions.NoPoliciesEnabled || len(d.Actions) != 0 {
		t.Errorf("no policies: %+v, want NO_POLICIES_ENABLED", d)
	}
	off := false
	disabled := billingPolicy()
	disabled.ID, disabled.Enabled = "off", &off
	if _, err := s.Create(ctx, acct, disabled); err != nil {
		t.Fatal(err)
	}
	d, _ = s.NextActions(ctx, nextactions.Request{AccountID: acct, ConversationID: "c1"})
	if d.NoMatchReason != nextactions.NoPoliciesEnabled {
		t.Errorf("only disabled policies: reason %q, want NO_POLICIES_ENABLED", d.NoMatchReason)
	}
	p := billingPolicy()
	p.ID = "billing"
	if _, err := s.Create(ctx, acct, p); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name    string
		set     func()
		req     nextactions.Request
		want    string // matched policy id, "" for none
		actions string // type of the first action
		reason  string
	}{
		{"no context", func() {}, nextactions.Request{AccountID: acct, ConversationID: "c1"}, "", "", nextactions.NoMatchedRules},
		{"namespace-level intent", func() { vars.set("orchestrator", "__default__", "intent", `"billing"`) },
			nextactions.Request{AccountID: acct, ConversationID: "c1"}, "billing", nextactions.ActionTransferToSkill, ""},
		{"session value wins", func() { vars.set("orchestrator", "c1", "intent", `"sales"`) },
			nextactions.Request{AccountID: acct, ConversationID: "c1"}, "", "", nextactions.NoMatchedRules},
		{"sessionId over conversationId", func() { vars.set("orchestrator", "s9", "intent", `"billing"`) },
			nextactions.Request{AccountID: acct, ConversationID: "c1", SessionID: "s9"}, "billing", nextactions.ActionTransferToSkill, ""},
		{"exception", func() { vars.set("vip", "s9", "tier", `"gold"`) },
			nextactions.Request{AccountID: acct, ConversationID: "c1", SessionID: "s9"}, "billing", nextactions.ActionTransferToAgent, ""},
	}
	for _, st := range steps {
		st.set()
		d, err := s.NextActions(ctx, st.req)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		var gotID, gotAction string
		if d.Policy != nil {
			gotID, gotAction = d.Policy.ID, d.Actions[0].Type
		}
		if gotID != st.want || gotAction != st.actions || d.NoMatchReason != st.reason {
			t.Errorf("%s: got policy %q action %q reason %q; want %q %q %q", st.name, gotID, gotAction, d.NoMatchReason, st.want, st.actions, st.reason)
		}
	}

	// policyId evaluates that policy alone.
	if _, err := s.NextActions(ctx, nextactions.Request{AccountID: acct, PolicyID: "missing"}); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("unknown policyId: err = %v, want not found", err)
	}

	logs, err := s.Logs(ctx, acct, "c1")
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: the exception step, then the others.
	var states []string
	for _, l := range logs {
		if l.PolicyID == "billing" {
			states = append(states, l.State)
		}
		if l.ConversationID != "c1" {
			t.Errorf("log of another conversation: %+v", l)
		}
	}
	if diff := cmp.Diff([]string{"TRUE", "TRUE", "FALSE", "TRUE", "FALSE"}, states); diff != "" {
		t.Errorf("billing states (-want +got):\n%s", diff)
	}
	if logs[0].State != "TRUE" || logs[1].State != "DISABLED" || logs[1].PolicyID != "off" {
		t.Errorf("latest evaluation: %+v", logs[:2])
	}

	// Seven days later the entries are no longer returned, and the purge
	// deletes them.
	clk.add(nextactions.LogRetention + time.Minute)
	logs, err = s.Logs(ctx, acct, "")
	if err != nil || len(logs) != 0 {
		t.Errorf("logs after 7 days = %d entries, %v; want none", len(logs), err)
	}
	if n := s.Purge(ctx); n == 0 {
		t.Error("Purge deleted nothing")
	}
}

func TestVariablesReadOncePerNamespace(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	vars := &fakeVars{}
	s, _ := newService(t, vars, clk)
	for _, id := range []string{"a", "b", "c"} {
		p := billingPolicy()
		p.ID = id
		p.Conditions = append(p.Conditions, nextactions.Condition{Property: "orchestrator.other", Type: nextactions.OpEqual, Value: id})
		if _, err := s.Create(ctx, acct, p); err != nil {
			t.Fatal(err)
		}
	}
	vars.set("orchestrator", "c1", "intent", `"billing"`)
	vars.set("orchestrator", "__default__", "other", `"c"`)
	d, err := s.NextActions(ctx, nextactions.Request{AccountID: acct, ConversationID: "c1"})
	if err != nil || d.Policy == nil || d.Policy.ID != "c" {
		t.Fatalf("matched %+v, %v; want c", d.Policy, err)
	}
	// orchestrator: session + namespace level; vip: the same two.
	if vars.reads != 4 {
		t.Errorf("%d reads, want 4", vars.reads)
	}
}

// BenchmarkServiceNextActions is one next-action request of an account
// with 100 policies over SQLite, the last one matching: policy list,
// cached compiled forms, two context reads per namespace, log queueing.
func BenchmarkServiceNextActions(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	vars := &fakeVars{}
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "o.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateAccount(ctx, storage.NewAccount{
		Account: storage.Account{ID: acct, Name: "a", AuthVersion: storage.AuthV2, CreatedAt: clk.now()},
		APIKey:  storage.APIKey{AccountID: acct, Hash: []byte("h"), Sealed: []byte("s"), CreatedAt: clk.now()},
	}); err != nil {
		b.Fatal(err)
	}
	s := nextactions.New(st, vars, nextactions.Config{Now: clk.now, LogQueue: 1 << 16})
	go s.Run(ctx)
	for i := range 100 {
		p := billingPolicy()
		p.ID = fmt.Sprintf("p%03d", i)
		p.Conditions = append(p.Conditions, nextactions.Condition{Property: "orchestrator.step", Type: nextactions.OpEqual, Value: float64(i)})
		if _, err := s.Create(ctx, acct, p); err != nil {
			b.Fatal(err)
		}
	}
	vars.set("orchestrator", "c1", "intent", `"billing"`)
	vars.set("orchestrator", "c1", "step", `99`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d, err := s.NextActions(ctx, nextactions.Request{AccountID: acct, ConversationID: "c1"})
		if err != nil || d.Policy == nil || d.Policy.ID != "p099" {
			b.Fatalf("matched %+v, %v", d.Policy, err)
		}
	}
}

// TestOutOfRangeStoredNumber pins finding 10 on the evaluation side: a
// number beyond float64 written straight into the store (bypassing the
// Context Service's validation) makes the policy that reads it ERROR; the
// evaluation goes on and answers, where it was a server fault (500).
func TestOutOfRangeStoredNumber(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	err = st.CreateAccount(ctx, storage.NewAccount{
		Account: storage.Account{ID: acct, Name: "a", AuthVersion: storage.AuthV2, CreatedAt: clk.now()},
		APIKey:  storage.APIKey{AccountID: acct, Hash: []byte("h"), Sealed: []byte("s"), CreatedAt: clk.now()},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []storage.ContextProperty{{Name: "n", Value: []byte(`1e999999999`)}, {Name: "ok", Value: []byte(`3`)}} {
		if err := st.MergeProperties(ctx, storage.ContextMerge{
			Key:        storage.ContextKey{AccountID: acct, Namespace: "numz", SessionID: wire.DefaultSession},
			Properties: []storage.ContextProperty{p}, Now: clk.now(),
		}); err != nil {
			t.Fatal(err)
		}
	}
	vars := nextactions.CCSVariables{CCS: ccs.New(st, ccs.Config{Now: clk.now})}
	s := nextactions.New(st, vars, nextactions.Config{Now: clk.now})
	skill := []nextactions.Action{{Type: nextactions.ActionTransferToSkill, Payload: map[string]any{"skillId": "42"}}}
	for _, p := range []nextactions.Policy{
		{ID: "cond", Conditions: []nextactions.Condition{{Property: "numz.n", Type: nextactions.OpGreaterThan, Value: float64(1)}}, Actions: skill},
		{ID: "expr", Expression: "numz.n > 1 or numz.ok > 1", Actions: skill},
		{ID: "fine", Expression: "numz.ok == 3", Actions: skill},
	} {
		if _, err := s.Create(ctx, acct, p); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.NextActions(ctx, nextactions.Request{AccountID: acct, ConversationID: "c1"})
	if err != nil {
		t.Fatalf("NextActions: %v, want an answer", err)
	}
	if d.Policy == nil || d.Policy.ID != "fine" {
		t.Errorf("matched %+v, want fine", d.Policy)
	}
	logs, err := s.Logs(ctx, acct, "c1")
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, e := range logs {
		states[e.PolicyID] = e.State
	}
	if diff := cmp.Diff(map[string]string{"cond": "ERROR", "expr": "ERROR", "fine": "TRUE"}, states); diff != "" {
		t.Errorf("log states (-want +got):\n%s", diff)
	}
}

// TestTooManyNamesInNamespace pins the silent-missing-variables finding:
// when the enabled policies read more than 1,000 names of one namespace,
// the Context Service refuses the read and every variable of that
// namespace read as missing, so policies that should match were silently
// FALSE. Those policies are now ERROR (SPEC §6: a reference that cannot
// be resolved), and evaluation goes on with the next one.
func TestTooManyNamesInNamespace(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	_, st := newService(t, nil, clk)
	cs := ccs.New(st, ccs.Config{Now: clk.now})
	s := nextactions.New(st, nextactions.CCSVariables{CCS: cs}, nextactions.Config{Now: clk.now})
	skill := []nextactions.Action{{Type: nextactions.ActionTransferToSkill, Payload: map[string]any{"skillId": "42"}}}
	// 21 policies × 50 conditions: 1,050 names of namespace wide. The
	// first one holds.
	for i := range 21 {
		p := nextactions.Policy{ID: fmt.Sprint("wide", i), Actions: skill}
		for j := range 50 {
			p.Conditions = append(p.Conditions, nextactions.Condition{Property: fmt.Sprintf("wide.n%d", i*50+j), Type: nextactions.OpEqual, Value: "v"})
		}
		if _, err := s.Create(ctx, acct, p); err != nil {
			t.Fatal(err)
		}
	}
	narrow := nextactions.Policy{ID: "narrow", Actions: skill, Conditions: []nextactions.Condition{{Property: "narrow.x", Type: nextactions.OpEqual, Value: "v"}}}
	if _, err := s.Create(ctx, acct, narrow); err != nil {
		t.Fatal(err)
	}
	doc := map[string]string{}
	for j := range 50 {
		doc[fmt.Sprint("n", j)] = "v"
	}
	if err := cs.Merge(ctx, ccs.Key{AccountID: acct, Namespace: "wide", SessionID: "c1"}, mustJSON(t, doc)); err != nil {
		t.Fatal(err)
	}
	if err := cs.Merge(ctx, ccs.Key{AccountID: acct, Namespace: "narrow", SessionID: "c1"}, []byte(`{"x":"v"}`)); err != nil {
		t.Fatal(err)
	}
	d, err := s.NextActions(ctx, nextactions.Request{AccountID: acct, ConversationID: "c1"})
	if err != nil {
		t.Fatalf("NextActions: %v, want an answer", err)
	}
	if d.Policy == nil || d.Policy.ID != "narrow" {
		t.Errorf("matched %+v, want narrow", d.Policy)
	}
	logs, err := s.Logs(ctx, acct, "c1")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range logs {
		want := "ERROR"
		if e.PolicyID == "narrow" {
			want = "TRUE"
		}
		if e.State != want {
			t.Errorf("policy %s: %s, want %s", e.PolicyID, e.State, want)
		}
	}
	if len(logs) != 22 {
		t.Errorf("%d log entries, want 22", len(logs))
	}

	// The Context Service reader says so too, rather than answering
	// nothing.
	names := make([]string, nextactions.MaxNamesPerNamespace+1)
	for i := range names {
		names[i] = fmt.Sprint("n", i)
	}
	if _, err := (nextactions.CCSVariables{CCS: cs}).Get(ctx, acct, "wide", "c1", names); err == nil {
		t.Error("CCSVariables.Get of 1,001 names: no error")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExplain: Explain decides as NextActions does, logs the evaluation,
// and says how each policy fared and what it read (the console's Try it).
func TestExplain(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	vars := &fakeVars{}
	s, _ := newService(t, vars, clk)
	off := false
	disabled := billingPolicy()
	disabled.ID, disabled.Enabled = "off", &off
	broken := nextactions.Policy{ID: "broken", Name: "broken", Expression: "orchestrator.score > 'x' && 1 / 0 > 1",
		Actions: []nextactions.Action{{Type: nextactions.ActionSendMessage, Payload: map[string]any{"message": "hi"}}}}
	sales := billingPolicy()
	sales.ID, sales.Name, sales.Exception = "sales", "sales", nil
	sales.Conditions[0].Value = "sales"
	billing := billingPolicy()
	billing.ID = "billing"
	for _, p := range []nextactions.Policy{disabled, broken, sales, billing} {
		if _, err := s.Create(ctx, acct, p); err != nil {
			t.Fatalf("create %s: %v", p.ID, err)
		}
	}
	vars.set("orchestrator", "c1", "intent", `"billing"`)
	vars.set("orchestrator", "c1", "score", `0.5`)

	ex, err := s.Explain(ctx, nextactions.Request{AccountID: acct, ConversationID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Decision.Policy == nil || ex.Decision.Policy.ID != "billing" {
		t.Fatalf("matched %+v, want billing", ex.Decision.Policy)
	}
	states := map[string]string{}
	for _, tr := range ex.Trace {
		states[tr.PolicyID] = tr.State
	}
	want := map[string]string{"off": nextactions.StateDisabled, "broken": nextactions.StateError, "sales": nextactions.StateFalse, "billing": nextactions.StateTrue}
	for id, st := range want {
		if states[id] != st {
			t.Errorf("policy %s: state %q, want %q (trace %+v)", id, states[id], st, ex.Trace)
		}
	}
	if len(ex.Policies) != 4 || ex.Policies[3].ID != "billing" {
		t.Errorf("Policies = %d, want the 4 in order", len(ex.Policies))
	}
	if got := ex.Values["orchestrator.intent"]; got != "billing" {
		t.Errorf("Values[orchestrator.intent] = %v, want billing", got)
	}
	if _, ok := ex.Values["vip.tier"]; ok {
		t.Errorf("vip.tier is missing, yet it has a value: %v", ex.Values["vip.tier"])
	}
	if !slices.Contains(ex.Looked, "orchestrator.intent") || !slices.Contains(ex.Looked, "vip.tier") {
		t.Errorf("Looked = %v, want orchestrator.intent and vip.tier among them", ex.Looked)
	}
	if !slices.Contains(ex.Reads["billing"], "orchestrator.intent") {
		t.Errorf("Reads[billing] = %v, want orchestrator.intent", ex.Reads["billing"])
	}
	// The evaluation is logged like any other.
	logs, err := s.Logs(ctx, acct, "c1")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range logs {
		found = found || (e.PolicyID == "billing" && e.State == nextactions.StateTrue)
	}
	if !found {
		t.Errorf("Logs(c1) = %+v, want billing TRUE", logs)
	}
}

// TestMove: Move reorders evaluation at once; a missing policy is 404.
func TestMove(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	vars := &fakeVars{}
	s, _ := newService(t, vars, clk)
	first, second := billingPolicy(), billingPolicy()
	first.ID, first.Exception = "first", nil
	second.ID, second.Exception = "second", nil
	for _, p := range []nextactions.Policy{first, second} {
		if _, err := s.Create(ctx, acct, p); err != nil {
			t.Fatal(err)
		}
	}
	vars.set("orchestrator", "c1", "intent", `"billing"`)
	match := func() string {
		d, err := s.NextActions(ctx, nextactions.Request{AccountID: acct, ConversationID: "c1"})
		if err != nil || d.Policy == nil {
			t.Fatalf("NextActions: %+v, %v", d, err)
		}
		return d.Policy.ID
	}
	if got := match(); got != "first" {
		t.Fatalf("before the move %s matched, want first", got)
	}
	if err := s.Move(ctx, acct, "second", true); err != nil {
		t.Fatal(err)
	}
	if got := match(); got != "second" {
		t.Errorf("after moving second up %s matched, want second", got)
	}
	if err := s.Move(ctx, acct, "nope", true); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("Move(missing) = %v, want not found", err)
	}
}
