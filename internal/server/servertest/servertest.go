package servertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/openapi/openapitest"
	"github.com/orchestrator/orchestrator/internal/server"
	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
)

// Env is a running server.
type Env struct {
	URL string
	// AdminURL is where the operator API and /metrics answer: URL, or
	// the separate listener when the options set Config.AdminAddr (give
	// "127.0.0.1:0" for a free port).
	AdminURL   string
	AdminToken string
	Server     *server.Server
	Config     config.Serve
	logs       *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StoreEnv names the environment variable that chooses the store of the
// servers tests start: "postgres" runs each on a fresh schema of the
// machine's PostgreSQL (pgtest), anything else on the embedded SQLite
// store. scripts/test runs the end-to-end suites once with each.
const StoreEnv = "ORCH_TEST_STORE"

// Postgres reports whether servers started here run on PostgreSQL.
func Postgres() bool { return os.Getenv(StoreEnv) == "postgres" }

// Start starts a server on 127.0.0.1 with a fresh data dir (and, when
// Postgres(), a fresh PostgreSQL schema); opts adjust the configuration.
// It is stopped when the test ends.
func Start(t testing.TB, opts ...func(*config.Serve)) *Env {
	return StartClock(t, nil, opts...)
}

// StartEmbedded is Start on the embedded store whatever StoreEnv says,
// for tests of what only it has (the data directory, its files, a full
// disk).
func StartEmbedded(t testing.TB, opts ...func(*config.Serve)) *Env {
	return start(t, nil, false, opts...)
}

// StartClock is Start with an injected clock (nil: time.Now).
func StartClock(t testing.TB, now func() time.Time, opts ...func(*config.Serve)) *Env {
	t.Helper()
	return start(t, now, Postgres(), opts...)
}

func start(t testing.TB, now func() time.Time, shared bool, opts ...func(*config.Serve)) *Env {
	t.Helper()
	cfg := config.Defaults()
	cfg.Data = t.TempDir()
	if shared {
		cfg.PostgresURL, _ = pgtest.Schema(t)
		// The secrets a shared store needs from the environment.
		cfg.SecretKey = base64.StdEncoding.EncodeToString([]byte(rand.Text() + rand.Text()))
		cfg.AdminToken = "orchadm_test_" + rand.Text()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = ln.Addr().String()
	for _, o := range opts {
		o(&cfg)
	}
	var adminLn net.Listener
	if cfg.AdminAddr != "" {
		if adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			t.Fatal(err)
		}
		cfg.AdminAddr = adminLn.Addr().String()
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Before the clean-up that stops the server, so that it reports once
	// every request has been answered.
	wrap := openapitest.ForTest(t, cfg.AdminAddr != "")
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Deps{Log: log, Now: now, Wrap: wrap})
	if err != nil {
		cancel()
		ln.Close()
		t.Fatalf("server.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeWithAdmin(ctx, ln, adminLn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	adminURL := "http://" + cfg.Addr
	if adminLn != nil {
		adminURL = "http://" + cfg.AdminAddr
	}
	return &Env{URL: "http://" + cfg.Addr, AdminURL: adminURL, AdminToken: srv.AdminToken, Server: srv, Config: cfg, logs: logs}
}

// Logs returns everything the server logged so far.
func (e *Env) Logs() string { return e.logs.String() }

// Account is a created account with its secrets.
type Account struct {
	AccountID   string
	Name        string
	AuthVersion string
	APIKey      string
	UserID      string
	Password    string
}

// Admin sends an operator API request and decodes a JSON answer into out
// (when non-nil). It returns the status.
func (e *Env) Admin(t testing.TB, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.AdminURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// CreateAccount creates an account (v2 with credentials, or v1-only).
func (e *Env) CreateAccount(t testing.TB, v2 bool) Account {
	t.Helper()
	ver := "v1"
	if v2 {
		ver = "v2"
	}
	var a struct {
		AccountID, Name, AuthVersion, APIKey string
		Credentials                          *struct{ UserID, Password string }
	}
	if st := e.Admin(t, "POST", "/admin/v1/accounts", map[string]string{"name": "Test " + ver, "authVersion": ver}, &a); st != http.StatusCreated {
		t.Fatalf("create account: status %d", st)
	}
	out := Account{AccountID: a.AccountID, Name: a.Name, AuthVersion: a.AuthVersion, APIKey: a.APIKey}
	if a.Credentials != nil {
		out.UserID, out.Password = a.Credentials.UserID, a.Credentials.Password
	}
	return out
}

// Login logs in with the account's v2 credentials and returns the token.
func (e *Env) Login(t testing.TB, a Account) string {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL+"/v2/authenticate/login", nil)
	req.SetBasicAuth(a.UserID, a.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.Token == "" {
		t.Fatalf("login: status %d, err %v", resp.StatusCode, err)
	}
	return body.Token
}

// Metric returns the value of one sample of the server's /metrics, such
// as `orchestrator_logins_total{result="success"}`; 0 when absent.
func (e *Env) Metric(t testing.TB, sample string) float64 {
	t.Helper()
	resp, err := http.Get(e.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return 0
}

// Do sends one request to url with the headers and body (body "" sends
// none) and returns the status and the body it answered.
func Do(t testing.TB, method, url string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	resp, b := Send(t, method, url, hdr, body)
	return resp.StatusCode, string(b)
}

// Send is Do for tests that read the answer's headers too: the response
// (its body already read and closed) and the body.
func Send(t testing.TB, method, url string, hdr map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Frozen returns a clock stopped at the time of the call, for tests that
// count on a budget (the login limits) not refilling while they spend it:
// 100 attempts take long enough under the race detector for a 100-a-minute
// bucket to regain one.
func Frozen() func() time.Time {
	t0 := time.Now()
	return func() time.Time { return t0 }
}
