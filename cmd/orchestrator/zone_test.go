package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
)

// zone is three `orchestrator serve` nodes on one PostgreSQL schema
// behind Debian's HAProxy (round-robin, health check on /readyz), all on
// loopback (SPEC §9, docs/deploy.md).
type zone struct {
	nodes []*proc
	lb    *proc // base is HAProxy's address; cmd is haproxy
	dsn   string
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
	lb := &proc{base: "http://" + listen, admin: testAdminToken, logs: &bytes.Buffer{}}
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
