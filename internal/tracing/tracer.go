package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/orchestrator/orchestrator/internal/clientaddr"
)

// Tracer exports a server span per request over OTLP/HTTP. The nil
// *Tracer is tracing off: its methods read traceparent only.
type Tracer struct {
	tp *sdktrace.TracerProvider
}

// Endpoint returns the URL spans are posted to for the --otlp-endpoint
// value raw: an http or https URL of the collector; without a path,
// OTLP/HTTP's /v1/traces is added.
func Endpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("--otlp-endpoint: want the http:// or https:// URL of an OTLP/HTTP collector, without user info, query or fragment, such as http://127.0.0.1:4318 (the value is not repeated here: it may hold a secret)")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// New returns a Tracer exporting to the collector at endpoint (see
// Endpoint), naming the service orchestrator with attrs (its version,
// zone). Spans are batched; Shutdown sends what is left.
func New(ctx context.Context, endpoint string, attrs ...attribute.KeyValue) (*Tracer, error) {
	u, err := Endpoint(endpoint)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u))
	if err != nil {
		return nil, fmt.Errorf("--otlp-endpoint: %w", err)
	}
	res := resource.NewSchemaless(append([]attribute.KeyValue{attribute.String("service.name", "orchestrator")}, attrs...)...)
	// Every request is sampled, whatever its traceparent's flags say: a
	// client must not be able to keep its requests out of the collector
	// (review 2026-12-02 F5).
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	return &Tracer{tp: tp}, nil
}

// Shutdown exports the spans not sent yet and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// Middleware reads each request's traceparent into its context (IDs).
// With a Tracer, each request is also a server span, exported; its IDs
// are the span's.
func (t *Tracer) Middleware(h http.Handler) http.Handler {
	if t == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The header map's own key: Header.Get would canonicalize
			// "traceparent" on every request.
			if v := r.Header["Traceparent"]; len(v) == 1 {
				if id, ok := Parse(v[0]); ok {
					r = r.WithContext(WithIDs(r.Context(), id))
				}
			}
			h.ServeHTTP(w, r)
		})
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The client as --trusted-proxies resolves it, over what otelhttp
		// read from X-Forwarded-For whoever sent it (review F5).
		if a := clientaddr.From(r.Context()); a.IsValid() {
			trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("client.address", a.String()))
		}
		if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
			r = r.WithContext(WithIDs(r.Context(), IDs{Trace: sc.TraceID(), Span: sc.SpanID()}))
		}
		h.ServeHTTP(w, r)
	})
	return otelhttp.NewHandler(inner, "request",
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
	)
}

// Route names the span of the request with ctx after the route that
// served it ("GET /v1/account/{a}/{ns}/properties"), once it is known.
func (t *Tracer) Route(ctx context.Context, method, route string) {
	if t == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetName(method + " " + route)
	span.SetAttributes(attribute.String("http.route", route))
}
