package storage

import (
	"context"
	"time"
)

// Policy is one Next Actions policy of an account, stored as the JSON
// document the policy service owns (Body); the store keeps the order and
// the revision.
type Policy struct {
	AccountID string
	ID        string
	// Position orders the policies of an account (ascending). The store
	// assigns it on create: after every existing policy.
	Position int64
	// Revision changes on every write (the service sets it); compiled
	// forms are cached by it.
	Revision  string
	Body      []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PolicyEvaluation is one entry of the evaluation log: what one
// evaluation did with one policy.
type PolicyEvaluation struct {
	Time           time.Time
	AccountID      string
	ConversationID string
	PolicyID       string
	State          string // TRUE, FALSE, ERROR, INVALID or DISABLED
}

// Policies stores policies and their evaluation log.
type Policies interface {
	// CreatePolicy appends p after the account's other policies and
	// returns it with its Position. ErrAlreadyExists if the id is taken;
	// ErrConflict if the account already has max policies (max > 0).
	CreatePolicy(ctx context.Context, p Policy, max int) (Policy, error)
	// GetPolicy returns one policy or ErrNotFound.
	GetPolicy(ctx context.Context, accountID, id string) (Policy, error)
	// ListPolicies returns the account's policies ordered by Position.
	ListPolicies(ctx context.Context, accountID string) ([]Policy, error)
	// ListPolicyRevisions is ListPolicies without the bodies: what an
	// evaluation reads when it has every policy compiled already.
	ListPolicyRevisions(ctx context.Context, accountID string) ([]Policy, error)
	// UpdatePolicy replaces the Body and Revision of an existing policy
	// (atomically; the position stays) and returns it. ErrNotFound if it
	// does not exist.
	UpdatePolicy(ctx context.Context, p Policy) (Policy, error)
	// DeletePolicy deletes one policy; ErrNotFound if it does not exist.
	DeletePolicy(ctx context.Context, accountID, id string) error
	// MovePolicy moves one policy one place earlier in the order (up)
	// or one place later (!up), swapping positions with its neighbour,
	// atomically; at the first (last) place it stays. ErrNotFound if the
	// policy does not exist.
	MovePolicy(ctx context.Context, accountID, id string, up bool) error

	// AppendEvaluations appends entries to the evaluation log in one
	// write. Entries of accounts that no longer exist are dropped. When
	// maxPerAccount > 0, each account keeps at most that many entries:
	// the newest (by Time, then by order of appending); older ones are
	// deleted in the same write.
	//
	// Security: the log of one account must not grow without bound (a
	// flood of evaluations wrote ~2 M rows in 20 s), nor cost each write
	// a count of the account's whole log.
	AppendEvaluations(ctx context.Context, es []PolicyEvaluation, maxPerAccount int) error
	// ListEvaluations returns the account's entries at or after since,
	// newest first, at most limit; only those of conversationID when it
	// is not empty.
	ListEvaluations(ctx context.Context, accountID, conversationID string, since time.Time, limit int) ([]PolicyEvaluation, error)
	// PurgeEvaluations deletes up to limit entries older than before and
	// returns how many it deleted.
	PurgeEvaluations(ctx context.Context, before time.Time, limit int) (int, error)
}

// AccountAttributes is an account's static policy attributes (the
// custom.* variables of Next Actions): one JSON object owned by the
// policy service.
type AccountAttributes struct {
	AccountID string
	// Revision changes on every write (the service sets it); decoded
	// forms are cached by it.
	Revision  string
	Body      []byte // nil when the caller already has Revision
	UpdatedAt time.Time
}

// Attributes stores the static policy attributes of accounts.
type Attributes interface {
	// PutAccountAttributes replaces the account's attributes.
	// ErrNotFound if the account does not exist.
	PutAccountAttributes(ctx context.Context, a AccountAttributes) error
	// GetAccountAttributes returns the account's attributes, or
	// ErrNotFound when it has none. When their revision is
	// knownRevision, Body is left nil: a caller that has them decoded
	// reads the revision alone.
	GetAccountAttributes(ctx context.Context, accountID, knownRevision string) (AccountAttributes, error)
}
