package tracing

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	sid = "00f067aa0ba902b7"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		h  string
		ok bool
	}{
		{"00-" + tid + "-" + sid + "-01", true},
		{"00-" + tid + "-" + sid + "-00", true},
		{"01-" + tid + "-" + sid + "-01-future", true}, // a later version may append fields
		{"01-" + tid + "-" + sid + "-01", true},
		{"00-" + tid + "-" + sid + "-01-x", false}, // version 00 is exactly 55 characters
		{"01-" + tid + "-" + sid + "-01x", false},
		{"ff-" + tid + "-" + sid + "-01", false},
		{"00-" + strings.Repeat("0", 32) + "-" + sid + "-01", false},
		{"00-" + tid + "-" + strings.Repeat("0", 16) + "-01", false},
		{"00-" + strings.ToUpper(tid) + "-" + sid + "-01", false},
		{"00-" + tid + "-" + sid + "-0g", false},
		{"00_" + tid + "-" + sid + "-01", false},
		{"00-" + tid[:31] + "-" + sid + "-01", false},
		{"", false},
		{"garbage", false},
	} {
		id, ok := Parse(c.h)
		if ok != c.ok {
			t.Errorf("Parse(%q) ok = %v, want %v", c.h, ok, c.ok)
			continue
		}
		if ok && (id.TraceID() != tid || id.SpanID() != sid) {
			t.Errorf("Parse(%q) = %s %s", c.h, id.TraceID(), id.SpanID())
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts round-trips.
func FuzzParse(f *testing.F) {
	f.Add("00-" + tid + "-" + sid + "-01")
	f.Add("01-" + tid + "-" + sid + "-01-x")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		id, ok := Parse(h)
		if !ok {
			return
		}
		if h[3:35] != id.TraceID() || h[36:52] != id.SpanID() {
			t.Errorf("Parse(%q) = %s %s", h, id.TraceID(), id.SpanID())
		}
	})
}

// TestMiddlewareOffLogsTheTrace: with tracing off, a valid traceparent
// reaches every line logged with the request's context.
func TestMiddlewareOffLogsTheTrace(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	var tr *Tracer
	h := tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "inside", "k", "v")
		log.With("a", 1).WarnContext(r.Context(), "derived")
	}))
	for _, tp := range []string{"00-" + tid + "-" + sid + "-01", "00-bad"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("traceparent", tp)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4", len(lines))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if i < 2 && (m["trace_id"] != tid || m["span_id"] != sid) {
			t.Errorf("line %d = %s, want the trace", i, l)
		}
		if i >= 2 && m["trace_id"] != nil {
			t.Errorf("line %d = %s: an invalid traceparent was used", i, l)
		}
	}
	if LogHandler(log.Handler()) != log.Handler() {
		t.Error("LogHandler wrapped twice")
	}
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4318":            "http://127.0.0.1:4318/v1/traces",
		"http://127.0.0.1:4318/":           "http://127.0.0.1:4318/v1/traces",
		"https://otel.example/custom/path": "https://otel.example/custom/path",
		"127.0.0.1:4318":                   "",
		"ftp://x":                          "",
		"http://user:pw@x":                 "",
	} {
		got, err := Endpoint(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("Endpoint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func BenchmarkMiddlewareOff(b *testing.B) {
	var tr *Tracer
	h := tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
