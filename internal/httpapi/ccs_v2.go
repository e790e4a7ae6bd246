package httpapi

import "net/http"

// ccsV2Routes registers the v2 Context Service routes; handle wraps each
// in the v2 token guard and the metrics middleware. Placeholder: the
// Context Service issue replaces this file.
func (s *Server) ccsV2Routes(handle func(pattern string, h HandlerFunc)) {
	handle("/v2/context/", func(w http.ResponseWriter, r *http.Request) error {
		return &Error{Status: http.StatusNotFound, Message: "not found"}
	})
}
