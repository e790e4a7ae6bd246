package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func get(t *testing.T, c *Client, url string) (int, string, error) {
	t.Helper()
	resp, err := c.HTTPClient().Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestConcurrentRejectionSharesOneLogin(t *testing.T) {
	f := newFakeServer(t)
	cache := &memCache{tok: jwtFor(f.user, time.Now(), time.Now().Add(time.Hour), 0)} // refused: never issued
	c := f.client(t, func(cfg *Config) { cfg.TokenCache = cache })

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			if st, _, err := get(t, c, f.URL+"/v2/echo"); err != nil || st != http.StatusOK {
				errs <- fmt.Errorf("status %d, err %v", st, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := f.logins.Load(); got != 1 {
		t.Errorf("logins = %d, want 1", got)
	}
	if cache.saves != 1 {
		t.Errorf("cache saves = %d, want 1", cache.saves)
	}
}

func TestLateCallerDoesNotLogInAgain(t *testing.T) {
	f := newFakeServer(t)
	c := f.client(t)
	ctx := context.Background()
	t1, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := c.current(ctx, t1) // the first caller that saw t1 refused
	if err != nil {
		t.Fatal(err)
	}
	t3, err := c.current(ctx, t1) // a caller whose refusal of t1 arrives later
	if err != nil {
		t.Fatal(err)
	}
	if t2.raw == t1 || t3.raw != t2.raw {
		t.Errorf("tokens: t2 is t1: %v, t3 is t2: %v", t2.raw == t1, t3.raw == t2.raw)
	}
	if got := f.logins.Load(); got != 2 {
		t.Errorf("logins = %d, want 2 (first, then one replacement)", got)
	}
}

func TestRefusedTwiceIsReturnedAfterOneRetry(t *testing.T) {
	f := newFakeServer(t)
	f.echo = func(w http.ResponseWriter, r *http.Request) { f.revokeAll(); w.WriteHeader(http.StatusForbidden) }
	c := f.client(t)
	f.echo = nil
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.revokeAll()
	// Every token is refused from now on: the one retry gets 403 too.
	f.echo = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) }
	st, _, err := get(t, c, f.URL+"/v2/echo")
	if err != nil {
		t.Fatal(err)
	}
	if st != http.StatusForbidden {
		t.Errorf("status = %d, want 403", st)
	}
	if got, want := [2]int64{f.logins.Load(), f.requests.Load()}, [2]int64{2, 2}; got != want {
		t.Errorf("logins, requests = %v, want %v", got, want)
	}
}

func TestRetryReplaysBody(t *testing.T) {
	f := newFakeServer(t)
	c := f.client(t)
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.revokeAll()
	for _, name := range []string{"GetBody", "plain reader"} {
		t.Run(name, func(t *testing.T) {
			f.revokeAll()
			var body io.Reader = strings.NewReader(`{"a":1}`)
			if name == "plain reader" {
				body = io.MultiReader(body) // no GetBody
			}
			req, _ := http.NewRequest("POST", f.URL+"/v2/echo", body)
			resp, err := c.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(b) != `{"a":1}` {
				t.Errorf("got %d %q, want 200 and the body sent", resp.StatusCode, b)
			}
		})
	}
}

func TestFailedLoginOneAttemptPerCall(t *testing.T) {
	f := newFakeServer(t)
	c := f.client(t, func(cfg *Config) { cfg.Password = "wrong" })
	for i := 1; i <= 3; i++ {
		_, err := c.GetDocument(context.Background(), "ns", "")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Code != "invalid_client" {
			t.Fatalf("call %d: err = %v, want a 401 invalid_client APIError", i, err)
		}
		if !strings.Contains(err.Error(), "log in as user-1") || !strings.Contains(err.Error(), "invalid user ID or password") {
			t.Errorf("error %q does not say that the login failed and why", err)
		}
		if got := f.logins.Load(); got != int64(i) {
			t.Errorf("after call %d: logins = %d", i, got)
		}
	}
	if got := f.requests.Load(); got != 0 {
		t.Errorf("API requests = %d, want 0", got)
	}
}

func TestNoCredentials(t *testing.T) {
	f := newFakeServer(t)
	c := f.client(t, func(cfg *Config) { cfg.UserID, cfg.Password = "", "" })
	if _, err := c.Token(context.Background()); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("Token: err = %v, want ErrNoCredentials", err)
	}
	if err := c.CreateNamespace(context.Background(), "ns"); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("v1 without API key: err = %v, want ErrNoCredentials", err)
	}
	if f.logins.Load() != 0 {
		t.Errorf("logins = %d, want 0", f.logins.Load())
	}
}

