package ratelimit

import (
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/time/rate"
)

// Limiter counts failures per key with a token bucket: Burst failures are
// allowed, refilled at Burst per Window. A key with no token left is
// refused until one refills. Memory is bounded: idle keys are forgotten
// after Window, and at most MaxKeys are kept.
type Limiter struct {
	burst   int
	every   rate.Limit
	now     func() time.Time
	buckets *otter.Cache[string, *rate.Limiter]
}

// New returns a limiter allowing burst failures per window per key.
func New(burst int, window time.Duration, maxKeys int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		burst: burst,
		every: rate.Every(window / time.Duration(burst)),
		now:   now,
		buckets: otter.Must(&otter.Options[string, *rate.Limiter]{
			MaximumSize:      maxKeys,
			ExpiryCalculator: otter.ExpiryAccessing[string, *rate.Limiter](window),
		}),
	}
}

// Blocked reports whether key has no failure left, and how long until it
// has one.
func (l *Limiter) Blocked(key string) (time.Duration, bool) {
	b, ok := l.buckets.GetIfPresent(key)
	if !ok {
		return 0, false
	}
	now := l.now()
	if b.TokensAt(now) >= 1 {
		return 0, false
	}
	r := b.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return d, true
}

// Fail records one failure for key.
func (l *Limiter) Fail(key string) {
	b, _ := l.buckets.Compute(key, func(old *rate.Limiter, found bool) (*rate.Limiter, otter.ComputeOp) {
		if found {
			return old, otter.CancelOp
		}
		return rate.NewLimiter(l.every, l.burst), otter.WriteOp
	})
	b.AllowN(l.now(), 1)
}
