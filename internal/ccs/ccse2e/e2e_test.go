package ccse2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// client calls the server over loopback with one credential.
type client struct {
	t      *testing.T
	url    string
	header string
	value  string
}

func v1Client(t *testing.T, env *servertest.Env, a servertest.Account) *client {
	return &client{t: t, url: env.URL, header: "maven-api-key", value: a.APIKey}
}

func v2Client(t *testing.T, env *servertest.Env, a servertest.Account) *client {
	return &client{t: t, url: env.URL, header: "Authorization", value: "Bearer " + env.Login(t, a)}
}

// do sends a request and returns the status and body.
func (c *client) do(method, path, body string) (int, string) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set(c.header, c.value)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// expect sends a request and checks the status and, unless want is "-",
// the body: "" for empty, else JSON compared after decoding. It returns
// the decoded body.
func (c *client) expect(what, method, path, body string, status int, want string) any {
	c.t.Helper()
	st, got := c.do(method, path, body)
	if st != status {
		c.t.Fatalf("%s: %s %s: status %d, want %d: %s", what, method, path, st, status, got)
	}
	if want == "-" {
		var v any
		json.Unmarshal([]byte(got), &v)
		return v
	}
	if want == "" {
		if got != "" {
			c.t.Fatalf("%s: body %q, want empty", what, got)
		}
		return nil
	}
	var gotV, wantV any
	if err := json.Unmarshal([]byte(got), &gotV); err != nil {
		c.t.Fatalf("%s: body %q: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &wantV); err != nil {
		c.t.Fatalf("%s: bad want: %v", what, err)
	}
	if diff := cmp.Diff(wantV, gotV); diff != "" {
		c.t.Fatalf("%s: body (-want +got):\n%s", what, diff)
	}
	return gotV
}

// v1Sequence replays a v1 client: create a namespace with a TTL, PATCH
// session properties, read them, read one, list session ids, delete a
// property, delete the session, delete the namespace. reader, when not
// nil, checks each state through v2 as well.
func v1Sequence(t *testing.T, c *client, acct string, reader func(step, sid string, want string)) {
	base := "/v1/account/" + acct
	c.expect("create namespace", "POST", base+"?ttlSecond=3600", `{"name":"journey"}`, 204, "")
	c.expect("list namespaces", "GET", base+"/", "", 200, "-")
	c.expect("patch session", "PATCH", base+"/journey/sess-1/properties", `{"intent":"billing","score":0.93,"tags":["vip"]}`, 204, "")
	c.expect("patch more", "PATCH", base+"/journey/sess-1/properties/", `{"lang":"en"}`, 204, "")
	want := `{"intent":"billing","lang":"en","score":0.93,"tags":["vip"]}`
	c.expect("get session", "GET", base+"/journey/sess-1/properties", "", 200, want)
	if reader != nil {
		reader("after patch", "sess-1", want)
	}
	c.expect("get one property", "GET", base+"/journey/sess-1/properties/score", "", 200, `0.93`)
	c.expect("include", "GET", base+"/journey/sess-1/properties?include=intent,lang", "", 200, `{"intent":"billing","lang":"en"}`)
	c.expect("session ids", "GET", base+"/journey/session-ids?page=0&perPage=100", "", 200, `["sess-1"]`)
	c.expect("delete property", "DELETE", base+"/journey/sess-1/properties/tags", "", 204, "")
	want = `{"intent":"billing","lang":"en","score":0.93}`
	c.expect("after property delete", "GET", base+"/journey/sess-1/properties", "", 200, want)
	if reader != nil {
		reader("after property delete", "sess-1", want)
	}
	c.expect("delete session", "DELETE", base+"/namespace/journey/session/sess-1", "", 204, "")
	c.expect("session gone", "GET", base+"/journey/sess-1/properties", "", 200, `{}`)
	c.expect("no session ids", "GET", base+"/journey/session-ids", "", 200, `[]`)
	if reader != nil {
		reader("after session delete", "sess-1", "")
	}
	c.expect("delete namespace", "DELETE", base+"/journey", "", 204, "")
	c.expect("namespace gone", "GET", base, "", 200, `[]`)
}

// v2Sequence replays a v2 client: create namespace and session documents,
// read both, filter properties, delete a property, delete the document.
// reader, when not nil, checks each state through v1 as well.
func v2Sequence(t *testing.T, c *client, acct string, reader func(step, sid string, want string)) {
	doc := "/v2/context/document/"
	b := func(extra string) string { return `{"accountId":"` + acct + `","nameSpace":"journey"` + extra + `}` }
	ok := func(key string) string {
		return `{"documentKey":"` + acct + `:journey:` + key + `","tenantId":"` + acct + `","success":true}`
	}
	c.expect("create namespace document", "POST", doc+"create", b(`,"payload":{"brand":"acme"}`), 201, ok(""))
	c.expect("create session document", "POST", doc+"create", b(`,"sessionId":"conv-9","ttlSeconds":3600,"payload":{"step":1,"cart":{"items":2}}`), 201, ok("conv-9"))
	c.expect("merge into it", "POST", doc+"create", b(`,"sessionId":"conv-9","payload":{"step":2}`), 201, ok("conv-9"))
	got := c.expect("read namespace document", "GET", doc+acct+"/journey", "", 200, "-").(map[string]any)
	if diff := cmp.Diff(map[string]any{"brand": "acme"}, got["payload"]); diff != "" || got["documentKey"] != acct+":journey:" || got["documentType"] != "CONTEXT" {
		t.Fatalf("namespace document %v (payload -want +got):\n%s", got, diff)
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(got["ttl"])); err != nil {
		t.Errorf("ttl %v: %v", got["ttl"], err)
	}
	got = c.expect("read session document", "GET", doc+acct+"/journey/conv-9", "", 200, "-").(map[string]any)
	want := `{"cart":{"items":2},"step":2}`
	var wantV any
	json.Unmarshal([]byte(want), &wantV)
	if diff := cmp.Diff(wantV, got["payload"]); diff != "" || got["sessionId"] != "conv-9" {
		t.Fatalf("session document %v (payload -want +got):\n%s", got, diff)
	}
	if reader != nil {
		reader("after create", "conv-9", want)
		reader("namespace level", "", `{"brand":"acme"}`)
	}
	c.expect("properties filter", "POST", doc+"properties", b(`,"sessionId":"conv-9","filter":["journey.step","journey.cart"]`), 200, `{"journey.cart":{"items":2},"journey.step":2}`)
	c.expect("property delete", "DELETE", doc+"property/delete", b(`,"sessionId":"conv-9","propertyToDelete":["cart"]`), 200, ok("conv-9"))
	if reader != nil {
		reader("after property delete", "conv-9", `{"step":2}`)
	}
	c.expect("document delete", "DELETE", doc+"delete", b(`,"sessionId":"conv-9"`), 200, ok("conv-9"))
	c.expect("document gone", "GET", doc+acct+"/journey/conv-9", "", 404, `{"message":"session \"conv-9\" of namespace \"journey\" not found"}`)
	if reader != nil {
		reader("after document delete", "conv-9", "")
	}
}

func TestV1Client(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, false)
	v1Sequence(t, v1Client(t, env, a), a.AccountID, nil)
}

