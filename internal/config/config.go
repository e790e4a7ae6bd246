package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/orchestrator/orchestrator/internal/clientaddr"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// Serve is the configuration of one zone server.
type Serve struct {
	Addr              string        `name:"addr" env:"ORCH_ADDR" default:"127.0.0.1:8080" help:"Address to listen on."`
	Data              string        `name:"data" env:"ORCH_DATA" default:"./data" help:"Directory of the embedded store and generated secrets."`
	Zone              string        `name:"zone" env:"ORCH_ZONE" default:"z1" enum:"z1,z2,z3" help:"Zone served: z1 (AMERICAS), z2 (EMEA), z3 (APAC)."`
	PublicURL         string        `name:"public-url" env:"ORCH_PUBLIC_URL" help:"Public base URL, the token issuer (default http://<addr>)."`
	TokenTTL          time.Duration `name:"token-ttl" env:"ORCH_TOKEN_TTL" default:"24h" help:"Lifetime of v2 access tokens."`
	V1Sunset          string        `name:"v1-sunset" env:"ORCH_V1_SUNSET" help:"RFC 3339 date after which v1 API keys of v2 accounts stop working."`
	PostgresURL       string        `name:"postgres-url" env:"ORCH_POSTGRES_URL" help:"Keep everything in PostgreSQL (postgres://user@host/db) instead of the embedded store, shared by every node of the zone; needs ORCH_SECRET_KEY and ORCH_ADMIN_TOKEN."`
	SkipMigrations    bool          `name:"skip-migrations" env:"ORCH_SKIP_MIGRATIONS" help:"Do not migrate the PostgreSQL schema at start; refuse to start while migrations are pending (run orchestrator store migrate first)."`
	RedisURL          string        `name:"redis-url" env:"ORCH_REDIS_URL" help:"Redis URL (redis://host:6379/0) shared by the zone's nodes: login limits, console sessions and instant revocation (with --postgres-url)."`
	RedisPrefix       string        `name:"redis-prefix" env:"ORCH_REDIS_PREFIX" help:"Prefix of every Redis key this zone writes (default orchestrator:<zone>:), so that zones or deployments can share one Redis."`
	TLSCert           string        `name:"tls-cert" env:"ORCH_TLS_CERT" help:"TLS certificate file (serve HTTPS)." type:"path"`
	TLSKey            string        `name:"tls-key" env:"ORCH_TLS_KEY" help:"TLS private key file." type:"path"`
	AuthFailureStatus int           `name:"auth-failure-status" env:"ORCH_AUTH_FAILURE_STATUS" default:"403" enum:"401,403" help:"Status for missing or invalid API credentials (403 as LivePerson does; 401 for strict RFC 6750)."`
	DebugAddr         string        `name:"debug-addr" env:"ORCH_DEBUG_ADDR" help:"Loopback address serving Go's /debug/pprof profiles (off when empty)."`
	TrustedProxies    string        `name:"trusted-proxies" env:"ORCH_TRUSTED_PROXIES" help:"Comma-separated CIDRs of proxies whose X-Forwarded-For or Forwarded header names the client (for limits, audit and logs); every other peer is the client."`
	AdminAddr         string        `name:"admin-addr" env:"ORCH_ADMIN_ADDR" help:"Serve /admin/... and /metrics on this separate address (such as 127.0.0.1:8081) instead of --addr."`
	OTLPEndpoint      string        `name:"otlp-endpoint" env:"ORCH_OTLP_ENDPOINT" help:"Export a trace span per request to this OTLP/HTTP collector (such as http://127.0.0.1:4318; /v1/traces is added when the URL has no path). Off when empty; the traceparent header is read and logged either way."`
	SigningAlg        string        `name:"signing-alg" env:"ORCH_SIGNING_ALG" default:"RS256" enum:"RS256,ES256,EdDSA" help:"Algorithm of newly generated token signing keys."`
	// AdminToken is ORCH_ADMIN_TOKEN (else <data>/admin.token). Secrets
	// are read from the environment only, never from flags, which other
	// users of the machine can see.
	AdminToken string `kong:"-"`
	// SecretKey is ORCH_SECRET_KEY (else <data>/secret.key).
	SecretKey string `kong:"-"`
	LogLevel  string `name:"log-level" env:"ORCH_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level."`
	// MemoryLimit is the Go runtime's soft memory limit ("0": none). The
	// caches are bounded; the limit keeps the garbage collector from
	// letting the heap grow to twice what is live.
	// AccountMaxProperties and AccountMaxBytes are each account's Context
	// Service quota (0: none).
	AccountMaxProperties int64  `name:"account-max-properties" env:"ORCH_ACCOUNT_MAX_PROPERTIES" default:"100000" help:"Most Context Service properties one account may store (0: no limit)."`
	AccountMaxBytes      string `name:"account-max-bytes" env:"ORCH_ACCOUNT_MAX_BYTES" default:"256MiB" help:"Most Context Service data one account may store, such as 256MiB or 1GiB (0: no limit)."`
	MemoryLimit          string `name:"memory-limit" env:"ORCH_MEMORY_LIMIT" default:"100MiB" help:"Soft memory limit of the Go runtime, such as 100MiB or 1GiB (0: none; GOMEMLIMIT wins when set)."`

	// MaxRetention caps how long a Context Service property is kept
	// after its last write (SPEC §5).
	MaxRetention string `name:"max-retention" env:"ORCH_MAX_RETENTION" default:"13mo" help:"Longest a Context Service property is kept after its last write, whatever its TTL: calendar months such as 13mo, or a duration such as 9480h (0: no cap)."`

	// AuditRetention is how long audit log entries are kept.
	AuditRetention time.Duration `name:"audit-retention" env:"ORCH_AUDIT_RETENTION" default:"9600h" help:"How long audit log entries are kept (default 9600h, 400 days; 0: forever)."`
	// UsageFlushEvery is how often the last uses of keys and credentials
	// and the aggregated login failures are written (0: once a minute).
	// Not a flag: tests shorten it rather than wait a minute.
	UsageFlushEvery time.Duration `kong:"-"`
}

