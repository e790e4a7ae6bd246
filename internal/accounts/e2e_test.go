package accounts_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// clock is an injectable clock for the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// get sends GET url over loopback with one header and returns the status.
func get(t *testing.T, url, header, value string) int {
	t.Helper()
	st, _ := servertest.Do(t, http.MethodGet, url, map[string]string{header: value}, "")
	return st
}

// TestRegenerationNeverRevivesTokens reproduces security review 2026-12,
// finding 4, over loopback: a token killed by a regeneration without grace
// came back to life for the grace of the next regeneration. SPEC §3:
// revocation only moves forward.
func TestRegenerationNeverRevivesTokens(t *testing.T) {
	clk := &clock{t: time.Now()}
	e := servertest.StartClock(t, clk.Now)
	a := e.CreateAccount(t, true)
	doc := e.URL + "/v2/context/document/" + a.AccountID + "/ns"
	// 404: authenticated, no such namespace; 403: the token is refused.
	use := func(tok string) int { return get(t, doc, "Authorization", "Bearer "+tok) }

	tok := e.Login(t, a)
	if st := use(tok); st != 404 {
		t.Fatalf("fresh token: status %d, want 404", st)
	}
	regen := func(body map[string]string) {
		t.Helper()
		var creds struct{ UserID, Password string }
		if st := e.Admin(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/credentials/regenerate", body, &creds); st != 200 {
			t.Fatalf("regenerate %v: status %d", body, st)
		}
		a.Password = creds.Password
	}
	clk.Advance(time.Second)
	regen(map[string]string{})
	if st := use(tok); st != 403 {
		t.Fatalf("after regenerate {}: status %d, want 403", st)
	}
	clk.Advance(time.Second)
	between := e.Login(t, a) // issued between the two regenerations
	clk.Advance(time.Second)
	regen(map[string]string{"grace": "10m"})
	if st := use(tok); st != 403 {
		t.Errorf(`after regenerate {"grace":"10m"}: killed token status %d, want 403 (revived)`, st)
	}
	// The grace still means something for tokens it covers.
	if st := use(between); st != 404 {
		t.Errorf("token issued between the regenerations, in the grace: status %d, want 404", st)
	}
	clk.Advance(9*time.Minute + 59*time.Second)
	if st := use(between); st != 404 {
		t.Errorf("token in the grace, 1 s before its end: status %d, want 404", st)
	}
	if st := use(tok); st != 403 {
		t.Errorf("killed token later in the grace: status %d, want 403", st)
	}
	clk.Advance(time.Second)
	if st := use(between); st != 403 {
		t.Errorf("token in the grace, at its end: status %d, want 403", st)
	}
	if st := use(e.Login(t, a)); st != 404 {
		t.Errorf("token issued after the last regeneration: status %d, want 404", st)
	}
}

// TestKeyRotationWithoutGraceStopsEveryOlderKey reproduces security review
// 2026-12, finding 8, over loopback: K1 → K2 with a grace, then K2 → K3
// without; K1 kept working. SPEC §2: the previous key stops working at
// once. The keys are used before the rotations, so that the service's
// authentication cache holds them.
func TestKeyRotationWithoutGraceStopsEveryOlderKey(t *testing.T) {
	e := servertest.Start(t)
	a := e.CreateAccount(t, false)
	props := e.URL + "/v1/account/" + a.AccountID + "/ns/properties"
	use := func(key string) int { return get(t, props, "maven-api-key", key) }
	rotate := func(body map[string]string) string {
		t.Helper()
		var out struct{ APIKey string }
		if st := e.Admin(t, "POST", "/admin/v1/accounts/"+a.AccountID+"/api-key/regenerate", body, &out); st != 200 || out.APIKey == "" {
			t.Fatalf("regenerate %v: status %d", body, st)
		}
		return out.APIKey
	}
	k1 := a.APIKey
	if st := use(k1); st != 404 {
		t.Fatalf("K1: status %d, want 404", st)
	}
	k2 := rotate(map[string]string{"grace": "10m"})
	if st1, st2 := use(k1), use(k2); st1 != 404 || st2 != 404 {
		t.Fatalf("after K1 → K2 with grace: K1 %d, K2 %d; want 404 both", st1, st2)
	}
	k3 := rotate(map[string]string{})
	for _, tc := range []struct {
		name, key string
		want      int
	}{{"K1", k1, 403}, {"K2", k2, 403}, {"K3", k3, 404}} {
		if st := use(tc.key); st != tc.want {
			t.Errorf("after K2 → K3 without grace: %s status %d, want %d", tc.name, st, tc.want)
		}
	}
}
