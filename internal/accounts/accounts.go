package accounts

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/invalidation"
	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/wire"
	"golang.org/x/sync/singleflight"
)

// Store is what the service needs from storage.
type Store interface {
	storage.Accounts
	storage.APIKeys
	storage.Credentials
	storage.RevokedTokens
	storage.ConsoleUsers
	storage.LastUse
}

// Service manages accounts and authenticates their credentials.
type Service struct {
	store Store
	keys  *secret.Keys
	zone  string
	now   func() time.Time
	// onRevoke is told when credentials of an account change, so caches
	// outside this package can drop what they remember.
	onRevoke func(accountID string)
	// onDelete is told after an account is deleted, so that caches of its
	// data forget it.
	onDelete func(accountID string)
	cache    *authCache
	// epochs tells cache entries of an account when they are stale;
	// sharedStore says other processes change the store too.
	epochs      invalidation.Epochs
	sharedStore bool
	log         *slog.Logger
	// deleting holds the accounts whose deletion has begun and not
	// returned yet. A large account's data is removed in many small
	// writes; its credentials are refused from the moment Delete is
	// called, not only once the last write is done. deletions counts
	// them, so the hot path skips the map when there are none.
	deleting  sync.Map // account id → struct{}
	deletions atomic.Int64
	// used gathers the last uses of keys and credentials until
	// FlushLastUsed writes them.
	used *usage
	// credReads shares concurrent store reads of one user ID's
	// credential (Credential).
	credReads singleflight.Group
	// maxRevoked bounds each account's denylist (MaxRevokedTokens).
	maxRevoked int
}

// New returns a Service. now may be nil (time.Now).
func New(store Store, keys *secret.Keys, zone string, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, keys: keys, zone: zone, now: now, onRevoke: func(string) {}, onDelete: func(string) {},
		cache: newAuthCache(cacheTTL), epochs: invalidation.NewLocal(), log: slog.Default(), used: newUsage(), maxRevoked: MaxRevokedTokens}
}

// SharedStore tells the service that other processes change the same
// store. Unless UseEpochs gives it epochs those processes share,
// remembered credentials are then re-read at least every
// SharedStoreCacheTTL. Call it before serving.
func (s *Service) SharedStore() {
	s.sharedStore = true
	s.cache = newAuthCache(s.cacheTTL())
}

// UseEpochs sets the epochs that tell remembered credentials of an
// account they are stale (default invalidation.NewLocal()). With epochs
// shared by every process that changes the store (invalidation.NewRedis),
// a change on any node is refused by every node once it returns, and
// entries are kept for 5 minutes again. Call it before serving; the
// caller keeps closing e.
func (s *Service) UseEpochs(e invalidation.Epochs) {
	s.epochs = e
	s.cache = newAuthCache(s.cacheTTL())
}

// InvalidationStatus is nil while changes on other nodes reach this one
// at once; otherwise it says why this node re-reads credentials every
// second (for /readyz and the orchestrator_invalidation_degraded gauge).
func (s *Service) InvalidationStatus() error { return s.epochs.Status() }

func (s *Service) cacheTTL() time.Duration {
	if s.sharedStore && !invalidation.Shared(s.epochs) {
		return SharedStoreCacheTTL
	}
	return cacheTTL
}

// OnRevoke sets a function called after an account's key or credentials
// change or the account is deleted.
func (s *Service) OnRevoke(fn func(accountID string)) { s.onRevoke = fn }

// OnDelete sets a function called after an account is deleted. Set it
// before serving.
func (s *Service) OnDelete(fn func(accountID string)) { s.onDelete = fn }

// changed is called after every committed change to an account's
// credentials or auth version: the account's remembered authentications
// are dropped on every node before the change is acknowledged, so the
// very next request anywhere sees it.
//
// If the bump cannot be shared (Redis unreachable) the change is still
// acknowledged: it is committed, and an error would make the caller retry
// a regeneration that happened. This node refuses the old secret at once;
// the bump is published when Redis answers, and InvalidationStatus says
// so until then (see package invalidation).
func (s *Service) changed(ctx context.Context, accountID string) {
	s.bump(ctx, accountID)
	s.onRevoke(accountID)
}

func (s *Service) bump(ctx context.Context, epochKey string) {
	// The change is committed: a caller that went away must not skip it.
	if err := s.epochs.Bump(context.WithoutCancel(ctx), epochKey); err != nil {
		s.log.Error("accounts: other nodes may accept the old credentials until the change is published", "account", epochKey, "err", err)
	}
}

