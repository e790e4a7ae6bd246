package httpapi

import (
	"net/http"

	"github.com/orchestrator/orchestrator/internal/openapi"
)

// openAPI serves GET /openapi.json (SPEC §1): the OpenAPI 3.1 document of
// every public route, the same bytes for the process's life, so caches
// may keep it like the JWKS.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	return writeRaw(w, http.StatusOK, openapi.JSON())
}
