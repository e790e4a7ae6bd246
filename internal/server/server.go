package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2/stats"
	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/audit"
	"github.com/orchestrator/orchestrator/internal/buildinfo"
	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/clientaddr"
	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/console"
	"github.com/orchestrator/orchestrator/internal/datadir"
	"github.com/orchestrator/orchestrator/internal/httpapi"
	"github.com/orchestrator/orchestrator/internal/invalidation"
	"github.com/orchestrator/orchestrator/internal/metrics"
	"github.com/orchestrator/orchestrator/internal/nextactions"
	"github.com/orchestrator/orchestrator/internal/ratelimit"
	"github.com/orchestrator/orchestrator/internal/redisx"
	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/postgres"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
	"github.com/orchestrator/orchestrator/internal/tokens"
	"github.com/orchestrator/orchestrator/internal/tracing"
	"github.com/redis/rueidis"
	"go.opentelemetry.io/otel/attribute"
)

// Deps are what a Server takes from its caller besides configuration.
type Deps struct {
	Log *slog.Logger
	Now func() time.Time // nil: time.Now
	// Wrap, when set, wraps each handler the server serves: the public
	// one (admin false) and, when --admin-addr gives the operator API a
	// listener of its own, that one (admin true). End-to-end tests use it
	// to check every request and answer against the OpenAPI document
	// (servertest).
	Wrap func(h http.Handler, admin bool) http.Handler
}

// Server is one running zone.
type Server struct {
	cfg     config.Serve
	log     *slog.Logger
	store   storage.Store
	handler http.Handler
	wrap    func(http.Handler, bool) http.Handler // Deps.Wrap, for the admin handler
	bg      context.CancelFunc
	lock    *datadir.Lock  // of cfg.Data (nil with a shared store), released by Close
	zone    *zoneShared    // Redis (nil without --redis-url), closed by Close
	running sync.WaitGroup // background loops that use the store
	closing sync.Once
	closed  error

	tracer   *tracing.Tracer // nil: no span export; shut down by Close
	inflight atomic.Int64    // requests running (track)
	drain    time.Duration   // shutdown's wait for in-flight requests (0: drainTimeout)

	// AdminToken is the operator token in force.
	AdminToken string
	// AdminTokenFile is where it was written ("" when from the environment).
	AdminTokenFile string
	API            *httpapi.Server
	Accounts       *accounts.Service
	Tokens         *tokens.Service
	Metrics        *metrics.Metrics
	Audit          *audit.Recorder
}

// New builds a server from cfg: it creates <data> (0700) and locks it,
// and, on first start, creates the store, the secret key, a signing key
// and the admin token. It refuses a directory that another process
// holds, a store that is missing or empty beside the secrets of an
// earlier start, and a secret key that does not open the store.
func New(ctx context.Context, cfg config.Serve, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	// Every line logged while a request is handled names its trace.
	log = slog.New(tracing.LogHandler(log.Handler()))
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	if cfg.Shared() {
		// Nothing of a node lives in --data: the store is shared and the
		// secrets come from the environment (config checked both).
		s, err := newShared(ctx, cfg, log, now)
		if err != nil {
			return nil, err
		}
		s.wrapHandler(deps.Wrap)
		return s, nil
	}
	if err := datadir.Prepare(cfg.Data, log); err != nil {
		return nil, err
	}
	// Before anything else is created in <data>: of two processes started
	// together, the second must not write a secret key of its own.
	lock, err := datadir.Acquire(cfg.Data)
	if err != nil {
		return nil, err
	}
	s, err := newLocked(ctx, cfg, log, now)
	if err != nil {
		lock.Release()
		return nil, err
	}
	s.lock = lock
	s.wrapHandler(deps.Wrap)
	return s, nil
}

// wrapHandler applies Deps.Wrap to the public handler and keeps it for
// the operator listener's (ServeWithAdmin).
func (s *Server) wrapHandler(wrap func(http.Handler, bool) http.Handler) {
	if wrap == nil {
		return
	}
	s.wrap = wrap
	s.handler = wrap(s.handler, false)
}