// Errors of authentication. They carry no detail on purpose.
var (
	ErrBadCredentials = errors.New("invalid credentials")
	ErrBadAPIKey      = errors.New("invalid api key")
)

// The operator API's shapes of an account; package wire owns them.
type (
	Account      = wire.Account
	Credentials  = wire.Credentials
	ConsoleLogin = wire.ConsoleLogin
	KeyUse       = wire.KeyUse
	// CreateRequest is the operator's request to create an account.
	// Imported secrets are stored as generated ones are: the key sealed
	// and found by keyed hash, the password as a keyed hash (and sealed,
	// for the console).
	CreateRequest = wire.CreateAccount
)

func (s *Service) view(a storage.Account) Account {
	v := Account{AccountID: a.ID, Name: a.Name, AuthVersion: a.AuthVersion, Zone: s.zone, CreatedAt: a.CreatedAt}
	if !a.UpgradedAt.IsZero() {
		t := a.UpgradedAt
		v.UpgradedAt = &t
	}
	return v
}

// ParseID is the one syntax of an account id (SPEC §2): 1 to 20
// decimal digits, optionally prefixed with a lower-case "le" that names
// the same account. It returns the canonical id (without the prefix).
// Callers that echo the id keep the form the request used themselves.
func ParseID(s string) (id string, ok bool) {
	id = strings.TrimPrefix(s, "le")
	if len(id) == 0 || len(id) > 20 {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return "", false
		}
	}
	return id, true
}

