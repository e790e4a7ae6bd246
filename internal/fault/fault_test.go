package fault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// TestStorageErrorsAreFaults pins the design of package fault's
// documentation: a storage sentinel, wrapped or not, is both itself and
// the fault kind a client sees, with the message it is answered with.
func TestStorageErrorsAreFaults(t *testing.T) {
	for _, tc := range []struct {
		err, kind error
		msg       string
	}{
		{storage.ErrNotFound, fault.ErrNotFound, "not found"},
		{storage.ErrAlreadyExists, fault.ErrConflict, "already exists"},
		{storage.ErrConflict, fault.ErrConflict, "conflict"},
		{storage.ErrStorageFull, fault.ErrStorageFull, "storage full"},
		{storage.ErrUnavailable, fault.ErrUnavailable, "storage unavailable"},
		{storage.ErrTooLarge, fault.ErrTooLarge, "document too large"},
		{storage.ErrQuotaExceeded, fault.ErrTooLarge, "account storage quota exceeded"},
	} {
		err := fmt.Errorf("backend: %w: detail", tc.err)
		var fe *fault.Error
		if !errors.Is(err, tc.err) || !errors.Is(err, tc.kind) || !errors.As(err, &fe) || fe.Msg != tc.msg {
			t.Errorf("%v: not both %v and kind %v with message %q", err, tc.err, tc.kind, tc.msg)
		}
	}
	// A service's own fault is of the kind, not the storage condition.
	if err := fault.NotFound("policy %q not found", "p"); errors.Is(err, storage.ErrNotFound) || !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("fault.NotFound: errors.Is storage.ErrNotFound %v, fault.ErrNotFound %v", errors.Is(err, storage.ErrNotFound), errors.Is(err, fault.ErrNotFound))
	}
	// ErrLimit is no fault: its caller says what the client sees.
	if fe := (*fault.Error)(nil); errors.As(storage.ErrLimit, &fe) {
		t.Errorf("storage.ErrLimit is a fault of kind %v", fe.Kind)
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		ok     bool
	}{
		{fault.NotFound("account"), 404, true},
		{fmt.Errorf("wrapped: %w", fault.Invalid("x")), 400, true},
		{&fault.Error{Kind: fault.ErrUnavailable, Msg: "storage unavailable"}, 503, true},
		{&fault.Error{Kind: errors.New("a kind with no status"), Msg: "m"}, 500, true},
		{errors.New("plain"), 0, false},
	} {
		if status, _, ok := fault.Status(tc.err); status != tc.status || ok != tc.ok {
			t.Errorf("Status(%v) = %d, %v; want %d, %v", tc.err, status, ok, tc.status, tc.ok)
		}
	}
}
