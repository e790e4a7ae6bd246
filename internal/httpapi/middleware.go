package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/prometheus/client_golang/prometheus"
)

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts requests and their latency under the route pattern
// and the method (never the raw path or an unknown method, which would
// explode label cardinality). A handler that panics is counted as a 500,
// the answer recover gives. When the handler names the route it served
// (setRoute: the v1 dispatcher, the console), that name is the label;
// otherwise pattern is.
func (s *Server) instrument(pattern string, h http.Handler) http.Handler {
	return s.instrumentAs(routeName(pattern), h)
}

// routeName is the route label of a ServeMux pattern: its path, without
// the method.
func routeName(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return pattern[i+1:]
	}
	return pattern
}

// instrumentAs is instrument with the route label route.
func (s *Server) instrumentAs(route string, h http.Handler) http.Handler {
	durs := s.durations(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		returned := false
		defer func() {
			took := time.Since(start).Seconds()
			code := sw.status
			switch {
			case code == 0 && !returned:
				code = http.StatusInternalServerError
			case code == 0:
				code = http.StatusOK
			}
			mi := methodIndex(r.Method)
			name := route
			if rec := recordOf(r.Context()); rec != nil && rec.route != "" {
				name = rec.route
				s.durations(name).observe(mi, took)
			} else {
				durs.observe(mi, took)
			}
			s.Metrics.Requests.WithLabelValues(name, metricMethods[mi], strconv.Itoa(code)).Inc()
			if s.Tracer != nil {
				s.Tracer.Route(r.Context(), metricMethods[mi], name)
			}
		}()
		h.ServeHTTP(sw, r)
		returned = true
	})
}

// routeDurations are the latency histograms of one route by method
// index, each created on the route's first request with that method (a
// route × method that never happens exports no series).
type routeDurations struct {
	route string
	vec   *prometheus.HistogramVec
	by    [len(metricMethods)]atomic.Pointer[prometheus.Observer]
}

func (d *routeDurations) observe(mi int, seconds float64) {
	if o := d.by[mi].Load(); o != nil {
		(*o).Observe(seconds)
		return
	}
	o := d.vec.WithLabelValues(d.route, metricMethods[mi])
	d.by[mi].Store(&o)
	o.Observe(seconds)
}

// durations returns the latency histograms of route, resolved once per
// route: a handler that names its routes (setRoute) would otherwise look
// its labels up on every request.
func (s *Server) durations(route string) *routeDurations {
	if d, ok := s.routeDurations.Load(route); ok {
		return d.(*routeDurations)
	}
	d, _ := s.routeDurations.LoadOrStore(route, &routeDurations{route: route, vec: s.Metrics.Duration})
	return d.(*routeDurations)
}

// metricMethods are the values of the method label, indexed by
// methodIndex: every other method is counted as "other", so that clients
// cannot grow the label set.
var metricMethods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}

// methodIndex returns the index in metricMethods of method m: any method
// not listed is "other".
func methodIndex(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	}
	return 7
}

// setRoute names the route that serves the request with ctx, for the
// metrics (and the trace) of a handler that routes by itself: a route
// pattern such as "/v1/account/{a}/{ns}/properties", never a raw path.
func setRoute(ctx context.Context, route string) {
	if rec := recordOf(ctx); rec != nil {
		rec.route = route
	}
}

// patternRoute names the route of each request after h served it by the
// pattern an inner ServeMux matched (the console's), so that such a
// handler mounted under one prefix is still counted by route.
func patternRoute(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Pattern = ""
		h.ServeHTTP(w, r)
		// The inner ServeMux set r.Pattern on this very request.
		if r.Pattern != "" {
			setRoute(r.Context(), routeName(r.Pattern))
		}
	})
}

// recover turns a panic into a 500 JSON response (unless the handler had
// already answered), counts it, and puts it with its stack into the
// request's access line: no panic reaches a client as a dropped
// connection or goes unlogged.
func (s *Server) recover(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.Metrics.Panics.Inc()
			err := fmt.Errorf("panic: %v", v)
			if rec := recordOf(r.Context()); rec != nil {
				rec.err, rec.stack = err, string(debug.Stack())
			} else {
				s.Log.ErrorContext(r.Context(), "panic", "path", r.URL.Path, "err", err, "stack", string(debug.Stack()))
			}
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				return // the status line is sent: the client sees a cut response
			}
			writeError(w, r, &Error{Status: http.StatusInternalServerError, Message: "internal error", Err: err})
		}()
		h.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies, so a large body is refused with 413