func TestV2Client(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	v2Sequence(t, v2Client(t, env, a), a.AccountID, nil)
}

// TestV1WritesV2Reads replays the v1 client and reads every state with v2.
func TestV1WritesV2Reads(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	v2 := v2Client(t, env, a)
	v1Sequence(t, v1Client(t, env, a), a.AccountID, func(step, sid, want string) {
		t.Helper()
		path := "/v2/context/document/" + a.AccountID + "/journey/" + sid
		if want == "" {
			v2.expect("v2 read "+step, "GET", path, "", 404, `{"message":"session \"`+sid+`\" of namespace \"journey\" not found"}`)
			return
		}
		got := v2.expect("v2 read "+step, "GET", path, "", 200, "-").(map[string]any)
		var wantV any
		json.Unmarshal([]byte(want), &wantV)
		if diff := cmp.Diff(wantV, got["payload"]); diff != "" {
			t.Fatalf("v2 read %s: payload (-want +got):\n%s", step, diff)
		}
	})
}

// TestV2WritesV1Reads replays the v2 client and reads every state with v1.
func TestV2WritesV1Reads(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	v1 := v1Client(t, env, a)
	v2Sequence(t, v2Client(t, env, a), a.AccountID, func(step, sid, want string) {
		t.Helper()
		path := "/v1/account/" + a.AccountID + "/journey/properties"
		if sid != "" {
			path = "/v1/account/" + a.AccountID + "/journey/" + sid + "/properties"
		}
		if want == "" {
			want = `{}`
		}
		v1.expect("v1 read "+step, "GET", path, "", 200, want)
	})
}

