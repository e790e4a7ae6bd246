package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// transport sends requests through the base transport. With auth, it adds
// the v2 token to requests for the v2 host and handles its refusal. Both
// kinds honour a short 429 Retry-After once.
type transport struct {
	c    *Client
	auth bool
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	body, err := replayable(req)
	if err != nil {
		return nil, err
	}
	if !t.auth || !c.isV2(req) {
		return c.attempt(req, body, "")
	}
	tok, err := c.current(req.Context(), "")
	if err != nil {
		return nil, err
	}
	resp, err := c.attempt(req, body, tok.raw)
	if err != nil || (resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized) {
		return resp, err
	}
	// SPEC §4: 403 (or 401) is the signal to log in again, unless the
	// body says "forbidden": the token is fine but may not act on that
	// account, and a new one would be refused the same (SPEC §8). Once:
	// a second refusal is returned as it is.
	if forbidden(resp) {
		return resp, nil
	}
	drain(resp)
	tok2, err := c.current(req.Context(), tok.raw)
	if err != nil {
		return nil, err
	}
	return c.attempt(req, body, tok2.raw)
}

// isV2 reports whether req goes to the v2 host and carries no credential
// of its own: only then is the token added, so it never leaks to another
// host.
func (c *Client) isV2(req *http.Request) bool {
	if req.Header.Get("Authorization") != "" || req.Header.Get("maven-api-key") != "" {
		return false
	}
	return strings.EqualFold(req.URL.Scheme, c.v2URL.Scheme) && strings.EqualFold(req.URL.Host, c.v2URL.Host)
}

// replayable returns a function giving a fresh copy of req's body for
// each attempt: GetBody when the request has one, else the body read once
// into memory. It closes req.Body, as a RoundTripper must.
func replayable(req *http.Request) (func() (io.ReadCloser, error), error) {
	if req.Body == nil || req.Body == http.NoBody {
		return func() (io.ReadCloser, error) { return http.NoBody, nil }, nil
	}
	if req.GetBody != nil {
		req.Body.Close()
		return req.GetBody, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, nil
}

// attempt sends req once, and once more after a 429 whose Retry-After is
// within the bound.
func (c *Client) attempt(req *http.Request, body func() (io.ReadCloser, error), tok string) (*http.Response, error) {
	resp, err := c.send(req, body, tok)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests || c.maxWait < 0 {
		return resp, err
	}
	d, ok := retryAfter(resp.Header, c.now())
	if !ok || d > c.maxWait {
		return resp, nil
	}
	drain(resp)
	if err := sleep(req.Context(), d); err != nil {
		return nil, err
	}
	return c.send(req, body, tok)
}

func (c *Client) send(req *http.Request, body func() (io.ReadCloser, error), tok string) (*http.Response, error) {
	r := req.Clone(req.Context())
	b, err := body()
	if err != nil {
		return nil, err
	}
	r.Body, r.GetBody = b, body
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return c.base.RoundTrip(r)
}

// retryAfter reads Retry-After (RFC 9110 §10.2.3): delay-seconds or an
// HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, 1<<31)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain discards what is left of a response so its connection is reused.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// forbidden reports whether resp's JSON body has "error":"forbidden". It
// reads the start of the body and puts it back, so the caller still reads
// all of it.
func forbidden(resp *http.Response) bool {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	if err != nil {
		return false
	}
	var e struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(b, &e) == nil && e.Error == "forbidden"
}
