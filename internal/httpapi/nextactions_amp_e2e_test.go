package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/nextactions"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// raw sends a request and returns the status and the body as sent, with
// the time the answer took to arrive in full.
func (c *naClient) raw(method, path, body string) (int, []byte, time.Duration) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.apiKey != "" {
		req.Header.Set("maven-api-key", c.apiKey)
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, b, time.Since(start)
}

// ampPolicy is the policy of finding F2: actions SEND_MESSAGE actions of
// refs references to custom.a each.
func ampPolicy(a string, actions, refs int) string {
	one := `{"type":"SEND_MESSAGE","payload":{"message":"` + strings.Repeat("{{custom.a}}", refs) + `"}}`
	return `{"accountId":"` + a + `","policy":{"id":"amp","name":"amp","conditions":[],"actions":[` +
		strings.TrimSuffix(strings.Repeat(one+",", actions), ",") + `]}}`
}

// TestNextActionsAmplification reproduces finding F2 over loopback:
// custom.a is 65,000 "<", and a policy of 20 messages of 16 references
// each made one answer of 124,800,982 bytes in 6.2 s (RSS 42 → 377 MB) on
// v2 and v1. Both now answer 422 "evaluation too expensive" with a small
// body, quickly; the attributes GET is not HTML-escaped; and a policy of
// substituted values near, but under, the bound still answers 200.
func TestNextActionsAmplification(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	a := acct.AccountID
	v2 := &naClient{t: t, base: env.URL, token: env.Login(t, acct)}
	v1 := &naClient{t: t, base: env.URL, apiKey: acct.APIKey}

	lt := strings.Repeat("<", 65_000)
	v2.must(200, "PUT", "/v2/config/attributes/"+a, `{"a":"`+lt+`"}`)
	st, body, _ := v2.raw("GET", "/v2/config/attributes/"+a, "")
	if want := `{"a":"` + lt + `"}` + "\n"; st != 200 || string(body) != want {
		t.Errorf("GET attributes: status %d, %d bytes (%.40q…), want 200 and the %d bytes of the object, not HTML-escaped",
			st, len(body), body, len(want))
	}

	v2.must(201, "POST", "/v2/config/create", ampPolicy(a, 20, 16))
	check := func(name string, st int, body []byte, took time.Duration) {
		t.Helper()
		t.Logf("%s: status %d, %d bytes in %v", name, st, len(body), took)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		if st != http.StatusUnprocessableEntity || m["message"] != "evaluation too expensive" {
			t.Errorf("%s: status %d %.200q, want 422 evaluation too expensive", name, st, body)
		}
		if len(body) > 1024 {
			t.Errorf("%s: %d bytes, want a small body", name, len(body))
		}
		if took > time.Second {
			t.Errorf("%s: took %v, want under 1 s", name, took)
		}
	}
	for range 2 { // the first evaluation compiles the policy
		st, body, took := v2.raw("POST", "/v2/policy/nextaction", `{"accountId":"`+a+`","conversationId":"c1"}`)
		check("v2", st, body, took)
		st, body, took = v1.raw("GET", "/v1/account/"+a+"/next-actions?conversationId=c1", "")
		check("v1", st, body, took)
	}

	// Near the bound: 16 references in one message (1,040,002 bytes of
	// JSON) and the value whole in a second action would be 65,002 more,
	// over it; without it, the answer is 200 with the message in full.
	v2.must(200, "POST", "/v2/config/update", strings.Replace(ampPolicy(a, 1, 16), `"actions":[`,
		`"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"{{custom.a}}"}},`, 1))
	st, _, _ = v2.raw("POST", "/v2/policy/nextaction", `{"accountId":"`+a+`","conversationId":"c1"}`)
	if st != http.StatusUnprocessableEntity {
		t.Errorf("v2 1,105,004 bytes substituted: status %d, want 422", st)
	}
	v2.must(200, "POST", "/v2/config/update", ampPolicy(a, 1, 16))
	msg := strings.Repeat(lt, 16)
	st, body, took := v2.raw("POST", "/v2/policy/nextaction", `{"accountId":"`+a+`","conversationId":"c1"}`)
	t.Logf("v2 near the bound: status %d, %d bytes in %v", st, len(body), took)
	if want := `[{"type":"SEND_MESSAGE","payload":{"message":"` + msg + `"}}]` + "\n"; st != 200 || string(body) != want {
		t.Errorf("v2 near the bound: status %d, %d bytes (%.80q…), want 200 and %d bytes", st, len(body), body, len(want))
	}
	if len(body) > nextactions.MaxSubstituted+1024 {
		t.Errorf("v2 near the bound: %d bytes, want at most MaxSubstituted and the rest of the answer", len(body))
	}
	st, body, took = v1.raw("GET", "/v1/account/"+a+"/next-actions?conversationId=c1", "")
	t.Logf("v1 near the bound: status %d, %d bytes in %v", st, len(body), took)
	var v1resp struct {
		Rule struct {
			Actions []struct {
				Payload map[string]string `json:"payload"`
			} `json:"actions"`
		} `json:"rule"`
	}
	if err := json.Unmarshal(body, &v1resp); st != 200 || err != nil || len(v1resp.Rule.Actions) != 1 || v1resp.Rule.Actions[0].Payload["text"] != msg {
		t.Errorf("v1 near the bound: status %d, %d bytes, %v; want 200 with the message as text", st, len(body), err)
	}
	if len(body) > nextactions.MaxSubstituted+1024 {
		t.Errorf("v1 near the bound: %d bytes, want at most MaxSubstituted and the rest of the answer", len(body))
	}
}