// newLocked is New once <data> is locked.
func newLocked(ctx context.Context, cfg config.Serve, log *slog.Logger, now func() time.Time) (*Server, error) {
	dbPath := filepath.Join(cfg.Data, "orchestrator.db")
	keyPath := filepath.Join(cfg.Data, secret.KeyFile)
	restart, err := checkStore(ctx, cfg, dbPath, keyPath)
	if err != nil {
		return nil, err
	}
	datadir.WarnShared(keyPath, log)
	datadir.WarnShared(filepath.Join(cfg.Data, "admin.token"), log)
	keys, created, err := secret.LoadOrCreate(cfg.Data, cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("generated secret key", "file", keyPath)
	}
	adminToken, adminFile, err := adminToken(cfg, log)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg, dbPath, log)
	if err != nil {
		return nil, err
	}
	return build(ctx, cfg, log, now, wiring{store: store, keys: keys, restart: restart, where: dbPath,
		adminToken: adminToken, adminFile: adminFile, keySource: keySource(cfg, keyPath)})
}

// newShared is New on PostgreSQL.
func newShared(ctx context.Context, cfg config.Serve, log *slog.Logger, now func() time.Time) (*Server, error) {
	keys, _, err := secret.LoadOrCreate("", cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg, "", log)
	if err != nil {
		return nil, err
	}
	w := wiring{store: store, keys: keys, shared: true, where: postgres.Redacted(cfg.PostgresURL),
		adminToken: cfg.AdminToken, keySource: "ORCH_SECRET_KEY"}
	if cfg.RedisURL != "" {
		if w.zone, err = openZone(ctx, cfg, keys, log); err != nil {
			store.Close()
			return nil, err
		}
	}
	return build(ctx, cfg, log, now, w)
}

// zoneShared is what the nodes of a zone share through Redis: the
// per-account invalidation epochs and the client the limits and console
// sessions use.
type zoneShared struct {
	client rueidis.Client
	epochs invalidation.Epochs
	prefix string
	keys   *secret.Keys // seals console sessions

	mu       sync.Mutex
	limiters []*ratelimit.Redis
}

