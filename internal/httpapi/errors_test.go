package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// TestToHTTP pins the one mapping from errors to statuses and messages:
// storage errors reach it as the fault kinds they are, with the statuses
// and messages they always had.
func TestToHTTP(t *testing.T) {
	for _, tc := range []struct {
		err        error
		want       int
		msg        string
		retryAfter string
	}{
		{fault.Invalid("name: bad"), 400, "name: bad", ""},
		{fault.TooLarge("document too large"), 413, "document too large", ""},
		{fault.NotFound("x"), 404, "x", ""},
		{fault.Conflict("y"), 409, "y", ""},
		{fault.TooExpensive("evaluation too expensive"), 422, "evaluation too expensive", ""},
		{fmt.Errorf("wrapped: %w", storage.ErrNotFound), 404, "not found", ""},
		{storage.ErrAlreadyExists, 409, "already exists", ""},
		{storage.ErrConflict, 409, "conflict", ""},
		{fmt.Errorf("%w: 812345 characters", storage.ErrTooLarge), 413, "document too large", ""},
		{storage.ErrQuotaExceeded, 413, "account storage quota exceeded", ""},
		{&http.MaxBytesError{Limit: 1}, 413, "request body too large", ""},
		{fmt.Errorf("form: %w", &http.MaxBytesError{Limit: 1}), 413, "request body too large", ""},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, 408, "request body not received in time", ""},
		{fmt.Errorf("sqlite: %w", context.Canceled), StatusClientClosedRequest, "request canceled", ""},
		{fmt.Errorf("%w: %w", storage.ErrUnavailable, context.Canceled), StatusClientClosedRequest, "request canceled", ""},
		{fmt.Errorf("sqlite: %w: database or disk is full", storage.ErrStorageFull), 507, "storage full", ""},
		{&os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, 507, "storage full", ""},
		{fmt.Errorf("%w: postgres: no connection: %w", storage.ErrUnavailable, errors.New("dial tcp: refused")), 503, "storage unavailable", "1"},
		{storage.ErrLimit, 500, "internal error", ""},
		{errors.New("disk on fire"), 500, "internal error", ""},
	} {
		he := toHTTP(tc.err)
		if he.Status != tc.want || he.Message != tc.msg || he.Header["Retry-After"] != tc.retryAfter {
			t.Errorf("toHTTP(%v) = %d %q Retry-After %q, want %d %q %q", tc.err, he.Status, he.Message, he.Header["Retry-After"], tc.want, tc.msg, tc.retryAfter)
		}
	}
}

// writeJSON writes answers without HTML escaping (finding F2: "<" took 6
// bytes), ends them with a newline, and answers 500 for a value it cannot
// encode.
func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	writeJSON(w, http.StatusOK, map[string]any{"m": "<b>&amp;</b> \u2028"})
	if got, want := w.Body.String(), `{"m":"<b>&amp;</b> \u2028"}`+"\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	w = httptest.NewRecorder()
	writeJSON(w, http.StatusOK, map[string]any{"f": func() {}})
	if w.Code != http.StatusInternalServerError || w.Body.String() != `{"message":"internal error"}`+"\n" {
		t.Errorf("unencodable: %d %q, want 500 internal error", w.Code, w.Body.String())
	}
}
