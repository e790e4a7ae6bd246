package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
	"github.com/orchestrator/orchestrator/internal/tcpproxy"
)

// zone is three `orchestrator serve` nodes on one PostgreSQL schema
// behind Debian's HAProxy (round-robin, health check on /readyz), all on
// loopback (SPEC §9, docs/deploy.md).
type zone struct {
	nodes []*proc
	lb    *proc // base is HAProxy's address; cmd is haproxy
	dsn   string
	redis *tcpproxy.Proxy // in front of the machine's Redis, nil without it
}

const zonePublicURL = "--public-url=https://z1.orchestrator.example"

// haproxyConfig is the configuration docs/deploy.md shows, on loopback.
func haproxyConfig(listen string, servers []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
	maxconn 4096
defaults
	mode http
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	retries 2
	option redispatch
	retry-on conn-failure
	option forwardfor
frontend orchestrator
	bind %s
	default_backend nodes
backend nodes
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	default-server check inter 300ms fall 2 rise 2
`, listen)
	for i, s := range servers {
		fmt.Fprintf(&b, "\tserver n%d %s\n", i+1, s)
	}
	return b.String()
}

// startRedisZone is startZone with the nodes sharing the machine's Redis
// (through a proxy the test can cut) under a key prefix of their own,
// deleted at the end.
func startRedisZone(t *testing.T, n int) *zone {
	t.Helper()
	proxy := tcpproxy.New(t, redisAddr())
	prefix := fmt.Sprintf("orchtest:%d:%s:", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	t.Cleanup(func() { deleteRedisKeys(t, prefix) })
	z := startZone(t, n, "--redis-url", "redis://"+proxy.Addr()+"/0", "--redis-prefix", prefix)
	z.redis = proxy
	return z
}

func redisAddr() string {
	if a := os.Getenv("ORCH_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// deleteRedisKeys removes a test's keys (redis-cli, as scripts/test
// starts Redis with it).
func deleteRedisKeys(t *testing.T, prefix string) {
	host, port, _ := net.SplitHostPort(redisAddr())
	out, err := exec.Command("sh", "-c", fmt.Sprintf("redis-cli -h %s -p %s --scan --pattern '%s*' | xargs -r redis-cli -h %s -p %s del", host, port, prefix, host, port)).CombinedOutput()
	if err != nil {
		t.Errorf("deleting the test's Redis keys: %v\n%s", err, out)
	}
}

func startZone(t *testing.T, n int, extra ...string) *zone {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Fatal("haproxy is not installed (apt-get install haproxy; scripts/test installs it)")
	}
	dsn, _ := pgtest.Schema(t)
	t.Setenv("ORCH_SECRET_KEY", testSecretKey)
	z := &zone{dsn: dsn}
	var addrs []string
	for i := range n {
		args := append([]string{"--postgres-url", dsn, zonePublicURL, "--trusted-proxies", "127.0.0.1/32"}, extra...)
		p := startServeIn(t, filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i)), nil, args...)
		z.nodes = append(z.nodes, p)
		addrs = append(addrs, strings.TrimPrefix(p.base, "http://"))
	}
	listen := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(haproxyConfig(listen, addrs)), 0o600); err != nil {
		t.Fatal(err)
	}
	lb := &proc{base: "http://" + listen, admin: testAdminToken, logs: &lockedBuf{}}
	lb.cmd = exec.Command("haproxy", "-f", cfg, "-db")
	lb.cmd.Stdout, lb.cmd.Stderr = lb.logs, lb.logs
	if err := lb.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.cmd.Process.Kill(); lb.cmd.Wait() })
	z.lb = lb
	// In rotation once HAProxy's checks passed twice (rise 2, inter
	// 300 ms) on every node, and it answers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := z.lbStatus()
		if err == nil && st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy does not answer: %v\n%s", err, lb.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	return z
}

func (z *zone) lbStatus() (int, error) {
	resp, err := http.Get(z.lb.base + "/readyz")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Read your writes anywhere: 1,000 write→read pairs, each write through
// one node and its read through another, are never stale.
func TestZoneReadYourWrites(t *testing.T) {
	z := startZone(t, 3)
	a := z.lb.createAccount(t, map[string]string{"name": "Acme", "authVersion": "v1"})
	key := map[string]string{"maven-api-key": a.APIKey}
	stale := 0
	for i := range 1000 {
		w, r := z.nodes[i%3], z.nodes[(i+1)%3]
		path := fmt.Sprintf("/v1/account/%s/shop/conv-%d/properties/step", a.AccountID, i%7)
		if st, _ := w.exchange(t, "PUT", path, key, strings.NewReader(fmt.Sprint(i))); st != 204 {
			t.Fatalf("write %d: %d", i, st)
		}
		st, b := r.exchange(t, "GET", path, key, nil)
		if st != 200 || strings.TrimSpace(string(b)) != fmt.Sprint(i) {
			stale++
		}
	}
	if stale != 0 {
		t.Errorf("%d of 1000 reads through another node were stale", stale)
	}
}

// keys rotate through one node: the new kid is in every node's JWKS
// before any node signs a token with it.
func TestZoneKeyRotation(t *testing.T) {
	z := startZone(t, 3)
	a := z.lb.createAccount(t, map[string]string{"name": "Acme"})
	var rot struct {
		KID       string    `json:"kid"`
		SignsFrom time.Time `json:"signsFrom"`
	}
	if st := z.nodes[0].do(t, "POST", "/admin/v1/keys/rotate", map[string]string{"Authorization": "Bearer " + testAdminToken}, map[string]string{"delay": "0s"}, &rot); st != 200 {
		t.Fatalf("rotate: %d", st)
	}
	published := map[int]time.Time{}
	var firstSigned time.Time
	deadline := time.Now().Add(40 * time.Second)
	for len(published) < 3 || firstSigned.IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("after 40 s: published on %d nodes, signed: %v", len(published), !firstSigned.IsZero())
		}
		for i, n := range z.nodes {
			if _, ok := published[i]; !ok {
				if _, body := n.get(t, "/.well-known/jwks.json", nil); strings.Contains(body, rot.KID) {
					published[i] = time.Now()
				}
			}
			if firstSigned.IsZero() && strings.Contains(jwtHeader(t, n.login(t, a)), rot.KID) {
				firstSigned = time.Now()
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i, at := range published {
		if !at.Before(firstSigned) {
			t.Errorf("node %d published the key at %v, not before the first token it signed (%v)", i+1, at, firstSigned)
		}
	}
	t.Logf("the new key was in all three JWKS %v before the first token signed with it", firstSigned.Sub(maxTime(published)).Round(time.Millisecond))
}

func maxTime(m map[int]time.Time) time.Time {
	var t time.Time
	for _, v := range m {
		if v.After(t) {
			t = v
		}
	}
	return t
}

// jwtHeader decodes a token's header.
func jwtHeader(t *testing.T, tok string) string {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// kill -9 one node under a read/write load through HAProxy: no
// acknowledged write is lost, and the only errors are requests that
// were in flight on the killed node.
func TestZoneNodeKilled(t *testing.T) {
	z := startZone(t, 3)
	a := z.lb.createAccount(t, map[string]string{"name": "Acme", "authVersion": "v1"})
	key := map[string]string{"maven-api-key": a.APIKey}
	const workers = 8
	var (
		mu    sync.Mutex
		acked = map[string]int{}
		errs  atomic.Int64
		n     atomic.Int64
		after atomic.Int64 // errors that started after HAProxy took the node out
		out   atomic.Bool
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := int(n.Add(1))
				path := fmt.Sprintf("/v1/account/%s/load/w%d/properties/p%d", a.AccountID, w, i%50)
				startedOut := out.Load()
				req, _ := http.NewRequest("PUT", z.lb.base+path, strings.NewReader(fmt.Sprint(i)))
				req.Header.Set("maven-api-key", a.APIKey)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				ok := err == nil && resp.StatusCode == 204
				if err == nil {
					resp.Body.Close()
				}
				if !ok {
					errs.Add(1)
					if startedOut {
						after.Add(1)
					}
					continue
				}
				mu.Lock()
				if i > acked[path] {
					acked[path] = i
				}
				mu.Unlock()
				// A read through the balancer too.
				if st, _ := z.lb.exchange(t, "GET", path, key, nil); st != 200 {
					errs.Add(1)
					if startedOut {
						after.Add(1)
					}
				}
			}
		})
	}
	time.Sleep(time.Second)
	victim := z.nodes[1]
	victim.cmd.Process.Signal(syscall.SIGKILL)
	// HAProxy marks it down after two failed checks (2 × 300 ms).
	time.Sleep(1500 * time.Millisecond)
	out.Store(true)
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	// Every acknowledged write (the last one per property, as writes of
	// one worker to one property are in order) is there.
	lost := 0
	for path, v := range acked {
		st, b := z.nodes[0].exchange(t, "GET", path, key, nil)
		if st != 200 || strings.TrimSpace(string(b)) != fmt.Sprint(v) {
			lost++
		}
	}
	t.Logf("requests=%d errors=%d (after the node was out: %d) properties=%d lost=%d", n.Load(), errs.Load(), after.Load(), len(acked), lost)
	if lost != 0 {
		t.Errorf("%d acknowledged writes lost", lost)
	}
	if errs.Load() > workers {
		t.Errorf("%d requests failed; at most the %d in flight on the killed node may", errs.Load(), workers)
	}
	if after.Load() != 0 {
		t.Errorf("%d requests failed after HAProxy took the killed node out", after.Load())
	}
}

// docs/deploy.md shows the HAProxy configuration the three-node tests
// run: every line but the addresses is the same.
func TestDeployDocHAProxyConfig(t *testing.T) {
	doc, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(haproxyConfig("127.0.0.1:1", nil), "\n") {
		if line == "" || strings.Contains(line, "bind ") {
			continue
		}
		if !strings.Contains(string(doc), line+"\n") {
			t.Errorf("docs/deploy.md lacks the tests' HAProxy line %q", line)
		}
	}
}

// Revocation everywhere (SPEC §9): with caches warm on nodes 2 and 3, a
// key regenerated through node 1 is refused by both on the very next
// request; over 1,000 regenerations, no request that started after the
// call returned accepted the old key.
func TestZoneRevocation(t *testing.T) {
	z := startRedisZone(t, 3)
	a := z.lb.createAccount(t, map[string]string{"name": "Acme", "authVersion": "v1"})
	admin := map[string]string{"Authorization": "Bearer " + testAdminToken}
	path := "/v1/account/" + a.AccountID + "/shop/conv-1/properties"
	key := a.APIKey
	accepted, worst := 0, time.Duration(0)
	const trials = 1000
	for i := range trials {
		for _, n := range z.nodes[1:] { // warm the caches
			if st, _ := n.exchange(t, "GET", path, map[string]string{"maven-api-key": key}, nil); st != 200 && st != 404 {
				t.Fatalf("trial %d: the current key: %d", i, st)
			}
		}
		var regen struct {
			APIKey string `json:"apiKey"`
		}
		if st := z.nodes[0].do(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/api-key/regenerate", admin, map[string]any{}, &regen); st != 200 {
			t.Fatalf("trial %d: regenerate: %d", i, st)
		}
		returned := time.Now()
		for _, n := range z.nodes[1:] {
			if st, _ := n.exchange(t, "GET", path, map[string]string{"maven-api-key": key}, nil); st != 403 {
				accepted++
			}
		}
		worst = max(worst, time.Since(returned))
		key = regen.APIKey
	}
	t.Logf("%d regenerations through node 1: %d requests on nodes 2 and 3 accepted the old key after the call returned (of %d)", trials, accepted, 2*trials)
	if accepted != 0 {
		t.Errorf("%d requests accepted a regenerated key after the regeneration returned", accepted)
	}
}

// Token revocation everywhere (SPEC §3, §9): a token revoked through one
// node (RFC 7009) is refused by the other nodes on the first request
// that starts after the revocation returned, their caches warm.
func TestZoneTokenRevoke(t *testing.T) {
	z := startRedisZone(t, 3)
	a := z.lb.createAccount(t, map[string]string{"name": "Acme", "authVersion": "v2"})
	path := "/v2/context/document/" + a.AccountID + "/shop"
	accepted := 0
	const trials = 100
	for i := range trials {
		tok := z.nodes[0].login(t, a)
		bearer := map[string]string{"Authorization": "Bearer " + tok}
		for _, n := range z.nodes[1:] { // warm the caches
			if st, b := n.exchange(t, "GET", path, bearer, nil); st != 404 {
				t.Fatalf("trial %d: the live token: %d %s", i, st, b)
			}
		}
		form := url.Values{"token": {tok}}
		req, _ := http.NewRequest("POST", z.nodes[0].base+"/oauth2/revoke", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(a.Credentials.UserID, a.Credentials.Password)
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("trial %d: revoke: %d", i, resp.StatusCode)
		}
		for _, n := range z.nodes[1:] {
			if st, _ := n.exchange(t, "GET", path, bearer, nil); st != 403 {
				accepted++
			}
		}
	}
	t.Logf("%d revocations through node 1: %d requests on nodes 2 and 3 accepted the token after the call returned (of %d)", trials, accepted, 2*trials)
	if accepted != 0 {
		t.Errorf("%d requests accepted a revoked token after the revocation returned", accepted)
	}
}

// Limits per zone: 10 wrong passwords spread over the three nodes, then
// the 11th attempt is 429 whichever node gets it.
func TestZoneLoginLimit(t *testing.T) {
	z := startRedisZone(t, 3)
	a := z.lb.createAccount(t, map[string]string{"name": "Acme"})
	try := func(n *proc, password string) int {
		req, _ := http.NewRequest("GET", n.base+"/v2/authenticate/login", nil)
		req.SetBasicAuth(a.Credentials.UserID, password)
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 10 {
		if st := try(z.nodes[i%3], fmt.Sprintf("wrong-%d", i)); st != 401 {
			t.Fatalf("wrong password %d on node %d: %d, want 401", i+1, i%3+1, st)
		}
	}
	for i, n := range z.nodes {
		if st := try(n, "wrong-11"); st != 429 {
			t.Errorf("11th wrong password on node %d: %d, want 429", i+1, st)
		}
	}
}

// A console sign-in form served by node 1 posts to node 2, and the
// session it opens works on node 3.
func TestZoneConsoleAcrossNodes(t *testing.T) {
	z := startRedisZone(t, 3)
	a := z.lb.createAccount(t, map[string]string{"name": "Acme", "consoleEmail": "alice@example.com"})
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cookies := map[string]string{}
	send := func(req *http.Request) (*http.Response, []byte) {
		// As through the balancer: the Host is the zone's public one.
		req.Host = "z1.orchestrator.example"
		for k, v := range cookies {
			req.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		// The cookies are Secure under the https public URL; the test
		// speaks plain HTTP to the nodes, so it carries them itself.
		for _, ck := range resp.Cookies() {
			if ck.MaxAge < 0 {
				delete(cookies, ck.Name)
			} else {
				cookies[ck.Name] = ck.Value
			}
		}
		return resp, b
	}
	req, _ := http.NewRequest("GET", z.nodes[0].base+"/console/", nil)
	_, page := send(req)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token in node 1's sign-in page:\n%s", page)
	}
	form := url.Values{"csrf": {string(m[1])}, "account": {a.AccountID}, "email": {"alice@example.com"}, "password": {a.ConsoleUser.Password}}
	req, _ = http.NewRequest("POST", z.nodes[1].base+"/console/sign-in", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://z1.orchestrator.example")
	resp, body := send(req)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("node 1's form posted to node 2: %d\n%s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest("GET", z.nodes[2].base+"/console/api-authorization", nil)
	resp, body = send(req)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "API Authorization") {
		t.Errorf("the session on node 3: %d\n%.300s", resp.StatusCode, body)
	}
}

// Redis stopped: logins and reads keep working, /readyz answers 200
// "degraded", and a regenerated key is refused everywhere within 1 s;
// Redis back: revocation is immediate again.
func TestZoneRedisDown(t *testing.T) {
	z := startRedisZone(t, 3)
	a := z.lb.createAccount(t, map[string]string{"name": "Acme"})
	admin := map[string]string{"Authorization": "Bearer " + testAdminToken}
	path := "/v1/account/" + a.AccountID + "/shop/conv-1/properties"
	z.redis.Cut()
	time.Sleep(1200 * time.Millisecond)
	for i, n := range z.nodes {
		st, body := n.get(t, "/readyz", nil)
		if st != 200 || !strings.Contains(body, "degraded") {
			t.Errorf("node %d /readyz with Redis down: %d %s; want 200 degraded", i+1, st, body)
		}
		if tok := n.login(t, a); tok == "" {
			t.Errorf("node %d: no login with Redis down", i+1)
		}
		if st, _ := n.exchange(t, "GET", path, map[string]string{"maven-api-key": a.APIKey}, nil); st != 200 && st != 404 {
			t.Errorf("node %d: read with Redis down: %d", i+1, st)
		}
	}
	if _, body := z.nodes[0].get(t, "/metrics", map[string]string{"Authorization": "Bearer " + testAdminToken}); !strings.Contains(body, `orchestrator_shared_degraded{part="invalidation"} 1`) {
		t.Error("/metrics does not report the invalidation degraded")
	}
	var regen struct {
		APIKey string `json:"apiKey"`
	}
	if st := z.nodes[0].do(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/api-key/regenerate", admin, map[string]any{}, &regen); st != 200 {
		t.Fatalf("regenerate with Redis down: %d", st)
	}
	returned := time.Now()
	for i, n := range z.nodes[1:] {
		for {
			st, _ := n.exchange(t, "GET", path, map[string]string{"maven-api-key": a.APIKey}, nil)
			if st == 403 {
				break
			}
			if time.Since(returned) > time.Second {
				t.Errorf("node %d still accepts the old key %v after the regeneration with Redis down", i+2, time.Since(returned))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	z.redis.Restore(t)
	deadline := time.Now().Add(5 * time.Second)
	for _, n := range z.nodes {
		for {
			_, body := n.get(t, "/readyz", nil)
			if strings.Contains(body, `"ready"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz still %s 5 s after Redis came back", body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Immediate again.
	key := regen.APIKey
	for _, n := range z.nodes[1:] {
		n.exchange(t, "GET", path, map[string]string{"maven-api-key": key}, nil)
	}
	if st := z.nodes[0].do(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/api-key/regenerate", admin, map[string]any{}, &regen); st != 200 {
		t.Fatalf("regenerate: %d", st)
	}
	for i, n := range z.nodes[1:] {
		if st, _ := n.exchange(t, "GET", path, map[string]string{"maven-api-key": key}, nil); st != 403 {
			t.Errorf("node %d accepted the old key right after the regeneration with Redis back: %d", i+2, st)
		}
	}
}
