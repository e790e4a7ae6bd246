package console_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/console"
	"github.com/orchestrator/orchestrator/internal/ratelimit"
	"github.com/orchestrator/orchestrator/internal/redisx/redistest"
	"github.com/orchestrator/orchestrator/internal/secret"
)

// zone is two console nodes over one store and one Redis (SPEC §9).
type zone struct {
	*stack
	node2 string // the second node's URL; stack.srv is the first
}

func newZone(t *testing.T) *zone {
	t.Helper()
	prefix := redistest.Prefix(t)
	formKey := secret.Random(32)
	sealer, err := secret.Load(secret.Random(32)) // the zone's secret key
	if err != nil {
		t.Fatal(err)
	}
	node := func(c *console.Config) {
		rc := redistest.Client(t) // each node its own connection
		c.Sessions = console.RedisSessions(rc, prefix+"console:", sealer)
		c.UserLimiter = ratelimit.NewRedis(rc, prefix+"user:", 10, time.Minute, 100, nil)
		c.AddrLimiter = ratelimit.NewRedis(rc, prefix+"addr:", 100, time.Minute, 100, nil)
		c.FormKey = formKey
	}
	var cfg console.Config
	s := newStack(t, func(c *console.Config) { node(c); cfg = *c })
	node(&cfg)
	srv2 := httptest.NewServer(console.New(cfg))
	t.Cleanup(srv2.Close)
	return &zone{stack: s, node2: srv2.URL}
}

// on returns b pointed at a node (the cookie jar ignores ports, so both
// nodes get the same cookies, as behind one load balancer).
func (b *browser) on(base string) *browser {
	return &browser{t: b.t, base: base, client: b.client}
}

var testTokenRE = regexp.MustCompile(`(?s)<textarea id="test-token-value"[^>]*>([^<]+)</textarea>`)

func TestZoneSessions(t *testing.T) {
	z := newZone(t)
	u := z.account(t, "v2")
	b1 := z.browser(t)
	b2 := b1.on(z.node2)

	// The form of node 1 is posted to node 2; the session it opens
	// works on node 1.
	form := b1.get("/console/")
	p := b2.post("/console/sign-in", url.Values{"csrf": {csrfOf(t, form.body)}, "account": {u.accountID},
		"email": {u.email}, "password": {u.password}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("sign-in on node 2: %d\n%s", p.status, p.body)
	}
	pg1 := b1.get("/console/api-authorization")
	if pg1.status != http.StatusOK {
		t.Fatalf("page on node 1: %d", pg1.status)
	}
	// The testing token issued on node 1 is kept in the session: node 2
	// shows the same one.
	pg2 := b2.get("/console/api-authorization")
	tok1, tok2 := testTokenRE.FindStringSubmatch(pg1.body), testTokenRE.FindStringSubmatch(pg2.body)
	if tok1 == nil || tok2 == nil || tok1[1] != tok2[1] {
		t.Fatal("node 2 shows another testing token than node 1")
	}
	// A flash set by a post on node 1 is shown once, wherever.
	if p := b1.post("/console/api-authorization/regenerate-key", url.Values{"csrf": {csrfOf(t, pg1.body)}}); p.status != http.StatusSeeOther {
		t.Fatalf("regenerate on node 1: %d", p.status)
	}
	const flash = "A new API key was generated"
	if !regexp.MustCompile(flash).MatchString(b2.get("/console/api-authorization").body) {
		t.Error("node 2 does not show the flash set on node 1")
	}
	if regexp.MustCompile(flash).MatchString(b1.get("/console/api-authorization").body) {
		t.Error("the flash was shown twice")
	}
	// Idle time counts on every node.
	z.clock.Advance(29 * time.Minute)
	if p := b2.get("/console/api-authorization"); p.status != http.StatusOK {
		t.Fatalf("node 2 after 29 min: %d", p.status)
	}
	z.clock.Advance(29 * time.Minute)
	if p := b1.get("/console/api-authorization"); p.status != http.StatusOK {
		t.Fatalf("node 1 29 min after a use on node 2: %d", p.status)
	}
	// Signing out on node 2 ends the session on node 1: the old cookie,
	// replayed there, opens nothing.
	old := b1.cookie("orch_console")
	pg2 = b2.get("/console/api-authorization")
	if p := b2.post("/console/sign-out", url.Values{"csrf": {csrfOf(t, pg2.body)}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign-out on node 2: %d", p.status)
	}
	replay := z.browser(t)
	u0, _ := url.Parse(z.srv.URL + "/console/")
	replay.client.Jar.SetCookies(u0, []*http.Cookie{{Name: "orch_console", Value: old.Value, Path: "/console"}})
	if p := replay.get("/console/api-authorization"); p.status != http.StatusSeeOther {
		t.Fatalf("node 1 after sign-out on node 2: %d", p.status)
	}
}

// 10 failed sign-ins spread over two nodes lock the user out on both.
func TestZoneSignInLimit(t *testing.T) {
	z := newZone(t)
	u := z.account(t, "v2")
	b := z.browser(t)
	nodes := []*browser{b, b.on(z.node2)}
	for i := range 10 {
		if p := nodes[i%2].signIn(u.accountID, u.email, "wrong-password-123"); p.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i+1, p.status)
		}
	}
	for i, n := range nodes {
		if p := n.signIn(u.accountID, u.email, u.password); p.status != http.StatusTooManyRequests {
			t.Errorf("node %d after 10 failures over both: status %d, want 429", i+1, p.status)
		}
	}
}

// A session store that fails (Redis gone) fails the request: the user is
// not signed out, and no session is opened that could not be found again.
func TestSessionStoreDown(t *testing.T) {
	rc := redistest.Client(t)
	rc.Close()
	s := newStack(t, func(c *console.Config) {
		k, _ := secret.Load(secret.Random(32))
		c.Sessions = console.RedisSessions(rc, redistest.Prefix(t), k)
	})
	u := s.account(t, "v2")
	b := s.browser(t)
	if p := b.signIn(u.accountID, u.email, u.password); p.status != http.StatusInternalServerError || b.cookie("orch_console") != nil {
		t.Fatalf("sign-in with the store down: %d, session cookie %v", p.status, b.cookie("orch_console"))
	}
	u0, _ := url.Parse(s.srv.URL + "/console/")
	b.client.Jar.SetCookies(u0, []*http.Cookie{{Name: "orch_console", Value: "some-session", Path: "/console"}})
	p := b.get("/console/api-authorization")
	if p.status != http.StatusInternalServerError {
		t.Fatalf("page with the store down: %d, want 500", p.status)
	}
	if b.cookie("orch_console") == nil {
		t.Fatal("the session cookie was dropped because the store did not answer")
	}
}
