package storage

import (
	"context"
	"errors"
	"time"
)

// ErrTooLarge reports that a context write would make its session document
// larger than ContextMerge.MaxChars; nothing of the write was saved.
var ErrTooLarge = errors.New("document too large")

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
// never; a TTL of 0 means never.
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
}

// ContextStore stores the data of the Conversation Context Service.
//
// Reads take the current time and never return a property whose ExpiresAt
// is at or before it, even before PurgeContext removed it. Deletes are
// idempotent: deleting what does not exist is not an error.
type ContextStore interface {
	// PutNamespace creates the namespace (with n.CreatedAt) when missing,
	// and sets its TTL when n.HasTTL.
	PutNamespace(ctx context.Context, accountID string, n ContextNamespace) error
	// GetNamespace returns one namespace or ErrNotFound.
	GetNamespace(ctx context.Context, accountID, name string) (ContextNamespace, error)
	// ListNamespaces returns the account's namespaces ordered by name.
	ListNamespaces(ctx context.Context, accountID string) ([]ContextNamespace, error)
	// DeleteNamespace deletes the namespace with its sessions and properties.
	DeleteNamespace(ctx context.Context, accountID, name string) error

	// PutSession creates the namespace and the session (with s.CreatedAt)
	// when missing, and sets the session's TTL when s.HasTTL.
	PutSession(ctx context.Context, k ContextKey, s ContextSession) error
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

	// PurgeContext deletes up to limit properties expired at now, and the
	// sessions that are left without properties and without a live TTL.
	// It returns how many properties it deleted.
	PurgeContext(ctx context.Context, now time.Time, limit int) (int, error)
}