// MinAdminTokenLen is the shortest operator token accepted: the operator
// API can create and delete every account, so its token must not be
// guessable.
const MinAdminTokenLen = 32

// Defaults returns the configuration with every default applied, as the
// CLI would produce it with no flags.
func Defaults() Serve {
	return Serve{Addr: "127.0.0.1:8080", Data: "./data", Zone: "z1", TokenTTL: 24 * time.Hour,
		AuthFailureStatus: 403, SigningAlg: "RS256", LogLevel: "info", MemoryLimit: "100MiB",
		AccountMaxProperties: 100_000, AccountMaxBytes: "256MiB", MaxRetention: DefaultMaxRetention,
		AuditRetention: DefaultAuditRetention}
}

// DefaultAuditRetention is --audit-retention unless set: 400 days.
const DefaultAuditRetention = 400 * 24 * time.Hour

// DefaultMaxRetention is --max-retention unless set: 13 calendar months,
// the default TTL of a v2 write.
const DefaultMaxRetention = "13mo"

// minuteUnit finds a minute (or shorter) unit in a duration: "13m",
// "1h30m", "500ms", "10s".
var minuteUnit = regexp.MustCompile(`[0-9.](m|s|ms|us|µs|ns)([0-9]|$)`)

// maxRetentionMonths bounds --max-retention (100 years, the longest TTL).
const maxRetentionMonths = 1200

