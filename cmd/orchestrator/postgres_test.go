package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
	"github.com/orchestrator/orchestrator/internal/tcpproxy"
)

// testSecretKey is the ORCH_SECRET_KEY of the PostgreSQL-backed servers.
var testSecretKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef-test-secret-key"))

// startShared starts `orchestrator serve --postgres-url dsn` with the two
// secrets a shared store needs.
func startShared(t *testing.T, dsn string, args ...string) *proc {
	t.Helper()
	t.Setenv("ORCH_SECRET_KEY", testSecretKey)
	return startServe(t, append([]string{"--postgres-url", dsn}, args...)...)
}

// Without ORCH_SECRET_KEY and ORCH_ADMIN_TOKEN a node on PostgreSQL
// refuses to start and says why (it must not generate secrets of its own
// that the other nodes do not share).
func TestPostgresNeedsSharedSecrets(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	cmd := exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--postgres-url", dsn)
	cmd.Env = envWithout(os.Environ(), "ORCH_SECRET_KEY", "ORCH_ADMIN_TOKEN")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("serve started without the secrets:\n%s", out)
	}
	for _, want := range []string{"ORCH_SECRET_KEY", "ORCH_ADMIN_TOKEN"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("refusal does not name %s:\n%s", want, out)
		}
	}
}