func openZone(ctx context.Context, cfg config.Serve, keys *secret.Keys, log *slog.Logger) (*zoneShared, error) {
	prefix := cfg.RedisKeyPrefix()
	client, err := redisx.Open(ctx, cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	epochs, err := invalidation.NewRedis(ctx, cfg.RedisURL, prefix+"inval:", invalidation.RedisOptions{Logger: log})
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	return &zoneShared{client: client, epochs: epochs, prefix: prefix, keys: keys}, nil
}

func (z *zoneShared) Close() error {
	err := z.epochs.Close()
	z.client.Close()
	return err
}

// limiter is a login-failure limiter of burst failures per window: in
// Redis, shared by the zone (falling back to this node's own while Redis
// does not answer), or this process's own.
func (z *zoneShared) limiter(name string, burst int, window time.Duration, now func() time.Time) ratelimit.Interface {
	if z == nil {
		return ratelimit.New(burst, window, 100_000, now)
	}
	// The budgets run on Redis's clock (nil), so nodes whose clocks
	// disagree share them.
	l := ratelimit.NewRedis(z.client, z.prefix+"limit:"+name+":", burst, window, 100_000, nil)
	z.mu.Lock()
	z.limiters = append(z.limiters, l)
	z.mu.Unlock()
	return l
}

// limitsStatus is nil while every shared limiter reaches Redis; it
// probes those that lost it (at most once per ratelimit.RedisRetry).
func (z *zoneShared) limitsStatus() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	var first error
	for _, l := range z.limiters {
		if err := l.Probe(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// openStore opens the one store cfg names: PostgreSQL when
// --postgres-url is set (shared by the zone's nodes), else the embedded
// SQLite store at dbPath. Everything past it sees only storage.Store.
func openStore(ctx context.Context, cfg config.Serve, dbPath string, log *slog.Logger) (storage.Store, error) {
	if cfg.Shared() {
		return postgres.Open(ctx, cfg.PostgresURL, postgres.Options{Migrate: !cfg.SkipMigrations, Log: log})
	}
	return sqlite.Open(ctx, dbPath)
}

// wiring is what build takes from New: the open store and the secrets.
type wiring struct {
	store                 storage.Store
	keys                  *secret.Keys
	restart               bool        // the store was in use before (SQLite)
	shared                bool        // other processes use the store (PostgreSQL)
	zone                  *zoneShared // Redis, nil without --redis-url
	where                 string      // the store, for the log (no password)
	adminToken, adminFile string
	keySource             string // where the secret key came from, for errors
}

// build wires the services around an open store; it closes the store
// when it fails.
func build(ctx context.Context, cfg config.Serve, log *slog.Logger, now func() time.Time, w wiring) (*Server, error) {
	store, keys := w.store, w.keys
	sunset, _ := cfg.Sunset()
	proxies, _ := cfg.Proxies()
	maxBytes, _ := cfg.AccountMaxBytesValue()
	retention, _ := cfg.Retention()
	clients := clientaddr.New(proxies)

	acc := accounts.New(store, keys, cfg.Zone, now)
	if w.shared {
		acc.SharedStore()
	}
	if w.zone != nil {
		acc.UseEpochs(w.zone.epochs)
	}
	tok, err := tokens.New(ctx, store, keys, acc, tokens.Config{
		Issuer: cfg.Issuer(), Zone: cfg.Zone, TTL: cfg.TokenTTL, Alg: cfg.SigningAlg, Now: now,
		Restart: w.restart, Log: log,
		MinRotationDelay: minRotationDelay(w.shared),
	})
	if err != nil {
		store.Close()
		if w.zone != nil {
			w.zone.Close()
		}
		if errors.Is(err, secret.ErrWrongKey) {
			return nil, fmt.Errorf("secret key does not match the store %s: its signing keys were sealed with another key; start with the %s that created it: %w", w.where, w.keySource, err)
		}
		return nil, err
	}
	var tracer *tracing.Tracer
	if cfg.OTLPEndpoint != "" {
		bi := buildinfo.Read()
		tracer, err = tracing.New(ctx, cfg.OTLPEndpoint, attribute.String("service.version", bi.String()), attribute.String("orchestrator.zone", cfg.Zone))
		if err != nil {
			store.Close()
			if w.zone != nil {
				w.zone.Close()
			}
			return nil, err
		}
		log.Info("exporting trace spans", "endpoint", cfg.OTLPEndpoint)
	}
	docCache := 0 // the default
	if w.shared {
		// Another node's write would not reach this process's cache:
		// read every document from the shared store.
		docCache = -1
	}
	m := metrics.New()
	if c, ok := store.(interface {
		OnCommit(func(writes int, took time.Duration))
	}); ok {
		c.OnCommit(m.Commit) // the embedded store's group commits
	}
	// Each limiter's decisions, by name.
	limiter := func(name string, burst int, window time.Duration) ratelimit.Interface {
		return ratelimit.Observe(w.zone.limiter(name, burst, window, now), m.Limit(name))
	}
	// The one writer of the audit log, for every entry point.
	rec := audit.New(store, audit.Config{Now: now, Log: log, WriteFailed: m.AuditWriteFailures.Inc, AccountOf: acc.AccountOfUser})
	bgCtx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, log: log, store: store, bg: cancel, zone: w.zone, tracer: tracer,
		AdminToken: w.adminToken, AdminTokenFile: w.adminFile, Accounts: acc, Tokens: tok, Metrics: m, Audit: rec,
	}
	contextSvc := ccs.New(store, ccs.Config{Now: now, Log: log, DocumentCacheBytes: docCache, MaxProperties: quota(cfg.AccountMaxProperties), MaxBytes: quota(maxBytes), MaxRetention: retention,
		OnPurge: func(n int) { m.Purge("expired_properties", n) }})
	policies := nextactions.New(store, nextactions.CCSVariables{CCS: contextSvc}, nextactions.Config{Now: now, Log: log,
		OnPurge: func(n int) { m.Purge("evaluation_logs", n) }})
	s.API = &httpapi.Server{
		Zone: cfg.Zone, Issuer: cfg.Issuer(), Accounts: acc, Tokens: tok, Metrics: m, Log: log, Now: now, Tracer: tracer,
		CCS: contextSvc, NextActions: policies,
		Ready:             store.Ready,
		AdminToken:        w.adminToken,
		AuthFailureStatus: cfg.AuthFailureStatus,
		V1Sunset:          sunset,
		UserLimiter:       limiter("login-user", 10, time.Minute),
		AddrLimiter:       limiter("login-addr", 100, time.Minute),
		AdminLimiter:      limiter("admin-addr", 20, time.Minute),
		Degraded:          w.zone.degraded,
		Clients:           clients,
		Audit:             rec,
		SeparateAdmin:     cfg.AdminAddr != "",
		Console: console.New(console.Config{Accounts: acc, Tokens: tok, Audit: rec, Log: log, Now: now, Clients: clients,
			PublicURL: cfg.Issuer(), Secure: cfg.TLSCert != "", V1Sunset: sunset,
			// Derived from the server secret, the same on every node, so a
			// sign-in form served by one node can be posted to another.
			FormKey:     keys.Hash("console-form-key", ""),
			UserLimiter: limiter("console-user", 10, time.Minute),
			AddrLimiter: limiter("console-addr", 100, time.Minute),
			Sessions:    w.zone.sessions(),
			Policies:    policies, Evaluations: policies, Context: contextSvc}),
	}
	// The document cache (SQLite only) is right because this process is
	// the one writer of the store.
	acc.OnDelete(s.API.CCS.ForgetAccount)
	s.registerCaches()
	if w.zone != nil {
		m.Degraded("invalidation", w.zone.epochs.Status)
		m.Degraded("limits", w.zone.limitsStatus)
	}
	s.handler = s.API.Handler()
	// Close waits for these before it closes the store, so that the last
	// batch of the evaluation log is written, not dropped.
	s.running.Go(func() { s.API.CCS.Run(bgCtx) })
	s.running.Go(func() { s.API.NextActions.Run(bgCtx) })
	s.running.Go(func() { s.background(bgCtx) })
	log.Info("store ready", "store", w.where, "zone", cfg.Zone, "issuer", cfg.Issuer())
	return s, nil
}

// quota turns a flag's bound (0: none) into the Context Service's (0:
// its default, negative: none).
func quota(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// Reload intervals of the signing keys (rotations made by another
// process): on a shared store other nodes rotate, and a rotated key signs
// only after 3 × sharedReload (tokens.Config.MinRotationDelay), so every
// node publishes it before any signs with it.
const (
	embeddedReload = 30 * time.Second
	sharedReload   = 5 * time.Second
)

// minRotationDelay is how long a rotated key is published before it
// signs at the least: on a shared store, three of every node's reloads.
func minRotationDelay(shared bool) time.Duration {
	if shared {
		return 3 * sharedReload
	}
	return 0
}

// revokedPurgeEvery is how often the denylist of revoked tokens loses
// the entries whose tokens have expired, revokedPurgeBatch rows per write.
const (
	revokedPurgeEvery = time.Minute
	revokedPurgeBatch = 1000
)

// usageFlushEvery is how often the last uses of keys and credentials and
// the aggregated login failures are written (config.Serve.UsageFlushEvery
// shortens it for tests).
const usageFlushEvery = time.Minute

// background refreshes signing keys (rotations made by another process),
// purges revoked tokens that have expired and audit entries past
// --audit-retention (on PostgreSQL one node of the zone at a time does
// it), and writes the last uses of secrets and the login failures of the
// minutes that are over.
func (s *Server) background(ctx context.Context) {
	every := embeddedReload
	if s.cfg.Shared() {
		every = sharedReload
	}
	t := time.NewTicker(every)
	defer t.Stop()
	purge := time.NewTicker(revokedPurgeEvery)
	defer purge.Stop()
	flushEvery := s.cfg.UsageFlushEvery
	if flushEvery <= 0 {
		flushEvery = usageFlushEvery
	}
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			s.flushUsage(ctx, false)
		case <-t.C:
			if err := s.Tokens.Reload(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reload signing keys", "err", err)
			}
		case <-purge.C:
			s.purge(ctx)
		}
	}
}

// purge deletes the revoked tokens that have expired and the audit
// entries past --audit-retention, and counts both runs.
func (s *Server) purge(ctx context.Context) {
	total := 0
	for ctx.Err() == nil {
		n, err := s.Accounts.PurgeRevokedTokens(ctx, revokedPurgeBatch)
		total += n
		if err != nil && ctx.Err() == nil {
			s.log.Warn("purge expired revoked tokens", "err", err)
		}
		if err != nil || n < revokedPurgeBatch {
			break
		}
	}
	s.Metrics.Purge("revoked_tokens", total)
	n, err := s.Audit.Purge(ctx, s.cfg.AuditRetention)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("purge audit entries past their retention", "err", err)
	}
	s.Metrics.Purge("audit", n)
}

