package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// TestAnswersSayWhatIsMissing pins the answers of issue 20 item 3: 405
// with Allow on v2, not-found messages that name the thing, 403 forbidden
// for another account's token, a malformed key, a wrong operator token,
// and the reason code on the access line of every 401/403.
func TestAnswersSayWhatIsMissing(t *testing.T) {
	env := servertest.Start(t)
	mine, other := env.CreateAccount(t, true), env.CreateAccount(t, true)
	c := &naClient{t: t, base: env.URL, token: env.Login(t, mine)}
	a, b := mine.AccountID, other.AccountID

	do := func(method, path string, hdr map[string]string, body string) (*http.Response, map[string]any) {
		t.Helper()
		resp, b := servertest.Send(t, method, env.URL+path, hdr, body)
		var m map[string]any
		json.Unmarshal(b, &m)
		return resp, m
	}
	bearer := map[string]string{"Authorization": "Bearer " + c.token}
	expect := func(name string, resp *http.Response, m map[string]any, status int, code, msg string) {
		t.Helper()
		if resp.StatusCode != status || m["message"] != msg || code != "" && m["error"] != code {
			t.Errorf("%s: %d %v, want %d error %q message %q", name, resp.StatusCode, m, status, code, msg)
		}
	}

	// (a) A wrong method on a v2 route: 405 with Allow, as v1 answers.
	resp, m := do("GET", "/v2/context/document/create", bearer, "")
	expect("GET create", resp, m, 405, "", "method not allowed")
	if got := resp.Header.Get("Allow"); got != "POST" {
		t.Errorf("GET create: Allow %q, want POST", got)
	}
	resp, _ = do("DELETE", "/v2/policy/logs/"+a, bearer, "")
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
		t.Errorf("DELETE /v2/policy/logs/{a}: %d Allow %q, want 405 GET", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, _ = do("POST", "/v2/context/document/"+a+"/ns", nil, "")
	if resp.StatusCode != 403 {
		t.Errorf("a wrong method without a token: %d, want 403 (routes are not told to strangers)", resp.StatusCode)
	}

	// (b) Not found names the thing.
	resp, m = do("GET", "/v2/nothing/here", bearer, "")
	expect("unknown v2 path", resp, m, 404, "", "no route")
	resp, m = do("GET", "/nothing", nil, "")
	expect("unknown path", resp, m, 404, "", "no route")
	resp, m = do("GET", "/v2/context/document/"+a+"/ns", bearer, "")
	expect("missing namespace", resp, m, 404, "", `namespace "ns" not found`)
	resp, m = do("GET", "/v2/config/"+a+"/p1", bearer, "")
	expect("missing policy", resp, m, 404, "", `policy "p1" not found`)

	// (c) A valid token on another account: 403 forbidden, in the path or
	// the body, with no WWW-Authenticate (logging in again would not help).
	resp, m = do("GET", "/v2/context/document/"+b+"/ns", bearer, "")
	if resp.StatusCode != 403 || m["error"] != "forbidden" || m["message"] == "" || resp.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("another account's path: %d %v %v", resp.StatusCode, m, resp.Header)
	}
	resp, m = do("POST", "/v2/config/create", bearer, `{"accountId":"`+b+`","policy":{"name":"p","conditions":[],"actions":[]}}`)
	if resp.StatusCode != 403 || m["error"] != "forbidden" {
		t.Errorf("another account's body: %d %v", resp.StatusCode, m)
	}
	// A key of another account stays indistinguishable from an unknown one.
	resp, m = do("GET", "/v1/account/"+b, map[string]string{"maven-api-key": mine.APIKey}, "")
	expect("another account's key", resp, m, 403, "invalid_api_key", "unknown or retired API key")

	// (d) A key that fails its checksum.
	bad := []byte(mine.APIKey)
	bad[len(bad)-1] ^= 1
	resp, m = do("GET", "/v1/account/"+a, map[string]string{"maven-api-key": string(bad)}, "")
	expect("checksum", resp, m, 403, "invalid_api_key", "malformed API key")

	// (e) Operator token: missing and wrong.
	resp, m = do("GET", "/admin/v1/accounts", nil, "")
	expect("no operator token", resp, m, 401, "unauthorized", "operator token required")
	resp, m = do("GET", "/admin/v1/accounts", map[string]string{"Authorization": "Bearer " + strings.Repeat("x", 40)}, "")
	expect("wrong operator token", resp, m, 401, "unauthorized", "invalid operator token")

	// (f) The access line of each refusal carries its reason code.
	for _, want := range []string{`"status":403,`, `"reason":"forbidden"`, `"reason":"invalid_api_key"`, `"reason":"unauthorized"`} {
		if !strings.Contains(env.Logs(), want) {
			t.Errorf("the log has no %s:\n%s", want, env.Logs())
		}
	}
	do("GET", "/v2/context/document/"+a+"/ns", nil, "")
	for line := range strings.SplitSeq(env.Logs(), "\n") {
		if strings.Contains(line, `"msg":"request"`) && (strings.Contains(line, `"status":403`) || strings.Contains(line, `"status":401`)) &&
			!strings.Contains(line, `"reason":"`) {
			t.Errorf("a refusal's access line has no reason: %s", line)
		}
	}
	if !strings.Contains(env.Logs(), `"reason":"invalid_token"`) {
		t.Errorf("no access line with reason invalid_token")
	}
}
