package tokens

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"
	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage"
	"golang.org/x/sync/singleflight"
)

// Config configures a Service.
type Config struct {
	Issuer string        // iss: the public URL
	Zone   string        // zone claim
	TTL    time.Duration // token lifetime
	Alg    string        // algorithm of newly generated keys (default RS256)
	Now    func() time.Time

	// Restart says that the store was in use before this start. New then
	// logs at WARN to Log (nil: slog.Default()) when the store holds no
	// signing key and it generates one: the earlier keys were deleted,
	// and no token they signed verifies any more.
	Restart bool
	Log     *slog.Logger

	// MinRotationDelay is the shortest time a rotated key is published
	// before it signs, whatever Rotate is asked: with a store shared by
	// several nodes, each node learns the key at its next reload, and
	// none may sign with it before every node publishes it (SPEC §9).
	// Set it above the nodes' reload interval. 0: none (one process).
	MinRotationDelay time.Duration
}

// CredentialSource gives the current credential of a user ID, with the
// jtis its account revoked one by one (Credential.RevokedJTIs), for
// revocation checks. It is called on every verification: it must answer
// from memory, not the store.
type CredentialSource interface {
	Credential(ctx context.Context, userID string) (storage.Credential, error)
}

// Service issues and verifies tokens.
type Service struct {
	cfg   Config
	store storage.SigningKeys
	keys  *secret.Keys
	creds CredentialSource

	state  atomic.Pointer[keyState]
	reload singleflight.Group
	mu     sync.Mutex // serialises Rotate

	// unknownKIDs remembers kids that a reload did not find, and
	// lastUnknownReload (unix nanoseconds of cfg.Now) when a token with an
	// unknown kid last caused a reload: forged tokens with made-up kids
	// cost a map lookup, not a store read per token (security review
	// 2026-12, finding 14).
	unknownKIDs       *otter.Cache[string, time.Time]
	lastUnknownReload atomic.Int64

	// verified remembers tokens whose signature and claims were checked,
	// keyed by a hash of the token (never the token), until they expire.
	// Revocation is still checked on every use.
	verified *otter.Cache[[32]byte, *Claims]
	parser   *jwt.Parser
}

type keyState struct {
	byKID  map[string]*signingKey
	signer *signingKey
	jwks   []byte
	next   time.Time // when the state must be recomputed (a key starts signing)
}

// Bounds on tokens with a kid this node does not know. A key rotated in
// by another node is in the store before any token it signs exists, so it
// is found by the first reload after it was added: within
// unknownKIDReloadEvery.
const (
	// unknownKIDReloadEvery is the least time between two reloads caused
	// by unknown kids.
	unknownKIDReloadEvery = 2 * time.Second
	// unknownKIDMemory is how long a kid that a reload did not find is
	// refused without another reload; unknownKIDMax bounds how many are
	// remembered.
	unknownKIDMemory = 5 * time.Second
	unknownKIDMax    = 1024
)

// Errors of verification. ErrInvalid wraps the reason.
var (
	ErrInvalid = errors.New("invalid token")
	ErrRevoked = errors.New("token revoked")
)

