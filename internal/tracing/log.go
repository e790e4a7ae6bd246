package tracing

import (
	"context"
	"log/slog"
)

// LogHandler returns h adding trace_id and span_id to every record logged
// with a context that carries IDs (FromContext). Wrapping a handler that
// is already one returns it unchanged.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(logHandler); ok {
		return h
	}
	return logHandler{h}
}

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := FromContext(ctx); ok {
		r.AddAttrs(slog.String("trace_id", id.TraceID()), slog.String("span_id", id.SpanID()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(as)}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.Handler.WithGroup(name)}
}
