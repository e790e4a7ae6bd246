package httpapi

import "net/http"

// serveV1Account serves every route under /v1/account/{a} once the guard
// has authenticated a v1 API key for the account. Placeholder: the Context
// Service issue replaces this file.
func (s *Server) serveV1Account(w http.ResponseWriter, r *http.Request) error {
	return &Error{Status: http.StatusNotFound, Message: "not found"}
}
