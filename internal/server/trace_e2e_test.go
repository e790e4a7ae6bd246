package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

const (
	traceID    = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentID   = "00f067aa0ba902b7"
	traceparnt = "00-" + traceID + "-" + parentID + "-01"
)

// idle waits until the server has finished every request it received:
// a request is logged (and its span ended) once its handler returns,
// which may be just after its client read the answer.
func idle(t *testing.T, env *servertest.Env) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); server.InFlight(env.Server) > 0; {
		if time.Now().After(deadline) {
			t.Fatal("requests still running after 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// accessLines returns the access log lines of path.
func accessLines(t *testing.T, env *servertest.Env, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(env.Logs(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" && m["path"] == path {
			out = append(out, m)
		}
	}
	return out
}

// TestTraceparentIsLogged: without --otlp-endpoint a request's valid
// traceparent puts its trace id and the caller's span id in the access
// line; an invalid one is ignored.
func TestTraceparentIsLogged(t *testing.T) {
	env := servertest.Start(t)
	for _, tp := range []string{traceparnt, "00-" + strings.Repeat("0", 32) + "-" + parentID + "-01", "garbage"} {
		req, _ := http.NewRequest("GET", env.URL+"/healthz", nil)
		req.Header.Set("traceparent", tp)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("traceparent %q: status %d", tp, resp.StatusCode)
		}
	}
	idle(t, env)
	lines := accessLines(t, env, "/healthz")
	if len(lines) != 3 {
		t.Fatalf("%d access lines, want 3", len(lines))
	}
	if lines[0]["trace_id"] != traceID || lines[0]["span_id"] != parentID {
		t.Errorf("access line = %v, want trace_id %s span_id %s", lines[0], traceID, parentID)
	}
	for _, l := range lines[1:] {
		if _, ok := l["trace_id"]; ok {
			t.Errorf("invalid traceparent logged: %v", l)
		}
	}
}

// TestSpansExportedOverOTLP: with --otlp-endpoint, a request with a
// traceparent becomes a server span of that trace, named by its route,
// exported to the collector; its access line carries the trace id and
// the span's id.
func TestSpansExportedOverOTLP(t *testing.T) {
	var mu sync.Mutex
	var spans []*coltrace.ExportTraceServiceRequest
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/traces" {
			t.Errorf("collector got %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Error(err)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("collector: %v", err)
		}
		mu.Lock()
		spans = append(spans, &req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	defer collector.Close()

	env := servertest.Start(t, func(c *config.Serve) { c.OTLPEndpoint = collector.URL })
	a := env.CreateAccount(t, true)
	req, _ := http.NewRequest("GET", env.URL+"/v1/account/"+a.AccountID+"/ns/properties/p", nil)
	req.Header.Set("maven-api-key", a.APIKey)
	req.Header.Set("traceparent", traceparnt)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// A client's "not sampled" flag does not keep its request out of the
	// collector, and its X-Forwarded-For does not name it (untrusted
	// peer): the span's client.address is the peer's (review F5).
	const hiddenTrace = "0af7651916cd43dd8448eb211c80319c"
	req, _ = http.NewRequest("GET", env.URL+"/healthz", nil)
	req.Header.Set("traceparent", "00-"+hiddenTrace+"-"+parentID+"-00")
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Close exports what is left.
	idle(t, env)
	if err := env.Server.Close(); err != nil {
		t.Fatal(err)
	}

	want, _ := hex.DecodeString(traceID)
	parent, _ := hex.DecodeString(parentID)
	hidden, _ := hex.DecodeString(hiddenTrace)
	var spanID, hiddenClient string
	mu.Lock()
	for _, r := range spans {
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					if bytes.Equal(sp.TraceId, hidden) {
						for _, kv := range sp.Attributes {
							if kv.Key == "client.address" {
								hiddenClient = kv.Value.GetStringValue()
							}
						}
					}
					if bytes.Equal(sp.TraceId, want) {
						if !bytes.Equal(sp.ParentSpanId, parent) {
							t.Errorf("span parent %x, want %s", sp.ParentSpanId, parentID)
						}
						if sp.Name != "GET /v1/account/{a}/{ns}/properties/{p}" {
							t.Errorf("span name %q, want the route", sp.Name)
						}
						spanID = hex.EncodeToString(sp.SpanId)
					}
				}
			}
		}
	}
	mu.Unlock()
	if spanID == "" {
		t.Fatalf("no span of trace %s reached the collector (%d exports)", traceID, len(spans))
	}
	if hiddenClient != "127.0.0.1" {
		t.Errorf("the span of a request flagged not-sampled with X-Forwarded-For 6.6.6.6: client.address %q, want it exported with 127.0.0.1", hiddenClient)
	}
	lines := accessLines(t, env, "/v1/account/"+a.AccountID+"/ns/properties/p")
	if len(lines) != 1 || lines[0]["trace_id"] != traceID || lines[0]["span_id"] != spanID {
		t.Errorf("access lines %v, want trace_id %s span_id %s", lines, traceID, spanID)
	}
}
