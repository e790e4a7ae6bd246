package ccs

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"time"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/wire"
)

// MaxDocumentChars bounds a namespace or session document, in characters
// of its compact JSON object (SPEC §5).
const MaxDocumentChars = 800_000

// MaxTTLSeconds bounds a TTL (100 years), so that expiries stay far from
// overflowing.
const MaxTTLSeconds = 100 * 365 * 24 * 3600

// Paging bounds of the v1 session listings.
const (
	DefaultPerPage = 100
	MaxPerPage     = 1000
)

// MaxSelect bounds the property names one read may select.
const MaxSelect = 1000

// DefaultV2TTL is the months a v2 write lives without ttlSeconds.
const DefaultV2TTL = 13 // months

// Default per-account storage quota (SPEC §5, README "Context Service").
const (
	DefaultMaxProperties = 100_000
	DefaultMaxBytes      = 256 << 20 // 256 MiB
)

// Config configures a Service.
type Config struct {
	// Now is the clock (nil: time.Now). Expiry is counted with it.
	Now func() time.Time
	// Log receives purge failures (nil: slog.Default()).
	Log *slog.Logger
	// PurgeEvery is the pause between purges once nothing is left to
	// purge (default 10 s); PurgeBatch the properties deleted per write
	// transaction (default 1000).
	PurgeEvery time.Duration
	PurgeBatch int
	// DocumentCacheBytes bounds the cache of recently read documents
	// (0: DefaultDocumentCacheBytes; negative: no cache). Turn it off
	// when other processes write to the same store.
	DocumentCacheBytes int
	// MaxProperties and MaxBytes are the per-account storage quota: the
	// properties an account may store, and the bytes of its namespaces,
	// sessions and properties as storage.ContextUsage counts them. 0:
	// DefaultMaxProperties, DefaultMaxBytes; negative: no bound. A write
	// that would go over answers 413 "account storage quota exceeded"
	// and saves nothing.
	//
	// Security: without a quota one tenant can fill the disk that every
	// tenant shares (security review finding 3).
	MaxProperties int64
	MaxBytes      int64
	// MaxRetention is the longest a property is kept after its last
	// write, whatever its TTL (SPEC §5, --max-retention); zero: no cap.
	// Run first brings the properties stored before it under it.
	MaxRetention storage.Retention
	// OnPurge, when set, is told of each purge run of Run and of the
	// expired properties it deleted (for the metrics).
	OnPurge func(rows int)
}

// CapBatch is the properties CapRetention looks at per transaction, so
// that the writes queued behind one wait little: on SQLite about 10 ms a
// batch (300,000 properties in 1.5 s).
const CapBatch = 2000

// Service is the Conversation Context Service. It validates names,
// applies TTLs and the document size limit, and keeps expired data out of
// every answer. It is safe for concurrent use.
type Service struct {
	store storage.ContextStore
	now   func() time.Time
	log   *slog.Logger
	every time.Duration
	batch int
	docs  *docCache // nil: off
	quota storage.ContextQuota
	keep  storage.Retention
	// onPurge is Config.OnPurge.
	onPurge func(rows int)
}

