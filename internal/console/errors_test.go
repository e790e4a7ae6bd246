package console

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// TestStoreErrorsKeepTheirStatus: a page that fails because the store is
// unavailable answers 503 with Retry-After, one refused for lack of space
// 507, as the API does (fault.Status); anything else stays a 500 whose
// cause is logged, not shown.
func TestStoreErrorsKeepTheirStatus(t *testing.T) {
	c := New(Config{Log: slog.New(slog.DiscardHandler)})
	for _, tc := range []struct {
		err        error
		status     int
		retryAfter string
		text       string
	}{
		{fmt.Errorf("load account: %w", storage.ErrUnavailable), http.StatusServiceUnavailable, "1", "Try again in a moment"},
		{fmt.Errorf("save: %w", storage.ErrStorageFull), http.StatusInsufficientStorage, "", "nothing was saved"},
		{errors.New("secret detail 42"), http.StatusInternalServerError, "", "Try again in a moment"},
		{fmt.Errorf("policy secret detail 7: %w", storage.ErrNotFound), http.StatusNotFound, "", "does not exist, or it was deleted"},
	} {
		w := httptest.NewRecorder()
		c.renderError(w, httptest.NewRequest("GET", "/console/", nil), tc.err)
		body := w.Body.String()
		if w.Code != tc.status || w.Header().Get("Retry-After") != tc.retryAfter || !strings.Contains(body, tc.text) || strings.Contains(body, "secret detail") {
			t.Errorf("%v: status %d, Retry-After %q, body %q; want %d, %q, %q", tc.err, w.Code, w.Header().Get("Retry-After"), body, tc.status, tc.retryAfter, tc.text)
		}
	}
}
