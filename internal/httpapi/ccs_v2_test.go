package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

func TestCCSV2Routes(t *testing.T) {
	// Milliseconds in t0: ttl carries them (SPEC §5).
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 176e6, time.UTC)
	clock := &ccsClock{now: t0}
	env := servertest.StartClock(t, clock.Now)
	h := env.Server.Handler()
	acct := env.CreateAccount(t, true)
	a := acct.AccountID
	tok := env.Login(t, acct)
	doc := "/v2/context/document/"
	body := func(extra string) string { return `{"accountId":"` + a + `","nameSpace":"ns"` + extra + `}` }
	result := func(key string) string { return `{"documentKey":"` + key + `","tenantId":"` + a + `","success":true}` }
	leResult := func(sid string) string {
		return `{"documentKey":"le` + a + `:ns:` + sid + `","tenantId":"le` + a + `","success":true}`
	}
	// 13 months after t0 (the default), and explicit TTLs.
	def := ttl(t0.AddDate(0, 13, 0))

	steps := []ccsStep{
		{name: "namespace document missing", method: "GET", path: doc + a + "/ns", status: 404, want: `{"message":"namespace \"ns\" not found"}`},
		{name: "create namespace document", method: "POST", path: doc + "create", body: body(`,"payload":{"a":1,"b":"x"}`), status: 201, want: result(a + ":ns:")},
		{name: "create session document, le prefix echoed", method: "POST", path: doc + "create",
			body: `{"accountId":"le` + a + `","nameSpace":"ns","sessionId":"s1","ttlSeconds":3600,"payload":{"k":{"deep":[true]}}}`, status: 201, want: `{"documentKey":"le` + a + `:ns:s1","tenantId":"le` + a + `","success":true}`},
		{name: "upsert merges", method: "POST", path: doc + "create", body: body(`,"sessionId":"s1","ttlSeconds":60,"payload":{"k2":2}`), status: 201, want: result(a + ":ns:s1")},
		{name: "read namespace document", method: "GET", path: doc + a + "/ns", status: 200,
			want: `{"accountId":"` + a + `","documentKey":"` + a + `:ns:","documentType":"CONTEXT","nameSpace":"ns","payload":{"a":1,"b":"x"},"tenantId":"` + a + `","ttl":"` + def + `"}`},
		{name: "read session document", method: "GET", path: doc + "le" + a + "/ns/s1", status: 200,
			want: `{"accountId":"le` + a + `","documentKey":"le` + a + `:ns:s1","documentType":"CONTEXT","nameSpace":"ns","payload":{"k":{"deep":[true]},"k2":2},"sessionId":"s1","tenantId":"le` + a + `","ttl":"` + ttl(t0.Add(time.Hour)) + `"}`},
		{name: "read namespace document, le prefix echoed", method: "GET", path: doc + "le" + a + "/ns", status: 200,
			want: `{"accountId":"le` + a + `","documentKey":"le` + a + `:ns:","documentType":"CONTEXT","nameSpace":"ns","payload":{"a":1,"b":"x"},"tenantId":"le` + a + `","ttl":"` + def + `"}`},
		{name: "missing session document", method: "GET", path: doc + a + "/ns/nope", status: 404, want: `{"message":"session \"nope\" of namespace \"ns\" not found"}`},
		{name: "v1 sees v2 data as __default__", method: "GET", path: "/v1/account/" + a + "/ns/properties", hdr: map[string]string{"maven-api-key": acct.APIKey}, status: 200, want: `{"a":1,"b":"x"}`},
		{name: "properties filter", method: "POST", path: doc + "properties", body: body(`,"sessionId":"s1","filter":["ns.k2","ns.zz"]`), status: 200, want: `{"ns.k2":2}`},
		{name: "properties without filter", method: "POST", path: doc + "properties", body: body(``), status: 200, want: `{"ns.a":1,"ns.b":"x"}`},
		{name: "filter of another namespace", method: "POST", path: doc + "properties", body: body(`,"filter":["other.a"]`), status: 400, want: `{"message":"filter: entries must be \"ns.\" followed by a property name"}`},
		{name: "delete one property", method: "DELETE", path: doc + "property/delete", body: body(`,"propertyToDelete":["a","zz"]`), status: 200, want: result(a + ":ns:")},
		{name: "empty list deletes nothing", method: "DELETE", path: doc + "property/delete", body: body(`,"propertyToDelete":[]`), status: 200, want: result(a + ":ns:")},
		{name: "after property delete", method: "GET", path: doc + a + "/ns", status: 200,
			want: `{"accountId":"` + a + `","documentKey":"` + a + `:ns:","documentType":"CONTEXT","nameSpace":"ns","payload":{"b":"x"},"tenantId":"` + a + `","ttl":"` + def + `"}`},
		{name: "k2 expired after 60 s, k lives", method: "POST", path: doc + "properties", advance: time.Minute, body: body(`,"sessionId":"s1"`), status: 200, want: `{"ns.k":{"deep":[true]}}`},
		{name: "no list deletes all", method: "DELETE", path: doc + "property/delete", body: body(`,"sessionId":"s1"`), status: 200, want: result(a + ":ns:s1")},
		{name: "session document now empty", method: "GET", path: doc + a + "/ns/s1", status: 404, want: `{"message":"session \"s1\" of namespace \"ns\" not found"}`},
		{name: "ttlSeconds 0 is forever", method: "POST", path: doc + "create", body: body(`,"sessionId":"s2","ttlSeconds":0,"payload":{"p":1}`), status: 201, want: result(a + ":ns:s2")},
		{name: "capped at --max-retention (13 months by default)", method: "GET", path: doc + a + "/ns/s2", status: 200,
			want: `{"accountId":"` + a + `","documentKey":"` + a + `:ns:s2","documentType":"CONTEXT","nameSpace":"ns","payload":{"p":1},"sessionId":"s2","tenantId":"` + a + `","ttl":"` + ttl(t0.Add(time.Minute).AddDate(0, 13, 0)) + `"}`},
	}
	later := []ccsStep{
		{name: "forever is gone after the retention", method: "GET", path: doc + a + "/ns/s2", status: 404, want: `{"message":"session \"s2\" of namespace \"ns\" not found"}`},
		{name: "default 13 months passed", method: "GET", path: doc + a + "/ns", status: 200,
			want: `{"accountId":"` + a + `","documentKey":"` + a + `:ns:","documentType":"CONTEXT","nameSpace":"ns","payload":{},"tenantId":"` + a + `"}`},
		{name: "delete whole document", method: "DELETE", path: doc + "delete", body: body(`,"sessionId":"s2"`), status: 200, want: result(a + ":ns:s2")},
		{name: "delete it again (idempotent)", method: "DELETE", path: doc + "delete", body: body(`,"sessionId":"s2"`), status: 200, want: result(a + ":ns:s2")},
		{name: "deleted", method: "GET", path: doc + a + "/ns/s2", status: 404, want: `{"message":"session \"s2\" of namespace \"ns\" not found"}`},
		{name: "ttl of a whole second keeps .000", method: "POST", path: doc + "create", advance: 824 * time.Millisecond,
			body: `{"accountId":"le` + a + `","nameSpace":"ns","sessionId":"s3","ttlSeconds":60,"payload":{"x":1,"y":2}}`, status: 201, want: leResult("s3")},
		{name: "read it", method: "GET", path: doc + "le" + a + "/ns/s3", status: 200,
			want: `{"accountId":"le` + a + `","documentKey":"le` + a + `:ns:s3","documentType":"CONTEXT","nameSpace":"ns","payload":{"x":1,"y":2},"sessionId":"s3","tenantId":"le` + a + `","ttl":"` + ttl(t0.Add(400*24*time.Hour+2*time.Minute+824*time.Millisecond)) + `"}`},
		{name: "delete a property, le prefix echoed", method: "DELETE", path: doc + "property/delete",
			body: `{"accountId":"le` + a + `","nameSpace":"ns","sessionId":"s3","propertyToDelete":["x"]}`, status: 200, want: leResult("s3")},
		{name: "delete the document, le prefix echoed", method: "DELETE", path: doc + "delete",
			body: `{"accountId":"le` + a + `","nameSpace":"ns","sessionId":"s3"}`, status: 200, want: leResult("s3")},

		{name: "reserved namespace", method: "POST", path: doc + "create", body: `{"accountId":"` + a + `","nameSpace":"custom","payload":{}}`, status: 400, want: `{"message":"nameSpace: \"custom\" is reserved"}`},
		{name: "reserved in any letter case", method: "POST", path: doc + "create", body: `{"accountId":"` + a + `","nameSpace":"Consumer","payload":{"a":1}}`, status: 400, want: `{"message":"nameSpace: \"Consumer\" is reserved"}`},
		{name: "delete reserved, upper case", method: "DELETE", path: doc + "delete", body: `{"accountId":"` + a + `","nameSpace":"CUSTOM"}`, status: 400, want: `{"message":"nameSpace: \"CUSTOM\" is reserved"}`},
		{name: "delete reserved property, mixed case", method: "DELETE", path: doc + "property/delete", body: `{"accountId":"` + a + `","nameSpace":"Sde","propertyToDelete":["a"]}`, status: 400, want: `{"message":"nameSpace: \"Sde\" is reserved"}`},
		{name: "hyphen in a namespace (SPEC §5)", method: "POST", path: doc + "create", body: `{"accountId":"` + a + `","nameSpace":"faas-demo-namespace","payload":{"h":1}}`, status: 201, want: result(a + ":faas-demo-namespace:")},
		{name: "read it back", method: "POST", path: doc + "properties", body: `{"accountId":"` + a + `","nameSpace":"faas-demo-namespace"}`, status: 200, want: `{"faas-demo-namespace.h":1}`},
		{name: "bad namespace", method: "POST", path: doc + "create", body: `{"accountId":"` + a + `","nameSpace":"a b","payload":{}}`, status: 400, want: `{"message":"nameSpace: must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -"}`},
		{name: "namespace missing", method: "POST", path: doc + "create", body: `{"accountId":"` + a + `","payload":{}}`, status: 400, want: `{"message":"nameSpace: required"}`},
		{name: "bad session id", method: "POST", path: doc + "create", body: body(`,"sessionId":"` + strings.Repeat("s", 257) + `","payload":{}`), status: 400, want: `{"message":"sessionId: must be 1 to 256 printable characters"}`},
		{name: "payload not an object", method: "POST", path: doc + "create", body: body(`,"payload":[1]`), status: 400, want: `{"message":"payload: must be a JSON object"}`},
		{name: "payload missing", method: "POST", path: doc + "create", body: body(``), status: 400, want: `{"message":"payload: required, a JSON object"}`},
		{name: "negative ttlSeconds", method: "POST", path: doc + "create", body: body(`,"ttlSeconds":-5,"payload":{}`), status: 400, want: `{"message":"ttlSeconds: must be an integer from 0 (forever) to 3153600000"}`},
		{name: "missing accountId", method: "POST", path: doc + "create", body: `{"nameSpace":"ns","payload":{}}`, status: 400, want: `{"message":"accountId: required"}`},
		{name: "other account in body", method: "POST", path: doc + "create", body: `{"accountId":"1","nameSpace":"ns","payload":{}}`, status: 403, want: `{"error":"forbidden","message":"this token is for another account and may not access account \"1\""}`},
		{name: "other account in path", method: "GET", path: doc + "1/ns", status: 403, want: `{"error":"forbidden","message":"this token is for another account and may not access account \"1\""}`},
		{name: "900,000 characters", method: "POST", path: doc + "create", body: body(`,"payload":{"big":"` + strings.Repeat("y", 900_000) + `"}`), status: 413, want: `{"message":"document too large"}`},
		{name: "body over the cap", method: "POST", path: doc + "create", body: body(`,"payload":{"big":"` + strings.Repeat("y", 2<<20) + `"}`), status: 413, want: `{"message":"request body too large"}`},
	}
	runCCSSteps(t, h, clock, map[string]string{"Authorization": "Bearer " + tok}, steps)
	// 400 days later (past the 13-month default), with a fresh token.
	clock.Advance(400 * 24 * time.Hour)
	runCCSSteps(t, h, clock, map[string]string{"Authorization": "Bearer " + env.Login(t, acct)}, later)
}