func TestRefreshBeforeExpiry(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	f := newFakeServer(t)
	f.ttl, f.now = 3*time.Second, clk.Now
	for i, jitter := range []float64{0, 0.999} {
		t.Run(fmt.Sprint("jitter ", jitter), func(t *testing.T) {
			// A whole second: the JWT exp claim counts whole seconds.
			clk.t = time.Unix(1_800_000_000+int64(i)*3600, 0)
			f.logins.Store(0)
			c := f.client(t, func(cfg *Config) { cfg.now, cfg.jitter = clk.Now, func() float64 { return jitter } })
			ctx := context.Background()
			t1, err := c.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			clk.Add(2 * time.Second)
			if t2, _ := c.Token(ctx); t2 != t1 {
				t.Errorf("refreshed 1 s before expiry of a 3 s token; want the same token")
			}
			// A fifth of the lifetime (0.6 s) plus up to half that of
			// jitter before expiry: refreshed at 2.4 s at the latest.
			clk.Add(400 * time.Millisecond)
			t3, err := c.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if t3 == t1 {
				t.Errorf("not refreshed 0.6 s before expiry")
			}
			if got := f.logins.Load(); got != 2 {
				t.Errorf("logins = %d, want 2", got)
			}
		})
	}
}

func TestRefreshFailureKeepsValidToken(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	f := newFakeServer(t)
	f.ttl, f.now = 10*time.Second, clk.Now
	c := f.client(t, func(cfg *Config) { cfg.now = clk.Now })
	ctx := context.Background()
	t1, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.loginStatus = http.StatusServiceUnavailable
	clk.Add(9 * time.Second)
	if t2, err := c.Token(ctx); err != nil || t2 != t1 {
		t.Errorf("refresh failed with the token still valid: err %v, same token %v; want the old token", err, t2 == t1)
	}
	clk.Add(time.Second)
	if _, err := c.Token(ctx); err == nil {
		t.Errorf("expired token and a failing login: want an error")
	}
	if got := f.logins.Load(); got != 3 {
		t.Errorf("logins = %d, want 3 (one per call)", got)
	}
}

func TestTooManyRequests(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		maxWait    time.Duration
		wantStatus int
		wantCalls  int64
	}{
		{"short delay: one retry", "0", 0, 200, 2},
		{"delay over the bound: returned", "3600", 0, 429, 1},
		{"waiting disabled", "0", -1, 429, 1},
		{"no Retry-After", "", 0, 429, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.echo = func(w http.ResponseWriter, r *http.Request) {
				if f.requests.Load() == 1 {
					if tt.retryAfter != "" {
						w.Header().Set("Retry-After", tt.retryAfter)
					}
					w.WriteHeader(http.StatusTooManyRequests)
					fmt.Fprint(w, `{"message":"slow down"}`)
					return
				}
				fmt.Fprint(w, `{"payload":{}}`)
			}
			c := f.client(t, func(cfg *Config) { cfg.MaxRetryWait = tt.maxWait })
			st, _, err := get(t, c, f.URL+"/v2/echo")
			if err != nil {
				t.Fatal(err)
			}
			if st != tt.wantStatus || f.requests.Load() != tt.wantCalls {
				t.Errorf("status %d after %d requests, want %d after %d", st, f.requests.Load(), tt.wantStatus, tt.wantCalls)
			}
		})
	}
}

