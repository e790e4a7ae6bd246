package storage

import (
	"context"
	"errors"
	"time"

	"github.com/orchestrator/orchestrator/internal/fault"
)

// Sentinel errors returned by every backend. Callers test them with
// errors.Is. Those a client may see are fault errors of the kind it sees
// (see package fault): a service may pass them on as they are, and the
// HTTP layer answers them without knowing this package.
var (
	// ErrNotFound reports that the requested record does not exist.
	ErrNotFound error = &fault.Error{Kind: fault.ErrNotFound, Msg: "not found"}
	// ErrAlreadyExists reports a unique-key collision on create.
	ErrAlreadyExists error = &fault.Error{Kind: fault.ErrConflict, Msg: "already exists"}
	// ErrConflict reports that a state precondition did not hold (for
	// example upgrading an account that is already v2).
	ErrConflict error = &fault.Error{Kind: fault.ErrConflict, Msg: "conflict"}
	// ErrStorageFull reports that a write was refused for lack of space
	// (SQLITE_FULL, ENOSPC). Nothing of the write is stored; the same write
	// succeeds once space is freed, without a restart.
	ErrStorageFull error = &fault.Error{Kind: fault.ErrStorageFull, Msg: "storage full"}
	// ErrUnavailable reports that the store did not answer in time (a
	// database server that is down or unreachable). Nothing of a write
	// that failed so is stored unless the backend says otherwise; the
	// same call succeeds once the store is back, without a restart.
	ErrUnavailable error = &fault.Error{Kind: fault.ErrUnavailable, Msg: "storage unavailable"}
	// ErrLimit reports that a write would take an account past a bound
	// the caller set (RevokeToken's limit). Nothing of the write is
	// stored; the same write succeeds once the account holds less. It is
	// not a fault: the caller says what the client sees.
	ErrLimit = errors.New("limit reached")
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
	// LastUsedAt is when the key last authenticated a request, as far as
	// it was written (LastUse.MarkUsed); zero: never.
	LastUsedAt time.Time
}

// Credential is the v2 client credential of an account: a user ID and the
// keyed hash of a generated password. Seed lets the server derive the
// password again (with its secret key) for the console; the store alone
// cannot give the password back. An imported password (one the operator
// brought from an existing tenant) cannot be derived: its Seed holds it
// sealed with the server key instead (package accounts).
type Credential struct {
	AccountID  string
	UserID     string
	SecretHash []byte
	Seed       []byte
	CreatedAt  time.Time
	// Revocation says which tokens issued for the credential are dead.
	Revocation Revocation
	// LastUsedAt is when the credential last authenticated a client
	// (login, token, introspection, revocation), as far as it was
	// written (LastUse.MarkUsed); zero: never. ReplaceCredential keeps
	// it.
	LastUsedAt time.Time
	// RevokedJTIs holds the jtis of the account's tokens revoked one by
	// one (RFC 7009, RevokedTokens) that have not expired. The
	// Credentials methods leave it nil; the accounts service reads it
	// with the credential it remembers for token verification, so that
	// checking it costs no store read per request.
	RevokedJTIs map[string]struct{}
}

// Revocation is the token revocation state of a credential. It only ever
// moves forward (SPEC §3): a token that one regeneration killed is never
// brought back by a later one. The state is a hard watermark, whose
// tokens are dead now, and at most one pending revocation (a grace still
// running), whose tokens die at PendingAt. Issue times are milliseconds
// since the epoch (the timestamp of the token's UUIDv7 jti).
//
// A single overwritable (watermark, time) pair let a regeneration with a
// grace resurrect the tokens an earlier regeneration without grace had
// killed; Then is the one rule every backend applies instead.
type Revocation struct {
	// BeforeMs: tokens issued at or before it are revoked now.
	BeforeMs int64
	// PendingBeforeMs: tokens issued at or before it are revoked from
	// PendingAt on. PendingAt zero: no revocation pending.
	PendingBeforeMs int64
	PendingAt       time.Time
}

// Kills reports whether a token issued at issuedMs is revoked at now.
func (r Revocation) Kills(issuedMs int64, now time.Time) bool {
	if issuedMs <= r.BeforeMs {
		return true
	}
	return !r.PendingAt.IsZero() && issuedMs <= r.PendingBeforeMs && !now.Before(r.PendingAt)
}

// NewestMs is the newest issue time that r revokes, now or later: a token
// issued after a regeneration must be issued after it.
func (r Revocation) NewestMs() int64 { return max(r.BeforeMs, r.PendingBeforeMs) }

