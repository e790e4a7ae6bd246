package ratelimit

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/maypok86/otter/v2"
)

// Interface is a failure budget per key. Limiter keeps it in this
// process's memory; Redis keeps it in Redis, shared by every node of a
// zone (SPEC §9: limits are per zone, not per node). Both have the
// semantics documented on Limiter.
type Interface interface {
	// Blocked reports whether key has no failure left, and how long
	// until it has one.
	Blocked(key string) (time.Duration, bool)
	// Fail records one failure for key (nothing when none is left).
	Fail(key string)
	// Reserve takes one failure from key's budget before an attempt is
	// checked; see Limiter.Reserve.
	Reserve(key string) (Reservation, time.Duration, bool)
}

var _ Interface = (*Limiter)(nil)

// Limiter counts failures per key with a token bucket: Burst failures are
// allowed, refilled at Burst per Window. A key with no token left is
// refused until one refills. Memory is bounded: idle keys are forgotten
// after Window, at most MaxKeys are kept, and a key longer than
// maxKeyLen bytes is kept as its SHA-256, so a caller-chosen key of any
// size costs the same few bytes.
//
// The bucket is written here rather than taken from golang.org/x/time/rate
// because a failure reserved before an attempt must be given back when the
// attempt succeeds, at any later time: rate.Reservation.CancelAt restores
// nothing once the reservation's time to act has passed, which for an
// immediate reservation is at once.
type Limiter struct {
	burst   float64
	perSec  float64 // tokens refilled per second
	now     func() time.Time
	buckets *otter.Cache[string, *bucket]
}

// bucket is one key's tokens as of last.
type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// maxKeyLen is the longest key stored as it is.
const maxKeyLen = 64

// New returns a limiter allowing burst failures per window per key.
func New(burst int, window time.Duration, maxKeys int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		burst:  float64(burst),
		perSec: float64(burst) / window.Seconds(),
		now:    now,
		buckets: otter.Must(&otter.Options[string, *bucket]{
			MaximumSize:      maxKeys,
			ExpiryCalculator: otter.ExpiryAccessing[string, *bucket](window),
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

func (l *Limiter) bucket(key string) *bucket {
	b, _ := l.buckets.Compute(boundKey(key), func(old *bucket, found bool) (*bucket, otter.ComputeOp) {
		if found {
			return old, otter.CancelOp
		}
		return &bucket{tokens: l.burst, last: l.now()}, otter.WriteOp
	})
	return b
}

// refill brings b's tokens up to now; b.mu is held.
func (l *Limiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.perSec)
		b.last = now
	}
}

// wait is how long until b has one token; b.mu is held.
func (l *Limiter) wait(b *bucket) time.Duration {
	return time.Duration((1 - b.tokens) / l.perSec * float64(time.Second))
}

// Blocked reports whether key has no failure left, and how long until it
// has one.
func (l *Limiter) Blocked(key string) (time.Duration, bool) {
	b, ok := l.buckets.GetIfPresent(boundKey(key))
	if !ok {
		return 0, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	l.refill(b, l.now())
	if b.tokens >= 1 {
		return 0, false
	}
	return l.wait(b), true
}

// Fail records one failure for key (nothing when none is left).
func (l *Limiter) Fail(key string) {
	b := l.bucket(key)
	b.mu.Lock()
	defer b.mu.Unlock()
	l.refill(b, l.now())
	if b.tokens >= 1 {
		b.tokens--
	}
}

// Reservation is one failure taken from a key's budget before the attempt
// was checked. The zero Reservation refunds nothing.
type Reservation struct {
	refund func()
}

// Reserve takes one failure from key's budget before an attempt is
// checked, so that attempts made in parallel cannot all pass a check that
// ran before any of them failed: at most the remaining budget gets
// through. When no failure is left it takes nothing and returns false
// with the wait until one refills. Refund the reservation when the
// attempt succeeds.
func (l *Limiter) Reserve(key string) (Reservation, time.Duration, bool) {
	b := l.bucket(key)
	b.mu.Lock()
	defer b.mu.Unlock()
	l.refill(b, l.now())
	if b.tokens < 1 {
		return Reservation{}, max(l.wait(b), time.Second), false
	}
	b.tokens--
	return Reservation{refund: func() { l.refund(b) }}, 0, true
}

// refund gives one failure back to b, never above the burst.
func (l *Limiter) refund(b *bucket) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l.refill(b, l.now())
	b.tokens = min(l.burst, b.tokens+1)
}

// Refund gives the reserved failure back (the attempt succeeded, or was
// never checked). It may be called at any time after Reserve.
func (r Reservation) Refund() {
	if r.refund != nil {
		r.refund()
	}
}

// Attempt is the reservations of one attempt on several limiters.
type Attempt []Reservation

// ReserveAll reserves one failure on every limiter under its key (a pair
// of limiters[i] and keys[i]). When any limiter has none left, the others
// are refunded and the longest wait is returned with false: an attempt
// is charged on all of them or on none.
func ReserveAll(limiters []Interface, keys []string) (Attempt, time.Duration, bool) {
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

// Observe returns l telling report of each decision Reserve makes:
// allowed (a failure was reserved) or not (limited). Blocked and Fail
// are not decisions and are not reported. report must be quick and safe
// for concurrent use (a metrics counter).
func Observe(l Interface, report func(allowed bool)) Interface {
	return observed{l, report}
}

type observed struct {
	Interface
	report func(allowed bool)
}

func (o observed) Reserve(key string) (Reservation, time.Duration, bool) {
	r, d, ok := o.Interface.Reserve(key)
	o.report(ok)
	return r, d, ok
}