// registerCaches exports the hits, misses and evictions of the
// in-process caches: authenticated API keys, credentials and accounts,
// verified tokens, compiled policies and (on the embedded store) Context
// Service documents.
func (s *Server) registerCaches() {
	m := s.Metrics
	m.Cache("api_keys", func() metrics.CacheStats { k, _, _ := s.Accounts.CacheStats(); return cacheStats(k) })
	m.Cache("credentials", func() metrics.CacheStats { _, c, _ := s.Accounts.CacheStats(); return cacheStats(c) })
	m.Cache("accounts", func() metrics.CacheStats { _, _, a := s.Accounts.CacheStats(); return cacheStats(a) })
	m.Cache("tokens", func() metrics.CacheStats { return cacheStats(s.Tokens.CacheStats()) })
	m.Cache("policies", func() metrics.CacheStats { return cacheStats(s.API.NextActions.CacheStats()) })
	if _, ok := s.API.CCS.CacheStats(); ok {
		m.Cache("documents", func() metrics.CacheStats { st, _ := s.API.CCS.CacheStats(); return cacheStats(st) })
	}
}

func cacheStats(st stats.Stats) metrics.CacheStats {
	return metrics.CacheStats{Hits: st.Hits, Misses: st.Misses, Evictions: st.Evictions}
}

