package tracing

import (
	"context"
	"encoding/hex"
)

// IDs identify a request in a trace: the trace and, when spans are
// exported, the request's own server span; otherwise the caller's span
// (the traceparent's parent-id).
type IDs struct {
	Trace [16]byte
	Span  [8]byte
}

// TraceID is the trace id in lowercase hex, as traceparent writes it.
func (id IDs) TraceID() string { return hex.EncodeToString(id.Trace[:]) }

// SpanID is the span id in lowercase hex.
func (id IDs) SpanID() string { return hex.EncodeToString(id.Span[:]) }

// Parse reads a traceparent header (W3C Trace Context §3.2):
// version "-" trace-id "-" parent-id "-" trace-flags, all lowercase hex.
// Version 00 is exactly that; a later version may append "-" and more,
// which is ignored. Version ff, an all-zero trace or parent id, uppercase
// hex or any other deviation is invalid: ok is false.
func Parse(h string) (id IDs, ok bool) {
	// 2 + 1 + 32 + 1 + 16 + 1 + 2
	const n = 55
	if len(h) < n || h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return IDs{}, false
	}
	var ver [1]byte
	if !unhex(ver[:], h[0:2]) || ver[0] == 0xff {
		return IDs{}, false
	}
	if len(h) > n && (ver[0] == 0 || h[n] != '-') {
		return IDs{}, false
	}
	var flags [1]byte
	if !unhex(id.Trace[:], h[3:35]) || !unhex(id.Span[:], h[36:52]) || !unhex(flags[:], h[53:55]) {
		return IDs{}, false
	}
	if id.Trace == [16]byte{} || id.Span == [8]byte{} {
		return IDs{}, false
	}
	return id, true
}

// unhex decodes lowercase hex s into dst (len(s) == 2*len(dst)).
func unhex(dst []byte, s string) bool {
	for i := range dst {
		hi, ok1 := nibble(s[2*i])
		lo, ok2 := nibble(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func nibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

type idsKey struct{}

// WithIDs returns ctx carrying id.
func WithIDs(ctx context.Context, id IDs) context.Context {
	return context.WithValue(ctx, idsKey{}, id)
}

// FromContext returns the IDs of the request with ctx, if it has any.
func FromContext(ctx context.Context) (IDs, bool) {
	if ctx == nil {
		return IDs{}, false
	}
	id, ok := ctx.Value(idsKey{}).(IDs)
	return id, ok
}
