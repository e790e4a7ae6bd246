package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/metrics"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lockedBuffer is a bytes.Buffer safe for a logger and a test to share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// lines returns the JSON lines written so far, decoded.
func (b *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

// loggedServer is a Server whose JSON log goes to the returned buffer,
// serving the test routes through the real middleware, and whose default
// logger is watched: nothing may be written there.
func loggedServer(t *testing.T, routes map[string]HandlerFunc) (*Server, http.Handler, *lockedBuffer, *fakeClock) {
	t.Helper()
	logs := &lockedBuffer{}
	clock := &fakeClock{now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	s := &Server{Metrics: metrics.New(), Log: slog.New(slog.NewJSONHandler(logs, nil)), Now: clock.Now}
	mux := http.NewServeMux()
	for p, h := range routes {
		mux.Handle(p, s.instrument(p, h))
	}
	mux.Handle("GET /readyz", s.instrument("GET /readyz", HandlerFunc(s.readyz)))

	stray := &lockedBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(stray, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() {
		slog.SetDefault(prev)
		if s := stray.b.String(); s != "" {
			t.Errorf("written to the default logger, not the server's: %s", s)
		}
	})
	return s, s.middleware(mux), logs, clock
}

// scrape returns the value of series (name with its labels, as exposed)
// from m's /metrics, 0 when absent.
func scrape(t *testing.T, m *metrics.Metrics, series string) float64 {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, l := range strings.Split(w.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	return 0
}

func get(h http.Handler, method, target, id string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	if id != "" {
		r.Header.Set("X-Request-Id", id)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestHandlerErrorIsOneAccessLine: a handler's 500 produces exactly one
// JSON line, the access line, carrying the request id and the error (it
// was a plain-text line through the default logger, apart from the access
// line).
func TestHandlerErrorIsOneAccessLine(t *testing.T) {
	_, h, logs, _ := loggedServer(t, map[string]HandlerFunc{
		"GET /fail": func(w http.ResponseWriter, r *http.Request) error {
			return fmt.Errorf("reading the widget: %w", errors.New("disk on fire"))
		},
	})
	w := get(h, "GET", "/fail", "req-500-a")
	if w.Code != 500 || strings.Contains(w.Body.String(), "disk on fire") {
		t.Fatalf("GET /fail = %d %s, want 500 without the internal error", w.Code, w.Body)
	}
	lines := logs.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want exactly 1: %v", len(lines), lines)
	}
	l := lines[0]
	if l["msg"] != "request" || l["level"] != "ERROR" || l["id"] != "req-500-a" || l["status"] != 500.0 ||
		l["err"] != "reading the widget: disk on fire" || l["path"] != "/fail" {
		t.Errorf("access line = %v, want level ERROR, id req-500-a, status 500 and the error", l)
	}
}

// TestPanicHasAccessLineAndMetric: a panic answers a JSON 500, has its
// access line (status 500, the panic and its stack) and is counted,
// both in orchestrator_http_panics_total and under its route (a panic
// skipped the access line and the request metric).
func TestPanicHasAccessLineAndMetric(t *testing.T) {
	s, h, logs, _ := loggedServer(t, map[string]HandlerFunc{
		"GET /boom": func(w http.ResponseWriter, r *http.Request) error { panic("boom") },
	})
	w := get(h, "GET", "/boom", "req-panic")
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"message":"internal error"`) {
		t.Fatalf("GET /boom = %d %s, want a JSON 500", w.Code, w.Body)
	}
	lines := logs.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want exactly 1: %v", len(lines), lines)
	}
	l := lines[0]
	if l["msg"] != "request" || l["level"] != "ERROR" || l["id"] != "req-panic" || l["status"] != 500.0 || l["err"] != "panic: boom" {
		t.Errorf("access line = %v, want the panic at status 500", l)
	}
	if st, _ := l["stack"].(string); !strings.Contains(st, "onelog_test.go") {
		t.Errorf("access line stack = %q, want the panicking frame", st)
	}
	if n := scrape(t, s.Metrics, "orchestrator_http_panics_total"); n != 1 {
		t.Errorf("orchestrator_http_panics_total = %v, want 1", n)
	}
	if n := scrape(t, s.Metrics, `orchestrator_http_requests_total{code="500",method="GET",route="/boom"}`); n != 1 {
		t.Errorf(`orchestrator_http_requests_total{route="/boom",method="GET",code="500"} = %v, want 1`, n)
	}
}

// TestStorageFullIs507LoggedOncePerInterval: a write refused for lack of
// space answers 507 {"message":"storage full"}, is counted each time and
// logged at ERROR once per 10 s with the number suppressed (the review saw
// 35,000 ERROR lines in 20 s).
func TestStorageFullIs507LoggedOncePerInterval(t *testing.T) {
	s, h, logs, clock := loggedServer(t, map[string]HandlerFunc{
		"PUT /w": func(w http.ResponseWriter, r *http.Request) error {
			return fmt.Errorf("merge: %w", fmt.Errorf("%w: database or disk is full (13)", storage.ErrStorageFull))
		},
	})
	for range 30 {
		w := get(h, "PUT", "/w", "")
		if w.Code != 507 || strings.TrimSpace(w.Body.String()) != `{"message":"storage full"}` {
			t.Fatalf("PUT /w = %d %s, want 507 {\"message\":\"storage full\"}", w.Code, w.Body)
		}
	}
	clock.Advance(11 * time.Second)
	get(h, "PUT", "/w", "")

	var full, access []map[string]any
	for _, l := range logs.lines(t) {
		switch {
		case l["msg"] == "request":
			access = append(access, l)
			if l["level"] != "INFO" || l["status"] != 507.0 {
				t.Errorf("access line of a 507 = %v, want INFO", l)
			}
		case l["level"] == "ERROR" && strings.HasPrefix(l["msg"].(string), "storage full"):
			full = append(full, l)
		default:
			t.Errorf("unexpected line %v", l)
		}
	}
	if len(access) != 31 || len(full) != 2 {
		t.Fatalf("%d access lines and %d storage-full lines, want 31 and 2", len(access), len(full))
	}
	if full[0]["suppressed"] != 0.0 || full[1]["suppressed"] != 29.0 {
		t.Errorf("suppressed counts %v, %v; want 0, then 29", full[0]["suppressed"], full[1]["suppressed"])
	}
	if n := scrape(t, s.Metrics, "orchestrator_storage_full_total"); n != 31 {
		t.Errorf("orchestrator_storage_full_total = %v, want 31", n)
	}
}

// TestReadyz: a store that fails the probe makes /readyz 503 with the
// reason; after Drain it is 503 at once, without probing.
func TestReadyz(t *testing.T) {
	s, h, _, _ := loggedServer(t, nil)
	var calls atomic.Int32
	var probeErr error
	s.Ready = func(ctx context.Context) error {
		calls.Add(1)
		return probeErr
	}
	check := func(wantCode int, wantBody string) {
		t.Helper()
		w := get(h, "GET", "/readyz", "")
		if w.Code != wantCode || !strings.Contains(w.Body.String(), wantBody) {
			t.Errorf("/readyz = %d %s, want %d %s", w.Code, w.Body, wantCode, wantBody)
		}
	}
	check(200, `"ready"`)
	probeErr = errors.New("store refuses writes: attempt to write a readonly database (8)")
	check(503, `{"message":"not ready: store refuses writes (the reason is in the server's log)"}`)
	probeErr = errors.New(`pq: permission denied for table "accounts" (user orch_ro at db.internal:5432)`)
	check(503, `{"message":"not ready: store check failed (the reason is in the server's log)"}`)
	probeErr = fmt.Errorf("%w: a write was refused for lack of space 1s ago", storage.ErrStorageFull)
	check(503, `{"message":"not ready: storage full"}`)
	// The write probe on a full disk: the kind wins over the prefix.
	probeErr = fmt.Errorf("store refuses writes: %w", storage.ErrStorageFull)
	check(503, `{"message":"not ready: storage full"}`)
	probeErr = nil
	check(200, `"ready"`)
	s.Drain()
	check(503, `{"message":"not ready: shutting down"}`)
	if n := calls.Load(); n != 6 {
		t.Errorf("probed %d times, want 6 (none after Drain)", n)
	}
}
