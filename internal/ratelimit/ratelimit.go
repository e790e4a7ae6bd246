package ratelimit

import (
	"crypto/sha256"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/time/rate"
)

// Limiter counts failures per key with a token bucket: Burst failures are
// allowed, refilled at Burst per Window. A key with no token left is
// refused until one refills. Memory is bounded: idle keys are forgotten
// after Window, at most MaxKeys are kept, and a key longer than
// maxKeyLen bytes is kept as its SHA-256, so a caller-chosen key of any
// size costs the same few bytes.
type Limiter struct {
	burst   int
	every   rate.Limit
	now     func() time.Time
	buckets *otter.Cache[string, *rate.Limiter]
}

// maxKeyLen is the longest key stored as it is.
const maxKeyLen = 64

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

func boundKey(key string) string {
	if len(key) <= maxKeyLen {
		return key
	}
	h := sha256.Sum256([]byte(key))
	return "sha256:" + string(h[:])
}

func (l *Limiter) bucket(key string) *rate.Limiter {
	b, _ := l.buckets.Compute(boundKey(key), func(old *rate.Limiter, found bool) (*rate.Limiter, otter.ComputeOp) {
		if found {
			return old, otter.CancelOp
		}
		return rate.NewLimiter(l.every, l.burst), otter.WriteOp
	})
	return b
}

// Blocked reports whether key has no failure left, and how long until it
// has one.
func (l *Limiter) Blocked(key string) (time.Duration, bool) {
	b, ok := l.buckets.GetIfPresent(boundKey(key))
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
	l.bucket(key).AllowN(l.now(), 1)
}

// Reservation is one failure taken from a key's budget before the attempt
// was checked. The zero Reservation refunds nothing.
type Reservation struct {
	r   *rate.Reservation
	now func() time.Time
}

// Reserve takes one failure from key's budget before an attempt is
// checked, so that attempts made in parallel cannot all pass a check that
// ran before any of them failed: at most the remaining budget gets
// through. When no failure is left it takes nothing and returns false
// with the wait until one refills. Refund the reservation when the
// attempt succeeds.
func (l *Limiter) Reserve(key string) (Reservation, time.Duration, bool) {
	now := l.now()
	r := l.bucket(key).ReserveN(now, 1)
	if d := r.DelayFrom(now); !r.OK() || d > 0 {
		r.CancelAt(now)
		return Reservation{}, max(d, time.Second), false
	}
	return Reservation{r: r, now: l.now}, 0, true
}

// Refund gives the reserved failure back (the attempt succeeded, or was
// never checked).
func (r Reservation) Refund() {
	if r.r != nil {
		r.r.CancelAt(r.now())
	}
}

// Attempt is the reservations of one attempt on several limiters.
type Attempt []Reservation

// ReserveAll reserves one failure on every limiter under its key (a pair
// of limiters[i] and keys[i]). When any limiter has none left, the others
// are refunded and the longest wait is returned with false.
func ReserveAll(limiters []*Limiter, keys []string) (Attempt, time.Duration, bool) {
	a := make(Attempt, 0, len(limiters))
	var wait time.Duration
	ok := true
	for i, l := range limiters {
		r, d, got := l.Reserve(keys[i])
		if !got {
			ok, wait = false, max(wait, d)
			continue
		}
		a = append(a, r)
	}
	if !ok {
		a.Refund()
		return nil, wait, false
	}
	return a, 0, true
}

// Refund refunds every reservation of the attempt.
func (a Attempt) Refund() {
	for _, r := range a {
		r.Refund()
	}
}