func TestTooManyRequestsAPIError(t *testing.T) {
	f := newFakeServer(t)
	f.echo = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"message":"slow down"}`)
	}
	c := f.client(t, func(cfg *Config) { cfg.MaxRetryWait = time.Second })
	err := c.call(context.Background(), c.hc, "GET", f.URL+"/v2/echo", nil, nil, nil)
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an APIError", err)
	}
	if diff := cmp.Diff(&APIError{Status: 429, Message: "slow down", RetryAfter: 2 * time.Minute}, ae); diff != "" {
		t.Errorf("APIError (-want +got):\n%s", diff)
	}
}

func TestTooManyRequestsWaitHonoursContext(t *testing.T) {
	f := newFakeServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.echo = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "20")
		w.WriteHeader(http.StatusTooManyRequests)
		cancel() // the caller gives up while waiting
	}
	c := f.client(t)
	req, _ := http.NewRequestWithContext(ctx, "GET", f.URL+"/v2/echo", nil)
	_, err := c.HTTPClient().Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if got := f.requests.Load(); got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
}

func TestTokenStaysOnItsHost(t *testing.T) {
	f := newFakeServer(t)
	other := newFakeServer(t) // another host (port): must not see the token
	var gotAuth []string
	var mu sync.Mutex
	other.echo = nil
	c := f.client(t)
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := other.Config.Handler
	other.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		srv.ServeHTTP(w, r)
	})
	st, _, err := get(t, c, other.URL+"/v2/echo")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{""}, gotAuth); diff != "" || st != http.StatusForbidden {
		t.Errorf("status %d; Authorization seen by another host (-want +got):\n%s", st, diff)
	}
	if f.logins.Load() != 1 || other.logins.Load() != 0 {
		t.Errorf("logins: %d here, %d there; want 1, 0", f.logins.Load(), other.logins.Load())
	}
}

func TestTokenCache(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name       string
		cached     string
		wantLogins int64
	}{
		{"valid token reused", "", 0}, // filled below with a token the server issued
		{"corrupt", "not a token\x00", 1},
		{"bad payload", "a.b.c", 1},
		{"expired", jwtFor("user-1", now.Add(-2*time.Hour), now.Add(-time.Hour), 0), 1},
		{"another user's", jwtFor("user-2", now, now.Add(time.Hour), 0), 1},
		{"empty", "", 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			cache := &memCache{tok: tt.cached}
			if i == 0 {
				seed := f.client(t)
				tok, err := seed.Token(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				cache.tok = tok
				f.logins.Store(0)
			}
			c := f.client(t, func(cfg *Config) { cfg.TokenCache = cache })
			if st, _, err := get(t, c, f.URL+"/v2/echo"); err != nil || st != 200 {
				t.Fatalf("status %d, err %v", st, err)
			}
			if got := f.logins.Load(); got != tt.wantLogins {
				t.Errorf("logins = %d, want %d", got, tt.wantLogins)
			}
			if got := int64(cache.saves); got != tt.wantLogins {
				t.Errorf("cache saves = %d, want %d", got, tt.wantLogins)
			}
		})
	}
}

func TestTokenSource(t *testing.T) {
	f := newFakeServer(t)
	c := f.client(t)
	ot, err := c.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := c.Token(context.Background())
	if ot.AccessToken != tok || ot.TokenType != "Bearer" || !ot.Valid() {
		t.Errorf("oauth2 token = %+v, want the cached token, Bearer, valid", ot)
	}
	if f.logins.Load() != 1 {
		t.Errorf("logins = %d, want 1", f.logins.Load())
	}
	c.Invalidate(tok)
	if tok2, _ := c.Token(context.Background()); tok2 == tok || f.logins.Load() != 2 {
		t.Errorf("after Invalidate: same token %v, logins %d; want a new login", tok2 == tok, f.logins.Load())
	}
}
