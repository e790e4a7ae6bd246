package nextactions

import (
	"context"
	"errors"
	"fmt"

	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/fault"
)

// CCSVariables reads variables from the Context Service.
type CCSVariables struct{ CCS *ccs.Service }

// Get implements Variables. A session id the Context Service would refuse
// (for example a conversation id that is not a valid session id) has no
// properties; more names than one read may select is an error, not an
// empty answer.
func (v CCSVariables) Get(ctx context.Context, accountID, namespace, sessionID string, names []string) (map[string][]byte, error) {
	if len(names) > ccs.MaxSelect {
		return nil, fmt.Errorf("read of namespace %s: %d names, at most %d may be selected", namespace, len(names), ccs.MaxSelect)
	}
	doc, err := v.CCS.Get(ctx, ccs.Key{AccountID: accountID, Namespace: namespace, SessionID: sessionID}, names)
	if errors.Is(err, fault.ErrInvalid) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(doc.Properties))
	for _, p := range doc.Properties {
		out[p.Name] = p.Value
	}
	return out, nil
}