// Then returns r followed by a regeneration at now that revokes every
// token issued at or before now, from revokeAt on (revokeAt at or before
// now: at once). The rule is monotonic:
//   - a pending revocation whose time has come is folded into the hard
//     watermark first, so it stays dead whatever comes next;
//   - without a grace, everything issued up to now is dead at once
//     (pending tokens included);
//   - with a grace, the pending watermark becomes now and the pending
//     deadline the earlier of the running one and revokeAt: a new grace
//     never extends one already running. Tokens issued between the two
//     regenerations therefore share the earlier deadline — the simplest
//     rule that never lets an older token outlive its first deadline.
func (r Revocation) Then(now, revokeAt time.Time) Revocation {
	nowMs := now.UnixMilli()
	if !r.PendingAt.IsZero() && !now.Before(r.PendingAt) {
		r.BeforeMs = max(r.BeforeMs, r.PendingBeforeMs)
		r.PendingBeforeMs, r.PendingAt = 0, time.Time{}
	}
	if !revokeAt.After(now) {
		r.BeforeMs = max(r.BeforeMs, r.PendingBeforeMs, nowMs)
		r.PendingBeforeMs, r.PendingAt = 0, time.Time{}
		return r
	}
	if nowMs <= r.BeforeMs {
		// Nothing newer than the hard watermark to put in grace (a clock
		// that went back): keep what is.
		return r
	}
	r.PendingBeforeMs = max(r.PendingBeforeMs, nowMs)
	if r.PendingAt.IsZero() || revokeAt.Before(r.PendingAt) {
		r.PendingAt = revokeAt
	}
	return r
}

// RevokedToken is one token revoked before it expires (RFC 7009). It is
// kept until ExpiresAt, when the token would have expired anyway.
type RevokedToken struct {
	AccountID string
	JTI       string
	ExpiresAt time.Time
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

// AuditEvent is one entry of the security audit log. Events of the
// zone as a whole (a signing-key rotation) have an empty AccountID.
type AuditEvent struct {
	Time      time.Time
	AccountID string
	Actor     string // "operator", a console user's email, or a v2 user ID
	Action    string // e.g. "api_key.view", "api_key.regenerate grace=10m"
	Address   string
}

// SecretUse says that a secret was used at At: an API key (Hash, its
// APIKey.Hash) or a credential (UserID), one of the two.
type SecretUse struct {
	Hash   []byte
	UserID string
	At     time.Time
}

// NewAccount bundles everything created with an account, stored atomically.
type NewAccount struct {
	Account     Account
	APIKey      APIKey
	Credential  *Credential  // nil for v1 accounts
	ConsoleUser *ConsoleUser // optional
}

// Accounts stores accounts. DeleteAccount removes everything the account
// owns (keys, credentials, console users, context data, policies and
// their evaluation log): once it returns, none of it is readable, and an
// account created again with the same id starts empty. Backends may
// remove the bulk data in steps that let other writes in between, so that
// deleting a large account does not stall every other tenant.
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
	// RotateAPIKey makes k the account's current key and retires every
	// older key at retireAt, or at its own RetiredAt when that is earlier:
	// a grace never extends an older key's retirement, so a rotation
	// without grace stops every older key at once (not only the one that
	// was current). Keys already past their RetiredAt may be deleted.
	RotateAPIKey(ctx context.Context, k APIKey, retireAt time.Time) error
	APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)
	CurrentAPIKey(ctx context.Context, accountID string) (APIKey, error)
}

// Credentials stores v2 client credentials, one per v2 account.
type Credentials interface {
	CredentialByUserID(ctx context.Context, userID string) (Credential, error)
	CredentialByAccount(ctx context.Context, accountID string) (Credential, error)
	// ReplaceCredential replaces the secret of the account's credential
	// (same user ID) and revokes every token issued at or before
	// c.CreatedAt (the regeneration time), from revokeAt on. The stored
	// revocation is advanced with Revocation.Then in the same transaction
	// (c.Revocation is ignored), so concurrent or successive
	// regenerations never bring a revoked token back. It returns the
	// stored credential.
	ReplaceCredential(ctx context.Context, c Credential, revokeAt time.Time) (Credential, error)
}