// New returns a service over store. It purges nothing until Run.
func New(store storage.ContextStore, cfg Config) *Service {
	s := &Service{store: store, now: cfg.Now, log: cfg.Log, every: cfg.PurgeEvery, batch: cfg.PurgeBatch, keep: cfg.MaxRetention, onPurge: cfg.OnPurge}
	switch {
	case cfg.DocumentCacheBytes == 0:
		s.docs = newDocCache(DefaultDocumentCacheBytes)
	case cfg.DocumentCacheBytes > 0:
		s.docs = newDocCache(cfg.DocumentCacheBytes)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.every <= 0 {
		s.every = 10 * time.Second
	}
	if s.batch <= 0 {
		s.batch = 1000
	}
	s.quota.MaxProperties = quotaBound(cfg.MaxProperties, DefaultMaxProperties)
	s.quota.MaxBytes = quotaBound(cfg.MaxBytes, DefaultMaxBytes)
	return s
}

// quotaBound is v, def when 0, none (0 for the store) when negative.
func quotaBound(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Quota returns the per-account storage quota in force (0: no bound).
func (s *Service) Quota() storage.ContextQuota { return s.quota }

// Usage returns what the account stores, as the quota counts it.
func (s *Service) Usage(ctx context.Context, accountID string) (storage.ContextUsage, error) {
	return s.store.ContextUsage(ctx, accountID)
}

// Run purges expired properties in the background until ctx is done.
// Each batch is one short write transaction; reads never wait for it, and
// they filter expired data themselves, so the purge only reclaims space.
// With a retention cap it first caps what was stored before
// (CapRetention).
func (s *Service) Run(ctx context.Context) {
	if !s.keep.IsZero() {
		until := s.keep.Until(s.now())
		n, err := s.CapRetention(ctx, until)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("ccs: cap stored expiries to the retention", "err", err, "capped", n)
		case n > 0:
			s.log.Info("ccs: capped stored expiries to the retention", "capped", n, "until", until.UTC())
		}
	}
	t := time.NewTimer(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		total := 0
		for ctx.Err() == nil {
			n, err := s.Purge(ctx)
			total += n
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("ccs: purge expired properties", "err", err)
				}
				break
			}
			if n < s.batch {
				break
			}
		}
		if s.onPurge != nil {
			s.onPurge(total)
		}
		t.Reset(s.every)
	}
}

// CapRetention sets the expiry of every stored property that never
// expires, or expires after until, to until, in batches of CapBatch (one
// short transaction each, so that a large store is not stalled), and
// returns how many it changed. Run calls it at start with the start time
// plus the retention: the time of the last write of a property stored
// before the cap took effect is not known, so its retention runs from
// when the cap took effect.
func (s *Service) CapRetention(ctx context.Context, until time.Time) (int, error) {
	var (
		from  storage.ContextPosition
		total int
	)
	for {
		next, n, err := s.store.CapContextExpiry(ctx, until, from, CapBatch)
		if err != nil {
			return total, err
		}
		total += n
		if n > 0 && s.docs != nil {
			// Cached copies carry the old expiries.
			s.docs.invalidateWhere(func(storage.ContextKey) bool { return true })
		}
		if next == (storage.ContextPosition{}) {
			return total, nil
		}
		from = next
	}
}

// Purge deletes one batch of expired properties and returns how many.
func (s *Service) Purge(ctx context.Context) (int, error) {
	return s.store.PurgeContext(ctx, s.now(), s.batch)
}

// Key names a document: an account's namespace and session. An empty
// SessionID means wire.DefaultSession.
type Key struct {
	AccountID string
	Namespace string
	SessionID string
}

func (k Key) storage() storage.ContextKey {
	sid := k.SessionID
	if sid == "" {
		sid = wire.DefaultSession
	}
	return storage.ContextKey{AccountID: k.AccountID, Namespace: k.Namespace, SessionID: sid}
}

// Namespace is a namespace as the v1 listing shows it.
type Namespace struct {
	Name      string
	CreatedAt time.Time
	// TTLSeconds is nil when no TTL was set.
	TTLSeconds *int64
}

// Session is a session as the v1 listing shows it.
type Session struct {
	ID        string
	CreatedAt time.Time
	// TTLSeconds is the TTL that applies to the session's writes: its
	// own, else its namespace's, else 0 (forever).
	TTLSeconds int64
}

// Document is the live content of one session document.
type Document struct {
	Properties []storage.ContextProperty // ordered by name
	// Expires is when the last of its properties expires; zero when one
	// never expires (only without a retention cap) or there are none.
	Expires time.Time
}

// CheckTTL validates a TTL in seconds (0 = forever).
func CheckTTL(field string, sec int64) error {
	if sec < 0 || sec > MaxTTLSeconds {
		return fault.Invalid("%s: must be an integer from 0 (forever) to %d", field, MaxTTLSeconds)
	}
	return nil
}

