package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/orchestrator/orchestrator/internal/accounts"
)

// CSDS services this server answers for (SPEC §5): the Context Service
// (mavenContext, what the Functions toolbelt reads), the v2 CCS (ccs) and
// Next Actions (askMaven). All are served at the public URL.
var csdsServices = []string{"mavenContext", "ccs", "askMaven"}

// csdsBaseURI is what CSDS calls a base URI: the host[:port] of the
// public URL, without scheme, as LivePerson's CSDS gives it (clients put
// "https://" in front and the API path behind). A public URL with a path
// (a server behind a proxy under a prefix) keeps the path, without its
// trailing slash, so that the URLs clients build still reach this server.
func csdsBaseURI(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Host + strings.TrimRight(u.EscapedPath(), "/")
}

type csdsEntry struct {
	Service string `json:"service"`
	Account string `json:"account"`
	BaseURI string `json:"baseURI"`
}

// csdsRoutes registers service discovery in the manner of LivePerson's
// CSDS: GET /api/account/{a}/service/baseURI.json?version=1.0, without
// credentials. Clients read baseURIs[].service and baseURIs[].baseURI;
// the version parameter is accepted whatever its value (only 1.0
// exists). The answer is built from the public URL; the account's
// existence is the one lookup, through the accounts cache, so a request
// costs no store read once the id has been seen.
func (s *Server) csdsRoutes(route func(pattern string, h http.Handler)) {
	base := csdsBaseURI(s.Issuer)
	route("/api/account/{a}/service/baseURI.json", HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return &Error{Status: http.StatusMethodNotAllowed, Message: "method not allowed",
				Header: map[string]string{"Allow": "GET, HEAD"}}
		}
		written := r.PathValue("a")
		id, ok := accounts.ParseID(written)
		if !ok {
			return &Error{Status: http.StatusNotFound, Message: "account not found"}
		}
		found, err := s.Accounts.Exists(r.Context(), id)
		if err != nil {
			return err
		}
		if !found {
			return &Error{Status: http.StatusNotFound, Message: "account not found"}
		}
		out := struct {
			BaseURIs []csdsEntry `json:"baseURIs"`
		}{BaseURIs: make([]csdsEntry, len(csdsServices))}
		for i, svc := range csdsServices {
			// The account as the request wrote it (SPEC §2: le12345678
			// stays le12345678).
			out.BaseURIs[i] = csdsEntry{Service: svc, Account: written, BaseURI: base}
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}))
}
