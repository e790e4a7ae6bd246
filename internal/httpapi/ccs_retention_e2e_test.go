package httpapi_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
)

// TestCCSMaxRetention runs the retention cap (SPEC §5: no property
// outlives --max-retention after its last write) through the HTTP API:
// data written without a cap, the same store started again with
// --max-retention 1h (what was stored is capped from the start), then
// writes under the cap.
func TestCCSMaxRetention(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	clock := &ccsClock{now: t0}
	// One store for both servers: the data directory, or one
	// PostgreSQL schema with the secrets its nodes share.
	data := t.TempDir()
	var dsn, secretKey, adminToken string
	if servertest.Postgres() {
		dsn, _ = pgtest.Schema(t)
		secretKey = base64.StdEncoding.EncodeToString([]byte(rand.Text() + rand.Text()))
		adminToken = "orchadm_test_" + rand.Text()
	}
	store := func(retention string) func(*config.Serve) {
		return func(c *config.Serve) {
			c.Data, c.MaxRetention = data, retention
			if dsn != "" {
				c.PostgresURL, c.SecretKey, c.AdminToken = dsn, secretKey, adminToken
			}
		}
	}
	var acct servertest.Account
	v1Doc := func(a string) string { return "/v1/account/" + a }

	t.Run("without a cap", func(t *testing.T) {
		env := servertest.StartClock(t, clock.Now, store("0"))
		h := env.Server.Handler()
		acct = env.CreateAccount(t, true)
		a := acct.AccountID
		v1 := map[string]string{"maven-api-key": acct.APIKey}
		v2 := map[string]string{"Authorization": "Bearer " + env.Login(t, acct)}
		runCCSSteps(t, h, clock, nil, []ccsStep{
			{name: "namespace TTL of a day", method: "POST", path: v1Doc(a) + "?ttlSecond=86400", hdr: v1, body: `{"name":"ns"}`, status: 204},
			{name: "session TTL 0 (forever)", method: "POST", path: v1Doc(a) + "/namespace/ns/session?ttlSecond=0", hdr: v1, body: `{"sessionId":"v1"}`, status: 204},
			{name: "v1 write, forever", method: "PUT", path: v1Doc(a) + "/ns/v1/properties/p", hdr: v1, body: `1`, status: 204},
			{name: "v2 write, forever", method: "POST", path: "/v2/context/document/create", hdr: v2,
				body: `{"accountId":"` + a + `","nameSpace":"ns","sessionId":"v2","ttlSeconds":0,"payload":{"q":2}}`, status: 201, want: "-"},
			{name: "no ttl: it never expires", method: "GET", path: "/v2/context/document/" + a + "/ns/v2", hdr: v2, status: 200,
				want: `{"accountId":"` + a + `","documentKey":"` + a + `:ns:v2","documentType":"CONTEXT","nameSpace":"ns","payload":{"q":2},"sessionId":"v2","tenantId":"` + a + `"}`},
		})
	})
	if t.Failed() {
		return
	}

	clock.Advance(24 * time.Hour)
	start := clock.Now()
	env := servertest.StartClock(t, clock.Now, store("1h"))
	h := env.Server.Handler()
	a := acct.AccountID
	v1 := map[string]string{"maven-api-key": acct.APIKey}
	v2 := map[string]string{"Authorization": "Bearer " + env.Login(t, acct)}
	doc := func(sid string) (int, map[string]any) {
		w := ccsRequest(h, "GET", "/v2/context/document/"+a+"/ns/"+sid, v2, "")
		var out map[string]any
		json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out
	}
	// The cap of what was stored runs in the background from the start:
	// wait for it (no clock moves meanwhile).
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, got := doc("v2")
		if st != http.StatusOK {
			t.Fatalf("GET v2 document after the restart: %d %v", st, got)
		}
		if got["ttl"] != nil {
			if want := ttl(start.Add(time.Hour)); got["ttl"] != want {
				t.Errorf("ttl of a property stored before the cap = %v, want %s (start + 1h)", got["ttl"], want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ttl 10 s after the start: the stored property was not capped (%v)", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	runCCSSteps(t, h, clock, nil, []ccsStep{
		{name: "the v1 property too", method: "GET", path: "/v2/context/document/" + a + "/ns/v1", hdr: v2, status: 200,
			want: `{"accountId":"` + a + `","documentKey":"` + a + `:ns:v1","documentType":"CONTEXT","nameSpace":"ns","payload":{"p":1},"sessionId":"v1","tenantId":"` + a + `","ttl":"` + ttl(start.Add(time.Hour)) + `"}`},
		{name: "the namespace's TTL setting is listed as set", method: "GET", path: v1Doc(a), hdr: v1, status: 200,
			want: `[{"name":"ns","createdAt":"` + t0.Format(time.RFC3339) + `","ttlSecond":86400}]`},
		{name: "the session's too", method: "GET", path: v1Doc(a) + "/namespace/ns/session", hdr: v1, status: 200,
			want: `[{"sessionId":"v1","createdAt":"` + t0.Format(time.RFC3339) + `","ttlSecond":0},{"sessionId":"v2","createdAt":"` + t0.Format(time.RFC3339) + `","ttlSecond":86400}]`},

		// Writes under the cap, 10 minutes after the start.
		{name: "v1 write under the namespace's day", method: "PUT", path: v1Doc(a) + "/ns/properties/day", advance: 10 * time.Minute, hdr: v1, body: `"d"`, status: 204},
		{name: "v2 write of 2 h", method: "POST", path: "/v2/context/document/create", hdr: v2,
			body: `{"accountId":"` + a + `","nameSpace":"ns","sessionId":"new","ttlSeconds":7200,"payload":{"long":1}}`, status: 201, want: "-"},
		{name: "v2 write of 10 min", method: "POST", path: "/v2/context/document/create", hdr: v2,
			body: `{"accountId":"` + a + `","nameSpace":"ns","sessionId":"new2","ttlSeconds":600,"payload":{"short":1}}`, status: 201, want: "-"},
		{name: "v2 write without ttlSeconds (13 months)", method: "POST", path: "/v2/context/document/create", hdr: v2,
			body: `{"accountId":"` + a + `","nameSpace":"ns","payload":{"default":1}}`, status: 201, want: "-"},
		{name: "2 h capped at 1 h", method: "GET", path: "/v2/context/document/" + a + "/ns/new", hdr: v2, status: 200,
			want: `{"accountId":"` + a + `","documentKey":"` + a + `:ns:new","documentType":"CONTEXT","nameSpace":"ns","payload":{"long":1},"sessionId":"new","tenantId":"` + a + `","ttl":"` + ttl(start.Add(70*time.Minute)) + `"}`},
		{name: "10 min stands", method: "GET", path: "/v2/context/document/" + a + "/ns/new2", hdr: v2, status: 200,
			want: `{"accountId":"` + a + `","documentKey":"` + a + `:ns:new2","documentType":"CONTEXT","nameSpace":"ns","payload":{"short":1},"sessionId":"new2","tenantId":"` + a + `","ttl":"` + ttl(start.Add(20*time.Minute)) + `"}`},
		{name: "v1 day and v2 default capped at 1 h", method: "GET", path: "/v2/context/document/" + a + "/ns", hdr: v2, status: 200,
			want: `{"accountId":"` + a + `","documentKey":"` + a + `:ns:","documentType":"CONTEXT","nameSpace":"ns","payload":{"day":"d","default":1},"tenantId":"` + a + `","ttl":"` + ttl(start.Add(70*time.Minute)) + `"}`},

		// An hour after the start, what was stored before is gone.
		{name: "stored before: gone at start + 1h", method: "GET", path: "/v2/context/document/" + a + "/ns/v2", advance: 50 * time.Minute, hdr: v2, status: 404,
			want: `{"message":"session \"v2\" of namespace \"ns\" not found"}`},
		{name: "the v1 property too", method: "GET", path: v1Doc(a) + "/ns/v1/properties/p", hdr: v1, status: 404, want: `{"message":"property \"p\" not found"}`},
		{name: "written under the cap: still there", method: "GET", path: v1Doc(a) + "/ns/properties", hdr: v1, status: 200, want: `{"day":"d","default":1}`},
		{name: "until an hour after its write", method: "GET", path: v1Doc(a) + "/ns/properties", advance: 10 * time.Minute, hdr: v1, status: 200, want: `{}`},
	})
	if strings.Contains(env.Logs(), `"level":"WARN","msg":"ccs: cap`) {
		t.Errorf("the cap logged a warning:\n%s", env.Logs())
	}
}