func (s *Service) checkKey(k Key, write bool) error {
	var err error
	if write {
		err = CheckWritable("namespace", k.Namespace)
	} else {
		err = CheckNamespace("namespace", k.Namespace)
	}
	if err != nil {
		return err
	}
	if k.SessionID != "" {
		return CheckName("sessionId", k.SessionID)
	}
	return nil
}

// PutNamespace creates a namespace, or sets its TTL (when ttlSeconds is
// not nil); it is idempotent.
func (s *Service) PutNamespace(ctx context.Context, accountID, name string, ttlSeconds *int64) error {
	if err := CheckWritable("name", name); err != nil {
		return err
	}
	n := storage.ContextNamespace{Name: name, CreatedAt: s.now()}
	if ttlSeconds != nil {
		if err := CheckTTL("ttlSecond", *ttlSeconds); err != nil {
			return err
		}
		n.TTL, n.HasTTL = time.Duration(*ttlSeconds)*time.Second, true
	}
	return s.store.PutNamespace(ctx, accountID, n, s.quota) // storage.ErrQuotaExceeded is a 413 fault
}

// Namespaces lists the account's namespaces.
func (s *Service) Namespaces(ctx context.Context, accountID string) ([]Namespace, error) {
	list, err := s.store.ListNamespaces(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]Namespace, len(list))
	for i, n := range list {
		out[i] = Namespace{Name: n.Name, CreatedAt: n.CreatedAt}
		if n.HasTTL {
			sec := int64(n.TTL / time.Second)
			out[i].TTLSeconds = &sec
		}
	}
	return out, nil
}

// DeleteNamespace deletes a namespace with its sessions, properties and
// TTLs; deleting a missing one is not an error.
func (s *Service) DeleteNamespace(ctx context.Context, accountID, name string) error {
	if err := CheckWritable("namespace", name); err != nil {
		return err
	}
	err := s.store.DeleteNamespace(ctx, accountID, name)
	if s.docs != nil {
		s.docs.invalidateWhere(func(k storage.ContextKey) bool { return k.AccountID == accountID && k.Namespace == name })
	}
	return err
}

// ForgetAccount drops what the service remembers of an account's
// documents; the composition root calls it when an account is deleted.
func (s *Service) ForgetAccount(accountID string) {
	if s.docs != nil {
		s.docs.invalidateWhere(func(k storage.ContextKey) bool { return k.AccountID == accountID })
	}
}

// written forgets the cached copy of a document after a write to it,
// whether or not the write succeeded.
func (s *Service) written(k storage.ContextKey) {
	if s.docs != nil {
		s.docs.invalidate(k)
	}
}

// PutSession creates a session, or sets its TTL (when ttlSeconds is not
// nil), which wins over the namespace's for later writes.
func (s *Service) PutSession(ctx context.Context, k Key, ttlSeconds *int64) error {
	if err := CheckWritable("namespace", k.Namespace); err != nil {
		return err
	}
	if err := CheckName("sessionId", k.SessionID); err != nil {
		return err
	}
	cs := storage.ContextSession{ID: k.SessionID, CreatedAt: s.now()}
	if ttlSeconds != nil {
		if err := CheckTTL("ttlSecond", *ttlSeconds); err != nil {
			return err
		}
		cs.TTL, cs.HasTTL = time.Duration(*ttlSeconds)*time.Second, true
	}
	err := s.store.PutSession(ctx, k.storage(), cs, s.quota)
	s.written(k.storage())
	return err // storage.ErrTooLarge, ErrQuotaExceeded: 413 faults
}

