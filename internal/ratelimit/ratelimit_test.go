package ratelimit

import (
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/redisx/redistest"
)

// newFunc builds a limiter under test: New, or NewRedis on the real
// Redis under a prefix of the test's own.
type newFunc func(burst int, window time.Duration, maxKeys int, now func() time.Time) Interface

// implementations runs test on every implementation: the semantics
// are the same.
func implementations(t *testing.T, test func(t *testing.T, newLimiter newFunc)) {
	t.Run("memory", func(t *testing.T) {
		test(t, func(burst int, window time.Duration, maxKeys int, now func() time.Time) Interface {
			return New(burst, window, maxKeys, now)
		})
	})
	t.Run("redis", func(t *testing.T) {
		c := redistest.Client(t)
		prefix := redistest.Prefix(t)
		n := 0
		test(t, func(burst int, window time.Duration, maxKeys int, now func() time.Time) Interface {
			n++ // each limiter its own keys, as a server gives each its own prefix
			l := NewRedis(c, prefix+string(rune('a'+n))+":", burst, window, maxKeys, now)
			// The semantics, not the 100 ms bound, are under test here
			// (the fallback has tests of its own): a loaded CI machine
			// that takes longer must not fail them.
			l.timeout = 5 * time.Second
			t.Cleanup(func() {
				if err := l.Status(); err != nil {
					t.Errorf("the limiter fell back: %v", err)
				}
			})
			return l
		})
	})
}

func TestLimiter(t *testing.T) { implementations(t, testLimiter) }

func testLimiter(t *testing.T, newLimiter newFunc) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10, time.Minute, 1000, func() time.Time { return now })
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

func TestReserveBoundsParallelAttempts(t *testing.T) {
	implementations(t, testReserveBoundsParallelAttempts)
}

func testReserveBoundsParallelAttempts(t *testing.T, newLimiter newFunc) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10, time.Minute, 1000, func() time.Time { return now })
	// 120 attempts reserve before any is checked: exactly 10 get through.
	var got []Reservation
	for i := 0; i < 120; i++ {
		if r, _, ok := l.Reserve("u1"); ok {
			got = append(got, r)
		}
	}
	if len(got) != 10 {
		t.Fatalf("%d reservations got through, want 10", len(got))
	}
	if d, ok := l.Blocked("u1"); !ok || d <= 0 {
		t.Fatalf("Blocked after the budget was reserved = %v, %v", d, ok)
	}
	// A successful attempt gives its failure back.
	got[9].Refund()
	if _, _, ok := l.Reserve("u1"); !ok {
		t.Fatal("a refunded reservation did not free one attempt")
	}
	if _, _, ok := l.Reserve("u1"); ok {
		t.Fatal("one refund freed more than one attempt")
	}
}

func TestReserveAllRefundsWhenOneIsBlocked(t *testing.T) {
	implementations(t, testReserveAllRefundsWhenOneIsBlocked)
}

func testReserveAllRefundsWhenOneIsBlocked(t *testing.T, newLimiter newFunc) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	user := newLimiter(2, time.Minute, 1000, func() time.Time { return now })
	addr := newLimiter(1, time.Minute, 1000, func() time.Time { return now })
	ls := []Interface{user, addr}
	if _, _, ok := ReserveAll(ls, []string{"u", "a"}); !ok {
		t.Fatal("first attempt refused")
	}
	// addr is spent: user must not be charged for the refused attempt.
	if _, d, ok := ReserveAll(ls, []string{"u", "a"}); ok || d <= 0 {
		t.Fatalf("second attempt = %v, %v; want refused with a wait", d, ok)
	}
	if _, _, ok := user.Reserve("u"); !ok {
		t.Fatal("a refused attempt still took from the user budget")
	}
}

func TestLongKeysAreBounded(t *testing.T) { implementations(t, testLongKeysAreBounded) }

func testLongKeysAreBounded(t *testing.T, newLimiter newFunc) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(1, time.Minute, 1000, func() time.Time { return now })
	long := string(make([]byte, 1<<20))
	l.Fail(long)
	if _, ok := l.Blocked(long); !ok {
		t.Fatal("a long key was not counted")
	}
	if _, ok := l.Blocked(long[:1<<19]); ok {
		t.Fatal("two long keys share a bucket")
	}
	if k := boundKey(long); len(k) > maxKeyLen {
		t.Fatalf("a 1 MB key is stored as %d bytes", len(k))
	}
}

// A refund made after time has passed still gives the failure back
// (x/time/rate's CancelAt restored nothing then, so every success was
// counted as a failure: the 11th good login of a minute got 429).
func TestRefundAfterTimePasses(t *testing.T) { implementations(t, testRefundAfterTimePasses) }

func testRefundAfterTimePasses(t *testing.T, newLimiter newFunc) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10, time.Minute, 1000, func() time.Time { return now })
	for i := 0; i < 50; i++ {
		r, _, ok := l.Reserve("u1")
		if !ok {
			t.Fatalf("success %d refused: successes must not use up the budget", i+1)
		}
		now = now.Add(10 * time.Millisecond)
		r.Refund()
	}
	// A refund never lifts the budget above its burst.
	for i := 0; i < 10; i++ {
		if _, _, ok := l.Reserve("u1"); !ok {
			t.Fatalf("failure %d refused", i+1)
		}
	}
	if _, _, ok := l.Reserve("u1"); ok {
		t.Fatal("an 11th failure got through")
	}
}

func TestReserveAllRefundsTheOtherAfterTimePasses(t *testing.T) {
	implementations(t, testReserveAllRefundsTheOtherAfterTimePasses)
}

func testReserveAllRefundsTheOtherAfterTimePasses(t *testing.T, newLimiter newFunc) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	user := newLimiter(10, time.Minute, 1000, func() time.Time { return now })
	addr := newLimiter(1, time.Minute, 1000, func() time.Time { return now })
	ls := []Interface{user, addr}
	ReserveAll(ls, []string{"u", "a"}) // spends addr
	for i := 0; i < 20; i++ {
		now = now.Add(time.Millisecond)
		if _, _, ok := ReserveAll(ls, []string{"u", "a"}); ok {
			t.Fatal("addr budget exceeded")
		}
	}
	// user keeps 9 of 10: refused attempts did not drain it.
	n := 0
	for {
		if _, _, ok := user.Reserve("u"); !ok {
			break
		}
		n++
	}
	if n != 9 {
		t.Fatalf("user budget after 20 refused attempts: %d left, want 9", n)
	}
}

// TestObserveReportsReservations: Observe reports each Reserve's
// decision and changes none.
func TestObserveReportsReservations(t *testing.T) {
	var allowed, limited int
	l := Observe(New(2, time.Minute, 10, nil), func(ok bool) {
		if ok {
			allowed++
		} else {
			limited++
		}
	})
	for range 3 {
		l.Reserve("k")
	}
	l.Fail("k")
	l.Blocked("k")
	if allowed != 2 || limited != 1 {
		t.Errorf("allowed %d, limited %d; want 2, 1", allowed, limited)
	}
}
