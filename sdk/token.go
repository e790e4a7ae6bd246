package sdk

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// token is a v2 access token and when to replace it.
type token struct {
	raw       string
	exp       time.Time // zero: unknown, kept until refused
	refreshAt time.Time
	sub, name string // claims "sub" (user ID) and "name" (account id)
}

// usable reports whether t can be sent without refreshing it first.
func (t *token) usable(now time.Time) bool {
	return t.exp.IsZero() || now.Before(t.refreshAt)
}

// valid reports whether t has not expired.
func (t *token) valid(now time.Time) bool {
	return t.exp.IsZero() || now.Before(t.exp)
}

// claims are the JWT claims the client reads. The client does not verify
// the signature: that is the server's job; it only reads when to refresh.
type claims struct {
	Exp  int64  `json:"exp"`
	Iat  int64  `json:"iat"`
	Sub  string `json:"sub"`
	Name string `json:"name"`
}

func parseClaims(raw string) (claims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return claims{}, errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return claims{}, fmt.Errorf("JWT payload: %w", err)
	}
	var cl claims
	if err := json.Unmarshal(b, &cl); err != nil {
		return claims{}, fmt.Errorf("JWT payload: %w", err)
	}
	return cl, nil
}

// newToken reads the expiry of raw from its exp claim and expiresIn (the
// login answer's expires_in, 0 when unknown), whichever is earlier:
// expires_in counts from when the answer arrived, so it is immune to clock
// skew. The refresh time is a fifth of the lifetime before expiry, at most
// a minute, minus up to half that again of jitter.
func (c *Client) newToken(raw string, expiresIn time.Duration, received time.Time) *token {
	t := &token{raw: raw}
	cl, err := parseClaims(raw)
	if err == nil {
		t.sub, t.name = cl.Sub, cl.Name
		if cl.Exp > 0 {
			t.exp = time.Unix(cl.Exp, 0)
		}
	}
	if expiresIn > 0 {
		if e := received.Add(expiresIn); t.exp.IsZero() || e.Before(t.exp) {
			t.exp = e
		}
	}
	if t.exp.IsZero() {
		return t
	}
	start := received
	if cl.Iat > 0 && expiresIn <= 0 {
		start = time.Unix(cl.Iat, 0)
	}
	margin := min(t.exp.Sub(start)/5, time.Minute)
	margin = max(margin, 0)
	t.refreshAt = t.exp.Add(-margin - time.Duration(c.jitter()*float64(margin/2)))
	return t
}

