package sdk

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer is an httptest server with a login endpoint and one v2
// endpoint, /v2/echo, that accepts only the tokens it issued and has not
// revoked. It is for transport edge cases; the behaviour against the real
// server is tested in e2e_test.go.
type fakeServer struct {
	*httptest.Server
	user, password string
	ttl            time.Duration
	now            func() time.Time

	logins   atomic.Int64 // login attempts
	requests atomic.Int64 // /v2/echo requests
	mu       sync.Mutex
	valid    map[string]bool
	// loginStatus, when set, is the status of every login.
	loginStatus int
	// echo answers /v2/echo when the token is good (nil: echo the body).
	echo http.HandlerFunc
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{user: "user-1", password: "pw", ttl: time.Hour, now: time.Now, valid: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/authenticate/login", f.login)
	mux.HandleFunc("/v2/echo", f.api)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// jwtFor returns an unsigned JWT with the claims the client reads.
func jwtFor(sub string, iat, exp time.Time, n int64) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(map[string]any{"sub": sub, "name": "123", "iat": iat.Unix(), "exp": exp.Unix(), "jti": n})
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(payload) + ".c2ln"
}

func (f *fakeServer) login(w http.ResponseWriter, r *http.Request) {
	n := f.logins.Add(1)
	if f.loginStatus != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.loginStatus)
		fmt.Fprint(w, `{"error":"invalid_client","message":"invalid user ID or password"}`)
		return
	}
	u, p, ok := r.BasicAuth()
	if !ok || u != f.user || p != f.password {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client","message":"invalid user ID or password"}`)
		return
	}
	now := f.now()
	tok := jwtFor(u, now, now.Add(f.ttl), n)
	f.mu.Lock()
	f.valid[tok] = true
	f.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "token_type": "Bearer", "expires_in": int(f.ttl / time.Second)})
}

func (f *fakeServer) api(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	ok := f.valid[tok]
	f.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":"invalid_token","message":"invalid, expired or revoked access token"}`)
		return
	}
	if f.echo != nil {
		f.echo(w, r)
		return
	}
	b, _ := io.ReadAll(r.Body)
	w.Write(b)
}

// revokeAll makes every issued token invalid.
func (f *fakeServer) revokeAll() {
	f.mu.Lock()
	clear(f.valid)
	f.mu.Unlock()
}

func (f *fakeServer) client(t *testing.T, mod ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: f.URL, AccountID: "123", UserID: f.user, Password: f.password}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// memCache is a TokenCache in memory.
type memCache struct {
	mu    sync.Mutex
	tok   string
	saves int
}

func (m *memCache) Load() (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tok, nil
}

func (m *memCache) Save(tok string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tok = tok
	m.saves++
	return nil
}

// clock is a manual clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
