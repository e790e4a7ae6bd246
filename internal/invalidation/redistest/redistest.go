// Package redistest gives tests a Redis URL, a key prefix of their own and
// a TCP proxy that can cut them off from Redis without stopping it.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/tcpproxy"
	"github.com/redis/rueidis"
)

// URL is the Redis tests use (ORCH_TEST_REDIS_URL, else the local one).
func URL() string {
	if u := os.Getenv("ORCH_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379"
}

// Addr is URL's host:port.
func Addr(t testing.TB) string {
	t.Helper()
	o, err := rueidis.ParseURL(URL())
	if err != nil {
		t.Fatal(err)
	}
	return o.InitAddress[0]
}

// Prefix returns a key and channel prefix that no other test uses. Keys
// under it are deleted when t ends.
func Prefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	p := "test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{Addr(t)}, DisableCache: true})
		if err != nil {
			t.Errorf("redistest: clean up %s: %v", p, err)
			return
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys, err := c.Do(ctx, c.B().Keys().Pattern(p+"*").Build()).AsStrSlice()
		if err != nil {
			t.Errorf("redistest: clean up %s: %v", p, err)
			return
		}
		for _, k := range keys {
			c.Do(ctx, c.B().Del().Key(k).Build())
		}
	})
	return p
}

// Reachable fails t when Redis does not answer (the tests need it).
func Reachable(t testing.TB) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", Addr(t), 2*time.Second)
	if err != nil {
		t.Fatalf("redistest: Redis at %s does not answer (start it: redis-server --daemonize yes): %v", URL(), err)
	}
	conn.Close()
}

// Proxy is a tcpproxy.Proxy in front of Redis, with its URL.
type Proxy struct{ *tcpproxy.Proxy }

// NewProxy starts a proxy in front of Redis; it is cut when t ends.
func NewProxy(t testing.TB) *Proxy {
	t.Helper()
	return &Proxy{tcpproxy.New(t, Addr(t))}
}

// URL is the proxy's Redis URL.
func (p *Proxy) URL() string { return "redis://" + p.Addr() }
