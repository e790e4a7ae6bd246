package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/orchestrator/orchestrator/internal/fault"
)

// DecodeJSON decodes a JSON request body into v. An empty body decodes to
// the zero value when allowEmpty. Errors are client errors: 400 for bad
// JSON (with the reason), 413 when over the body cap.
func DecodeJSON(r *http.Request, v any, allowEmpty bool) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return err
		case errors.Is(err, io.EOF):
			if allowEmpty {
				return nil
			}
			return fault.Invalid("request body: a JSON value is required")
		}
		return fault.Invalid("request body: invalid JSON: %s", jsonReason(err))
	}
	if dec.More() {
		return fault.Invalid("request body: unexpected data after the JSON value")
	}
	return nil
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.As(err, &te):
		if te.Field != "" {
			return "field " + te.Field + ": expected " + te.Type.String()
		}
		return "expected " + te.Type.String()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	return "malformed"
}