// Create creates an account with its key, credentials (v2) and console
// user (when an email is given), and returns them with their secrets.
func (s *Service) Create(ctx context.Context, req CreateRequest) (Account, error) {
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || utf8.RuneCountInString(req.Name) > 200 {
		return Account{}, fault.Invalid("name: required, at most 200 characters")
	}
	switch req.AuthVersion {
	case "":
		req.AuthVersion = storage.AuthV2
	case storage.AuthV1, storage.AuthV2:
	default:
		return Account{}, fault.Invalid("authVersion: must be v1 or v2")
	}
	if req.ID != "" {
		id, ok := ParseID(req.ID)
		if !ok {
			return Account{}, fault.Invalid("id: must be decimal digits (1-20)")
		}
		req.ID = id
	}
	if c := req.Credentials; c != nil {
		canon := *c
		canon.UserID = CanonicalUserID(c.UserID)
		req.Credentials = &canon
	}
	if err := validateImport(req); err != nil {
		return Account{}, err
	}
	if err := s.importConflict(ctx, req); err != nil {
		return Account{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	for attempt := 0; ; attempt++ {
		id := req.ID
		if id == "" {
			id = randomID()
		}
		n := storage.NewAccount{Account: storage.Account{ID: id, Name: req.Name, AuthVersion: req.AuthVersion, CreatedAt: now}}
		key := req.APIKey
		if key == "" {
			key = secret.NewAPIKey()
		}
		n.APIKey = s.apiKeyRecord(id, key, now)
		out := s.view(n.Account)
		out.APIKey = key
		if req.AuthVersion == storage.AuthV2 {
			var c storage.Credential
			var creds Credentials
			if req.Credentials != nil {
				c, creds = s.importedCredential(id, *req.Credentials, now)
			} else {
				c, creds = s.newCredential(id, uuid.NewString(), now)
			}
			n.Credential = &c
			out.Credentials = &creds
		}
		if req.ConsoleEmail != "" {
			u, login, err := s.newConsoleUser(id, req.ConsoleEmail, "", now)
			if err != nil {
				return Account{}, err
			}
			n.ConsoleUser = &u
			out.ConsoleUser = &login
		}
		err := s.store.CreateAccount(ctx, n)
		if errors.Is(err, storage.ErrAlreadyExists) {
			// An imported secret taken meanwhile, or the account id?
			if cerr := s.importConflict(ctx, req); cerr != nil {
				return Account{}, cerr
			}
			if req.ID != "" {
				return Account{}, fault.Conflict("account %s already exists", req.ID)
			}
			if attempt < 5 {
				continue
			}
		}
		if err != nil {
			return Account{}, err
		}
		// A negative lookup of the new user ID may have been remembered.
		s.bump(ctx, newCredentials)
		return out, nil
	}
}

// validateImport checks the secrets of an existing tenant that a create
// request brings (SPEC §2: 20–256 printable characters; the user ID a
// UUID, as LivePerson's are and ours are generated).
func validateImport(req CreateRequest) error {
	if k := req.APIKey; k != "" {
		if strings.HasPrefix(k, secret.APIKeyPrefix) && !secret.WellFormedAPIKey(k) {
			// It would be refused as a typo of one of our keys.
			return fault.Invalid("apiKey: starts with %q but is not a well-formed key of this server (its checksum does not match)", secret.APIKeyPrefix)
		}
		if !secret.ImportableSecret(k) {
			return fault.Invalid("apiKey: %d-%d printable ASCII characters without spaces", secret.MinImportedLen, secret.MaxImportedLen)
		}
	}
	c := req.Credentials
	if c == nil {
		return nil
	}
	if req.AuthVersion != storage.AuthV2 {
		return fault.Invalid("credentials: only v2 accounts have credentials (authVersion is %s)", req.AuthVersion)
	}
	if !ValidUserID(c.UserID) {
		return fault.Invalid("credentials.userId: must be a UUID such as 3f2504e0-4f89-41d3-9a0c-0305e82c3301")
	}
	if !secret.ImportableSecret(c.Password) {
		return fault.Invalid("credentials.password: %d-%d printable ASCII characters without spaces", secret.MinImportedLen, secret.MaxImportedLen)
	}
	return nil
}

// ValidUserID reports whether id is a v2 user ID: a UUID in its 36-character
// form, in either letter case (CanonicalUserID is the stored form).
func ValidUserID(id string) bool {
	if len(id) != 36 {
		return false
	}
	_, err := uuid.Parse(id)
	return err == nil
}

// CanonicalUserID is the form a user ID is stored and looked up in: a
// UUID in lower case (UUIDs ignore letter case, and LivePerson's clients
// may send either), anything else as it is (it matches no user). Every
// lookup, limit and import goes through it, so that two spellings of one
// UUID are one user.
func CanonicalUserID(id string) string {
	if ValidUserID(id) {
		return strings.ToLower(id)
	}
	return id
}

// importConflict reports an imported key or user ID that another account
// already has, as a conflict that does not say which account: the
// operator chose the secret, and a clear "in use" lets them fix the
// request (another import, or none).
func (s *Service) importConflict(ctx context.Context, req CreateRequest) error {
	if req.APIKey != "" {
		_, err := s.store.APIKeyByHash(ctx, s.keys.Hash("apikey", req.APIKey))
		if err == nil {
			return fault.Conflict("apiKey: already in use by another account")
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	if c := req.Credentials; c != nil {
		_, err := s.store.CredentialByUserID(ctx, c.UserID)
		if err == nil {
			return fault.Conflict("credentials.userId: already in use by another account")
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	return nil
}

// randomID returns an 8-digit account id that does not start with 0.
func randomID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(90_000_000))
	return fmt.Sprint(10_000_000 + n.Int64())
}

func (s *Service) apiKeyRecord(accountID, key string, now time.Time) storage.APIKey {
	return storage.APIKey{AccountID: accountID, Hash: s.keys.Hash("apikey", key), Sealed: s.keys.Seal([]byte(key), "apikey:"+accountID), CreatedAt: now}
}

func (s *Service) newCredential(accountID, userID string, now time.Time) (storage.Credential, Credentials) {
	seed := secret.Random(16)
	pw := s.keys.Password(userID, seed)
	c := storage.Credential{AccountID: accountID, UserID: userID, SecretHash: s.keys.Hash("password:"+userID, pw), Seed: seed, CreatedAt: now,
		Revocation: bornAt(now)}
	return c, Credentials{UserID: userID, Password: pw}
}

// bornAt is the revocation state of a credential created at now: every
// token issued before its millisecond is dead. A user ID can come back
// (an account deleted and imported again with the same credentials), and
// tokens issued for the credential that went with the deletion must not
// verify against the new one (revocation review, finding F3).
//
// The watermark is the millisecond before now, not now: a token issued
// for the new credential within its millisecond is stamped with that
// millisecond and lives, and a regeneration within it still has that
// millisecond to revoke (Revocation.Then keeps nothing at or below the
// watermark in grace; tokens.Issue stamps after it). The deletion came
// before now, so the old tokens were issued before it.
// ReplaceCredential ignores it and advances the stored state instead.
func bornAt(now time.Time) storage.Revocation {
	return storage.Revocation{BeforeMs: now.UnixMilli() - 1}
}

// sealedPrefix starts the Seed of an imported credential: the password
// cannot be derived from a seed, so it is kept sealed (AES-GCM under the
// server key, bound to the user ID) for the console to show again, which
// gives no more back than a generated password's seed does with the same
// key. Generated seeds are 16 bytes; a sealed password is longer.
const sealedPrefix = "sealed:"

func (s *Service) importedCredential(accountID string, in Credentials, now time.Time) (storage.Credential, Credentials) {
	seed := append([]byte(sealedPrefix), s.keys.Seal([]byte(in.Password), "password:"+in.UserID)...)
	c := storage.Credential{AccountID: accountID, UserID: in.UserID, SecretHash: s.keys.Hash("password:"+in.UserID, in.Password), Seed: seed, CreatedAt: now,
		Revocation: bornAt(now)}
	return c, in
}

// password gives back a credential's password: derived from its seed, or
// opened when it was imported.
func (s *Service) password(c storage.Credential) (string, error) {
	if len(c.Seed) > 16 && bytes.HasPrefix(c.Seed, []byte(sealedPrefix)) {
		pw, err := s.keys.Open(c.Seed[len(sealedPrefix):], "password:"+c.UserID)
		if err != nil {
			return "", fmt.Errorf("open password of %s: %w", c.UserID, err)
		}
		return string(pw), nil
	}
	return s.keys.Password(c.UserID, c.Seed), nil
}

func (s *Service) newConsoleUser(accountID, email, password string, now time.Time) (storage.ConsoleUser, ConsoleLogin, error) {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		return storage.ConsoleUser{}, ConsoleLogin{}, fault.Invalid("consoleEmail: not a valid email address")
	}
	email = strings.ToLower(email)
	login := ConsoleLogin{Email: email}
	if password == "" {
		password = secret.NewToken(18)
		login.Password = password
	} else if utf8.RuneCountInString(password) < 12 || len(password) > 1024 {
		return storage.ConsoleUser{}, ConsoleLogin{}, fault.Invalid("password: at least 12 characters")
	}
	return storage.ConsoleUser{AccountID: accountID, Email: email, PasswordHash: secret.HashHumanPassword(password), CreatedAt: now}, login, nil
}

// Get returns an account without secrets, with the last uses of its
// keys and credentials.
func (s *Service) Get(ctx context.Context, id string) (Account, error) {
	a, err := s.store.GetAccount(ctx, id)
	if err != nil {
		return Account{}, err
	}
	v := s.view(a)
	if err := s.addUsage(ctx, &v); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return Account{}, err
	}
	return v, nil
}

// Exists reports whether an account exists, for routes that answer
// without credentials (service discovery). Answers, "no" included, are
// remembered like authentications (bounded, dropped on every node when
// the account is created or deleted), so that a caller probing account
// ids reads the store at most once per id per cache lifetime.
func (s *Service) Exists(ctx context.Context, id string) (bool, error) {
	e, ok := s.cache.accts.GetIfPresent(id)
	if !ok || e.epoch != s.epochs.Epoch(ctx, e.owner) {
		owner := newCredentials
		if ok {
			owner = e.owner
		}
		var cacheable bool
		var err error
		e, cacheable, err = s.readExists(ctx, id, owner)
		if err != nil {
			return false, err
		}
		if cacheable {
			s.cache.accts.Set(id, e)
		}
	}
	return e.found && !s.beingDeleted(id), nil
}

// readExists reads whether an account exists, taking the epoch of what
// decides the answer first (see readCredential): the account's own once
// it exists, newCredentials while it does not.
func (s *Service) readExists(ctx context.Context, id, owner string) (acctEntry, bool, error) {
	for try := 0; ; try++ {
		epoch := s.epochs.Epoch(ctx, owner)
		_, err := s.store.GetAccount(ctx, id)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return acctEntry{}, false, err
		}
		e := acctEntry{found: err == nil, owner: newCredentials, epoch: epoch}
		if e.found {
			e.owner = id
		}
		if e.owner == owner || try == 1 {
			return e, e.owner == owner, nil
		}
		owner = e.owner
	}
}

// Record returns the stored account record.
func (s *Service) Record(ctx context.Context, id string) (storage.Account, error) {
	return s.store.GetAccount(ctx, id)
}

// List returns every account without secrets.
func (s *Service) List(ctx context.Context) ([]Account, error) {
	as, err := s.store.ListAccounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Account, len(as))
	for i, a := range as {
		out[i] = s.view(a)
	}
	return out, nil
}

