package fault

import (
	"errors"
	"fmt"
	"net/http"
)

// Kinds of client-visible failure. Test with errors.Is.
var (
	ErrInvalid   = errors.New("invalid request")   // 400
	ErrTooLarge  = errors.New("request too large") // 413
	ErrForbidden = errors.New("forbidden")         // 403
	ErrNotFound  = errors.New("not found")         // 404
	ErrConflict  = errors.New("conflict")          // 409
	// ErrTooExpensive: the request asked for more work than a request may
	// do (422), e.g. an evaluation past its budget.
	ErrTooExpensive = errors.New("too expensive") // 422
	// ErrStorageFull: a write was refused for lack of space (507); the
	// same request succeeds once space is freed.
	ErrStorageFull = errors.New("storage full") // 507
	// ErrUnavailable: the store did not answer (503); the same request
	// may succeed a moment later.
	ErrUnavailable = errors.New("unavailable") // 503
)

// Error is a failure of one Kind whose Msg may be shown to the client.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the kind, so errors.Is(err, fault.ErrInvalid) works.
func (e *Error) Unwrap() error { return e.Kind }

// Invalid returns an ErrInvalid error with a client-visible message.
func Invalid(format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Msg: fmt.Sprintf(format, args...)}
}

// TooLarge returns an ErrTooLarge error with a client-visible message.
func TooLarge(format string, args ...any) error {
	return &Error{Kind: ErrTooLarge, Msg: fmt.Sprintf(format, args...)}
}

// NotFound returns an ErrNotFound error with a client-visible message.
func NotFound(format string, args ...any) error {
	return &Error{Kind: ErrNotFound, Msg: fmt.Sprintf(format, args...)}
}

// Conflict returns an ErrConflict error with a client-visible message.
func Conflict(format string, args ...any) error {
	return &Error{Kind: ErrConflict, Msg: fmt.Sprintf(format, args...)}
}

// TooExpensive returns an ErrTooExpensive error with a client-visible
// message.
func TooExpensive(format string, args ...any) error {
	return &Error{Kind: ErrTooExpensive, Msg: fmt.Sprintf(format, args...)}
}

// statuses is the HTTP status a client gets for each kind; the API
// (internal/httpapi's toHTTP) and the console both answer by it.
var statuses = map[error]int{
	ErrInvalid:      http.StatusBadRequest,
	ErrTooLarge:     http.StatusRequestEntityTooLarge,
	ErrForbidden:    http.StatusForbidden,
	ErrNotFound:     http.StatusNotFound,
	ErrConflict:     http.StatusConflict,
	ErrTooExpensive: http.StatusUnprocessableEntity,
	ErrStorageFull:  http.StatusInsufficientStorage,
	ErrUnavailable:  http.StatusServiceUnavailable,
}

// Status returns the HTTP status of err's kind and its client-visible
// message; ok is false when err is no *Error. A kind without a status
// is a 500.
func Status(err error) (status int, msg string, ok bool) {
	var fe *Error
	if !errors.As(err, &fe) {
		return 0, "", false
	}
	status, found := statuses[fe.Kind]
	if !found {
		status = http.StatusInternalServerError
	}
	return status, fe.Msg, true
}
