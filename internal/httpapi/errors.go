package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"syscall"

	"github.com/orchestrator/orchestrator/internal/fault"
)

// Error is an error with its HTTP response. Message goes to the client,
// Err only to the log.
type Error struct {
	Status  int
	Code    string // the "error" member (RFC 6749/6750 style); empty → body is {"message"}
	Message string
	Header  map[string]string // extra response headers (WWW-Authenticate, Retry-After)
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// HandlerFunc is an HTTP handler that returns its failure instead of
// writing it; the one mapping in writeError turns it into a response.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP implements http.Handler.
func (h HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		writeError(w, r, err)
	}
}

type errorBody struct {
	Error   string `json:"error,omitempty"`
	Message string `json:"message"`
}

// StatusClientClosedRequest is nginx's status for a request whose client
// went away before the answer.
const StatusClientClosedRequest = 499

// toHTTP is the one mapping from an error to a response: an *Error
// answers itself, a fault kind (package fault; storage errors are fault
// errors) its status with its message, and a few transport conditions
// theirs; anything else is a 500 whose detail goes only to the log.
func toHTTP(err error) *Error {
	var he *Error
	if errors.As(err, &he) {
		return he
	}
	if errors.Is(err, context.Canceled) {
		// The client went away (or the server is shutting down): nobody
		// reads this answer; it is no server fault.
		return &Error{Status: StatusClientClosedRequest, Message: "request canceled", Err: err}
	}
	if status, msg, ok := fault.Status(err); ok {
		e := &Error{Status: status, Message: msg, Err: err}
		if status == http.StatusServiceUnavailable {
			// Retry later (SPEC §9: a node answers 503 within 2 s and
			// recovers by itself).
			e.Header = map[string]string{"Retry-After": "1"}
		}
		return e
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &Error{Status: http.StatusRequestEntityTooLarge, Message: "request body too large", Err: err}
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The body did not arrive within the server's read timeout: the
		// client's fault, not the server's (RFC 9110 §15.5.9).
		return &Error{Status: http.StatusRequestTimeout, Message: "request body not received in time", Err: err,
			Header: map[string]string{"Connection": "close"}}
	case errors.Is(err, syscall.ENOSPC):
		// Nothing was stored; the same request succeeds once space is
		// freed (SPEC §1).
		return &Error{Status: http.StatusInsufficientStorage, Message: "storage full", Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Message: "internal error", Err: err}
}

// formError is the answer to a form body that r.ParseForm refused with
// err: toHTTP's for a body past its cap (413), else malformed.
func formError(err error, malformed *Error) *Error {
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return toHTTP(err)
	}
	return malformed
}

// writeError writes err as a JSON error response. A server fault's error
// goes into the request's access line (accessLog), not a line of its own.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	he := toHTTP(err)
	if he.Status >= 500 {
		if rec := recordOf(r.Context()); rec != nil {
			rec.err = he.Err
			if rec.err == nil {
				rec.err = errors.New(he.Message)
			}
		} else {
			// Only a handler served outside Server.middleware gets here.
			slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", he.Err)
		}
	}
	if he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden {
		// The access line says why a caller was refused, so that an
		// operator can tell a stale token from a wrong account.
		if rec := recordOf(r.Context()); rec != nil {
			rec.reason = he.Code
			if rec.reason == "" {
				rec.reason = "forbidden"
			}
		}
	}
	h := w.Header()
	for k, v := range he.Header {
		h.Set(k, v)
	}
	writeJSON(w, he.Status, errorBody{Error: he.Code, Message: he.Message})
}

// writeJSON writes v as a JSON response with status, without HTML
// escaping: answers are application/json, never HTML (the console renders
// its own pages with html/template).
//
// Security: json.Marshal writes <, > and & as 6-byte \u003c escapes, so
// an answer of substituted "<" (finding F2) grew 6 times after the
// evaluation's bounds; a 64 KB attribute of "<" was a 390 KB GET.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // Encode ends the value with '\n'
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString(`{"message":"internal error"}` + "\n")
	}
	writeRaw(w, status, bytes.TrimSuffix(b.Bytes(), []byte("\n"))) // writeRaw puts it back
}

// writeRaw writes b, a JSON value that is already encoded, as the
// response with status, ended with a newline like writeJSON's. It
// returns nil: a write that fails means the client went away, and there
// is nothing left to tell it.
func writeRaw(w http.ResponseWriter, status int, b []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// Two writes, not append(b, '\n'): b may be shared (the OpenAPI
	// document), and an append into its spare capacity would race.
	if _, err := w.Write(b); err == nil {
		w.Write(newline)
	}
	return nil
}

var newline = []byte{'\n'}

// WriteJSON writes v as a JSON response with status. It is for handlers of
// other files of this package and for packages mounted on this one.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }
