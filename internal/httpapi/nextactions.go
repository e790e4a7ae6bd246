package httpapi

import "net/http"

// nextActionsV2Routes registers the v2 policy and next-action routes;
// handle wraps each in the v2 token guard. Placeholder: the Next Actions
// issue replaces this file.
func (s *Server) nextActionsV2Routes(handle func(pattern string, h HandlerFunc)) {
	notFound := func(w http.ResponseWriter, r *http.Request) error {
		return &Error{Status: http.StatusNotFound, Message: "not found"}
	}
	handle("/v2/config/", notFound)
	handle("/v2/policy/", notFound)
}