// flushUsage writes the last uses of keys and credentials and the
// aggregated login failures (of every minute when final, at shutdown).
func (s *Server) flushUsage(ctx context.Context, final bool) {
	if err := s.Accounts.FlushLastUsed(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("write last uses of keys and credentials", "err", err)
	}
	// Each lost entry is logged and counted by the recorder.
	s.Audit.Flush(ctx, final)
}

// checkStore refuses to start from a store that does not go with the
// secrets beside it, before anything is created: a store that is missing
// or empty while <data> holds the secret key or the admin token of an
// earlier start (starting would be a new install: every account gone,
// /readyz 200), and a store that holds data while the secret key file it
// was sealed with is missing (a new key would not open it). restart
// reports whether the store was in use before: a store holding only the
// schema, as `orchestrator store migrate` creates one ahead of the first
// start, was not.
func checkStore(ctx context.Context, cfg config.Serve, dbPath, keyPath string) (restart bool, err error) {
	if err := CheckStoreNotLost(cfg.Data); err != nil {
		return false, err
	}
	if !nonEmpty(dbPath) {
		return false, nil
	}
	if holds, err := sqlite.HoldsData(ctx, dbPath); err == nil && !holds {
		return false, nil // no account, no signing key: nothing sealed yet
	}
	// Unreadable: the checks below and sqlite.Open say why.
	if cfg.SecretKey == "" && !nonEmpty(keyPath) {
		return false, fmt.Errorf("secret key does not match the store: %s is missing, but the store %s holds data sealed with a secret key, which a new key would not open; restore %s (or set ORCH_SECRET_KEY to the key)", keyPath, dbPath, keyPath)
	}
	return true, nil
}

// CheckStoreNotLost returns an error when the store of the data directory
// data (orchestrator.db) is missing or empty while data holds the secret
// key or the admin token of an earlier start: a new store there would be
// a new install, every account gone. Anything that creates the store
// checks it first.
func CheckStoreNotLost(data string) error {
	dbPath := filepath.Join(data, "orchestrator.db")
	var earlier []string
	for _, name := range []string{secret.KeyFile, "admin.token"} {
		if nonEmpty(filepath.Join(data, name)) {
			earlier = append(earlier, name)
		}
	}
	if len(earlier) == 0 {
		return nil
	}
	fi, err := os.Stat(dbPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("store %s is missing while %s holds %s of an earlier start: refusing to start as a new install, which would lose every account; restore the store from a backup, or move %s aside to start afresh", dbPath, data, strings.Join(earlier, " and "), data)
	case err != nil:
		return fmt.Errorf("store: %w", err)
	case fi.Size() == 0:
		return fmt.Errorf("store %s is empty (0 bytes) while %s holds %s of an earlier start: refusing to start as a new install, which would lose every account; restore the store from a backup, or move %s aside to start afresh", dbPath, data, strings.Join(earlier, " and "), data)
	}
	return nil
}