// Retention parses MaxRetention: whole calendar months ("13mo", counted
// as time.AddDate counts them, like the 13-month v2 default TTL) or a Go
// duration ("9480h"); "0" is no cap (the zero Retention).
func (c Serve) Retention() (storage.Retention, error) {
	bad := fmt.Errorf("--max-retention %q: want calendar months such as 13mo or a duration such as 9480h, at most 100 years (0: no cap)", c.MaxRetention)
	v := strings.TrimSpace(c.MaxRetention)
	if m, ok := strings.CutSuffix(v, "mo"); ok {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > maxRetentionMonths {
			return storage.Retention{}, bad
		}
		return storage.Retention{Months: n}, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > maxRetentionMonths/12*365*24*time.Hour {
		return storage.Retention{}, bad
	}
	// The cap rewrites every stored expiry at start, and a shorter one
	// cannot be undone: "13m" meant as 13 months would delete every
	// tenant's data 13 minutes later. So minutes (and anything shorter)
	// are refused, and a cap is at least an hour.
	if minuteUnit.MatchString(v) {
		return storage.Retention{}, fmt.Errorf("--max-retention %q: \"m\" is minutes, which this flag refuses; write months as %smo, or hours such as 9480h", c.MaxRetention, strings.TrimSuffix(v, "m"))
	}
	if d != 0 && d < time.Hour {
		return storage.Retention{}, fmt.Errorf("--max-retention %q: at least 1h (0: no cap); every stored property would expire within the hour", c.MaxRetention)
	}
	return storage.Retention{D: d}, nil
}

// Sunset parses V1Sunset: an RFC 3339 date ("2027-01-31", midnight UTC) or
// date-time. Zero when unset.
func (c Serve) Sunset() (time.Time, error) {
	if c.V1Sunset == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, c.V1Sunset); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, c.V1Sunset)
	if err != nil {
		return time.Time{}, fmt.Errorf("--v1-sunset %q: want an RFC 3339 date (2027-01-31) or date-time", c.V1Sunset)
	}
	return t, nil
}

// Issuer returns the public URL without a trailing slash.
func (c Serve) Issuer() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + c.Addr
}

// Validate checks the configuration.
func (c Serve) Validate() error {
	switch c.Zone {
	case "z1", "z2", "z3":
	default:
		return fmt.Errorf("--zone %q: want z1, z2 or z3", c.Zone)
	}
	if c.TokenTTL <= 0 {
		return fmt.Errorf("--token-ttl must be positive")
	}
	if _, err := c.Sunset(); err != nil {
		return err
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("--public-url: want an http(s) URL such as https://orchestrator.example.com")
		}
	}
	if c.OTLPEndpoint != "" {
		u, err := url.Parse(c.OTLPEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return errors.New("--otlp-endpoint: want the http:// or https:// URL of an OTLP/HTTP collector, without user info, query or fragment, such as http://127.0.0.1:4318 (the value is not repeated here: it may hold a secret)")
		}
	}
	if c.RedisURL != "" {
		if c.PostgresURL == "" {
			return fmt.Errorf("--redis-url goes with --postgres-url: Redis shares limits, sessions and invalidation between nodes of one PostgreSQL store; the embedded store has one node")
		}
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return fmt.Errorf("--redis-url: want redis://host:6379/0 (or rediss:// for TLS)")
		}
	}
	if c.PostgresURL != "" {
		if err := c.checkPostgres(); err != nil {
			return err
		}
	} else if c.SkipMigrations {
		return fmt.Errorf("--skip-migrations applies to --postgres-url only: the embedded store migrates itself at start")
	}
	if _, err := c.MemoryLimitBytes(); err != nil {
		return err
	}
	if c.AccountMaxProperties < 0 {
		return fmt.Errorf("--account-max-properties must be 0 (no limit) or more")
	}
	if _, err := c.AccountMaxBytesValue(); err != nil {
		return err
	}
	if _, err := c.Retention(); err != nil {
		return err
	}
	if c.AuditRetention < 0 {
		return fmt.Errorf("--audit-retention must be 0 (keep forever) or more, such as 9600h")
	}
	if c.DebugAddr != "" {
		host, _, err := net.SplitHostPort(c.DebugAddr)
		ip := net.ParseIP(host)
		if err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			return fmt.Errorf("--debug-addr %q: want a loopback host:port such as 127.0.0.1:6060 (profiles are not for the network)", c.DebugAddr)
		}
	}
	if c.AdminToken != "" {
		if len(c.AdminToken) < MinAdminTokenLen {
			return fmt.Errorf("ORCH_ADMIN_TOKEN is %d characters: at least %d are required (generate one with: openssl rand -base64 32)", len(c.AdminToken), MinAdminTokenLen)
		}
		// A bearer token is one printable word: one with spaces or
		// control characters could never be presented, and one of spaces
		// only would pass the length check.
		if strings.ContainsFunc(c.AdminToken, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("ORCH_ADMIN_TOKEN must not contain spaces or control characters")
		}
	}
	if _, err := c.Proxies(); err != nil {
		return err
	}
	if c.AdminAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			return fmt.Errorf("--admin-addr %q: want host:port", c.AdminAddr)
		}
		if c.AdminAddr == c.Addr {
			return fmt.Errorf("--admin-addr %q: must differ from --addr (omit it to serve the operator API on --addr)", c.AdminAddr)
		}
	}
	if c.AuthFailureStatus != 401 && c.AuthFailureStatus != 403 {
		return fmt.Errorf("--auth-failure-status: want 401 or 403")
	}
	return nil
}

