package console

import (
	"context"
	"net/http"

	"github.com/orchestrator/orchestrator/internal/ccs"
)

// ContextData is what the Context data pages need from the Context
// Service.
type ContextData interface {
	Namespaces(ctx context.Context, accountID string) ([]ccs.Namespace, error)
	Sessions(ctx context.Context, accountID, namespace string) ([]ccs.Session, error)
	Get(ctx context.Context, k ccs.Key, names []string) (ccs.Document, error)
	DeleteSession(ctx context.Context, k ccs.Key) error
	DeleteProperties(ctx context.Context, k ccs.Key, names []string) error
}

// dataRoutes adds the Context data pages.
func (c *Console) dataRoutes(mux *http.ServeMux) {}