// New loads the signing keys from store, generating the first one when
// there is none.
func New(ctx context.Context, store storage.SigningKeys, keys *secret.Keys, creds CredentialSource, cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Alg == "" {
		cfg.Alg = RS256
	}
	if !ValidAlg(cfg.Alg) {
		return nil, fmt.Errorf("tokens: unsupported signing algorithm %q", cfg.Alg)
	}
	if cfg.TTL <= 0 {
		return nil, errors.New("tokens: TTL must be positive")
	}
	s := &Service{cfg: cfg, store: store, keys: keys, creds: creds}
	s.unknownKIDs = otter.Must(&otter.Options[string, time.Time]{MaximumSize: unknownKIDMax})
	s.verified = otter.Must(&otter.Options[[32]byte, *Claims]{
		MaximumSize:      100_000,
		ExpiryCalculator: otter.ExpiryCreating[[32]byte, *Claims](cfg.TTL),
		StatsRecorder:    stats.NewCounter(),
	})
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{RS256, ES256, EdDSA}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(cfg.Now),
	)
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	if s.state.Load().signer == nil || s.state.Load().signer.rec.Alg != cfg.Alg {
		if len(s.state.Load().byKID) == 0 && cfg.Restart {
			log := cfg.Log
			if log == nil {
				log = slog.Default()
			}
			log.Warn("the store holds no signing key: generating one; every token signed before no longer verifies", "alg", cfg.Alg)
		}
		now := cfg.Now().UTC().Truncate(time.Millisecond)
		rec, err := newKeyRecord(keys, cfg.Alg, now, now)
		if err != nil {
			return nil, err
		}
		if err := store.AddSigningKey(ctx, rec); err != nil {
			return nil, err
		}
		if err := s.Reload(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// keepAfterRetired is how long a key stays published (and verifies) after
// a later key started signing: as long as the longest-lived token it may
// have signed, the console's 24 h testing token included, plus a minute
// of clock skew. Deleting it after --token-ttl alone made testing tokens
// die early (security review 2026-12, finding 9).
func (s *Service) keepAfterRetired() time.Duration {
	return max(s.cfg.TTL, TestTokenTTL) + time.Minute
}

// Reload reads the signing keys from the store: the newest key whose
// SignsFrom has come signs; every key that may still verify a live token
// is published; keys retired longer ago than keepAfterRetired are deleted.
// Keys already loaded are reused, so only new keys are decrypted and
// parsed.
func (s *Service) Reload(ctx context.Context) error {
	_, err, _ := s.reload.Do("", func() (any, error) {
		recs, err := s.store.ListSigningKeys(ctx)
		if err != nil {
			return nil, err
		}
		now := s.cfg.Now()
		st := &keyState{byKID: map[string]*signingKey{}}
		var prev map[string]*signingKey
		if old := s.state.Load(); old != nil {
			prev = old.byKID
		}
		var loaded []*signingKey
		for _, rec := range recs { // oldest SignsFrom first
			k := prev[rec.KID]
			if k == nil || !k.sameRecord(rec) {
				if k, err = loadKey(s.keys, rec); err != nil {
					return nil, err
				}
			}
			loaded = append(loaded, k)
		}
		var published []*signingKey
		for i, k := range loaded {
			if !k.rec.SignsFrom.After(now) {
				st.signer = k
			} else if st.next.IsZero() || k.rec.SignsFrom.Before(st.next) {
				st.next = k.rec.SignsFrom
			}
			// Retired when a later key started signing; verifiable until
			// the last token it signed expires.
			if i+1 < len(loaded) {
				retired := loaded[i+1].rec.SignsFrom
				if !retired.After(now) && now.Sub(retired) > s.keepAfterRetired() {
					if err := s.store.DeleteSigningKey(ctx, k.rec.KID); err != nil && !errors.Is(err, storage.ErrNotFound) {
						return nil, err
					}
					continue
				}
			}
			st.byKID[k.rec.KID] = k
			published = append(published, k)
		}
		if st.jwks, err = jwks(published); err != nil {
			return nil, err
		}
		s.state.Store(st)
		return nil, nil
	})
	return err
}

func (s *Service) current(ctx context.Context) *keyState {
	st := s.state.Load()
	if !st.next.IsZero() && !s.cfg.Now().Before(st.next) {
		if err := s.Reload(ctx); err == nil {
			st = s.state.Load()
		}
	}
	return st
}

// JWKS returns the RFC 7517 key set of every key that can verify a live
// token, including a rotated key that does not sign yet.
func (s *Service) JWKS(ctx context.Context) []byte { return s.current(ctx).jwks }

// Rotate adds a new signing key that is published at once and starts
// signing after delay (at least Config.MinRotationDelay), so verifiers
// that cache the JWKS, and the other nodes, learn it first.
func (s *Service) Rotate(ctx context.Context, delay time.Duration) (storage.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	delay = max(delay, s.cfg.MinRotationDelay)
	rec, err := newKeyRecord(s.keys, s.cfg.Alg, now, now.Add(delay))
	if err != nil {
		return storage.SigningKey{}, err
	}
	if err := s.store.AddSigningKey(ctx, rec); err != nil {
		return storage.SigningKey{}, err
	}
	rec.Private = nil
	return rec, s.Reload(ctx)
}

// TTL returns the token lifetime.
func (s *Service) TTL() time.Duration { return s.cfg.TTL }

// Issued is a freshly issued token.
type Issued struct {
	Token     string
	ExpiresIn time.Duration
	Claims    *Claims
}

// Issue signs a token for a credential, valid for the configured
// lifetime. use is UseAccess or UseTest.
func (s *Service) Issue(ctx context.Context, c storage.Credential, use string) (Issued, error) {
	return s.issue(ctx, c, use, s.cfg.TTL)
}

// issue signs a token for a credential, valid for ttl. It is the one
// place that builds the claims of SPEC §3, for Issue and IssueTest alike.
func (s *Service) issue(ctx context.Context, c storage.Credential, use string, ttl time.Duration) (Issued, error) {
	st := s.current(ctx)
	if st.signer == nil {
		return Issued{}, errors.New("tokens: no signing key")
	}
	now := s.cfg.Now()
	// The jti is a UUIDv7 whose timestamp is the issue time in
	// milliseconds; revocation compares it with the credential's
	// watermarks, so a token issued after a regeneration is always newer
	// than them, even within the same millisecond.
	issuedMs := max(now.UnixMilli(), c.Revocation.NewestMs()+1)
	id, err := uuid.NewV7()
	if err != nil {
		return Issued{}, err
	}
	putMillis(&id, issuedMs)
	cl := &Claims{
		Issuer: s.cfg.Issuer, Subject: c.UserID, Audience: Audience, ClientID: c.UserID,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), ExpiresAt: now.Add(ttl).Unix(),
		ID: id.String(), Zone: s.cfg.Zone, TokenUse: use, Name: c.AccountID, Profile: profileJSON(c.AccountID),
	}
	t := jwt.NewWithClaims(st.signer.method, cl)
	t.Header["kid"] = st.signer.rec.KID
	t.Header["typ"] = "JWT"
	signed, err := t.SignedString(st.signer.priv)
	if err != nil {
		return Issued{}, err
	}
	return Issued{Token: signed, ExpiresIn: ttl, Claims: cl}, nil
}

func putMillis(id *uuid.UUID, ms int64) {
	for i := 0; i < 6; i++ {
		id[5-i] = byte(ms >> (8 * i))
	}
}

func jtiMillis(jti string) (int64, bool) {
	id, err := uuid.Parse(jti)
	if err != nil || id.Version() != 7 {
		return 0, false
	}
	var ms int64
	for i := 0; i < 6; i++ {
		ms = ms<<8 | int64(id[i])
	}
	return ms, true
}

// Verify checks a token and returns its claims: signature by a published
// key, issuer, audience, zone, lifetime, token use, and that the
// credential it was issued for still exists and was not regenerated since.
func (s *Service) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > 8192 {
		return nil, fmt.Errorf("%w: too long", ErrInvalid)
	}
	key := sha256.Sum256([]byte(raw))
	cl, ok := s.verified.GetIfPresent(key)
	if ok {
		// Still check lifetime: the cache entry may outlive exp by the
		// TTL rounding.
		if s.cfg.Now().Unix() >= cl.ExpiresAt {
			s.verified.Invalidate(key)
			return nil, fmt.Errorf("%w: expired", ErrInvalid)
		}
	} else {
		var err error
		if cl, err = s.parse(ctx, raw); err != nil {
			return nil, err
		}
		if cl.ExpiresAt > s.cfg.Now().Unix() {
			s.verified.Set(key, cl)
		}
	}
	if err := s.checkRevoked(ctx, cl); err != nil {
		return nil, err
	}
	return cl, nil
}