// Delete deletes an account and everything it owns.
//
// Its keys and tokens are refused from the moment Delete is called: the
// store removes a large account's data in many small writes, which may
// take seconds, and nothing remembered may authenticate meanwhile.
func (s *Service) Delete(ctx context.Context, id string) error {
	s.deleting.Store(id, struct{}{})
	s.deletions.Add(1)
	defer func() {
		s.deleting.Delete(id)
		s.deletions.Add(-1)
	}()
	s.changed(ctx, id)
	if err := s.store.DeleteAccount(ctx, id); err != nil {
		return err
	}
	s.changed(ctx, id)
	s.onDelete(id)
	return nil
}

// beingDeleted reports whether the account's deletion is under way.
func (s *Service) beingDeleted(accountID string) bool {
	if s.deletions.Load() == 0 {
		return false
	}
	_, ok := s.deleting.Load(accountID)
	return ok
}

// Upgrade turns a v1 account into v2 and returns it with its new
// credentials. Its v1 key keeps working until the v1 sunset.
func (s *Service) Upgrade(ctx context.Context, id string) (Account, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	c, creds := s.newCredential(id, uuid.NewString(), now)
	a, err := s.store.UpgradeAccount(ctx, id, c, now)
	if errors.Is(err, storage.ErrConflict) {
		return Account{}, fault.Conflict("account %s is already v2", id)
	}
	if err != nil {
		return Account{}, err
	}
	s.changed(ctx, id)
	s.bump(ctx, newCredentials) // the new user ID may be remembered as unknown
	out := s.view(a)
	out.Credentials = &creds
	return out, nil
}

