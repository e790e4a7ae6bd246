// Package redistest gives tests a client to the machine's real Redis
// (ORCH_TEST_REDIS_URL, default redis://127.0.0.1:6379/0) and a key
// prefix of their own whose keys are deleted when the test ends. Other
// tests share that Redis: nothing here flushes it. A server that does not
// answer fails the test: it is never skipped.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/orchestrator/orchestrator/internal/redisx"
)

// URL is the server tests use.
func URL() string {
	if u := os.Getenv("ORCH_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// Client returns a new client to URL, closed when t ends. Each call is
// one more node.
func Client(t testing.TB) rueidis.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := redisx.Open(ctx, URL())
	if err != nil {
		t.Fatalf("redistest: Redis at %s does not answer (start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\"): %v", URL(), err)
	}
	t.Cleanup(c.Close)
	return c
}

// Prefix returns a random key prefix for t; every key under it is
// deleted when t ends.
func Prefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	p := "orchtest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := redisx.Open(ctx, URL())
		if err != nil {
			t.Errorf("redistest: delete keys %s*: %v", p, err)
			return
		}
		defer c.Close()
		for k := range Keys(t, c, p) {
			if err := c.Do(ctx, c.B().Del().Key(k).Build()).Error(); err != nil {
				t.Errorf("redistest: delete %s: %v", k, err)
			}
		}
	})
	return p
}

// Keys returns the keys that start with prefix.
func Keys(t testing.TB, c rueidis.Client, prefix string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys := map[string]bool{}
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(escape(prefix)+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			t.Fatalf("redistest: scan %s*: %v", prefix, err)
		}
		for _, k := range e.Elements {
			keys[k] = true
		}
		if cursor = e.Cursor; cursor == 0 {
			return keys
		}
	}
}

// escape quotes the glob characters of s for MATCH.
func escape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
