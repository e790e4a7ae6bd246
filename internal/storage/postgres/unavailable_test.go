package postgres_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/migrate"
	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
	"github.com/orchestrator/orchestrator/internal/storage/postgres"
	"github.com/orchestrator/orchestrator/internal/tcpproxy"
)

// A server that stops answering mid-conversation (connections open,
// nothing comes back) fails reads with ErrUnavailable within 2 s and
// writes within 5 s, instead of hanging them; the store recovers once it
// answers again.
func TestServerHangs(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	p := tcpproxy.New(t, serverAddr(t))
	s := openURL(t, via(t, dsn, p.Addr()))
	b := setup(t, s)

	p.Freeze()
	for _, c := range []struct {
		name  string
		limit time.Duration
		call  func(ctx context.Context) error
	}{
		{"GetProperties", 2500 * time.Millisecond, func(ctx context.Context) error { _, err := s.GetProperties(ctx, b.key, nil, time.Now()); return err }},
		{"MergeProperties", 5500 * time.Millisecond, func(ctx context.Context) error { return s.MergeProperties(ctx, b.merge("during")) }},
	} {
		start := time.Now()
		err := c.call(context.Background())
		if took := time.Since(start); took > c.limit {
			t.Errorf("%s with the server hung took %v, want at most %v", c.name, took, c.limit)
		}
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s with the server hung: err = %v, want ErrUnavailable", c.name, err)
		}
	}
	p.Thaw()
	deadline := time.Now().Add(5 * time.Second)
	for s.Ready(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("not ready 5 s after the server answered again")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.GetProperties(context.Background(), b.key, nil, time.Now()); err != nil {
		t.Errorf("read after the server answered again: %v", err)
	}
}

// via returns dsn with its host replaced by addr.
func via(t *testing.T, dsn, addr string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

func serverAddr(t *testing.T) string {
	u, err := url.Parse(pgtest.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// A store whose server goes away answers ErrUnavailable (503) at once,
// writes included, and recovers when the server is back, without a
// restart.
func TestServerGoesAway(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	p := tcpproxy.New(t, serverAddr(t))
	s := openURL(t, via(t, dsn, p.Addr()))
	b := setup(t, s)

	p.Cut()
	checks := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", s.Ping},
		{"Ready", s.Ready},
		{"GetAccount", func(ctx context.Context) error { _, err := s.GetAccount(ctx, b.account); return err }},
		{"APIKeyByHash", func(ctx context.Context) error { _, err := s.APIKeyByHash(ctx, []byte("h")); return err }},
		{"GetProperties", func(ctx context.Context) error { _, err := s.GetProperties(ctx, b.key, nil, time.Now()); return err }},
		{"MergeProperties", func(ctx context.Context) error { return s.MergeProperties(ctx, b.merge("during")) }},
		{"CreatePolicy", func(ctx context.Context) error {
			_, err := s.CreatePolicy(ctx, storage.Policy{AccountID: b.account, ID: "p", Revision: "r", Body: []byte("{}")}, 0)
			return err
		}},
	}
	for _, c := range checks {
		start := time.Now()
		err := c.call(context.Background())
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s with the server gone took %v, want an answer within 2 s", c.name, took)
		}
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s with the server gone: err = %v, want ErrUnavailable", c.name, err)
		}
	}

	p.Restore(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := s.Ready(context.Background())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ready 5 s after the server came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.MergeProperties(context.Background(), b.merge("after")); err != nil {
		t.Fatalf("MergeProperties after the server came back: %v", err)
	}
	got, err := s.GetProperties(context.Background(), b.key, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "after,before" {
		t.Errorf("properties after the outage = %v, want [after before] (nothing of the refused write)", names)
	}
}

// fixture is an account with one context document.
type fixture struct {
	account string
	key     storage.ContextKey
}

func (f fixture) merge(name string) storage.ContextMerge {
	return storage.ContextMerge{Key: f.key, Properties: []storage.ContextProperty{{Name: name, Value: []byte("1")}}, Now: time.Now()}
}

func setup(t *testing.T, s *postgres.Store) fixture {
	t.Helper()
	ctx := context.Background()
	f := fixture{account: "1", key: storage.ContextKey{AccountID: "1", Namespace: "ns", SessionID: "s"}}
	now := time.Now()
	if err := s.CreateAccount(ctx, storage.NewAccount{
		Account: storage.Account{ID: f.account, Name: "A", AuthVersion: storage.AuthV1, CreatedAt: now},
		APIKey:  storage.APIKey{AccountID: f.account, Hash: []byte("h"), Sealed: []byte("s"), CreatedAt: now},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.MergeProperties(ctx, f.merge("before")); err != nil {
		t.Fatal(err)
	}
	return f
}

// Open fails fast and says why when the server does not answer: refused,
// or accepting connections but silent.
func TestOpenUnreachable(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn // open, never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	for _, addr := range []string{"127.0.0.1:1", silent.Addr().String()} {
		t.Run(addr, func(t *testing.T) {
			start := time.Now()
			s, err := postgres.Open(context.Background(), "postgres://postgres@"+addr+"/test?sslmode=disable", postgres.Options{Migrate: true})
			took := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if took > 3*time.Second {
				t.Errorf("Open took %v, want a failure within 3 s", took)
			}
			if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), addr) {
				t.Errorf("Open error = %v, want ErrUnavailable naming %s", err, addr)
			}
		})
	}
}

// Without Migrate, Open refuses a schema that lacks migrations and says
// what to run; once migrated, it opens.
func TestOpenPendingMigrations(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	ctx := context.Background()
	_, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err == nil || !strings.Contains(err.Error(), "orchestrator store migrate") {
		t.Fatalf("Open(no Migrate) on an empty schema: err = %v, want one saying to run `orchestrator store migrate`", err)
	}
	openURL(t, dsn) // migrates
	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatalf("Open(no Migrate) on a migrated schema: %v", err)
	}
	defer s.Close()
	if n, err := migrate.Pending(ctx, s.DB(), migrate.Postgres, postgres.Migrations()); err != nil || n != 0 {
		t.Errorf("Pending through DB() = %d, %v; want 0", n, err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Errorf("Ready: %v", err)
	}
	s.Close()
	if _, err := s.GetAccount(ctx, "1"); err == nil {
		t.Error("GetAccount after Close succeeded")
	}
}