// nonEmpty reports whether the file at path exists and is not empty.
func nonEmpty(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() > 0
}

// keySource names where the secret key came from, for errors.
func keySource(cfg config.Serve, keyPath string) string {
	if cfg.SecretKey != "" {
		return "ORCH_SECRET_KEY"
	}
	return keyPath
}

// adminToken returns ORCH_ADMIN_TOKEN, or the token in <data>/admin.token,
// creating it (mode 0600) on first start.
func adminToken(cfg config.Serve, log *slog.Logger) (tok, file string, err error) {
	if cfg.AdminToken != "" {
		return cfg.AdminToken, "", nil
	}
	file = filepath.Join(cfg.Data, "admin.token")
	b, err := os.ReadFile(file)
	if err == nil {
		tok = strings.TrimSpace(string(b))
		if len(tok) < config.MinAdminTokenLen {
			return "", "", fmt.Errorf("%s holds %d characters: an operator token needs at least %d (delete the file to have a new one generated)", file, len(tok), config.MinAdminTokenLen)
		}
		log.Info("operator token", "file", file)
		return tok, file, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", "", err
	}
	tok = "orchadm_" + secret.NewToken(32)
	if err := datadir.WriteFile(file, []byte(tok+"\n")); err != nil {
		return "", "", fmt.Errorf("operator token: %w", err)
	}
	log.Info("generated operator token", "file", file)
	return tok, file, nil
}

// Handler returns the root HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// drainTimeout is how long shutdown waits for in-flight requests before
// it cuts them (SPEC §1).
const drainTimeout = 10 * time.Second

// Serve serves on ln until ctx is done, then shuts down: /readyz fails at
// once, the listener closes, in-flight requests may finish for up to 10 s
// and are then cut (the log says how many), and the store is closed. A
// shutdown that had to cut requests is still a clean one (nil error).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.ServeWithAdmin(ctx, ln, nil)
}

// ServeWithAdmin is Serve with the operator API and /metrics on their own
// listener adminLn (--admin-addr); nil serves them on ln. While the main
// listener drains, adminLn still answers, with /readyz failed.
func (s *Server) ServeWithAdmin(ctx context.Context, ln, adminLn net.Listener) error {
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
		ln = tls.NewListener(ln, tc)
		if adminLn != nil {
			adminLn = tls.NewListener(adminLn, tc)
		}
	}
	servers := []*http.Server{s.httpServer(s.handler)}
	listeners := []net.Listener{ln}
	if adminLn != nil {
		admin := s.API.AdminHandler()
		if s.wrap != nil {
			admin = s.wrap(admin, true)
		}
		servers = append(servers, s.httpServer(admin))
		listeners = append(listeners, adminLn)
	}
	errc := make(chan error, len(servers))
	for i, hs := range servers {
		go func() { errc <- hs.Serve(listeners[i]) }()
	}
	s.warnOperatorExposure(ln, adminLn)
	s.log.Info("serving", "addr", ln.Addr().String(), "zone", s.cfg.Zone)
	if adminLn != nil {
		s.log.Info("serving the operator API", "addr", adminLn.Addr().String())
	}
	select {
	case err := <-errc:
		for _, hs := range servers {
			hs.Close()
		}
		s.Close()
		return err
	case <-ctx.Done():
	}
	return s.shutdown(servers)
}

