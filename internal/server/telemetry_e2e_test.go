package server_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/server"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// scrapeAll returns every sample of the server's /metrics by its series
// (name and labels as written).
func scrapeAll(t *testing.T, env *servertest.Env) map[string]float64 {
	t.Helper()
	resp, err := http.Get(env.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// scrapeUntil scrapes until ok holds of the samples, for up to 5 s, and
// returns the last scrape.
func scrapeUntil(t *testing.T, env *servertest.Env, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := scrapeAll(t, env)
		if ok(m) || time.Now().After(deadline) {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMetricsNameEachRouteAndMethod: every v1 operation is counted under
// its own route pattern and its method (issue 17), next-actions apart
// from the Context Service, the console by its pages, an unknown method
// as "other", and never a raw path.
func TestMetricsNameEachRouteAndMethod(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	key := map[string]string{"maven-api-key": a.APIKey, "Content-Type": "application/json"}
	v1 := env.URL + "/v1/account/" + a.AccountID
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "", `{"name":"ns1"}`, 204},
		{"GET", "", "", 200},
		{"PUT", "/ns1/properties/p1", `"v"`, 204},
		{"GET", "/ns1/properties/p1", "", 200},
		{"GET", "/ns1/properties/p1/", "", 200},
		{"GET", "/ns1/properties", "", 200},
		{"PATCH", "/ns1/s1/properties", `{"x":1}`, 204},
		{"GET", "/ns1/s1/properties/x", "", 200},
		{"GET", "/ns1/session-ids", "", 200},
		{"POST", "/namespace/ns1/session", `{"sessionId":"s2"}`, 204},
		{"DELETE", "/namespace/ns1/session/s2", "", 204},
		{"GET", "/next-actions?conversationId=c1", "", 200},
		{"GET", "/next-actions/?conversationId=c1", "", 200},
		{"BREW", "/ns1/properties", "", 405},
		{"DELETE", "/ns1", "", 204},
	} {
		if st, _ := servertest.Do(t, c.method, v1+c.path, key, c.body); st != c.status {
			t.Fatalf("%s %s = %d, want %d", c.method, c.path, st, c.status)
		}
	}
	for _, c := range []struct {
		path   string
		status int
	}{{"/console/", 200}, {"/console/static/console.css", 200}, {"/console/no-such-page", 404}, {"/console", 301}} {
		req, _ := http.NewRequest("GET", env.URL+c.path, nil)
		resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("GET %s = %d, want %d", c.path, resp.StatusCode, c.status)
		}
	}

	const total = "orchestrator_http_requests_total"
	wants := []string{
		`{code="204",method="POST",route="/v1/account/{a}"}`,
		`{code="200",method="GET",route="/v1/account/{a}"}`,
		`{code="204",method="PUT",route="/v1/account/{a}/{ns}/properties/{p}"}`,
		`{code="200",method="GET",route="/v1/account/{a}/{ns}/properties"}`,
		`{code="204",method="PATCH",route="/v1/account/{a}/{ns}/{sid}/properties"}`,
		`{code="200",method="GET",route="/v1/account/{a}/{ns}/{sid}/properties/{p}"}`,
		`{code="200",method="GET",route="/v1/account/{a}/{ns}/session-ids"}`,
		`{code="204",method="POST",route="/v1/account/{a}/namespace/{ns}/session"}`,
		`{code="204",method="DELETE",route="/v1/account/{a}/namespace/{ns}/session/{sid}"}`,
		`{code="405",method="other",route="/v1/account/{a}/{ns}/properties"}`,
		`{code="204",method="DELETE",route="/v1/account/{a}/{ns}"}`,
		`{code="200",method="GET",route="/console/{$}"}`,
		`{code="200",method="GET",route="/console/static/"}`,
		`{code="404",method="GET",route="/console/"}`,
		`{code="301",method="GET",route="/console"}`,
	}
	// A request is counted once its handler has returned, which may be
	// just after its client read the answer.
	m := scrapeUntil(t, env, func(m map[string]float64) bool {
		for _, want := range wants {
			if m[total+want] != 1 {
				return false
			}
		}
		return true
	})
	for _, want := range wants {
		if m[total+want] != 1 {
			t.Errorf("%s%s = %v, want 1", total, want, m[total+want])
		}
	}
	for _, want := range []string{
		total + `{code="200",method="GET",route="/v1/account/{a}/{ns}/properties/{p}"}`, // with and without the trailing "/"
		total + `{code="200",method="GET",route="/v1/account/{a}/next-actions"}`,
		`orchestrator_http_request_duration_seconds_count{method="GET",route="/v1/account/{a}/next-actions"}`,
	} {
		if m[want] != 2 {
			t.Errorf("%s = %v, want 2", want, m[want])
		}
	}
	// Bounded labels: patterns only, never a raw path or account id.
	routes := map[string]bool{}
	routeLabel := regexp.MustCompile(`route="([^"]*)"`)
	for series := range m {
		if !strings.HasPrefix(series, total+"{") {
			continue
		}
		r := routeLabel.FindStringSubmatch(series)[1]
		if strings.Contains(r, a.AccountID) || strings.Contains(r, "ns1") {
			t.Errorf("raw path in a route label: %s", series)
		}
		if strings.HasPrefix(r, "/v1/") {
			routes[r] = true
		}
	}
	if len(routes) < 9 {
		t.Errorf("%d distinct v1 routes, want at least 9: %v", len(routes), routes)
	}
	if m[total+`{code="204",method="POST",route="/v1/account/{a}/"}`] != 0 {
		t.Errorf("a v1 operation was counted under the catch-all /v1/account/{a}/")
	}

	build := false
	for series, v := range m {
		if strings.HasPrefix(series, "orchestrator_build_info{") && strings.Contains(series, `goversion="go`) && v == 1 {
			build = true
		}
	}
	if !build {
		t.Error("no orchestrator_build_info{version,revision,goversion} 1")
	}
	// The API key was read from the store once, then from the cache.
	if m[`orchestrator_cache_misses_total{cache="api_keys"}`] < 1 || m[`orchestrator_cache_hits_total{cache="api_keys"}`] < 10 {
		t.Errorf("api_keys cache: hits %v, misses %v; want the key's requests served from the cache",
			m[`orchestrator_cache_hits_total{cache="api_keys"}`], m[`orchestrator_cache_misses_total{cache="api_keys"}`])
	}
	if _, ok := m[`orchestrator_cache_evictions_total{cache="credentials"}`]; !ok {
		t.Error("no orchestrator_cache_evictions_total{cache=\"credentials\"}")
	}
	if !servertest.Postgres() {
		// The writes above went through the embedded store's group commit.
		if m["orchestrator_store_commit_batch_size_count"] < 5 || m["orchestrator_store_commit_duration_seconds_count"] < 5 {
			t.Errorf("group commits: batches %v, durations %v; want the writes counted",
				m["orchestrator_store_commit_batch_size_count"], m["orchestrator_store_commit_duration_seconds_count"])
		}
	}
}

// TestLimiterAndPurgeMetrics: the failure limiters count what they
// allow and refuse by name, and the background purges their runs.
func TestLimiterAndPurgeMetrics(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	for range 11 {
		req, _ := http.NewRequest("GET", env.URL+"/v2/authenticate/login", nil)
		req.SetBasicAuth(a.UserID, "wrong-password-wrong-password-wrong")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	server.Purge(env.Server, context.Background())
	m := scrapeUntil(t, env, func(m map[string]float64) bool {
		return m[`orchestrator_ratelimit_decisions_total{limiter="login-user",result="limited"}`] == 1
	})
	for series, want := range map[string]float64{
		`orchestrator_ratelimit_decisions_total{limiter="login-user",result="allowed"}`: 10,
		`orchestrator_ratelimit_decisions_total{limiter="login-user",result="limited"}`: 1,
		`orchestrator_purge_runs_total{kind="revoked_tokens"}`:                          1,
		`orchestrator_purge_runs_total{kind="audit"}`:                                   1,
		`orchestrator_purged_rows_total{kind="revoked_tokens"}`:                         0,
	} {
		if m[series] != want {
			t.Errorf("%s = %v, want %v", series, m[series], want)
		}
	}
	for _, series := range []string{
		`orchestrator_purge_runs_total{kind="expired_properties"}`,
		`orchestrator_purge_runs_total{kind="evaluation_logs"}`,
		`orchestrator_store_commit_batch_size_bucket{le="1"}`,
	} {
		if _, ok := m[series]; !ok {
			t.Errorf("metrics lack %s", series)
		}
	}
}
