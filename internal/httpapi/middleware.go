package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/orchestrator/orchestrator/internal/secret"
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
// (never the raw path, which would explode label cardinality).
func (s *Server) instrument(pattern string, h http.Handler) http.Handler {
	route := pattern
	if i := strings.IndexByte(route, ' '); i >= 0 {
		route = route[i+1:]
	}
	dur := s.Metrics.Duration.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		h.ServeHTTP(sw, r)
		dur.Observe(time.Since(start).Seconds())
		code := sw.status
		if code == 0 {
			code = http.StatusOK
		}
		s.Metrics.Requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	})
}

// recover turns a panic into a 500 JSON response; no panic reaches a
// client as a dropped connection.
func (s *Server) recover(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.ErrorContext(r.Context(), "panic", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeError(w, r, &Error{Status: http.StatusInternalServerError, Message: "internal error"})
			}
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

// secretParams are query parameters whose values are never logged.
var secretParams = map[string]bool{
	"access_token": true, "token": true, "client_secret": true, "password": true,
	"api_key": true, "apikey": true, "maven-api-key": true, "code": true, "refresh_token": true, "id_token": true,
}

// RedactQuery returns raw with the values of secret parameters replaced.
// An unparsable query is dropped whole, since it cannot be checked.
func RedactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "[unparsable query redacted]"
	}
	for k, vs := range q {
		if secretParams[strings.ToLower(k)] {
			for i := range vs {
				vs[i] = "REDACTED"
			}
		}
	}
	return q.Encode()
}

// accessLog logs one line per request: method, path, redacted query,
// status, duration, client address and a request id. Headers (which carry
// keys and tokens) are never logged.
func (s *Server) accessLog(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = secret.NewToken(9)
		}
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.Log.InfoContext(r.Context(), "request",
			"id", id, "method", r.Method, "path", r.URL.Path, "query", RedactQuery(r.URL.RawQuery),
			"status", status, "dur_ms", float64(time.Since(start).Microseconds())/1000, "remote", s.Clients.String(r))
	})
}