// shutdown fails /readyz (before any listener closes, so that a load
// balancer's next probe already sees it), then shuts the servers down in
// order, all within one drainTimeout. Requests still running past it are
// cut and counted; the store is closed once their handlers have returned
// (or after a further second).
func (s *Server) shutdown(servers []*http.Server) error {
	s.API.Drain()
	drain := s.drain
	if drain == 0 {
		drain = drainTimeout
	}
	s.log.Info("shutting down: /readyz fails; finishing in-flight requests", "drain", drain.String(), "in_flight", s.inflight.Load())
	shutCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	var err error
	cut := false
	for _, hs := range servers {
		serr := hs.Shutdown(shutCtx)
		switch {
		case errors.Is(serr, context.DeadlineExceeded):
			cut = true
		case serr != nil && err == nil:
			err = serr
		}
	}
	if cut {
		n := s.inflight.Load()
		for _, hs := range servers {
			hs.Close()
		}
		s.log.Warn(fmt.Sprintf("shutdown: cut %d request(s) still running after %v", n, drain), "requests", n, "drain", drain.String())
		// A cut request's context is cancelled and its connection closed:
		// its handler returns at its next read, write or store call.
		for deadline := time.Now().Add(time.Second); s.inflight.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		s.log.Info("shut down")
	}
	return err
}

// track counts the requests h is running, for shutdown to say how many it
// cut.
func (s *Server) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inflight.Add(1)
		defer s.inflight.Add(-1)
		h.ServeHTTP(w, r)
	})
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           s.track(h),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// warnOperatorExposure warns when the operator API (which can create and
// delete every account) answers on a non-loopback address over plain
// HTTP, where its bearer token crosses the network in the clear.
func (s *Server) warnOperatorExposure(ln, adminLn net.Listener) {
	if s.cfg.TLSCert != "" {
		return
	}
	l := ln
	if adminLn != nil {
		l = adminLn
	}
	if ap, err := netip.ParseAddrPort(l.Addr().String()); err == nil && ap.Addr().IsLoopback() {
		return
	}
	s.log.Warn("the operator API is reachable over plain HTTP on a non-loopback address; its token crosses the network in the clear: serve it on loopback with --admin-addr 127.0.0.1:PORT, or use --tls-cert/--tls-key",
		"addr", l.Addr().String())
}

// Close stops background work and closes the store. It may be called
// more than once.
func (s *Server) Close() error {
	s.closing.Do(func() {
		s.bg()
		s.running.Wait()
		// What the loop had not written yet, before the store goes.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.flushUsage(ctx, true)
		// The spans of the last requests, before the exporter stops.
		if err := s.tracer.Shutdown(ctx); err != nil {
			s.log.Warn("export the last trace spans", "err", err)
		}
		cancel()
		s.closed = s.store.Close()
		if s.zone != nil {
			s.closed = errors.Join(s.closed, s.zone.Close())
		}
		if s.lock != nil {
			s.closed = errors.Join(s.closed, s.lock.Release())
		}
	})
	return s.closed
}

// Run listens on cfg.Addr and serves until ctx is done.
func Run(ctx context.Context, cfg config.Serve, deps Deps) error {
	s, err := New(ctx, cfg, deps)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.Close()
		return err
	}
	var adminLn net.Listener
	if cfg.AdminAddr != "" {
		if adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			ln.Close()
			s.Close()
			return fmt.Errorf("--admin-addr: %w", err)
		}
	}
	if cfg.DebugAddr != "" {
		stop, err := serveDebug(cfg.DebugAddr, s.log)
		if err != nil {
			ln.Close()
			if adminLn != nil {
				adminLn.Close()
			}
			s.Close()
			return err
		}
		defer stop()
	}
	return s.ServeWithAdmin(ctx, ln, adminLn)
}

// serveDebug serves Go's profiles on addr (a loopback address, checked by
// config) until stop is called.
func serveDebug(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	log.Info("serving profiles", "addr", ln.Addr().String())
	return func() { hs.Close() }, nil
}

// sessions is where console sessions live: Redis, so that a session
// opened on one node works on every node, or this process's memory.
func (z *zoneShared) sessions() console.SessionStore {
	if z == nil {
		return nil
	}
	return console.RedisSessions(z.client, z.prefix+"console:", z.keys)
}

// degraded lists the shared facilities the node runs without, for
// /readyz.
func (z *zoneShared) degraded() []string {
	if z == nil {
		return nil
	}
	var out []string
	if err := z.epochs.Status(); err != nil {
		out = append(out, "invalidation: "+err.Error())
	}
	if err := z.limitsStatus(); err != nil {
		out = append(out, "limits: "+err.Error())
	}
	return out
}