func TestTooLargeV2PayloadLeavesDocument(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	c := v2Client(t, env, a)
	body := func(payload string) string {
		return `{"accountId":"` + a.AccountID + `","nameSpace":"ns","sessionId":"s","payload":` + payload + `}`
	}
	c.expect("seed", "POST", "/v2/context/document/create", body(`{"keep":"me"}`), 201, "-")
	before := c.expect("before", "GET", "/v2/context/document/"+a.AccountID+"/ns/s", "", 200, "-")
	payload := `{"big":"` + strings.Repeat("x", 900_000-10) + `"}`
	if n := len(payload); n < 900_000 {
		t.Fatalf("payload is %d characters", n)
	}
	c.expect("900,000 characters", "POST", "/v2/context/document/create", body(payload), 413, `{"message":"document too large"}`)
	after := c.expect("after", "GET", "/v2/context/document/"+a.AccountID+"/ns/s", "", 200, "-")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("document changed by a refused write (-before +after):\n%s", diff)
	}
}

func TestConcurrentPatchesKeepEveryKey(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, false)
	c := v1Client(t, env, a)
	path := "/v1/account/" + a.AccountID + "/ns/s/properties"
	const n = 50
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			statuses[i], _ = c.do("PATCH", path, fmt.Sprintf(`{"key%02d":%d}`, i, i))
		})
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusNoContent {
			t.Errorf("PATCH %d: status %d", i, st)
		}
	}
	got := c.expect("read", "GET", path, "", 200, "-").(map[string]any)
	want := map[string]any{}
	for i := range n {
		want[fmt.Sprintf("key%02d", i)] = float64(i)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after %d concurrent PATCHes (-want +got):\n%s", n, diff)
	}
}

// TestTTLOneSecond is the acceptance check on the real clock: a property
// written with ttlSecond=1 (v1) or ttlSeconds 1 (v2) is gone after 2 s.
// It is the one test that sleeps.
func TestTTLOneSecond(t *testing.T) {
	if testing.Short() {
		t.Skip("sleeps 2 s")
	}
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	v1, v2 := v1Client(t, env, a), v2Client(t, env, a)
	base := "/v1/account/" + a.AccountID
	v1.expect("namespace ttl", "POST", base+"?ttlSecond=1", `{"name":"short"}`, 204, "")
	v1.expect("session ttl", "POST", base+"/namespace/long/session?ttlSecond=1", `{"sessionId":"s"}`, 204, "")
	v1.expect("v1 write (namespace TTL)", "PATCH", base+"/short/properties", `{"p":1}`, 204, "")
	v1.expect("v1 write (session TTL)", "PUT", base+"/long/s/properties/p", `2`, 204, "")
	v2.expect("v2 write", "POST", "/v2/context/document/create", `{"accountId":"`+a.AccountID+`","nameSpace":"v2ns","sessionId":"s","ttlSeconds":1,"payload":{"p":3}}`, 201, "-")
	v1.expect("v1 write without TTL", "PATCH", base+"/long/other/properties", `{"p":4}`, 204, "")

	v1.expect("there before", "GET", base+"/short/properties/p", "", 200, `1`)
	v2.expect("there before (v2)", "GET", "/v2/context/document/"+a.AccountID+"/v2ns/s", "", 200, "-")
	time.Sleep(2 * time.Second)

	v1.expect("v1: namespace TTL", "GET", base+"/short/properties/p", "", 404, `{"message":"property \"p\" not found"}`)
	v1.expect("v1: session TTL", "GET", base+"/long/s/properties", "", 200, `{}`)
	v1.expect("v1: v2 write", "GET", base+"/v2ns/s/properties", "", 200, `{}`)
	v2.expect("v2: v2 write", "GET", "/v2/context/document/"+a.AccountID+"/v2ns/s", "", 404, `{"message":"session \"s\" of namespace \"v2ns\" not found"}`)
	v2.expect("v2: v1 write", "GET", "/v2/context/document/"+a.AccountID+"/short", "", 200, "-")
	v2.expect("v2: v1 session", "GET", "/v2/context/document/"+a.AccountID+"/long/s", "", 404, `{"message":"session \"s\" of namespace \"long\" not found"}`)
	v1.expect("no TTL: still there", "GET", base+"/long/other/properties/p", "", 200, `4`)
}
