package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/audit"
	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/clientaddr"
	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/metrics"
	"github.com/orchestrator/orchestrator/internal/nextactions"
	"github.com/orchestrator/orchestrator/internal/ratelimit"
	"github.com/orchestrator/orchestrator/internal/tokens"
	"github.com/orchestrator/orchestrator/internal/tracing"
)

// Server holds what the HTTP API needs. The composition root fills it.
type Server struct {
	Zone        string
	Issuer      string // public URL
	Accounts    *accounts.Service
	Tokens      *tokens.Service
	CCS         *ccs.Service
	NextActions *nextactions.Service
	Metrics     *metrics.Metrics
	Log         *slog.Logger
	Now         func() time.Time
	// Ready reports whether the store answers and accepts writes
	// (/readyz). Anyone can call /readyz, as often as they like: Ready
	// must rate-limit whatever it does that is not cheap (the store's
	// write probe runs at most once a second).
	Ready func(ctx context.Context) error
	// Degraded lists what the node runs without while it is ready, such
	// as "invalidation: redis unreachable" (nil or empty: nothing);
	// /readyz then answers 200 {"status":"degraded","degraded":[…]}.
	Degraded func() []string
	// AdminToken authenticates the operator API (constant-time compare).
	AdminToken string
	// AuthFailureStatus is 403 (default) or 401 for missing or invalid
	// API credentials.
	AuthFailureStatus int
	// V1Sunset, when set, is when v1 keys of v2 accounts stop working.
	V1Sunset time.Time
	// UserLimiter and AddrLimiter count failed logins per user ID and per
	// client address.
	UserLimiter, AddrLimiter ratelimit.Interface
	// AdminLimiter counts failed operator authentications per client
	// address (default 20 per minute).
	AdminLimiter ratelimit.Interface
	// SeparateAdmin leaves /admin/… and /metrics out of Handler: they are
	// served by AdminHandler on their own listener (--admin-addr).
	SeparateAdmin bool
	// Console, when set, serves /console/ (the browser mux, with its own
	// CSRF and CSP, kept apart from the API).
	Console http.Handler
	// Clients finds the client address of a request (nil: the peer).
	Clients *clientaddr.Resolver
	// Audit records what the operator API and the OAuth endpoints change
	// or reveal, and failed client authentications (required).
	Audit *audit.Recorder
	// MaxBodyBytes caps request bodies (default 1 MiB).
	MaxBodyBytes int64
	// Tracer exports a span per request (serve --otlp-endpoint); nil:
	// off, and only the traceparent header is read, for the logs.
	Tracer *tracing.Tracer

	draining atomic.Bool
	// routeDurations caches the latency histograms of each route by
	// method (instrument); route names are patterns, so it is bounded.
	routeDurations sync.Map

	fullMu         sync.Mutex
	fullLogged     time.Time // when storageFull last logged
	fullSuppressed int       // 507s since then, not logged
}

// Handler returns the root handler with every route and middleware.
func (s *Server) Handler() http.Handler {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	// Every line logged while a request is handled names its trace.
	s.Log = slog.New(tracing.LogHandler(s.Log.Handler()))
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 1 << 20
	}
	if s.AuthFailureStatus == 0 {
		s.AuthFailureStatus = http.StatusForbidden
	}
	if s.UserLimiter == nil {
		s.UserLimiter = ratelimit.New(10, time.Minute, 100_000, s.Now)
	}
	if s.AddrLimiter == nil {
		s.AddrLimiter = ratelimit.New(100, time.Minute, 100_000, s.Now)
	}
	if s.AdminLimiter == nil {
		s.AdminLimiter = ratelimit.New(20, time.Minute, 10_000, s.Now)
	}
	mux := http.NewServeMux()
	route := func(pattern string, h http.Handler) { mux.Handle(pattern, s.instrument(pattern, h)) }

	route("GET /healthz", HandlerFunc(s.healthz))
	route("GET /readyz", HandlerFunc(s.readyz))
	route("GET /openapi.json", HandlerFunc(s.openAPI))
	if !s.SeparateAdmin {
		s.operatorRoutes(route)
	}

	route("GET /v2/authenticate/login", HandlerFunc(s.login))
	route("POST /v2/authenticate/login", HandlerFunc(s.login))
	route("POST /oauth2/token", HandlerFunc(s.token))
	route("POST /oauth2/introspect", HandlerFunc(s.introspect))
	route("POST /oauth2/revoke", HandlerFunc(s.revoke))
	route("GET /.well-known/oauth-authorization-server", HandlerFunc(s.metadata))
	route("GET /.well-known/jwks.json", HandlerFunc(s.jwks))
	s.csdsRoutes(route)

	// v1 Next Actions is its own route, beside the Context Service's
	// dispatcher (ccs_v1.go); like every v1 path it takes a trailing "/",
	// counted under the same route.
	ownV1 := func(pattern string, h http.Handler) {
		h = s.instrument(pattern, h)
		mux.Handle(pattern, h)
		mux.Handle(pattern+"/{$}", h)
	}
	ownV1("/v1/account/{a}/next-actions", s.guardV1(HandlerFunc(s.serveV1NextActions)))
	v1 := s.guardV1(HandlerFunc(s.serveV1Account))
	route("/v1/account/{a}", v1)
	route("/v1/account/{a}/", v1)
	v2 := func(pattern string, h HandlerFunc) { route(pattern, s.guardV2(h)) }
	s.ccsV2Routes(v2)
	s.nextActionsV2Routes(v2)
	// Any other /v2/ path: unauthenticated → 403, authenticated → 405
	// when the path has routes for other methods, else 404.
	route("/v2/", s.guardV2(func(w http.ResponseWriter, r *http.Request) error {
		return noRoute(mux, r)
	}))
	if s.Console != nil {
		route("/console/", patternRoute(s.Console))
		route("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
	}
	route("/", HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return noRoute(mux, r)
	}))
	return s.middleware(mux)
}