func envWithout(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		keep := true
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// The seed flow on PostgreSQL: an account, login, guarded Context
// Service v1/v2 and Next Actions calls, and regenerations that take
// effect at once.
func TestPostgresSeedFlow(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	p := startShared(t, dsn)
	admin := map[string]string{"Authorization": "Bearer " + p.admin}
	a := p.createAccount(t, map[string]string{"name": "Acme"})
	tok := p.login(t, a)
	bearer := map[string]string{"Authorization": "Bearer " + tok}
	key := map[string]string{"maven-api-key": a.APIKey}

	if st := p.do(t, "PATCH", "/v1/account/"+a.AccountID+"/shop/conv-1/properties", key, map[string]any{"tier": "gold"}, nil); st != 204 {
		t.Fatalf("v1 PATCH: %d", st)
	}
	var doc struct {
		Payload map[string]any `json:"payload"`
	}
	if st := p.do(t, "GET", "/v2/context/document/"+a.AccountID+"/shop/conv-1", bearer, nil, &doc); st != 200 || doc.Payload["tier"] != "gold" {
		t.Fatalf("v2 read of the v1 write: %d %v", st, doc.Payload)
	}
	policy := map[string]any{"accountId": a.AccountID, "policy": map[string]any{"id": "vip", "name": "VIP",
		"conditions": []any{map[string]any{"property": "shop.tier", "type": "EQUAL", "value": "gold"}},
		"actions":    []any{map[string]any{"type": "TRANSFER_TO_SKILL", "payload": map[string]any{"skillId": "42"}}}}}
	if st := p.do(t, "POST", "/v2/config/create", bearer, policy, nil); st != 201 {
		t.Fatalf("policy create: %d", st)
	}
	var actions []map[string]any
	if st := p.do(t, "POST", "/v2/policy/nextaction", bearer, map[string]any{"accountId": a.AccountID, "conversationId": "conv-1", "sessionId": "conv-1"}, &actions); st != 200 || len(actions) != 1 {
		t.Fatalf("next action: %d %v", st, actions)
	}

	// Regenerations: the old key and the old token are refused by the
	// very next request.
	var regen struct {
		APIKey string `json:"apiKey"`
	}
	if st := p.do(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/api-key/regenerate", admin, map[string]any{}, &regen); st != 200 || regen.APIKey == "" {
		t.Fatalf("regenerate key: %d", st)
	}
	if st := p.do(t, "GET", "/v1/account/"+a.AccountID+"/shop/conv-1/properties", key, nil, nil); st != 403 {
		t.Errorf("old key after regeneration: %d, want 403", st)
	}
	if st := p.do(t, "GET", "/v1/account/"+a.AccountID+"/shop/conv-1/properties", map[string]string{"maven-api-key": regen.APIKey}, nil, nil); st != 200 {
		t.Errorf("new key: %d, want 200", st)
	}
	if st := p.do(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/credentials/regenerate", admin, nil, nil); st != 200 {
		t.Fatalf("regenerate credentials: %d", st)
	}
	if st := p.do(t, "GET", "/v2/context/document/"+a.AccountID+"/shop/conv-1", bearer, nil, nil); st != 403 {
		t.Errorf("old token after password regeneration: %d, want 403", st)
	}
}

// PostgreSQL gone under load: requests fail with 503 within 2 s and
// /readyz says 503; PostgreSQL back: the node serves again within 5 s
// without a restart, and no write it acknowledged is lost.
func TestPostgresOutage(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := tcpproxy.New(t, u.Host)
	u.Host = proxy.Addr()
	p := startShared(t, u.String())
	a := p.createAccount(t, map[string]string{"name": "Acme", "authVersion": "v1"})
	key := map[string]string{"maven-api-key": a.APIKey}

	// Writers: each acknowledged write is remembered.
	var (
		mu    sync.Mutex
		acked []int
		n     atomic.Int64
		slow  atomic.Int64 // answers that took over 2 s
		codes sync.Map     // status → count
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(n.Add(1))
				start := time.Now()
				st, _ := p.exchange(t, "PUT", fmt.Sprintf("/v1/account/%s/load/w%d/properties/p%d", a.AccountID, w, i), key, strings.NewReader(fmt.Sprint(i)))
				if time.Since(start) > 2*time.Second {
					slow.Add(1)
				}
				c, _ := codes.LoadOrStore(st, new(atomic.Int64))
				c.(*atomic.Int64).Add(1)
				if st == 204 {
					mu.Lock()
					acked = append(acked, w, i)
					mu.Unlock()
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	proxy.Cut()
	time.Sleep(1500 * time.Millisecond)
	start := time.Now()
	st, body := p.get(t, "/readyz", nil)
	if st != 503 || time.Since(start) > 2500*time.Millisecond {
		t.Errorf("/readyz with PostgreSQL gone: %d in %v (%s); want 503 within 2 s", st, time.Since(start), body)
	}
	if !strings.Contains(body, "storage unavailable") || strings.Contains(body, "postgres") || strings.Contains(body, proxy.Addr()) {
		t.Errorf("/readyz with PostgreSQL gone says %s: want \"storage unavailable\", without the database's user, name or address", body)
	}
	start = time.Now()
	if st, _ := p.exchange(t, "GET", "/v1/account/"+a.AccountID+"/load/w0/properties", key, nil); st != 503 || time.Since(start) > 2500*time.Millisecond {
		t.Errorf("read with PostgreSQL gone: %d in %v; want 503 within 2 s", st, time.Since(start))
	}
	time.Sleep(time.Second)
	proxy.Restore(t)
	back := time.Now()
	for {
		st, _ := p.get(t, "/readyz", nil)
		if st == 200 {
			break
		}
		if time.Since(back) > 5*time.Second {
			t.Fatalf("/readyz still %d 5 s after PostgreSQL came back", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	recovered := time.Since(back)
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	if slow.Load() > 0 {
		t.Errorf("%d requests took over 2 s", slow.Load())
	}
	var summary []string
	codes.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%v×%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	t.Logf("statuses %v; ready again %v after PostgreSQL came back", summary, recovered.Round(time.Millisecond))
	if _, ok := codes.Load(503); !ok {
		t.Error("no request answered 503 while PostgreSQL was gone")
	}
	for _, bad := range []int{500, 502, 504} {
		if _, ok := codes.Load(bad); ok {
			t.Errorf("some requests answered %d", bad)
		}
	}
	// Every acknowledged write is there.
	mu.Lock()
	defer mu.Unlock()
	lost := 0
	for i := 0; i < len(acked); i += 2 {
		w, v := acked[i], acked[i+1]
		st, b := p.exchange(t, "GET", fmt.Sprintf("/v1/account/%s/load/w%d/properties/p%d", a.AccountID, w, v), key, nil)
		if st != 200 || !strings.Contains(string(b), fmt.Sprint(v)) {
			lost++
		}
	}
	t.Logf("acknowledged=%d lost=%d", len(acked)/2, lost)
	if lost > 0 || len(acked) == 0 {
		t.Errorf("%d of %d acknowledged writes lost", lost, len(acked)/2)
	}
}

// For operators who allow no DDL at start: --skip-migrations refuses a
// schema with pending migrations, naming the command that applies them;
// once `store migrate` ran, the node starts.
func TestPostgresSkipMigrations(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	cmd := exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--postgres-url", dsn, "--skip-migrations")
	cmd.Env = append(os.Environ(), "ORCH_SECRET_KEY="+testSecretKey, "ORCH_ADMIN_TOKEN="+testAdminToken)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "orchestrator store migrate") {
		t.Fatalf("serve --skip-migrations on an empty schema: %v\n%s", err, out)
	}
	if out, err := exec.Command(binary(t), "store", "migrate", "--postgres-url", dsn).CombinedOutput(); err != nil {
		t.Fatalf("store migrate: %v\n%s", err, out)
	}
	p := startShared(t, dsn, "--skip-migrations")
	if st, body := p.get(t, "/readyz", nil); st != 200 {
		t.Errorf("/readyz after store migrate: %d %s", st, body)
	}
}
