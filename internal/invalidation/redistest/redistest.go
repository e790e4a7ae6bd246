// Package redistest gives tests a Redis URL, a key prefix of their own and
// a TCP proxy that can cut them off from Redis without stopping it.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

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

// Proxy forwards TCP connections to Redis until cut.
type Proxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

// NewProxy starts a proxy in front of Redis; it stops when t ends.
func NewProxy(t testing.TB) *Proxy {
	t.Helper()
	p := &Proxy{target: Addr(t), conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Cut)
	return p
}

// URL is the proxy's Redis URL.
func (p *Proxy) URL() string { return "redis://" + p.addr }

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.DialTimeout("tcp", p.target, 2*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln {
				p.mu.Unlock()
				c.Close()
				u.Close()
				continue
			}
			p.conns[c], p.conns[u] = struct{}{}, struct{}{}
			p.mu.Unlock()
			go pipe(c, u)
			go pipe(u, c)
		}
	}()
}

func pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// Cut closes the listener and every connection: Redis is unreachable.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore listens again on the same address.
func (p *Proxy) Restore(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}