// LoginResponse is the answer of POST /v2/authenticate/login.
type LoginResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`

	raw []byte
}

// Token returns the cached v2 token, logging in first when there is none
// or it is about to expire.
func (c *Client) Token(ctx context.Context) (string, error) {
	t, err := c.current(ctx, "")
	if err != nil {
		return "", err
	}
	return t.raw, nil
}

// Invalidate drops the cached token if it is still token, so that the
// next call logs in again. Use it when a request made with the token
// outside HTTPClient was refused; HTTPClient and the typed methods do it
// themselves.
func (c *Client) Invalidate(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && c.tok.raw == token {
		c.tok = nil
	}
}

// Login logs in now, whatever the cache holds, and keeps the new token.
// WithResponseBody captures the login answer.
func (c *Client) Login(ctx context.Context) (*LoginResponse, error) {
	t, resp, err := c.login(ctx)
	if err != nil {
		return nil, err
	}
	if dst, ok := ctx.Value(bodyKey{}).(*[]byte); ok && dst != nil {
		*dst = resp.raw
	}
	c.mu.Lock()
	c.tok, c.last, c.cacheLoaded = t, t.raw, true
	c.mu.Unlock()
	c.save(t.raw)
	return resp, nil
}

// current returns a token to send. rejected, when not empty, is a token
// the server just refused: it is dropped, and a token other than it is
// returned.
//
// Logins are single-flighted on the token they replace, and a login
// first checks whether another one already replaced that token: so every
// caller that saw the same token refused shares one login, and a caller
// that comes late (its token was already replaced) uses the new token
// instead of logging in again.
func (c *Client) current(ctx context.Context, rejected string) (*token, error) {
	c.mu.Lock()
	c.loadCacheLocked()
	if rejected != "" && c.tok != nil && c.tok.raw == rejected {
		c.tok = nil
	}
	if t := c.tok; t != nil && t.usable(c.now()) {
		c.mu.Unlock()
		return t, nil
	}
	key := c.last
	c.mu.Unlock()

	ch := c.logins.DoChan(key, func() (any, error) { return c.replace(ctx, key) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*token), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// replace logs in to replace the token key, unless that was done already.
func (c *Client) replace(ctx context.Context, key string) (*token, error) {
	c.mu.Lock()
	if t := c.tok; t != nil && c.last != key && t.usable(c.now()) {
		c.mu.Unlock()
		return t, nil
	}
	c.mu.Unlock()

	// The login is shared: one caller giving up must not fail the others.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.loginWait)
	defer cancel()
	t, _, err := c.login(lctx)

	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		// A refresh that fails while the token still works keeps it;
		// the next call tries again, once.
		if old := c.tok; old != nil && old.valid(c.now()) {
			return old, nil
		}
		return nil, err
	}
	c.tok, c.last = t, t.raw
	c.save(t.raw)
	return t, nil
}

// loadCacheLocked reads the TokenCache once. A token that does not parse,
// has expired, or belongs to another user is ignored.
func (c *Client) loadCacheLocked() {
	if c.cacheLoaded || c.cfg.TokenCache == nil {
		return
	}
	c.cacheLoaded = true
	raw, err := c.cfg.TokenCache.Load()
	raw = strings.TrimSpace(raw)
	if err != nil || raw == "" {
		return
	}
	if _, err := parseClaims(raw); err != nil {
		return
	}
	t := c.newToken(raw, 0, c.now())
	if t.exp.IsZero() || !t.usable(c.now()) {
		return
	}
	if c.cfg.UserID != "" && t.sub != "" && t.sub != c.cfg.UserID {
		return
	}
	c.tok, c.last = t, raw
}

func (c *Client) save(raw string) {
	if c.cfg.TokenCache != nil {
		// The cache is an optimisation: failing to write it costs a
		// login in the next process, not this call.
		_ = c.cfg.TokenCache.Save(raw)
	}
}

// login performs one login (SPEC §3): Basic credentials (RFC 7617) on
// POST /v2/authenticate/login.
func (c *Client) login(ctx context.Context) (*token, *LoginResponse, error) {
	if c.cfg.UserID == "" || c.cfg.Password == "" {
		return nil, nil, fmt.Errorf("sdk: log in: Config needs UserID and Password: %w", ErrNoCredentials)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.v2Base+"/v2/authenticate/login", http.NoBody)
	if err != nil {
		return nil, nil, err
	}
	req.SetBasicAuth(c.cfg.UserID, c.cfg.Password)
	req.Header.Set("Accept", "application/json")
	resp, err := c.plain.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("sdk: log in as %s: %w", c.cfg.UserID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("sdk: log in as %s: %w", c.cfg.UserID, err)
	}
	received := c.now()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("sdk: log in as %s: %w", c.cfg.UserID, newAPIError(resp, body, received))
	}
	var lr LoginResponse
	if err := json.Unmarshal(body, &lr); err != nil {
		return nil, nil, fmt.Errorf("sdk: log in as %s: bad answer: %w", c.cfg.UserID, err)
	}
	lr.raw = body
	raw := lr.Token
	if raw == "" {
		raw = lr.AccessToken
	}
	if raw == "" {
		return nil, nil, fmt.Errorf("sdk: log in as %s: the answer holds no token", c.cfg.UserID)
	}
	return c.newToken(raw, time.Duration(lr.ExpiresIn)*time.Second, received), &lr, nil
}

// TokenSource returns the cached token as a golang.org/x/oauth2
// TokenSource. Unlike oauth2.ReuseTokenSource, the token behind it is
// dropped when HTTPClient or a typed method sees it refused.
func (c *Client) TokenSource() oauth2.TokenSource { return tokenSource{c} }

type tokenSource struct{ c *Client }

func (s tokenSource) Token() (*oauth2.Token, error) {
	t, err := s.c.current(context.Background(), "")
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: t.raw, TokenType: "Bearer", Expiry: t.exp}, nil
}