func (s *Service) parse(ctx context.Context, raw string) (*Claims, error) {
	cl := &Claims{}
	_, err := s.parser.ParseWithClaims(raw, cl, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k := s.current(ctx).byKID[kid]
		if k == nil {
			var err error
			if k, err = s.unknownKID(ctx, kid); err != nil {
				return nil, err
			}
		}
		if t.Method.Alg() != k.rec.Alg {
			return nil, errors.New("algorithm does not match key")
		}
		return k.priv.Public(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	switch {
	case cl.Zone != s.cfg.Zone:
		return nil, fmt.Errorf("%w: issued for zone %q", ErrInvalid, cl.Zone)
	case cl.TokenUse != UseAccess && cl.TokenUse != UseTest:
		return nil, fmt.Errorf("%w: token_use %q", ErrInvalid, cl.TokenUse)
	case cl.Subject == "" || cl.Name == "" || cl.NotBefore == 0:
		return nil, fmt.Errorf("%w: missing claims", ErrInvalid)
	}
	return cl, nil
}

var errUnknownKID = errors.New("unknown key id")

// unknownKID looks for a key this node has not loaded: one rotated in by
// another node. Tokens with made-up kids are cheap to forge, so a kid is
// looked up in the store at most once per unknownKIDMemory, and unknown
// kids cause at most one reload per unknownKIDReloadEvery; other tokens
// with unknown kids in between are refused without touching the store.
func (s *Service) unknownKID(ctx context.Context, kid string) (*signingKey, error) {
	now := s.cfg.Now()
	if seen, ok := s.unknownKIDs.GetIfPresent(kid); ok && now.Sub(seen) < unknownKIDMemory && !now.Before(seen) {
		return nil, errUnknownKID
	}
	last := s.lastUnknownReload.Load()
	if elapsed := now.UnixNano() - last; last != 0 && elapsed >= 0 && elapsed < int64(unknownKIDReloadEvery) {
		// Another reload happened just now; if it did not bring this
		// kid, reloading again would not either (until the next one).
		if k := s.state.Load().byKID[kid]; k != nil {
			return k, nil
		}
		return nil, errUnknownKID
	}
	if !s.lastUnknownReload.CompareAndSwap(last, now.UnixNano()) {
		// Another token takes this turn.
		if k := s.state.Load().byKID[kid]; k != nil {
			return k, nil
		}
		return nil, errUnknownKID
	}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	if k := s.state.Load().byKID[kid]; k != nil {
		return k, nil
	}
	s.unknownKIDs.Set(kid, now)
	return nil, errUnknownKID
}

func (s *Service) checkRevoked(ctx context.Context, cl *Claims) error {
	c, err := s.creds.Credential(ctx, cl.Subject)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: credential no longer exists", ErrRevoked)
	}
	if err != nil {
		return err
	}
	if c.AccountID != cl.Name {
		return fmt.Errorf("%w: credential belongs to another account", ErrRevoked)
	}
	issued, ok := jtiMillis(cl.ID)
	if !ok {
		return fmt.Errorf("%w: malformed jti", ErrInvalid)
	}
	if c.Revocation.Kills(issued, s.cfg.Now()) {
		return fmt.Errorf("%w: credentials were regenerated", ErrRevoked)
	}
	if _, ok := c.RevokedJTIs[cl.ID]; ok {
		return fmt.Errorf("%w: token was revoked", ErrRevoked)
	}
	return nil
}

// DiesAt returns the instant from which the token of cl is refused under
// r when that is before its exp: a password regeneration whose grace is
// still running (Revocation.PendingAt) and covers the token's issue
// time. ok is false when r does not cut the token's life short. An
// introspection reports it as the token's exp (RFC 7662 §2.2), so that a
// resource server caching the answer until exp does not outlive the
// grace.
func DiesAt(cl *Claims, r storage.Revocation) (at time.Time, ok bool) {
	issued, valid := jtiMillis(cl.ID)
	if !valid || r.PendingAt.IsZero() || issued > r.PendingBeforeMs {
		return time.Time{}, false
	}
	if !r.PendingAt.Before(time.Unix(cl.ExpiresAt, 0)) {
		return time.Time{}, false
	}
	return r.PendingAt, true
}

// CacheStats returns the hits, misses and evictions of the cache of
// verified tokens, for the metrics.
func (s *Service) CacheStats() stats.Stats { return s.verified.Stats() }
