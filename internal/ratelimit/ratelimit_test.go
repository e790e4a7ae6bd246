package ratelimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(10, time.Minute, 1000, func() time.Time { return now })
	for i := 0; i < 10; i++ {
		if _, blocked := l.Blocked("u1"); blocked {
			t.Fatalf("blocked before failure %d", i+1)
		}
		l.Fail("u1")
	}
	d, blocked := l.Blocked("u1")
	if !blocked || d <= 0 || d > 6*time.Second {
		t.Fatalf("after 10 failures Blocked = %v, %v; want blocked for (0, 6s]", d, blocked)
	}
	if _, blocked := l.Blocked("u2"); blocked {
		t.Fatal("another key is blocked")
	}
	now = now.Add(d)
	if _, blocked := l.Blocked("u1"); blocked {
		t.Fatalf("still blocked after the advertised %v", d)
	}
	l.Fail("u1")
	if _, blocked := l.Blocked("u1"); !blocked {
		t.Fatal("one refilled token should allow exactly one more failure")
	}
}
