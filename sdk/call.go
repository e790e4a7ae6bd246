package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

type bodyKey struct{}

// WithResponseBody returns a context that makes the typed method it is
// passed to store the raw body of the final answer in *dst (also for
// error answers), for callers that want the server's JSON as it is, such
// as the CLI's --json.
func WithResponseBody(ctx context.Context, dst *[]byte) context.Context {
	return context.WithValue(ctx, bodyKey{}, dst)
}

// maxResponse bounds what a call reads of an answer: a CCS document holds
// at most 800,000 characters of JSON, a list of them more.
const maxResponse = 64 << 20

// path joins escaped segments: path("v1", "account", a) = "/v1/account/<a>".
func path(segs ...string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// v2 calls the v2 API with the token.
func (c *Client) v2(ctx context.Context, method, p string, in, out any) error {
	return c.call(ctx, c.hc, method, c.v2Base+p, nil, in, out)
}

// v1 calls the v1 API with the API key.
func (c *Client) v1(ctx context.Context, method, p string, q url.Values, in, out any) error {
	return c.v1At(ctx, c.v1Base, method, p, q, in, out)
}

// v1At is v1 against another base URL (v1 Next Actions).
func (c *Client) v1At(ctx context.Context, base, method, p string, q url.Values, in, out any) error {
	if c.cfg.APIKey == "" {
		return fmt.Errorf("sdk: v1 calls need Config.APIKey: %w", ErrNoCredentials)
	}
	u := base + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return c.call(ctx, c.plain, method, u, http.Header{"Maven-Api-Key": {c.cfg.APIKey}}, in, out)
}

func (c *Client) call(ctx context.Context, hc *http.Client, method, u string, h http.Header, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("sdk: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		// A failed login is reported as it is, not as a failure of the
		// URL the caller asked for.
		var ue *url.Error
		var ae *APIError
		if errors.As(err, &ue) && (errors.As(ue.Err, &ae) || errors.Is(ue.Err, ErrNoCredentials)) {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("sdk: read answer: %w", err)
	}
	if dst, ok := ctx.Value(bodyKey{}).(*[]byte); ok && dst != nil {
		*dst = b
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(resp, b, c.now())
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("sdk: decode answer of %s %s: %w", method, req.URL.Path, err)
		}
	}
	return nil
}

// account returns the account id for a v2 call: Config.AccountID, else
// the account of the token.
func (c *Client) account(ctx context.Context) (string, error) {
	if c.cfg.AccountID != "" {
		return c.cfg.AccountID, nil
	}
	t, err := c.current(ctx, "")
	if err != nil {
		return "", err
	}
	if t.name == "" {
		return "", fmt.Errorf("sdk: Config needs AccountID (the token names no account): %w", ErrNoCredentials)
	}
	return t.name, nil
}

// v1Account returns the account id for a v1 call.
func (c *Client) v1Account() (string, error) {
	if c.cfg.AccountID == "" {
		return "", fmt.Errorf("sdk: v1 calls need Config.AccountID: %w", ErrNoCredentials)
	}
	return c.cfg.AccountID, nil
}