// checkPostgres checks the settings that go with PostgresURL: a URL pgx
// can use, and the secrets every node must share, which only the
// environment can give (a node must not generate its own).
func (c Serve) checkPostgres() error {
	u, err := url.Parse(c.PostgresURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return fmt.Errorf("--postgres-url: want postgres://user@host:port/database")
	}
	var missing []string
	if c.SecretKey == "" {
		missing = append(missing, "ORCH_SECRET_KEY")
	}
	if c.AdminToken == "" {
		missing = append(missing, "ORCH_ADMIN_TOKEN")
	}
	if len(missing) > 0 {
		return fmt.Errorf("--postgres-url: set %s: every node of the zone must use the same secrets, so they are not generated into --data (generate them with: openssl rand -base64 32)", strings.Join(missing, " and "))
	}
	return nil
}

// RedisKeyPrefix is the prefix of every Redis key of the zone.
func (c Serve) RedisKeyPrefix() string {
	if c.RedisPrefix != "" {
		return c.RedisPrefix
	}
	return "orchestrator:" + c.Zone + ":"
}

// Shared reports whether the store is shared by many nodes (PostgreSQL)
// rather than embedded in --data.
func (c Serve) Shared() bool { return c.PostgresURL != "" }

// Proxies parses TrustedProxies.
func (c Serve) Proxies() ([]netip.Prefix, error) {
	p, err := clientaddr.ParsePrefixes(c.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	return p, nil
}

// MemoryLimitBytes parses MemoryLimit: a number of bytes with an optional
// KiB, MiB or GiB suffix; 0 means none.
func (c Serve) MemoryLimitBytes() (int64, error) {
	n, ok := parseBytes(c.MemoryLimit)
	if !ok {
		return 0, fmt.Errorf("--memory-limit %q: want bytes with an optional KiB, MiB or GiB suffix, such as 128MiB (0: none)", c.MemoryLimit)
	}
	if n > 0 && n < 32<<20 {
		return 0, fmt.Errorf("--memory-limit %q: at least 32MiB", c.MemoryLimit)
	}
	return n, nil
}

// AccountMaxBytesValue parses AccountMaxBytes like MemoryLimit; 0 means
// no limit.
func (c Serve) AccountMaxBytesValue() (int64, error) {
	n, ok := parseBytes(c.AccountMaxBytes)
	if !ok {
		return 0, fmt.Errorf("--account-max-bytes %q: want bytes with an optional KiB, MiB or GiB suffix, such as 256MiB (0: no limit)", c.AccountMaxBytes)
	}
	return n, nil
}

// parseBytes parses a number of bytes with an optional KiB, MiB, GiB or B
// suffix.
func parseBytes(s string) (int64, bool) {
	v := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSuffix(v, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, false
	}
	return n * mult, true
}
