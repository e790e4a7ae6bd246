package storage

import (
	"context"
	"time"

	"github.com/orchestrator/orchestrator/internal/fault"
)

// ErrTooLarge reports that a context write would make its session document
// larger than ContextMerge.MaxChars; nothing of the write was saved.
var ErrTooLarge error = &fault.Error{Kind: fault.ErrTooLarge, Msg: "document too large"}

// ErrQuotaExceeded reports that a context write would take its account
// over its ContextQuota; nothing of the write was saved.
var ErrQuotaExceeded error = &fault.Error{Kind: fault.ErrTooLarge, Msg: "account storage quota exceeded"}

// ContextRowBytes is what each stored namespace, session and property
// counts in ContextUsage.Bytes besides the bytes of its names and value,
// so that many tiny rows are not free.
const ContextRowBytes = 64

// ContextQuota bounds what one account may store in the Context Service.
// A zero field is no bound.
//
// Security: without it one tenant could fill the shared disk (and slow
// every other tenant's writes) with properties, sessions or namespaces.
type ContextQuota struct {
	// MaxProperties bounds the account's stored properties.
	MaxProperties int64
	// MaxBytes bounds ContextUsage.Bytes.
	MaxBytes int64
}

// ContextUsage is what an account stores, as ContextQuota counts it.
// Properties that expired count until they are purged; a write that would
// go over the quota purges the account's expired properties first.
type ContextUsage struct {
	// Properties is the number of stored properties.
	Properties int64
	// Bytes sums, over each stored namespace, session and property,
	// ContextRowBytes plus the UTF-8 bytes of its names (namespace,
	// session id, property name) and of its JSON value.
	Bytes int64
}

// ContextKey names one session document of the Conversation Context
// Service: account → namespace → session.
type ContextKey struct {
	AccountID string
	Namespace string
	SessionID string
}

// ContextNamespace is a namespace of an account. TTL applies to
// properties written afterwards when HasTTL (0 = forever).
type ContextNamespace struct {
	Name      string
	CreatedAt time.Time
	TTL       time.Duration
	HasTTL    bool
}

// ContextSession is a session of a namespace. Its TTL, when HasTTL, wins
// over the namespace's for properties written afterwards (0 = forever).
type ContextSession struct {
	ID        string
	CreatedAt time.Time
	TTL       time.Duration
	HasTTL    bool
}

// ContextProperty is one property of a session document. Value is compact
// JSON. ExpiresAt is zero for a property that never expires.
type ContextProperty struct {
	Name      string
	Value     []byte
	ExpiresAt time.Time
}

// ContextDocument is a session with its live properties.
type ContextDocument struct {
	SessionID  string
	Properties []ContextProperty
}

// ContextMerge is one write into a session document: the properties are
// inserted or replaced, others are kept. The namespace and the session are
// created when missing.
//
// Each written property expires at Now plus the write's TTL when HasTTL,
// else the session's TTL when set, else the namespace's TTL when set, else
// never; a TTL of 0 means never. MaxRetention caps that (ExpiresAt).
type ContextMerge struct {
	Key        ContextKey
	Properties []ContextProperty // Value must be compact JSON; ExpiresAt is ignored
	TTL        time.Duration
	HasTTL     bool
	Now        time.Time
	// MaxChars bounds the size of the resulting document, counted in
	// characters of its compact JSON object form; expired properties do not
	// count. 0: no bound. Over the bound the write fails with ErrTooLarge
	// and saves nothing.
	MaxChars int
	// Quota bounds the account's storage: a write that would take it over
	// a bound (and grows what it stores) fails with ErrQuotaExceeded and
	// saves nothing.
	Quota ContextQuota
	// MaxRetention caps the expiry of the written properties at Now plus
	// it, "never" included (zero: no cap).
	MaxRetention Retention
}

// ContextPosition is a place in the properties of every account, taken
// in key order (account, namespace, session, name). The zero position is
// before the first.
type ContextPosition struct {
	Key  ContextKey
	Name string
}

// ContextStore stores the data of the Conversation Context Service.
//
// Reads take the current time and never return a property whose ExpiresAt
// is at or before it, even before PurgeContext removed it. Deletes are
// idempotent: deleting what does not exist is not an error.
type ContextStore interface {
	// PutNamespace creates the namespace (with n.CreatedAt) when missing,
	// and sets its TTL when n.HasTTL. Creating it over q fails with
	// ErrQuotaExceeded.
	PutNamespace(ctx context.Context, accountID string, n ContextNamespace, q ContextQuota) error
	// GetNamespace returns one namespace or ErrNotFound.
	GetNamespace(ctx context.Context, accountID, name string) (ContextNamespace, error)
	// ListNamespaces returns the account's namespaces ordered by name.
	ListNamespaces(ctx context.Context, accountID string) ([]ContextNamespace, error)
	// DeleteNamespace deletes the namespace with its sessions and properties.
	DeleteNamespace(ctx context.Context, accountID, name string) error

	// PutSession creates the namespace and the session (with s.CreatedAt)
	// when missing, and sets the session's TTL when s.HasTTL. Creating
	// them over q fails with ErrQuotaExceeded.
	PutSession(ctx context.Context, k ContextKey, s ContextSession, q ContextQuota) error
	// ListSessions returns the sessions of a namespace that have a TTL or
	// live properties, ordered by id.
	ListSessions(ctx context.Context, accountID, namespace string, now time.Time) ([]ContextSession, error)
	// DeleteSession deletes the session's properties and its TTL.
	DeleteSession(ctx context.Context, k ContextKey) error

	// MergeProperties applies one write atomically.
	MergeProperties(ctx context.Context, m ContextMerge) error
	// GetProperties returns the live properties of a session ordered by
	// name; only those named when names is not nil.
	GetProperties(ctx context.Context, k ContextKey, names []string, now time.Time) ([]ContextProperty, error)
	// DeleteProperties deletes the named properties, or every property of
	// the session when names is nil; the session and its TTL stay.
	DeleteProperties(ctx context.Context, k ContextKey, names []string) error
	// ListDocuments pages through the sessions of a namespace that have
	// live properties, ordered by session id; with their properties when
	// withProperties.
	ListDocuments(ctx context.Context, accountID, namespace string, now time.Time, offset, limit int, withProperties bool) ([]ContextDocument, error)

	// ContextUsage returns what the account stores (zero when nothing).
	ContextUsage(ctx context.Context, accountID string) (ContextUsage, error)

	// CapContextExpiry looks at up to limit properties after from, in
	// key order, and sets the expiry of those that never expire or expire
	// after until to until (a retention cap that took effect after they
	// were written). It returns the position of the last property it
	// looked at, the zero position once none was left, and how many it
	// changed. Each call is one short write transaction; values, sizes
	// and usage are untouched.
	CapContextExpiry(ctx context.Context, until time.Time, from ContextPosition, limit int) (next ContextPosition, changed int, err error)

	// PurgeContext deletes up to limit properties expired at now, and the
	// sessions that are left without properties and without a live TTL.
	// It returns how many properties it deleted.
	PurgeContext(ctx context.Context, now time.Time, limit int) (int, error)
}