// ttl formats an expiry as the v2 ttl member carries it.
func ttl(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// TestCCSV2SizeAcrossWrites fills a document close to the limit in two
// writes; the second, over the limit, saves nothing.
func TestCCSV2SizeAcrossWrites(t *testing.T) {
	env := servertest.Start(t)
	h := env.Server.Handler()
	acct := env.CreateAccount(t, true)
	hdr := map[string]string{"Authorization": "Bearer " + env.Login(t, acct)}
	write := func(name string, n int) int {
		b := `{"accountId":"` + acct.AccountID + `","nameSpace":"ns","sessionId":"s","payload":{"` + name + `":"` + strings.Repeat("z", n) + `"}}`
		return ccsRequest(h, "POST", "/v2/context/document/create", hdr, b).Code
	}
	if st := write("a", 500_000); st != http.StatusCreated {
		t.Fatalf("first write: %d", st)
	}
	if st := write("b", 400_000); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("second write: %d, want 413", st)
	}
	w := ccsRequest(h, "POST", "/v2/context/document/properties", hdr, `{"accountId":"`+acct.AccountID+`","nameSpace":"ns","sessionId":"s","filter":["ns.b"]}`)
	if got := strings.TrimSpace(w.Body.String()); w.Code != http.StatusOK || got != `{}` {
		t.Errorf("after refused write: %d %s, want 200 {}", w.Code, got)
	}
	if st := write("a", 799_990); st != http.StatusCreated { // replacing a counts once
		t.Errorf("replacing a: %d, want 201", st)
	}
}
