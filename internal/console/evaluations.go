package console

import (
	"context"
	"net/http"

	"github.com/orchestrator/orchestrator/internal/nextactions"
)

// Evaluations is what the Try it and Evaluation logs pages need from the
// Next Actions service.
type Evaluations interface {
	Explain(ctx context.Context, req nextactions.Request) (nextactions.Explanation, error)
	Logs(ctx context.Context, accountID, conversationID string) ([]nextactions.LogEntry, error)
}

// evaluationRoutes adds the Try it and Evaluation logs pages.
func (c *Console) evaluationRoutes(mux *http.ServeMux) {}
