package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors returned by every backend. Callers test them with errors.Is.
var (
	// ErrNotFound reports that the requested record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists reports a unique-key collision on create.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict reports that a state precondition did not hold (for
	// example upgrading an account that is already v2).
	ErrConflict = errors.New("conflict")
)

// Auth versions of an account.
const (
	AuthV1 = "v1"
	AuthV2 = "v2"
)

// Account is a tenant of one zone.
type Account struct {
	ID          string
	Name        string
	AuthVersion string // AuthV1 or AuthV2
	CreatedAt   time.Time
	// UpgradedAt is set when a v1 account was upgraded to v2.
	UpgradedAt time.Time
}

// APIKey is one v1 API key of an account. An account has exactly one
// current key (RetiredAt zero) and possibly older keys still in their grace
// period (RetiredAt in the future). The raw key is never stored: Hash is a
// keyed hash used for lookup and Sealed is the key encrypted with the
// server's secret key, so that the console can show it again.
type APIKey struct {
	AccountID string
	Hash      []byte
	Sealed    []byte
	CreatedAt time.Time
	RetiredAt time.Time // zero: current
}

// Credential is the v2 client credential of an account: a user ID and the
// keyed hash of a generated password. Seed lets the server derive the
// password again (with its secret key) for the console; the store alone
// cannot give the password back.
type Credential struct {
	AccountID  string
	UserID     string
	SecretHash []byte
	Seed       []byte
	CreatedAt  time.Time
	// Tokens whose issue time (milliseconds since the epoch) is at or
	// before RevokedBeforeMs are revoked from RevokeAt on (the grace).
	RevokedBeforeMs int64
	RevokeAt        time.Time
}

// ConsoleUser is a person who may open one account's console.
type ConsoleUser struct {
	AccountID    string
	Email        string
	PasswordHash string // argon2id, PHC string format
	CreatedAt    time.Time
}

// SigningKey is a token signing key. Private is sealed with the server's
// secret key.
type SigningKey struct {
	KID       string
	Alg       string
	Private   []byte
	CreatedAt time.Time
	// SignsFrom is when the key starts signing; it is published in the
	// JWKS from CreatedAt on, so verifiers learn it before they see it.
	SignsFrom time.Time
}

// AuditEvent is one entry of the security audit log.
type AuditEvent struct {
	Time      time.Time
	AccountID string
	Actor     string // "operator", or a console user's email
	Action    string // e.g. "api_key.view", "api_key.regenerate"
	Address   string
}

// NewAccount bundles everything created with an account, stored atomically.
type NewAccount struct {
	Account     Account
	APIKey      APIKey
	Credential  *Credential  // nil for v1 accounts
	ConsoleUser *ConsoleUser // optional
}

// Accounts stores accounts. DeleteAccount removes everything the account
// owns (keys, credentials, console users, context data) in one step.
type Accounts interface {
	CreateAccount(ctx context.Context, n NewAccount) error
	GetAccount(ctx context.Context, id string) (Account, error)
	ListAccounts(ctx context.Context) ([]Account, error)
	DeleteAccount(ctx context.Context, id string) error
	// UpgradeAccount turns a v1 account into v2 with the given credential.
	// ErrConflict if the account is already v2.
	UpgradeAccount(ctx context.Context, id string, c Credential, at time.Time) (Account, error)
}

// APIKeys stores v1 API keys.
type APIKeys interface {
	// RotateAPIKey makes k the account's current key and sets the
	// RetiredAt of every unretired older key to retireAt. Keys already
	// past their RetiredAt may be deleted.
	RotateAPIKey(ctx context.Context, k APIKey, retireAt time.Time) error
	APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)
	CurrentAPIKey(ctx context.Context, accountID string) (APIKey, error)
}

// Credentials stores v2 client credentials, one per v2 account.
type Credentials interface {
	CredentialByUserID(ctx context.Context, userID string) (Credential, error)
	CredentialByAccount(ctx context.Context, accountID string) (Credential, error)
	// ReplaceCredential replaces the secret of the account's credential
	// (same user ID) and records the token revocation in c.
	ReplaceCredential(ctx context.Context, c Credential) error
}

// ConsoleUsers stores console users.
type ConsoleUsers interface {
	CreateConsoleUser(ctx context.Context, u ConsoleUser) error
	GetConsoleUser(ctx context.Context, accountID, email string) (ConsoleUser, error)
}

// SigningKeys stores token signing keys.
type SigningKeys interface {
	AddSigningKey(ctx context.Context, k SigningKey) error
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	DeleteSigningKey(ctx context.Context, kid string) error
}

// Audit appends and reads the audit log.
type Audit interface {
	AppendAudit(ctx context.Context, e AuditEvent) error
	ListAudit(ctx context.Context, accountID string, limit int) ([]AuditEvent, error)
}

// Pinger reports whether the backend answers (readiness).
type Pinger interface {
	Ping(ctx context.Context) error
}
