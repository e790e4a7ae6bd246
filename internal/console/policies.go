package console

import (
	"context"
	"net/http"

	"github.com/orchestrator/orchestrator/internal/nextactions"
)

// Policies is what the Policies pages need from the Next Actions service.
type Policies interface {
	List(ctx context.Context, accountID string) ([]nextactions.Policy, error)
	Get(ctx context.Context, accountID, id string) (nextactions.Policy, error)
	Create(ctx context.Context, accountID string, p nextactions.Policy) (nextactions.Policy, error)
	Update(ctx context.Context, accountID string, p nextactions.Policy) (nextactions.Policy, error)
	Delete(ctx context.Context, accountID, id string) error
	Move(ctx context.Context, accountID, id string, up bool) error
}

// policyRoutes adds the Policies pages.
func (c *Console) policyRoutes(mux *http.ServeMux) {}