// Sessions lists the sessions of a namespace that have a TTL or live
// properties.
func (s *Service) Sessions(ctx context.Context, accountID, namespace string) ([]Session, error) {
	if err := CheckNamespace("namespace", namespace); err != nil {
		return nil, err
	}
	var nsTTL int64
	n, err := s.store.GetNamespace(ctx, accountID, namespace)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return []Session{}, nil
	case err != nil:
		return nil, err
	case n.HasTTL:
		nsTTL = int64(n.TTL / time.Second)
	}
	list, err := s.store.ListSessions(ctx, accountID, namespace, s.now())
	if err != nil {
		return nil, err
	}
	out := make([]Session, len(list))
	for i, cs := range list {
		out[i] = Session{ID: cs.ID, CreatedAt: cs.CreatedAt, TTLSeconds: nsTTL}
		if cs.HasTTL {
			out[i].TTLSeconds = int64(cs.TTL / time.Second)
		}
	}
	return out, nil
}

// DeleteSession deletes a session's properties and its TTL.
func (s *Service) DeleteSession(ctx context.Context, k Key) error {
	if err := s.checkKey(k, true); err != nil {
		return err
	}
	err := s.store.DeleteSession(ctx, k.storage())
	s.written(k.storage())
	return err
}

// Merge merges a JSON object into a document (v1 PATCH). Written
// properties expire after the session's TTL, else the namespace's, at
// the latest after the retention.
func (s *Service) Merge(ctx context.Context, k Key, object []byte) error {
	if err := s.checkKey(k, true); err != nil {
		return err
	}
	props, err := parseObject("request body", object)
	if err != nil {
		return err
	}
	return s.merge(ctx, k, props, 0, false)
}

// Upsert merges a JSON object into a document (v2 create). Written
// properties expire ttlSeconds after now; nil means 13 months, 0 never;
// at the latest after the retention.
func (s *Service) Upsert(ctx context.Context, k Key, payload []byte, ttlSeconds *int64) error {
	if err := s.checkKey(k, true); err != nil {
		return err
	}
	now := s.now()
	ttl := now.AddDate(0, DefaultV2TTL, 0).Sub(now)
	if ttlSeconds != nil {
		if err := CheckTTL("ttlSeconds", *ttlSeconds); err != nil {
			return err
		}
		ttl = time.Duration(*ttlSeconds) * time.Second
	}
	props, err := parseObject("payload", payload)
	if err != nil {
		return err
	}
	return s.mergeAt(ctx, k, props, ttl, true, now)
}

// Put writes one property (v1 PUT); value is any JSON value.
func (s *Service) Put(ctx context.Context, k Key, name string, value []byte) error {
	if err := s.checkKey(k, true); err != nil {
		return err
	}
	if err := CheckName("property name", name); err != nil {
		return err
	}
	v, err := parseValue(value)
	if err != nil {
		return err
	}
	return s.merge(ctx, k, []storage.ContextProperty{{Name: name, Value: v}}, 0, false)
}

func (s *Service) merge(ctx context.Context, k Key, props []storage.ContextProperty, ttl time.Duration, hasTTL bool) error {
	return s.mergeAt(ctx, k, props, ttl, hasTTL, s.now())
}

func (s *Service) mergeAt(ctx context.Context, k Key, props []storage.ContextProperty, ttl time.Duration, hasTTL bool, now time.Time) error {
	err := s.store.MergeProperties(ctx, storage.ContextMerge{
		Key: k.storage(), Properties: props, TTL: ttl, HasTTL: hasTTL, Now: now, MaxChars: MaxDocumentChars, Quota: s.quota,
		MaxRetention: s.keep,
	})
	s.written(k.storage())
	return err // storage.ErrTooLarge, ErrQuotaExceeded: 413 faults
}

// Get returns the live properties of a document; only those named when
// names is not nil.
func (s *Service) Get(ctx context.Context, k Key, names []string) (Document, error) {
	if err := s.checkKey(k, false); err != nil {
		return Document{}, err
	}
	if len(names) > MaxSelect {
		return Document{}, fault.Invalid("at most %d property names may be selected", MaxSelect)
	}
	props, err := s.properties(ctx, k.storage(), names, s.now())
	if err != nil {
		return Document{}, err
	}
	d := Document{Properties: props}
	for _, p := range props {
		if p.ExpiresAt.IsZero() {
			d.Expires = time.Time{}
			break
		}
		if p.ExpiresAt.After(d.Expires) {
			d.Expires = p.ExpiresAt
		}
	}
	return d, nil
}