// RegenerateAPIKey replaces the account's v1 key. The previous key stops
// working at once, or after grace.
func (s *Service) RegenerateAPIKey(ctx context.Context, id string, grace time.Duration) (string, error) {
	if grace < 0 || grace > 30*24*time.Hour {
		return "", fault.Invalid("grace: between 0 and 720h")
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	key := secret.NewAPIKey()
	if err := s.store.RotateAPIKey(ctx, s.apiKeyRecord(id, key, now), now.Add(grace)); err != nil {
		return "", err
	}
	s.changed(ctx, id)
	return key, nil
}

// RegeneratePassword replaces the password of a v2 account (same user ID)
// and revokes every token issued before now, at once or after grace.
// Revocation only moves forward: tokens already revoked stay revoked, and
// tokens already in an earlier grace die no later than that grace ends.
func (s *Service) RegeneratePassword(ctx context.Context, id string, grace time.Duration) (Credentials, error) {
	if grace < 0 || grace > 30*24*time.Hour {
		return Credentials{}, fault.Invalid("grace: between 0 and 720h")
	}
	old, err := s.store.CredentialByAccount(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		if _, aerr := s.store.GetAccount(ctx, id); aerr != nil {
			return Credentials{}, aerr
		}
		return Credentials{}, fault.Conflict("account %s is v1 and has no credentials", id)
	}
	if err != nil {
		return Credentials{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	c, creds := s.newCredential(id, old.UserID, now)
	// The store advances the revocation (storage.Revocation.Then) in the
	// same transaction as the new secret: a grace never revives a token
	// that an earlier regeneration killed, nor extends a running grace.
	revokeAt := now.Add(grace)
	if _, err := s.store.ReplaceCredential(ctx, c, revokeAt); err != nil {
		return Credentials{}, err
	}
	// A login that read the old secret before that write committed may
	// stamp its token after now (the commit waits for its group's fsync).
	// Advancing the watermark again, to a time after the commit, revokes
	// those too; the revocation deadline stays the first one. A login
	// slower still is refused by StillCurrent after it issues.
	c.CreatedAt = s.now().UTC().Truncate(time.Millisecond)
	if _, err := s.store.ReplaceCredential(ctx, c, revokeAt); err != nil {
		return Credentials{}, err
	}
	s.changed(ctx, id)
	return creds, nil
}

// MaxRevokedTokens bounds an account's denylist: the tokens revoked one
// by one (RevokeToken) that have not expired yet. Every node keeps the
// list of each account whose tokens it verifies in memory and reads it
// again after every revocation, so an unbounded list let one account
// slow down every node and every tenant with a stream of revocations
// (revocation review, finding F1). Past it, RevokeToken refuses
// (ErrTooManyRevocations) and writes nothing; regenerating the password
// revokes every token at once and needs no entry.
const MaxRevokedTokens = 10_000

// ErrTooManyRevocations is RevokeToken's refusal when the account has
// MaxRevokedTokens live entries already.
var ErrTooManyRevocations = errors.New("too many revoked tokens")

// LimitRevokedTokens sets the bound of each account's denylist (default
// MaxRevokedTokens), so that tests can reach it. Call it before serving.
func (s *Service) LimitRevokedTokens(n int) { s.maxRevoked = n }

// RevokedTokensLimit is the bound of each account's denylist.
func (s *Service) RevokedTokensLimit() int { return s.maxRevoked }

// RevokeToken revokes one token of the account (RFC 7009) until it
// expires at expiresAt. Like a regeneration, the account's remembered
// credentials are dropped on every node before it returns, so the very
// next request anywhere refuses the token (SPEC §3, §9). An account with
// MaxRevokedTokens live entries gets ErrTooManyRevocations, and nothing
// changes.
func (s *Service) RevokeToken(ctx context.Context, accountID, jti string, expiresAt time.Time) error {
	err := s.store.RevokeToken(ctx, storage.RevokedToken{AccountID: accountID, JTI: jti, ExpiresAt: expiresAt}, s.now(), s.maxRevoked)
	if errors.Is(err, storage.ErrLimit) {
		return ErrTooManyRevocations
	}
	if err != nil {
		return err
	}
	s.changed(ctx, accountID)
	return nil
}

// PurgeRevokedTokens deletes up to limit denylist entries whose tokens
// have expired (RevokeToken) and returns how many.
func (s *Service) PurgeRevokedTokens(ctx context.Context, limit int) (int, error) {
	return s.store.PurgeRevokedTokens(ctx, s.now(), limit)
}

// StillCurrent reports whether c, as authenticated by AuthenticateClient,
// is still the account's credential, read from the store (not the cache).
// A login checks it after issuing its token: a password regenerated
// meanwhile must not leave a token of the old password alive.
func (s *Service) StillCurrent(ctx context.Context, c storage.Credential) (bool, error) {
	now, err := s.store.CredentialByUserID(ctx, c.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return now.AccountID == c.AccountID && secret.Equal(now.SecretHash, c.SecretHash), nil
}

// AddConsoleUser adds a console user; a generated password is returned
// when password is empty.
func (s *Service) AddConsoleUser(ctx context.Context, accountID, email, password string) (ConsoleLogin, error) {
	u, login, err := s.newConsoleUser(accountID, email, password, s.now().UTC().Truncate(time.Millisecond))
	if err != nil {
		return ConsoleLogin{}, err
	}
	if err := s.store.CreateConsoleUser(ctx, u); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return ConsoleLogin{}, fault.Conflict("console user %s already exists", email)
		}
		return ConsoleLogin{}, err
	}
	return login, nil
}

// KeyOwner is the account a v1 API key belongs to, as far as the v1
// guard needs it.
type KeyOwner struct {
	ID          string
	AuthVersion string // storage.AuthV1 or storage.AuthV2
	CreatedAt   time.Time
	// UpgradedAt is set when a v1 account was upgraded to v2.
	UpgradedAt time.Time
}

// AuthenticateAPIKey returns the owner of a v1 key that is current or in
// its grace period. Malformed keys (neither ours nor in the shape of an
// imported key) are refused before any lookup. Results
// are remembered by keyed hash (never the key) until the account changes.
func (s *Service) AuthenticateAPIKey(ctx context.Context, key string) (KeyOwner, error) {
	if !secret.PlausibleAPIKey(key) {
		return KeyOwner{}, ErrBadAPIKey
	}
	h := s.keys.Hash("apikey", key)
	var ck [32]byte
	copy(ck[:], h)
	e, ok := s.cache.keys.GetIfPresent(ck)
	if !ok || e.epoch != s.epochs.Epoch(ctx, e.id) {
		var owner string
		if ok {
			owner = e.id
		}
		var cacheable bool
		var err error
		e, cacheable, err = s.readKey(ctx, h, owner)
		if errors.Is(err, storage.ErrNotFound) {
			return KeyOwner{}, ErrBadAPIKey
		}
		if err != nil {
			return KeyOwner{}, err
		}
		if cacheable {
			s.cache.keys.Set(ck, e)
		}
	}
	now := s.now()
	if e.retiredAt != 0 && now.UnixMilli() >= e.retiredAt || s.beingDeleted(e.id) {
		return KeyOwner{}, ErrBadAPIKey
	}
	// A key in its grace records its use too: that is what tells the
	// operator whether it is still called before it dies.
	s.used.key(h, now)
	return e.owner(), nil
}

// readKey reads a key and its account from the store. The epoch must be
// taken before the read (a change committed in between then bumps it), so
// it needs the key's account first: owner is the one a stale entry knew;
// a key never seen is read once to learn it. The entry is cacheable when
// the key still belongs to the account whose epoch was taken.
func (s *Service) readKey(ctx context.Context, h []byte, owner string) (keyEntry, bool, error) {
	for try := 0; ; try++ {
		var epoch uint64
		if owner != "" {
			epoch = s.epochs.Epoch(ctx, owner)
		}
		k, err := s.store.APIKeyByHash(ctx, h)
		if err != nil {
			return keyEntry{}, false, err
		}
		if k.AccountID != owner && try == 0 {
			owner = k.AccountID
			continue
		}
		a, err := s.store.GetAccount(ctx, k.AccountID)
		if err != nil {
			return keyEntry{}, false, err
		}
		return newKeyEntry(a, k.RetiredAt, epoch), k.AccountID == owner, nil
	}
}

// dummyHash stands in for the stored hash of an unknown user, so unknown
// users and wrong passwords take the same time.
var dummyHash = make([]byte, 32)

// AuthenticateClient checks a v2 user ID and password and returns the
// credential. Unknown user and wrong password take the same time and
// return the same error.
func (s *Service) AuthenticateClient(ctx context.Context, userID, password string) (storage.Credential, error) {
	userID = CanonicalUserID(userID)
	if len(userID) > 128 || len(password) > 256 {
		// Still hash once so that timing does not depend on the reason.
		secret.Equal(s.keys.Hash("password:", password[:min(len(password), 256)]), dummyHash)
		return storage.Credential{}, ErrBadCredentials
	}
	c, err := s.store.CredentialByUserID(ctx, userID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.Credential{}, err
	}
	want := c.SecretHash
	if err != nil {
		want = dummyHash
	}
	got := s.keys.Hash("password:"+userID, password)
	if !secret.Equal(got, want) || err != nil || s.beingDeleted(c.AccountID) {
		return storage.Credential{}, ErrBadCredentials
	}
	s.used.cred(userID, s.now())
	return c, nil
}

// Credential returns the credential of a user ID (for token verification),
// with the jtis its account revoked one by one (RevokedJTIs), remembered
// until the account changes: verifying a token reads no store.
//
// Concurrent reads of one user ID share one store read (credReads): a
// revocation sends every request of the account back to the store, and
// each read loads the account's whole denylist.
func (s *Service) Credential(ctx context.Context, userID string) (storage.Credential, error) {
	e, ok := s.cache.creds.GetIfPresent(userID)
	if !ok || e.epoch != s.epochs.Epoch(ctx, e.owner) {
		var owner string
		if ok {
			owner = e.owner
		}
		var err error
		if e, err = s.sharedReadCredential(ctx, userID, owner); err != nil {
			return storage.Credential{}, err
		}
	}
	if !e.found || s.beingDeleted(e.cred.AccountID) {
		return storage.Credential{}, storage.ErrNotFound
	}
	return e.cred, nil
}

// credRead is the outcome of one readCredential shared by credReads.
type credRead struct {
	e         credEntry
	cacheable bool
}

// sharedReadCredential reads a user ID's credential (readCredential),
// joining a read of the same user ID already under way. A joined read
// may have taken its epoch before a change this caller must see (a
// revocation acknowledged after that read began and before this request
// came): its result is used only when it is cacheable and its epoch is
// still current, which proves that it began after the last change.
// Otherwise the caller joins the next read, and after a few turns (a
// stream of changes) reads alone, as before there was sharing. The one
// that started a read uses its result in any case, as readCredential's
// callers always have.
func (s *Service) sharedReadCredential(ctx context.Context, userID, owner string) (credEntry, error) {
	read := func(ctx context.Context) (credEntry, bool, error) {
		e, cacheable, err := s.readCredential(ctx, userID, owner)
		if err == nil && cacheable {
			s.cache.creds.Set(userID, e)
		}
		return e, cacheable, err
	}
	for turn := 0; turn < 3; turn++ {
		// The read goes on for the others if its starter goes away.
		// started is set (before the result is sent on ch) only when
		// this caller's function is the one that ran.
		started := false
		ch := s.credReads.DoChan(userID, func() (any, error) {
			started = true
			e, cacheable, err := read(context.WithoutCancel(ctx))
			return credRead{e, cacheable}, err
		})
		var r singleflight.Result
		select {
		case r = <-ch:
		case <-ctx.Done():
			return credEntry{}, ctx.Err()
		}
		if started {
			if r.Err != nil {
				return credEntry{}, r.Err
			}
			return r.Val.(credRead).e, nil
		}
		if r.Err != nil {
			break // another caller's failure: try alone
		}
		if cr := r.Val.(credRead); cr.cacheable && cr.e.epoch == s.epochs.Epoch(ctx, cr.e.owner) {
			return cr.e, nil
		}
	}
	e, _, err := read(ctx)
	return e, err
}

// readCredential reads a user ID's credential from the store, taking the
// epoch of its owner first (see readKey): the account that a stale entry
// knew, or newCredentials for a user ID not found.
func (s *Service) readCredential(ctx context.Context, userID, owner string) (credEntry, bool, error) {
	for try := 0; ; try++ {
		var epoch uint64
		if owner != "" {
			epoch = s.epochs.Epoch(ctx, owner)
		}
		c, err := s.store.CredentialByUserID(ctx, userID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return credEntry{}, false, err
		}
		e := credEntry{cred: c, found: err == nil, owner: newCredentials, epoch: epoch}
		if e.found {
			e.owner = c.AccountID
			// Under the same epoch: a revocation committed after it was
			// taken bumps it, and this entry is read again.
			jtis, err := s.store.RevokedTokens(ctx, c.AccountID, s.now())
			if err != nil {
				return credEntry{}, false, err
			}
			if len(jtis) > 0 {
				e.cred.RevokedJTIs = make(map[string]struct{}, len(jtis))
				for _, j := range jtis {
					e.cred.RevokedJTIs[j] = struct{}{}
				}
			}
		}
		if e.owner == owner || try == 1 {
			return e, e.owner == owner, nil
		}
		owner = e.owner
	}
}

// Reveal returns the account's current v1 key and, for v2 accounts, its
// credentials, for the console.
func (s *Service) Reveal(ctx context.Context, accountID string) (apiKey string, creds *Credentials, err error) {
	k, err := s.store.CurrentAPIKey(ctx, accountID)
	if err != nil {
		return "", nil, err
	}
	raw, err := s.keys.Open(k.Sealed, "apikey:"+accountID)
	if err != nil {
		return "", nil, fmt.Errorf("open api key of %s: %w", accountID, err)
	}
	c, err := s.store.CredentialByAccount(ctx, accountID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return string(raw), nil, nil
	case err != nil:
		return "", nil, err
	}
	pw, err := s.password(c)
	if err != nil {
		return "", nil, err
	}
	return string(raw), &Credentials{UserID: c.UserID, Password: pw}, nil
}

// AuthenticateConsole checks a console user's password (argon2id). Unknown
// users take the same time.
func (s *Service) AuthenticateConsole(ctx context.Context, accountID, email, password string) (storage.ConsoleUser, error) {
	u, err := s.store.GetConsoleUser(ctx, accountID, strings.ToLower(email))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.ConsoleUser{}, err
	}
	hash := u.PasswordHash
	if err != nil {
		hash = secret.DummyHumanHash
	}
	if !secret.CheckHumanPassword(hash, password) || err != nil {
		return storage.ConsoleUser{}, ErrBadCredentials
	}
	return u, nil
}

// ConsoleUser returns the stored console user of an account, so that the
// console can check on every request that a session's user still exists
// unchanged (not deleted, re-created or given a new password).
func (s *Service) ConsoleUser(ctx context.Context, accountID, email string) (storage.ConsoleUser, error) {
	return s.store.GetConsoleUser(ctx, accountID, strings.ToLower(email))
}

// AccountOfUser returns the account whose v2 user ID is userID
// (storage.ErrNotFound when none), for audit entries of login failures.
func (s *Service) AccountOfUser(ctx context.Context, userID string) (string, error) {
	c, err := s.store.CredentialByUserID(ctx, userID)
	return c.AccountID, err
}