// without being read whole.
func (s *Server) limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.MaxBodyBytes {
			writeError(w, r, &Error{Status: http.StatusRequestEntityTooLarge, Message: "request body too large"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.MaxBodyBytes)
		h.ServeHTTP(w, r)
	})
}

// loggedParams are the query parameters whose values are logged: the
// ones the API reads that carry no secret. Every other value is
// replaced, so a secret sent in a parameter no one here foresaw
// (LivePerson's lpToken, a client's own api_key spelling) never reaches
// a log line.
var loggedParams = map[string]bool{
	"ttlsecond": true, "include": true, "page": true, "perpage": true, "limit": true, "version": true,
	"conversationid": true, "sessionid": true, "groupid": true, "consumerid": true, "userid": true,
	"customerid": true, "visitorid": true, "policyid": true,
}

// plainParam is a parameter name that is logged as written; any other
// name (a bare token sent as "?eyJ…") is replaced too.
var plainParam = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,23}$`)

// RedactQuery returns raw with every value but those of loggedParams
// replaced, and names that do not look like names replaced whole. An
// unparsable query is dropped whole, since it cannot be checked.
func RedactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "[unparsable query redacted]"
	}
	out := url.Values{}
	for k, vs := range q {
		switch {
		case loggedParams[strings.ToLower(k)]:
			out[k] = vs
		case plainParam.MatchString(k):
			for range vs {
				out.Add(k, "REDACTED")
			}
		default:
			out.Add("REDACTED", "REDACTED")
		}
	}
	return out.Encode()
}

// record is what a request's access line says beyond the request
// itself: the error a server fault failed with and, after a panic, the
// stack. writeError and recover fill it through the request's context.
type record struct {
	err    error
	stack  string
	reason string // the error code of a 401 or 403 (invalid_token, forbidden…)
	route  string // the route a self-routing handler served (setRoute)
}

type recordKey struct{}

// recordOf returns the access record of the request with ctx, or nil
// outside accessLog.
func recordOf(ctx context.Context) *record {
	rec, _ := ctx.Value(recordKey{}).(*record)
	return rec
}

// accessLog logs one line per request, through the server's logger:
// method, path, redacted query, status, duration, client address, a
// request id and, for a server fault, its error (and a panic's stack), as
// tailscale's tsweb does. A 5xx line is logged at level ERROR (503 at
// WARN), others at INFO. A 507 (storage full) stays at INFO: the full
// disk is logged once per interval by storageFull instead. Headers (which
// carry keys and tokens) are never logged.
func (s *Server) accessLog(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = secret.NewToken(9)
		}
		w.Header().Set("X-Request-Id", id)
		rec := &record{}
		ctx := context.WithValue(r.Context(), recordKey{}, rec)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		returned := false
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			attrs := []slog.Attr{
				slog.String("id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.String("query", RedactQuery(r.URL.RawQuery)), slog.Int("status", status),
				slog.Float64("dur_ms", float64(time.Since(start).Microseconds())/1000), slog.String("remote", s.Clients.String(r)),
			}
			if !returned {
				attrs = append(attrs, slog.Bool("aborted", true))
			}
			if rec.err != nil {
				attrs = append(attrs, slog.String("err", rec.err.Error()))
			}
			if rec.reason != "" {
				attrs = append(attrs, slog.String("reason", rec.reason))
			}
			if rec.stack != "" {
				attrs = append(attrs, slog.String("stack", rec.stack))
			}
			level := slog.LevelInfo
			switch {
			case status == http.StatusInsufficientStorage:
				s.storageFull(ctx, rec.err)
			case status == http.StatusServiceUnavailable:
				level = slog.LevelWarn
			case status >= 500:
				level = slog.LevelError
			}
			s.Log.LogAttrs(ctx, level, "request", attrs...)
		}()
		h.ServeHTTP(sw, r)
		returned = true
	})
}

// fullLogEvery is how often a full disk is logged: one line per interval
// with the number of refusals since the last line, not one per refused
// write (the December review saw 35,000 error lines in 20 s).
const fullLogEvery = 10 * time.Second

// storageFull counts a write refused with 507 and logs it at most once
// per fullLogEvery.
func (s *Server) storageFull(ctx context.Context, err error) {
	s.Metrics.StorageFull.Inc()
	s.fullMu.Lock()
	now := s.Now()
	if !s.fullLogged.IsZero() && now.Sub(s.fullLogged) < fullLogEvery {
		s.fullSuppressed++
		s.fullMu.Unlock()
		return
	}
	suppressed := s.fullSuppressed
	s.fullLogged, s.fullSuppressed = now, 0
	s.fullMu.Unlock()
	s.Log.ErrorContext(ctx, "storage full: writes are answered 507 until space is freed", "err", err, "suppressed", suppressed)
}
