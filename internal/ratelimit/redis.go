package ratelimit

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// gcra is the whole of one limiter operation, run atomically in Redis in
// one round trip. The budget is kept as GCRA's theoretical arrival time
// (TAT, in microseconds), which is the token bucket of Limiter in one
// number: with interval T = window/burst and tolerance tau = burst*T, a
// key has (tau - (max(TAT, now) - now)) / T tokens. So
//   - a failure is allowed (and taken) when TAT' = max(TAT, now) + T is at
//     most now + tau, and sets TAT = TAT';
//   - the wait until one token is TAT' - tau - now;
//   - a refund sets TAT = max(TAT - T, now): one token back, never above
//     the burst (a TAT in the past is a full bucket);
//   - the key may expire at TAT, when its bucket is full again, so Redis
//     memory is bounded by the keys that failed within the last window.
//
// KEYS[1] is the key; ARGV is the operation (blocked, fail, reserve,
// refund), T and tau in microseconds, and the time in microseconds, or ""
// for Redis's own clock (so that nodes with skewed clocks agree). It
// returns 0 when a failure is (or would be) allowed, else the wait in
// microseconds (always > 0).
//
// Numbers are written with %d: Redis would write a Lua number of 16
// digits in exponent form and lose the microseconds.
var gcra = rueidis.NewLuaScript(`
local now = tonumber(ARGV[4])
if not now then
	local t = redis.call('TIME')
	now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval = tonumber(ARGV[2])
local tau = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local op = ARGV[1]
if op == 'refund' then
	tat = tat - interval
	if tat <= now then
		redis.call('DEL', KEYS[1])
	else
		redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
	end
	return 0
end
local next = tat + interval
local wait = next - tau - now
if wait > 0 then
	return math.ceil(wait)
end
if op ~= 'blocked' then
	redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.ceil((next - now) / 1000))
end
return 0
`)

// Default timing of a Redis limiter's fallback (see Redis).
const (
	// RedisTimeout bounds one Redis operation; past it the node's own
	// limiter answers.
	RedisTimeout = 100 * time.Millisecond
	// RedisRetry is how long a node keeps to its own limiter after a
	// Redis failure before it tries Redis again.
	RedisRetry = time.Second
)

// Redis is a limiter whose budgets live in Redis, so that every node of a
// zone counts the same failures: 10 failed logins for one user ID are 10
// whichever nodes received them. Each operation is one atomic script (see
// gcra) in one round trip, so Reserve is exact under concurrency from any
// number of nodes.
//
// When Redis does not answer within RedisTimeout (or answers with an
// error), the operation is answered by an in-memory Limiter of this node
// instead, and Status reports the failure: limits are per node while
// Redis is away, rather than open or blocking every request. For
// RedisRetry after a failure the node does not wait on Redis at all; then
// one operation tries it again, and its success ends the fallback. A
// reservation is refunded where it was taken; a refund that cannot reach
// Redis is lost, which counts one success as a failure (the safe way).
type Redis struct {
	client    rueidis.Client
	prefix    string
	interval  int64 // microseconds per token (T)
	tolerance int64 // microseconds of burst (tau = burst * T)
	now       func() time.Time
	fallback  *Limiter

	timeout time.Duration
	retry   time.Duration

	mu      sync.Mutex
	err     error     // the last Redis failure, nil while Redis answers
	since   time.Time // when err began
	probeAt time.Time // when Redis may be tried again
}

var _ Interface = (*Redis)(nil)

// NewRedis returns a limiter allowing burst failures per window per key,
// kept in Redis under keys that start with prefix (give each limiter its
// own prefix, e.g. "orch:rl:login-user:"). maxKeys bounds the in-memory
// fallback as in New.
//
// now is the clock of the budgets. nil (what a server should pass) uses
// the Redis server's clock inside the script, so that nodes whose clocks
// disagree still share one budget; tests pass a fake clock. The fallback
// uses now, or time.Now when nil.
func NewRedis(client rueidis.Client, prefix string, burst int, window time.Duration, maxKeys int, now func() time.Time) *Redis {
	interval := max(int64(math.Ceil(float64(window.Microseconds())/float64(burst))), 1)
	return &Redis{
		client:    client,
		prefix:    prefix,
		interval:  interval,
		tolerance: interval * int64(burst),
		now:       now,
		fallback:  New(burst, window, maxKeys, now),
		timeout:   RedisTimeout,
		retry:     RedisRetry,
	}
}

// Status returns nil while Redis answers, else why the limits are per
// node since when.
func (r *Redis) Status() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		return nil
	}
	return fmt.Errorf("ratelimit: redis unavailable since %s, limits are per node: %w",
		r.since.UTC().Format(time.RFC3339), r.err)
}

// Probe tries Redis once (a PING, within the operation timeout) while
// the limits are per node and a retry is due, so that a quiet node, one
// with no failed logins to count, learns that Redis is back; /readyz and
// the metrics call it. It returns Status afterwards.
func (r *Redis) Probe() error {
	if r.Status() == nil || !r.useRedis() {
		return r.Status()
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	r.record(r.client.Do(ctx, r.client.B().Ping().Build()).Error())
	return r.Status()
}

// useRedis reports whether an operation should go to Redis: always while
// it answers, and for one operation per RedisRetry while it does not.
func (r *Redis) useRedis() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		return true
	}
	if now := time.Now(); !now.Before(r.probeAt) {
		r.probeAt = now.Add(r.retry)
		return true
	}
	return false
}

// record notes the outcome of a Redis operation.
func (r *Redis) record(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.err = nil
		return
	}
	now := time.Now()
	if r.err == nil {
		r.since = now
	}
	r.err, r.probeAt = err, now.Add(r.retry)
}

// key is the Redis key of a caller's key: long keys are hashed as in
// memory (boundKey), then written in hex.
func (r *Redis) key(key string) string {
	if b := boundKey(key); b != key {
		return r.prefix + "sha256:" + hex.EncodeToString([]byte(b[len("sha256:"):]))
	}
	return r.prefix + key
}

// run runs one operation in Redis. ok is false when Redis failed, and the
// caller must answer from the fallback.
func (r *Redis) run(op, key string) (wait time.Duration, ok bool) {
	if !r.useRedis() {
		return 0, false
	}
	now := ""
	if r.now != nil {
		now = strconv.FormatInt(r.now().UnixMicro(), 10)
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	us, err := gcra.Exec(ctx, r.client, []string{r.key(key)},
		[]string{op, strconv.FormatInt(r.interval, 10), strconv.FormatInt(r.tolerance, 10), now}).AsInt64()
	r.record(err)
	if err != nil {
		return 0, false
	}
	return time.Duration(us) * time.Microsecond, true
}

// Blocked reports whether key has no failure left, and how long until it
// has one.
func (r *Redis) Blocked(key string) (time.Duration, bool) {
	wait, ok := r.run("blocked", key)
	if !ok {
		return r.fallback.Blocked(key)
	}
	return wait, wait > 0
}

// Fail records one failure for key (nothing when none is left).
func (r *Redis) Fail(key string) {
	if _, ok := r.run("fail", key); !ok {
		r.fallback.Fail(key)
	}
}

// Reserve takes one failure from key's budget before an attempt is
// checked, as Limiter.Reserve does, atomically across every node.
func (r *Redis) Reserve(key string) (Reservation, time.Duration, bool) {
	wait, ok := r.run("reserve", key)
	if !ok {
		return r.fallback.Reserve(key)
	}
	if wait > 0 {
		return Reservation{}, max(wait, time.Second), false
	}
	return Reservation{refund: func() { r.run("refund", key) }}, 0, true
}