// noRoute answers a request that only a catch-all pattern matched: 405
// with Allow when other methods have a route for the path (as v1 does),
// else 404 "no route".
func noRoute(mux *http.ServeMux, r *http.Request) error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := *r
		probe.Method = m
		if _, p := mux.Handler(&probe); p != "" && p != "/" && p != "/v2/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		return &Error{Status: http.StatusMethodNotAllowed, Message: "method not allowed",
			Header: map[string]string{"Allow": strings.Join(allow, ", ")}}
	}
	return errNoRoute
}

// middleware wraps a mux in what every request goes through: the client
// address, the trace context (traceparent, and a span when exported), the
// access log, panic recovery (inside the access log, so that
// a panic has its access line) and the body limit.
func (s *Server) middleware(mux http.Handler) http.Handler {
	return s.Clients.Middleware(s.Tracer.Middleware(s.accessLog(s.recover(s.hsts(s.limitBody(mux))))))
}

// hsts sends Strict-Transport-Security when the public URL is https, so
// that a browser never again reaches the server (and its console cookies)
// over plain HTTP, even when TLS ends at a proxy in front of it.
func (s *Server) hsts(h http.Handler) http.Handler {
	if !strings.HasPrefix(s.Issuer, "https://") {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}

// operatorRoutes registers the operator API and /metrics.
func (s *Server) operatorRoutes(route func(pattern string, h http.Handler)) {
	route("GET /metrics", s.Metrics.Handler())
	s.adminRoutes(func(pattern string, h HandlerFunc) { route(pattern, s.admin(h)) })
}

// AdminHandler serves only the operator API, /metrics and the health
// checks, for the --admin-addr listener. Call it after Handler.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h http.Handler) { mux.Handle(pattern, s.instrument(pattern, h)) }
	route("GET /healthz", HandlerFunc(s.healthz))
	route("GET /readyz", HandlerFunc(s.readyz))
	s.operatorRoutes(route)
	route("/", HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return noRoute(mux, r)
	}))
	return s.middleware(mux)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// Drain makes /readyz answer 503 from now on, so that load balancers stop
// sending requests; the server calls it as soon as it starts shutting down.
func (s *Server) Drain() { s.draining.Store(true) }

// readyz answers 200 when the store answers and accepts writes, else 503
// with the reason (SPEC §1).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.draining.Load() {
		return &Error{Status: http.StatusServiceUnavailable, Message: "not ready: shutting down"}
	}
	if s.Ready != nil {
		// Not the client's context: the store keeps a probe's result for
		// a second, and one cut short by a client that went away would
		// say nothing about the store.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			// /readyz answers anyone: the driver's words (a table, a
			// role, an address) stay in the log (err, on the access line).
			msg := "not ready: store check failed (the reason is in the server's log)"
			switch {
			case errors.Is(err, fault.ErrStorageFull):
				msg = "not ready: storage full"
			case errors.Is(err, fault.ErrUnavailable):
				msg = "not ready: storage unavailable"
			case strings.HasPrefix(err.Error(), "store refuses writes"):
				msg = "not ready: store refuses writes (the reason is in the server's log)"
			}
			return &Error{Status: http.StatusServiceUnavailable, Message: msg, Err: err}
		}
	}
	if s.Degraded != nil {
		if reasons := s.Degraded(); len(reasons) > 0 {
			// Still 200: the node serves, within its own bounds (SPEC §9),
			// and a load balancer keeps it.
			writeJSON(w, http.StatusOK, map[string]any{"status": "degraded", "degraded": reasons})
			return nil
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
