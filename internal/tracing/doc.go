// Package tracing owns W3C Trace Context (the traceparent header) and the
// optional OpenTelemetry export of server spans.
//
// Every request's traceparent is read; a valid one puts its trace id and
// span id in the request's context, where LogHandler adds them to every
// log line made with that context (the access line included). An invalid
// header is ignored, as the W3C recommendation says.
//
// Spans are exported only when a Tracer exists (serve --otlp-endpoint):
// then each request is a server span, a child of the caller's when the
// traceparent is valid, sent over OTLP/HTTP. A nil *Tracer is the off
// state and costs one header lookup per request.
package tracing
