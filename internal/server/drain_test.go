package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/openapi/openapitest"
	"github.com/orchestrator/orchestrator/internal/server"
)

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// draining is a server serving on a main and an admin listener until
// stop is called, with a v1 account and namespace "ns".
type draining struct {
	srv       *server.Server
	main, adm string
	acct, key string
	logs      *syncBuffer
	stop      context.CancelFunc
	done      chan struct{} // closed when Serve has returned serveErr
	serveErr  error
	stoppedAt time.Time
}

func startDraining(t *testing.T, drain time.Duration) *draining {
	t.Helper()
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.Data = t.TempDir()
	cfg.AdminToken = "test-operator-token-0123456789abcdef"
	logs := &syncBuffer{}
	srv, err := server.New(ctx, cfg, server.Deps{Log: slog.New(slog.NewJSONHandler(logs, nil)), Wrap: openapitest.ForTest(t, false)})
	if err != nil {
		t.Fatal(err)
	}
	if drain > 0 {
		server.SetDrain(srv, drain)
	}
	a, err := srv.Accounts.Create(ctx, accounts.CreateRequest{Name: "Drain", AuthVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	d := &draining{srv: srv, main: ln.Addr().String(), adm: adminLn.Addr().String(), acct: a.AccountID, key: a.APIKey,
		logs: logs, stop: stop, done: make(chan struct{})}
	go func() { d.serveErr = srv.ServeWithAdmin(sctx, ln, adminLn); close(d.done) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-d.done:
		case <-time.After(15 * time.Second):
			t.Error("server did not stop")
		}
	})
	if st, body := d.request(t, "POST", "http://"+d.main+"/v1/account/"+d.acct, `{"name":"ns"}`); st != 204 {
		t.Fatalf("create namespace: %d %s", st, body)
	}
	return d
}

func (d *draining) request(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("maven-api-key", d.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// slowWrite starts a v1 PATCH whose body trickles in: it returns once the
// server runs the request, with the connection and the rest of the body.
func (d *draining) slowWrite(t *testing.T) (net.Conn, string) {
	t.Helper()
	body := `{"slow":"yes"}`
	c, err := net.Dial("tcp", d.main)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "PATCH /v1/account/%s/ns/properties HTTP/1.1\r\nHost: %s\r\nmaven-api-key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		d.acct, d.main, d.key, len(body), body[:1])
	for deadline := time.Now().Add(5 * time.Second); server.InFlight(d.srv) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the slow write never reached a handler")
		}
	}
	return c, body[1:]
}

// shutDown cancels Serve's context and waits for the shutdown to begin.
func (d *draining) shutDown(t *testing.T) {
	t.Helper()
	d.stoppedAt = time.Now()
	d.stop()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(d.logs.String(), "shutting down"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no shutdown began")
		}
	}
}

// TestShutdownFailsReadyzThenFinishesInFlight: once the signal is in,
// /readyz answers 503 (here on the admin listener, which stays open while
// the main one drains), and a write in flight still completes and is
// acknowledged; Serve returns nil.
func TestShutdownFailsReadyzThenFinishesInFlight(t *testing.T) {
	d := startDraining(t, 0)
	if st, body := d.request(t, "GET", "http://"+d.adm+"/readyz", ""); st != 200 {
		t.Fatalf("/readyz before the signal: %d %s", st, body)
	}
	c, rest := d.slowWrite(t)
	d.shutDown(t)
	if st, body := d.request(t, "GET", "http://"+d.adm+"/readyz", ""); st != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz right after the signal: %d %s, want 503 shutting down", st, body)
	}
	io.WriteString(c, rest)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the write in flight at the signal: %v", err)
	}
	if resp.StatusCode != 204 {
		t.Errorf("the write in flight at the signal answered %d, want 204", resp.StatusCode)
	}
	select {
	case <-d.done:
		if err := d.serveErr; err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the last request finished")
	}
}

// TestShutdownCutsRequestsPastTheDrain: a request still running when the
// drain ends is cut, the log says how many were, and Serve returns nil
// (it returned context.DeadlineExceeded, and the binary exited 1).
func TestShutdownCutsRequestsPastTheDrain(t *testing.T) {
	const drain = 300 * time.Millisecond
	d := startDraining(t, drain)
	c, _ := d.slowWrite(t)
	d.shutDown(t)
	select {
	case <-d.done:
		if err := d.serveErr; err != nil {
			t.Errorf("Serve = %v, want nil after cutting the request", err)
		}
		if took := time.Since(d.stoppedAt); took < drain || took > drain+2*time.Second {
			t.Errorf("shutdown took %v, want about %v", took, drain)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if !strings.Contains(d.logs.String(), `"msg":"shutdown: cut 1 request(s) still running after 300ms","requests":1`) {
		t.Errorf("no log line saying 1 request was cut:\n%s", d.logs)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || n > 0 {
		t.Errorf("the cut connection still answers: %d, %v", n, err)
	}
}
