package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// These tests run the real server over loopback and count logins with
// its own metric.

const (
	loginsOK     = `orchestrator_logins_total{result="success"}`
	loginsFailed = `orchestrator_logins_total{result="failure"}`
)

// statusRecorder is a base transport that records the status of every
// answer the client receives.
type statusRecorder struct {
	mu       sync.Mutex
	statuses []int
}

func (s *statusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		s.mu.Lock()
		s.statuses = append(s.statuses, resp.StatusCode)
		s.mu.Unlock()
	}
	return resp, err
}

func (s *statusRecorder) count(status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.statuses {
		if st == status {
			n++
		}
	}
	return n
}

func TestE2ERevokedCachedTokenOneLoginFor100Callers(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	stale := env.Login(t, acct)
	// Regenerating the password revokes every token issued before it:
	// the cached token is now refused with 403.
	var cred struct{ UserID, Password string }
	if st := env.Admin(t, "POST", "/admin/v1/accounts/"+acct.AccountID+"/credentials/regenerate", map[string]string{}, &cred); st != 200 {
		t.Fatalf("regenerate: status %d", st)
	}
	ctx := context.Background()
	c, err := New(Config{BaseURL: env.URL, AccountID: acct.AccountID, UserID: cred.UserID, Password: cred.Password,
		TokenCache: &memCache{tok: stale}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetDocument(ctx, DocumentWrite{NameSpace: "shop", Payload: map[string]any{"cart": 3}}); err != nil {
		t.Fatal(err)
	}
	// Make the fresh token invalid again, and cache the stale one.
	if st := env.Admin(t, "POST", "/admin/v1/accounts/"+acct.AccountID+"/credentials/regenerate", map[string]string{}, &cred); st != 200 {
		t.Fatalf("regenerate: status %d", st)
	}
	c, err = New(Config{BaseURL: env.URL, AccountID: acct.AccountID, UserID: cred.UserID, Password: cred.Password,
		TokenCache: &memCache{tok: stale}})
	if err != nil {
		t.Fatal(err)
	}
	before := env.Metric(t, loginsOK)

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			v, err := c.GetDocumentProperties(ctx, "shop", "", "cart")
			if err != nil {
				errs <- err
				return
			}
			if string(v["shop.cart"]) != "3" {
				errs <- fmt.Errorf("properties = %v", v)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := env.Metric(t, loginsOK) - before; got != 1 {
		t.Errorf("logins during 100 concurrent calls with a revoked cached token = %v, want 1", got)
	}
}

func TestE2ERefreshBeforeExpiry(t *testing.T) {
	clk := &clock{t: time.Now().Truncate(time.Second)}
	env := servertest.StartClock(t, clk.Now, func(c *config.Serve) { c.TokenTTL = 3 * time.Second })
	acct := env.CreateAccount(t, true)
	rec := &statusRecorder{}
	c, err := New(Config{BaseURL: env.URL, AccountID: acct.AccountID, UserID: acct.UserID, Password: acct.Password,
		HTTPClient: &http.Client{Transport: rec}, now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	call := func() {
		t.Helper()
		if _, err := c.SetDocument(ctx, DocumentWrite{NameSpace: "ns", Payload: map[string]any{"at": clk.Now().Unix()}}); err != nil {
			t.Fatal(err)
		}
	}
	logins := func() float64 { return env.Metric(t, loginsOK) }

	call()
	if got := logins(); got != 1 {
		t.Fatalf("logins after the first call = %v, want 1", got)
	}
	clk.Add(time.Second)
	call()
	if got := logins(); got != 1 {
		t.Errorf("logins 1 s into a 3 s token = %v, want 1 (reused)", got)
	}
	clk.Add(1500 * time.Millisecond)
	call()
	if got := logins(); got != 2 {
		t.Errorf("logins 0.5 s before expiry = %v, want 2 (refreshed)", got)
	}
	clk.Add(time.Second) // the first token has expired; the second has not
	call()
	if got := logins(); got != 2 {
		t.Errorf("logins = %v, want 2", got)
	}
	if n := rec.count(http.StatusForbidden); n != 0 {
		t.Errorf("%d answers were 403: the token was not refreshed before it expired", n)
	}
}

func TestE2EBadPassword(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	c, err := New(Config{BaseURL: env.URL, AccountID: acct.AccountID, UserID: acct.UserID, Password: acct.Password + "x"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		_, err := c.GetDocument(context.Background(), "ns", "")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			t.Fatalf("call %d: err = %v, want a 401 APIError", i, err)
		}
		if want := "log in as " + acct.UserID; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "invalid_client") {
			t.Errorf("error %q: want it to say %q and invalid_client", err, want)
		}
		if got := env.Metric(t, loginsFailed); got != float64(i) {
			t.Errorf("after call %d: failed logins = %v, want %d (one attempt per call)", i, got, i)
		}
	}
	if got := env.Metric(t, loginsOK); got != 0 {
		t.Errorf("successful logins = %v", got)
	}
}

func TestE2EAPIKey(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, false)
	ctx := context.Background()
	c, err := New(Config{BaseURL: env.URL, AccountID: acct.AccountID, APIKey: acct.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetNamespaceTTL(ctx, "shop", 3600); err != nil {
		t.Fatal(err)
	}
	if err := c.PatchProperties(ctx, "shop", "", map[string]any{"cart": 3, "name": "Ann"}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutProperty(ctx, "shop", "s1", "step", "pay"); err != nil {
		t.Fatal(err)
	}
	props, err := c.GetProperties(ctx, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]json.RawMessage{"cart": json.RawMessage("3"), "name": json.RawMessage(`"Ann"`)}, props); diff != "" {
		t.Errorf("properties (-want +got):\n%s", diff)
	}
	v, err := c.GetProperty(ctx, "shop", "s1", "step")
	if err != nil || string(v) != `"pay"` {
		t.Errorf("session property = %s, %v; want \"pay\"", v, err)
	}
	ns, err := c.ListNamespaces(ctx)
	if err != nil || len(ns) != 1 || ns[0].Name != "shop" || ns[0].TTLSecond == nil || *ns[0].TTLSecond != 3600 {
		t.Errorf("namespaces = %+v, %v; want shop with TTL 3600", ns, err)
	}
	if err := c.DeleteProperty(ctx, "shop", "s1", "step"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetProperty(ctx, "shop", "s1", "step"); !IsNotFound(err) {
		t.Errorf("deleted property: err = %v, want 404", err)
	}

	bad, _ := New(Config{BaseURL: env.URL, AccountID: acct.AccountID, APIKey: "wrong"})
	err = bad.CreateNamespace(ctx, "x")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Code != "invalid_api_key" {
		t.Errorf("wrong key: err = %v, want 403 invalid_api_key", err)
	}
	if got := env.Metric(t, loginsOK) + env.Metric(t, loginsFailed); got != 0 {
		t.Errorf("v1 calls made %v logins, want 0", got)
	}
}

func TestE2EDocumentsV2(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	ctx := context.Background()
	c, err := New(Config{BaseURL: env.URL, AccountID: acct.AccountID, UserID: acct.UserID, Password: acct.Password})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.SetDocument(ctx, DocumentWrite{NameSpace: "shop", SessionID: "s1", TTLSeconds: new(60), Payload: map[string]any{"cart": 3, "tags": []string{"a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&DocumentResult{DocumentKey: acct.AccountID + ":shop:s1", TenantID: acct.AccountID, Success: true}, res); diff != "" {
		t.Errorf("create (-want +got):\n%s", diff)
	}
	doc, err := c.GetDocument(ctx, "shop", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]json.RawMessage{"cart": json.RawMessage("3"), "tags": json.RawMessage(`["a"]`)}, doc.Payload); diff != "" || doc.SessionID != "s1" || doc.TTL == "" {
		t.Errorf("document %+v; payload (-want +got):\n%s", doc, diff)
	}
	if _, err := c.DeleteDocumentProperties(ctx, "shop", "s1", "cart"); err != nil {
		t.Fatal(err)
	}
	props, err := c.GetDocumentProperties(ctx, "shop", "s1")
	if diff := cmp.Diff(map[string]json.RawMessage{"shop.tags": json.RawMessage(`["a"]`)}, props); err != nil || diff != "" {
		t.Errorf("after deleting cart: %v (-want +got):\n%s", err, diff)
	}
	if _, err := c.DeleteDocument(ctx, "shop", "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDocument(ctx, "shop", "s1"); !IsNotFound(err) {
		t.Errorf("deleted document: err = %v, want 404", err)
	}
	if got := env.Metric(t, loginsOK); got != 1 {
		t.Errorf("logins = %v, want 1", got)
	}
}

func TestE2EPoliciesAndNextActions(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	ctx := context.Background()
	c, err := New(Config{BaseURL: env.URL, AccountID: acct.AccountID, UserID: acct.UserID, Password: acct.Password, APIKey: acct.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.CreatePolicy(ctx, Policy{
		Name:       "vip",
		Conditions: []Condition{{Property: "shop.tier", Type: "EQUAL", Value: json.RawMessage(`"gold"`)}},
		Actions:    []Action{{Type: "TRANSFER_TO_SKILL", Payload: json.RawMessage(`{"skillId":"42"}`)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID == "" {
		t.Fatalf("created policy has no id: %+v", p)
	}
	p.Name = "vip customers"
	if _, err := c.UpdatePolicy(ctx, *p); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetPolicy(ctx, p.ID)
	if err != nil || got.Name != "vip customers" {
		t.Errorf("policy after update = %+v, %v", got, err)
	}
	list, err := c.ListPolicies(ctx)
	if err != nil || len(list) != 1 || list[0].ID != p.ID {
		t.Errorf("policies = %+v, %v; want the one", list, err)
	}

	actions, err := c.NextActions(ctx, NextActionsRequest{ConversationID: "c1"})
	if err != nil || len(actions) != 0 {
		t.Errorf("no context yet: actions = %+v, %v; want none", actions, err)
	}
	if err := c.PutProperty(ctx, "shop", "c1", "tier", "gold"); err != nil { // v1 write, v2 read
		t.Fatal(err)
	}
	actions, err = c.NextActions(ctx, NextActionsRequest{ConversationID: "c1"})
	if diff := cmp.Diff([]Action{{Type: "TRANSFER_TO_SKILL", Payload: json.RawMessage(`{"skillId":"42"}`)}}, actions); err != nil || diff != "" {
		t.Errorf("v2 next actions: %v (-want +got):\n%s", err, diff)
	}
	v1, err := c.NextActionsV1(ctx, NextActionsV1Request{ConversationID: "c1"})
	if err != nil || v1.Rule == nil || v1.Rule.ID != p.ID || v1.NextActionID == "" {
		t.Errorf("v1 next actions = %+v, %v; want policy %s", v1, err, p.ID)
	}
	logs, err := c.PolicyLogs(ctx, "c1")
	if err != nil || len(logs) == 0 || logs[0].Time.IsZero() {
		t.Errorf("policy logs = %+v, %v; want evaluations with times", logs, err)
	}
	if err := c.DeletePolicy(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPolicy(ctx, p.ID); !IsNotFound(err) {
		t.Errorf("deleted policy: err = %v, want 404", err)
	}
}

func TestE2EAttributesAndRequestVariables(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	ctx := context.Background()
	c, err := New(Config{BaseURL: env.URL, AccountID: acct.AccountID, UserID: acct.UserID, Password: acct.Password})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Attributes(ctx); err != nil || len(got) != 0 {
		t.Fatalf("attributes before PUT = %v, %v; want none", got, err)
	}
	if _, err := c.PutAttributes(ctx, map[string]any{"vipSkill": 42}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Attributes(ctx); err != nil || !cmp.Equal(got, map[string]any{"vipSkill": float64(42)}) {
		t.Errorf("attributes = %v, %v", got, err)
	}
	if _, err := c.CreatePolicy(ctx, Policy{
		Name:       "idle",
		Conditions: []Condition{{Property: "conversation.minutesSincePreviousMessage", Type: "GREATER_THAN", Value: json.RawMessage(`10`)}},
		Actions:    []Action{{Type: "TRANSFER_TO_SKILL", Payload: json.RawMessage(`{"skillId":"{{custom.vipSkill}}"}`)}},
	}); err != nil {
		t.Fatal(err)
	}
	actions, err := c.NextActions(ctx, NextActionsRequest{ConversationID: "c1",
		Conversation: map[string]any{"minutesSincePreviousMessage": 12},
		SDE:          map[string]any{"visitorinfo": map[string]any{"customerinfo": map[string]any{"customerid": "c9"}}}})
	if diff := cmp.Diff([]Action{{Type: "TRANSFER_TO_SKILL", Payload: json.RawMessage(`{"skillId":42}`)}}, actions); err != nil || diff != "" {
		t.Errorf("next actions: %v (-want +got):\n%s", err, diff)
	}
}

// TestE2EForbiddenDoesNotLogInAgain: a valid token used on another
// account's path is 403 {"error":"forbidden"}; logging in again would not
// help, so the client returns it without a new login (SPEC §4, §8).
func TestE2EForbiddenDoesNotLogInAgain(t *testing.T) {
	env := servertest.Start(t)
	mine, other := env.CreateAccount(t, true), env.CreateAccount(t, true)
	rec := &statusRecorder{}
	c, err := New(Config{BaseURL: env.URL, AccountID: mine.AccountID, UserID: mine.UserID, Password: mine.Password,
		HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := env.Metric(t, loginsOK)
	resp, err := c.HTTPClient().Get(env.URL + "/v2/context/document/" + other.AccountID + "/ns")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error, Message string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 403 || body.Error != "forbidden" || body.Message == "" {
		t.Errorf("another account's path: %d %+v, want 403 forbidden with a message", resp.StatusCode, body)
	}
	if got := env.Metric(t, loginsOK) - before; got != 0 {
		t.Errorf("logins after a forbidden answer = %v, want 0", got)
	}
	if n := rec.count(403); n != 1 {
		t.Errorf("403 answers seen = %d, want 1 (no retry)", n)
	}
}