// NamespaceExists reports whether the namespace exists (for the v2
// namespace-level document, which is 404 only when it does not).
func (s *Service) NamespaceExists(ctx context.Context, accountID, namespace string) (bool, error) {
	if err := CheckNamespace("namespace", namespace); err != nil {
		return false, err
	}
	_, err := s.store.GetNamespace(ctx, accountID, namespace)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Property returns the value of one live property, or a not-found fault.
func (s *Service) Property(ctx context.Context, k Key, name string) ([]byte, error) {
	if err := s.checkKey(k, false); err != nil {
		return nil, err
	}
	if err := CheckName("property name", name); err != nil {
		return nil, err
	}
	props, err := s.properties(ctx, k.storage(), []string{name}, s.now())
	if err != nil {
		return nil, err
	}
	if len(props) == 0 {
		return nil, fault.NotFound("property %q not found", name)
	}
	return props[0].Value, nil
}

// DeleteProperties deletes the named properties, or all of the document's
// when names is nil; the session's TTL stays. Idempotent.
func (s *Service) DeleteProperties(ctx context.Context, k Key, names []string) error {
	if err := s.checkKey(k, true); err != nil {
		return err
	}
	for _, n := range names {
		if err := CheckName("property name", n); err != nil {
			return err
		}
	}
	err := s.store.DeleteProperties(ctx, k.storage(), names)
	s.written(k.storage())
	return err
}

// properties returns the live properties of a document at now (only those
// named when names is not nil), from the document cache when it is on.
// The result must not be modified.
func (s *Service) properties(ctx context.Context, k storage.ContextKey, names []string, now time.Time) ([]storage.ContextProperty, error) {
	if s.docs == nil {
		return s.store.GetProperties(ctx, k, names, now)
	}
	if names != nil && len(names) == 0 {
		return []storage.ContextProperty{}, nil
	}
	doc, ok := s.docs.c.GetIfPresent(k)
	if ok && doc.serves(names) {
		return doc.live(names, now), nil
	}
	epoch := s.docs.begin(k)
	if len(names) == 1 && !ok {
		// One property of a document the cache does not know: read and
		// cache that property alone, expired or not (see cachedDoc).
		props, err := s.store.GetProperties(ctx, k, names, time.Time{})
		if err != nil {
			return nil, err
		}
		doc := newSingleProperty(names[0], props)
		s.docs.add(k, epoch, doc)
		return doc.live(names, now), nil
	}
	// Read the whole document, expired properties included, so that the
	// cached copy serves every later clock and selection.
	props, err := s.store.GetProperties(ctx, k, nil, time.Time{})
	if err != nil {
		return nil, err
	}
	doc = newCachedDoc(props)
	s.docs.add(k, epoch, doc)
	return doc.live(names, now), nil
}

// CheckPage validates v1 paging: page ≥ 0, perPage 1 to 1000.
func CheckPage(page, perPage int) error {
	if page < 0 {
		return fault.Invalid("page: must be 0 or more")
	}
	if perPage < 1 || perPage > MaxPerPage {
		return fault.Invalid("perPage: must be from 1 to %d", MaxPerPage)
	}
	return nil
}

// Documents pages through the sessions of a namespace that have live
// properties; with their properties when withProperties.
func (s *Service) Documents(ctx context.Context, accountID, namespace string, page, perPage int, withProperties bool) ([]storage.ContextDocument, error) {
	if err := CheckNamespace("namespace", namespace); err != nil {
		return nil, err
	}
	if err := CheckPage(page, perPage); err != nil {
		return nil, err
	}
	if page > (math.MaxInt32-1)/perPage {
		return []storage.ContextDocument{}, nil // past any real end
	}
	return s.store.ListDocuments(ctx, accountID, namespace, s.now(), page*perPage, perPage, withProperties)
}
