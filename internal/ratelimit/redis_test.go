package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/orchestrator/orchestrator/internal/redisx"
	"github.com/orchestrator/orchestrator/internal/redisx/redistest"
	"github.com/orchestrator/orchestrator/internal/tcpproxy"
)

// Two nodes share one budget: 10 failures, whichever node saw them, block
// the 11th on both (SPEC §9). Time is Redis's own, as on a server.
func TestRedisLimitsPerZone(t *testing.T) {
	prefix := redistest.Prefix(t)
	node1 := NewRedis(redistest.Client(t), prefix, 10, time.Minute, 100, nil)
	node2 := NewRedis(redistest.Client(t), prefix, 10, time.Minute, 100, nil)
	for i := range 10 {
		n := []*Redis{node1, node2}[i%2]
		if d, blocked := n.Blocked("u1"); blocked {
			t.Fatalf("blocked (%v) before failure %d", d, i+1)
		}
		n.Fail("u1")
	}
	for i, n := range []*Redis{node1, node2} {
		if d, blocked := n.Blocked("u1"); !blocked || d <= 0 || d > 6*time.Second {
			t.Errorf("node %d after 10 failures: Blocked = %v, %v; want blocked for (0, 6s]", i+1, d, blocked)
		}
		if _, _, ok := n.Reserve("u1"); ok {
			t.Errorf("node %d let an 11th attempt through", i+1)
		}
		if err := n.Status(); err != nil {
			t.Errorf("node %d: %v", i+1, err)
		}
	}
	if _, blocked := node2.Blocked("u2"); blocked {
		t.Error("another key is blocked")
	}
}

// Attempts in parallel on two nodes get exactly the burst through, and
// refunds in parallel give back exactly what was taken.
func TestRedisReserveIsAtomicAcrossNodes(t *testing.T) {
	prefix := redistest.Prefix(t)
	nodes := []*Redis{
		NewRedis(redistest.Client(t), prefix, 10, time.Minute, 100, nil),
		NewRedis(redistest.Client(t), prefix, 10, time.Minute, 100, nil),
	}
	// reserveAll makes 50 attempts in parallel over both nodes and
	// returns the reservations that got through and those refused.
	reserveAll := func() (granted, refused []Reservation) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				r, _, ok := nodes[i%2].Reserve("u1")
				mu.Lock()
				defer mu.Unlock()
				if ok {
					granted = append(granted, r)
				} else {
					refused = append(refused, r)
				}
			})
		}
		wg.Wait()
		return granted, refused
	}
	refundAll := func(rs []Reservation) {
		var wg sync.WaitGroup
		for _, r := range rs {
			wg.Go(r.Refund)
		}
		wg.Wait()
	}
	granted, refused := reserveAll()
	if len(granted) != 10 {
		t.Fatalf("%d of 50 parallel reservations got through, want 10", len(granted))
	}
	refundAll(refused) // refused reservations give nothing back
	if g, _ := reserveAll(); len(g) != 0 {
		t.Fatalf("refunds of refused reservations freed %d attempts, want 0", len(g))
	}
	refundAll(granted)
	if g, _ := reserveAll(); len(g) != 10 {
		t.Fatalf("after 10 refunds in parallel %d of 50 got through, want 10", len(g))
	}
	for i, n := range nodes {
		if err := n.Status(); err != nil {
			t.Errorf("node %d: %v", i+1, err)
		}
	}
}

// Keys expire when their bucket is full again, so Redis keeps only the
// keys that failed within the last window; a long key is stored hashed.
func TestRedisKeysExpire(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	l := NewRedis(c, prefix, 10, time.Minute, 100, nil)
	ctx := context.Background()
	r, _, ok := l.Reserve("u1")
	if !ok {
		t.Fatal("refused")
	}
	ttl, err := c.Do(ctx, c.B().Pttl().Key(prefix+"u1").Build()).AsInt64()
	if err != nil || ttl <= 0 || ttl > 6000 {
		t.Fatalf("PTTL after one failure = %d, %v; want (0, 6 s]", ttl, err)
	}
	r.Refund()
	if n := len(redistest.Keys(t, c, prefix)); n != 0 {
		t.Fatalf("%d keys left once the bucket is full again", n)
	}
	long := string(make([]byte, 1<<20))
	l.Fail(long)
	for k := range redistest.Keys(t, c, prefix) {
		if len(k) > len(prefix)+maxKeyLen+64 {
			t.Errorf("a 1 MB key is stored as %d bytes", len(k))
		}
	}
}

// While Redis is unreachable (or hangs) a node answers from its own
// limiter within the timeout, says so in Status, and goes back to Redis
// when it answers again.
func TestRedisFallsBackAndRecovers(t *testing.T) {
	target := redistest.URL()
	opt, err := rueidis.ParseURL(target)
	if err != nil {
		t.Fatal(err)
	}
	prefix := redistest.Prefix(t)
	for _, mode := range []string{"closed", "stalled"} {
		t.Run(mode, func(t *testing.T) {
			p := tcpproxy.New(t, opt.InitAddress[0])
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := redisx.Open(ctx, "redis://"+p.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			key := "u-" + mode
			l := NewRedis(c, prefix, 3, time.Minute, 100, nil)
			l.retry = 200 * time.Millisecond
			shared := NewRedis(redistest.Client(t), prefix, 3, time.Minute, 100, nil)

			l.Fail(key) // in Redis: 2 left
			if err := l.Status(); err != nil {
				t.Fatalf("Status with Redis up: %v", err)
			}

			if mode == "closed" {
				p.Cut()
			} else {
				p.Freeze()
			}
			// Per node while degraded: three failures here are three of
			// this node's own, and the answers come within the timeout.
			for i := range 4 {
				start := time.Now()
				_, _, ok := l.Reserve(key)
				if d := time.Since(start); d > RedisTimeout+50*time.Millisecond {
					t.Errorf("reserve %d took %v with Redis %s, want at most the timeout %v", i+1, d, mode, RedisTimeout)
				}
				if want := i < 3; ok != want {
					t.Errorf("reserve %d while degraded: %v, want %v (the node's own budget of 3)", i+1, ok, want)
				}
			}
			if err := l.Status(); err == nil {
				t.Fatal("Status reports nothing while Redis is unreachable")
			} else {
				t.Logf("Status: %v", err)
			}
			// Redis itself was not charged by the degraded node.
			if _, _, ok := shared.Reserve(key); !ok {
				t.Fatal("the shared budget was charged while the node could not reach it")
			}

			p.Cut()
			p.Restore(t)
			// rueidis spreads commands over several connections and
			// replaces a broken one when it is next used, so a failure or
			// two may follow the first success: wait for five in a row.
			deadline := time.Now().Add(5 * time.Second)
			for ok := 0; ok < 5; {
				if time.Now().After(deadline) {
					t.Fatalf("still degraded 5 s after Redis came back: %v", l.Status())
				}
				l.Blocked(key)
				if l.Status() == nil {
					ok++
				} else {
					ok = 0
					time.Sleep(20 * time.Millisecond)
				}
			}
			// Back on the shared budget: 1 failure by l, 1 by shared → 1 left.
			if _, _, ok := l.Reserve(key); !ok {
				t.Fatalf("the last shared failure was refused (%v)", l.Status())
			}
			if _, blocked := shared.Blocked(key); !blocked {
				t.Fatal("the recovered node's failure did not reach the shared budget")
			}
		})
	}
}
