package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// APIError is an error answer of the server.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Message is the server's "message" (or the status text when the
	// body has none).
	Message string
	// Code is the "error" member of OAuth-style answers, such as
	// invalid_token or invalid_client; often empty.
	Code string
	// RetryAfter is the Retry-After delay of a 429 or 503 answer, zero
	// when absent.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server answered %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// ErrNoCredentials is returned, wrapped, by calls that need credentials
// the Config does not hold: v2 calls without UserID and Password (and no
// usable cached token), v1 calls without APIKey, calls without AccountID.
var ErrNoCredentials = errors.New("missing credentials")

// IsNotFound reports whether err is an APIError with status 404.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// newAPIError builds the error of a non-2xx answer from its body.
func newAPIError(resp *http.Response, body []byte, now time.Time) *APIError {
	e := &APIError{Status: resp.StatusCode}
	var m struct {
		Error            string `json:"error"`
		Message          string `json:"message"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(body, &m) == nil {
		e.Code, e.Message = m.Error, m.Message
		if e.Message == "" {
			e.Message = m.ErrorDescription
		}
	} else if s := strings.TrimSpace(string(body)); s != "" && utf8.ValidString(s) {
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		e.Message = s
	}
	if e.Message == "" {
		e.Message = strings.ToLower(http.StatusText(resp.StatusCode))
	}
	if d, ok := retryAfter(resp.Header, now); ok {
		e.RetryAfter = d
	}
	return e
}
