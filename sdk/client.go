package sdk

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Config configures a Client. Zone or BaseURL is required; the
// credentials needed depend on the calls made: UserID and Password for v2,
// APIKey for v1, AccountID for both.
type Config struct {
	// Zone selects the default base URLs of a region: z1, z2 or z3.
	Zone string
	// BaseURL overrides the v2 base URL of the zone, such as the URL of a
	// self-hosted server ("http://127.0.0.1:8080"). It also serves v1
	// unless V1BaseURL is set.
	BaseURL string
	// V1BaseURL overrides the v1 base URL. It also serves v1 Next
	// Actions unless NextActionsV1BaseURL is set.
	V1BaseURL string
	// NextActionsV1BaseURL overrides the base URL of v1 Next Actions
	// (GET /v1/account/{a}/next-actions). By default it is the zone's
	// askmaven host when neither BaseURL nor V1BaseURL is set, else the
	// v1 base URL.
	NextActionsV1BaseURL string
	// AccountID is the account every call is made for ("67005361", or
	// with the "le" prefix). When empty, v2 calls use the account of the
	// token.
	AccountID string
	// UserID and Password are the v2 credentials.
	UserID, Password string
	// APIKey is the v1 API key (maven-api-key).
	APIKey string
	// HTTPClient, when set, carries every request through its Transport
	// (nil Transport: http.DefaultTransport) and its Timeout, Jar and
	// CheckRedirect apply. When nil, the Client uses a pooled transport of
	// its own.
	HTTPClient *http.Client
	// TokenCache, when set, keeps the token across processes: it is read
	// before the first login and written after every login.
	TokenCache TokenCache
	// MaxRetryWait bounds how long a call waits for a 429 Retry-After
	// before its one retry; a longer delay returns the 429 at once as an
	// *APIError with RetryAfter set. Zero means 30 s; negative, never wait.
	MaxRetryWait time.Duration

	now    func() time.Time // tests: the clock
	jitter func() float64   // tests: a number in [0, 1)
}

// TokenCache stores one token between processes. Load returns "" when
// there is none; what it returns is checked (a JWT of this user that has
// not expired) before use, so a corrupt cache only costs a login.
type TokenCache interface {
	Load() (string, error)
	Save(token string) error
}

// Client calls Conversation Orchestrator. Create it with New; it is safe
// for concurrent use.
type Client struct {
	cfg       Config
	v2Base    string
	v1Base    string
	naV1Base  string // v1 Next Actions
	v2URL     *url.URL
	base      http.RoundTripper
	hc        *http.Client // v2: adds the token
	plain     *http.Client // login and v1: no token
	now       func() time.Time
	jitter    func() float64
	maxWait   time.Duration
	loginWait time.Duration

	mu          sync.Mutex
	tok         *token // nil: none usable
	last        string // the token the next login replaces ("" before the first)
	cacheLoaded bool
	logins      singleflight.Group
}

// New returns a Client. It does not touch the network.
func New(cfg Config) (*Client, error) {
	v2, v1, na := cfg.BaseURL, cfg.V1BaseURL, cfg.NextActionsV1BaseURL
	if cfg.Zone != "" {
		r, ok := LookupRegion(cfg.Zone)
		if !ok {
			return nil, fmt.Errorf("sdk: unknown zone %q: want z1, z2 or z3", cfg.Zone)
		}
		if v2 == "" {
			v2 = r.BaseURL
			if v1 == "" {
				v1 = r.V1BaseURL
				if na == "" {
					na = r.NextActionsV1BaseURL
				}
			}
		}
	}
	if v2 == "" {
		return nil, fmt.Errorf("sdk: Config needs Zone or BaseURL")
	}
	if v1 == "" {
		v1 = v2
	}
	if na == "" {
		na = v1
	}
	v2URL, err := parseBase(v2)
	if err != nil {
		return nil, fmt.Errorf("sdk: BaseURL: %w", err)
	}
	if _, err := parseBase(v1); err != nil {
		return nil, fmt.Errorf("sdk: V1BaseURL: %w", err)
	}
	if _, err := parseBase(na); err != nil {
		return nil, fmt.Errorf("sdk: NextActionsV1BaseURL: %w", err)
	}
	c := &Client{
		cfg:      cfg,
		v2Base:   strings.TrimRight(v2, "/"),
		v1Base:   strings.TrimRight(v1, "/"),
		naV1Base: strings.TrimRight(na, "/"),
		v2URL:    v2URL,
		now:      cfg.now,
		jitter:   cfg.jitter,
		// A login waits at most this long, whatever the callers'
		// contexts: it is shared by all of them.
		loginWait: time.Minute,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.jitter == nil {
		c.jitter = rand.Float64
	}
	switch {
	case cfg.MaxRetryWait == 0:
		c.maxWait = 30 * time.Second
	case cfg.MaxRetryWait < 0:
		c.maxWait = -1
	default:
		c.maxWait = cfg.MaxRetryWait
	}
	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{Transport: pooledTransport()}
	}
	c.base = base.Transport
	if c.base == nil {
		c.base = http.DefaultTransport
	}
	c.hc = &http.Client{Transport: &transport{c: c, auth: true}, Timeout: base.Timeout, Jar: base.Jar, CheckRedirect: base.CheckRedirect}
	c.plain = &http.Client{Transport: &transport{c: c}, Timeout: base.Timeout, Jar: base.Jar, CheckRedirect: base.CheckRedirect}
	return c, nil
}

func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q: want an http(s) URL", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: want a base URL without query or fragment", s)
	}
	return u, nil
}

// pooledTransport keeps enough idle connections per host for a busy
// client (the default keeps 2, which makes concurrent callers reconnect).
func pooledTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// HTTPClient returns an *http.Client that adds the v2 token
// ("Authorization: Bearer") to every request for the v2 base URL's host
// that carries no Authorization or maven-api-key header of its own; a 403
// or 401 answer drops the token, logs in again once (shared by concurrent
// callers) and retries the request once. Request bodies are buffered so
// they can be sent again. Requests for other hosts pass through unchanged.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Transport returns the http.RoundTripper of HTTPClient.
func (c *Client) Transport() http.RoundTripper { return c.hc.Transport }

// BaseURL returns the v2 base URL in use.
func (c *Client) BaseURL() string { return c.v2Base }

// V1BaseURL returns the v1 base URL in use.
func (c *Client) V1BaseURL() string { return c.v1Base }

// NextActionsV1BaseURL returns the base URL of v1 Next Actions in use.
func (c *Client) NextActionsV1BaseURL() string { return c.naV1Base }
