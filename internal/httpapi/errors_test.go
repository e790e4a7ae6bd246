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

// TestToHTTP pins the one mapping from errors to statuses.
func TestToHTTP(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fault.Invalid("name: bad"), 400},
		{fault.TooLarge("document too large"), 413},
		{fault.NotFound("x"), 404},
		{fault.TooExpensive("evaluation too expensive"), 422},
		{fmt.Errorf("wrapped: %w", storage.ErrNotFound), 404},
		{storage.ErrAlreadyExists, 409},
		{&http.MaxBytesError{Limit: 1}, 413},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, 408},
		{fmt.Errorf("sqlite: %w", context.Canceled), StatusClientClosedRequest},
		{fmt.Errorf("sqlite: %w: database or disk is full", storage.ErrStorageFull), 507},
		{&os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, 507},
		{errors.New("disk on fire"), 500},
	} {
		if got := toHTTP(tc.err).Status; got != tc.want {
			t.Errorf("toHTTP(%v) = %d, want %d", tc.err, got, tc.want)
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