// RevokedTokens stores the denylist of tokens revoked one by one. An
// account's entries go with the account.
type RevokedTokens interface {
	// RevokeToken adds t to the denylist. Adding a jti again is no error
	// (the later ExpiresAt is kept). ErrNotFound when the account does
	// not exist. When limit > 0 and the account already has limit other
	// entries that expire after now, nothing is written and the error is
	// ErrLimit; the count and the insert are one transaction, and
	// revocations of one account are serialised, so that concurrent
	// calls never take it past limit.
	RevokeToken(ctx context.Context, t RevokedToken, now time.Time, limit int) error
	// RevokedTokens returns the jtis of the account's entries that
	// expire after now, in no particular order (empty, not nil, when
	// there are none).
	RevokedTokens(ctx context.Context, accountID string, now time.Time) ([]string, error)
	// PurgeRevokedTokens deletes up to limit entries that expired at or
	// before now and returns how many. It may run on several instances
	// at once: each entry is deleted once (on a shared store, one
	// instance at a time does the work).
	PurgeRevokedTokens(ctx context.Context, now time.Time, limit int) (int, error)
}

// ConsoleUsers stores console users.
type ConsoleUsers interface {
	CreateConsoleUser(ctx context.Context, u ConsoleUser) error
	GetConsoleUser(ctx context.Context, accountID, email string) (ConsoleUser, error)
}

// SigningKeys stores token signing keys.
type SigningKeys interface {
	AddSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns every key, oldest SignsFrom first; keys
	// with the same SignsFrom in the order they were added (a rotation
	// within the same millisecond still makes the added key the newest).
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	DeleteSigningKey(ctx context.Context, kid string) error
}

// Audit appends and reads the audit log. Entries outlive their account
// (the trail of a deleted account is still there when its id is created
// again) until PurgeAudit removes them.
type Audit interface {
	AppendAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns up to limit entries of the account ("" for the
	// zone's own), newest first.
	ListAudit(ctx context.Context, accountID string, limit int) ([]AuditEvent, error)
	// PurgeAudit deletes up to limit entries older than before and
	// returns how many. It may run on several instances at once: each
	// entry is deleted once (on a shared store, one instance at a time
	// does the work).
	PurgeAudit(ctx context.Context, before time.Time, limit int) (int, error)
}

// LastUse records when keys and credentials were last used. The
// accounts service gathers uses in memory and writes them at most once a
// minute, off the request path.
type LastUse interface {
	// MarkUsed sets the LastUsedAt of every key and credential named in
	// uses to the later of its stored one and the use's At; secrets that
	// no longer exist are skipped. A backend may split a large uses into
	// several writes (a failed call is retried whole: setting the later
	// time again changes nothing).
	MarkUsed(ctx context.Context, uses []SecretUse) error
	// ListAPIKeys returns the account's stored keys: the current one
	// first, then retired ones (in their grace, or past it and not yet
	// deleted), the latest retirement first.
	ListAPIKeys(ctx context.Context, accountID string) ([]APIKey, error)
}

// Pinger reports whether the backend answers (readiness).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Store is a complete backend: everything the services keep. The
// composition root opens one (SQLite, or PostgreSQL shared by many nodes)
// and hands it to the services, which see only the small interfaces
// above.
//
// Concurrency guarantees every backend gives, whatever the number of
// Store instances open on the same database (the nodes of one zone):
//   - Each method is atomic: it is applied whole or not at all, and a
//     method that returned nil is durable (on disk, or committed).
//   - A write that returned is seen by every read that starts afterwards,
//     through any instance.
//   - MergeProperties serialises writes to one session document: two
//     concurrent merges whose sum exceeds ContextMerge.MaxChars never both
//     succeed, and concurrent merges of distinct properties all survive.
//   - The account quota (ContextQuota) holds under concurrent writes of
//     one account.
//   - CreatePolicy gives concurrent creates of one account distinct,
//     increasing positions, and the policy limit holds under them.
//   - ReplaceCredential and RotateAPIKey apply Revocation.Then (and the
//     key retirement rule) to the stored state, never to a stale copy.
//   - PurgeContext, PurgeEvaluations, PurgeRevokedTokens and PurgeAudit may run on
//     several instances at once: each row is deleted once, and they do
//     not block writers for more than one batch.
//   - Deletes are idempotent where documented.
type Store interface {
	Accounts
	APIKeys
	Credentials
	RevokedTokens
	ConsoleUsers
	SigningKeys
	Audit
	LastUse
	Pinger
	ContextStore
	Policies
	Attributes
	// Ready reports whether the store answers and accepts writes
	// (/readyz), with the reason when not.
	Ready(ctx context.Context) error
	// Close releases the store; calls after it fail.
	Close() error
}
