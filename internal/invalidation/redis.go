package invalidation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// RedisOptions tunes NewRedis. The zero value is what a server wants.
type RedisOptions struct {
	// Window is how long a node trusts its subscription without a fresh
	// proof that it is complete, and how long Bump waits at most for a
	// node that does not acknowledge. 0 means 500 ms; more than 1 s is
	// refused (it is the staleness bound while Redis is unreachable).
	Window time.Duration
	// Logger receives failures to publish. nil means slog.Default().
	Logger *slog.Logger
}

const defaultWindow = 500 * time.Millisecond

// redisEpochs is the Epochs shared by every node through Redis pub/sub.
// See the package documentation for the protocol and its guarantees.
type redisEpochs struct {
	t      *table
	client rueidis.Client
	log    *slog.Logger
	window time.Duration
	node   string // random, one per process
	bumpCh string // every node's bumps
	nodeCh string // this node's acknowledgements and heartbeats
	prefix string
	start  time.Time // monotonic origin of healthyUntil

	// healthyUntil is the monotonic time (ns since start) until which
	// this node is sure it has seen every bump: a heartbeat it sent at s
	// came back through the subscription, so every bump Redis processed
	// before s came back too. 0 while the subscription is down.
	healthyUntil atomic.Int64
	episode      atomic.Uint64 // counts recoveries from degraded mode
	degradedKey  atomic.Uint64 // episode<<32 | second of the last degraded flush
	degradedMu   sync.Mutex

	lastErr atomic.Pointer[string]
	nonce   atomic.Uint64
	waiters sync.Map // nonce → *waiter
	acks    chan ack

	pendingMu sync.Mutex
	pending   map[string]struct{} // accounts whose bump could not be published yet

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type waiter struct {
	got    atomic.Int64
	notify chan struct{}
}

type ack struct{ to, nonce string }

// NewRedis returns Epochs shared by every process that uses the same
// Redis and prefix. It fails when url is invalid or Redis cannot be
// reached now; afterwards an unreachable Redis only degrades it (see
// Status). It waits, within ctx, until its subscription is proven.
func NewRedis(ctx context.Context, url, prefix string, opts RedisOptions) (Epochs, error) {
	if opts.Window == 0 {
		opts.Window = defaultWindow
	}
	if opts.Window < 0 || opts.Window > time.Second {
		return nil, fmt.Errorf("invalidation: window %v: must be at most 1s", opts.Window)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	co, err := rueidis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("invalidation: redis url: %w", err)
	}
	// No client-side caching: epochs travel by pub/sub. No retries: a
	// subscription that silently resubscribes could have missed bumps in
	// between, and this must know (it flushes when it resubscribes).
	co.DisableCache = true
	co.DisableRetry = true
	co.Dialer.Timeout = time.Second
	co.ConnWriteTimeout = 2 * time.Second
	client, err := rueidis.NewClient(co)
	if err != nil {
		return nil, fmt.Errorf("invalidation: connect to redis: %w", err)
	}
	id := make([]byte, 12)
	rand.Read(id)
	r := &redisEpochs{
		t: newTable(), client: client, log: opts.Logger, window: opts.Window,
		node: hex.EncodeToString(id), prefix: prefix, start: time.Now(),
		acks: make(chan ack, 1024), pending: map[string]struct{}{},
	}
	r.bumpCh = prefix + "inval:bump"
	r.nodeCh = prefix + "inval:node:" + r.node
	r.degradedKey.Store(^uint64(0))
	r.setErr(errors.New("not subscribed yet"))
	bg, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(3)
	go r.subscribe(bg)
	go r.heartbeat(bg)
	go r.acknowledge(bg)
	for r.Status() != nil {
		select {
		case <-ctx.Done():
			return r, nil // degraded, but correct; Status says so
		case <-time.After(5 * time.Millisecond):
		}
	}
	return r, nil
}

func (r *redisEpochs) since() int64 { return int64(time.Since(r.start)) }

// Epoch never touches the network. While the subscription is proven it
// is the account's epoch in the local table; otherwise the whole table is
// flushed once per second, so entries live at most until the next second.
func (r *redisEpochs) Epoch(_ context.Context, accountID string) uint64 {
	ep := r.episode.Load()
	now := r.since()
	if now >= r.healthyUntil.Load() {
		r.degraded(ep, now)
	}
	return r.t.get(accountID)
}

// degraded flushes the table when a new second (or a new degraded
// episode) begins. The key is stored only after the flush, so no caller
// sees the new second's key with the previous second's floor.
func (r *redisEpochs) degraded(episode uint64, now int64) {
	key := episode<<32 | uint64(now/int64(time.Second))&0xffffffff
	if r.degradedKey.Load() == key {
		return
	}
	r.degradedMu.Lock()
	defer r.degradedMu.Unlock()
	if r.degradedKey.Load() != key {
		r.t.flush()
		r.degradedKey.Store(key)
	}
}

// Bump changes the account's epoch here at once, publishes the bump and
// waits until every subscribed node acknowledged it, or at most Window:
// a node healthy Window after the publish has seen it (its heartbeat
// proves it), and an unhealthy one flushes every second.
func (r *redisEpochs) Bump(ctx context.Context, accountID string) error {
	r.t.bump(accountID)
	nonce := r.node + "." + strconv.FormatUint(r.nonce.Add(1), 36)
	w := &waiter{notify: make(chan struct{}, 1)}
	r.waiters.Store(nonce, w)
	defer r.waiters.Delete(nonce)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.window)
	n, err := r.client.Do(pctx, r.client.B().Publish().Channel(r.bumpCh).Message(r.node+" "+nonce+" "+accountID).Build()).AsInt64()
	cancel()
	if err != nil {
		r.pendingMu.Lock()
		r.pending[accountID] = struct{}{}
		r.pendingMu.Unlock()
		r.setErr(fmt.Errorf("publish bump: %w", err))
		return fmt.Errorf("invalidation: publish bump of account %s (retried in the background): %w", accountID, err)
	}
	timer := time.NewTimer(r.window)
	defer timer.Stop()
	for w.got.Load() < n {
		select {
		case <-w.notify:
		case <-timer.C:
			return nil
		}
	}
	return nil
}

func (r *redisEpochs) Status() error {
	if r.since() < r.healthyUntil.Load() {
		r.pendingMu.Lock()
		n := len(r.pending)
		r.pendingMu.Unlock()
		if n == 0 {
			return nil
		}
		return fmt.Errorf("invalidation: %d account changes not yet published to other nodes", n)
	}
	why := "unknown"
	if p := r.lastErr.Load(); p != nil {
		why = *p
	}
	return fmt.Errorf("invalidation: redis unreachable or subscription lost (%s): credentials are re-read every second", why)
}

func (r *redisEpochs) Close() error {
	r.cancel()
	r.client.Close()
	r.wg.Wait()
	return nil
}

func (r *redisEpochs) setErr(err error) {
	s := err.Error()
	r.lastErr.Store(&s)
}

// subscribe keeps this node subscribed. When the subscription ends the
// node is degraded at once: bumps published until it is back are lost.
func (r *redisEpochs) subscribe(ctx context.Context) {
	defer r.wg.Done()
	for ctx.Err() == nil {
		err := r.client.Receive(ctx, r.client.B().Subscribe().Channel(r.bumpCh, r.nodeCh).Build(), r.onMessage)
		r.healthyUntil.Store(0)
		if err == nil {
			err = errors.New("unsubscribed")
		}
		r.setErr(fmt.Errorf("subscription: %w", err))
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *redisEpochs) onMessage(m rueidis.PubSubMessage) {
	switch m.Channel {
	case r.bumpCh:
		parts := strings.SplitN(m.Message, " ", 3)
		if len(parts) != 3 {
			return
		}
		sender, nonce, account := parts[0], parts[1], parts[2]
		if sender == r.node {
			r.acked(nonce) // bumped locally before publishing
			return
		}
		r.t.bump(account)
		select {
		case r.acks <- ack{to: sender, nonce: nonce}:
		default: // the bumper waits Window instead
		}
	case r.nodeCh:
		kind, arg, _ := strings.Cut(m.Message, " ")
		switch kind {
		case "a":
			r.acked(arg)
		case "h":
			if sent, err := strconv.ParseInt(arg, 10, 64); err == nil {
				r.proven(sent)
			}
		}
	}
}

func (r *redisEpochs) acked(nonce string) {
	if v, ok := r.waiters.Load(nonce); ok {
		w := v.(*waiter)
		w.got.Add(1)
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

// proven is told that this node's heartbeat sent at sent came back: Redis
// processed it after sent, and delivers messages to a subscriber in the
// order it processes them, so every bump published before sent was
// delivered before it. The node is healthy until sent+Window. Coming back
// from degraded mode (or a new subscription, which may have missed bumps)
// flushes the table first.
func (r *redisEpochs) proven(sent int64) {
	until := sent + int64(r.window)
	now := r.since()
	if until <= now {
		return
	}
	if now >= r.healthyUntil.Load() {
		r.t.flush()
		r.episode.Add(1)
	}
	for {
		cur := r.healthyUntil.Load()
		if until <= cur || r.healthyUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// heartbeat proves the subscription five times per window and publishes
// the bumps that could not be published when they happened.
func (r *redisEpochs) heartbeat(ctx context.Context) {
	defer r.wg.Done()
	tick := time.NewTicker(r.window / 5)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		hctx, cancel := context.WithTimeout(ctx, r.window)
		sent := r.since()
		err := r.client.Do(hctx, r.client.B().Publish().Channel(r.nodeCh).Message("h "+strconv.FormatInt(sent, 10)).Build()).Error()
		if err != nil && ctx.Err() == nil {
			r.setErr(fmt.Errorf("heartbeat: %w", err))
		}
		if err == nil {
			r.republish(hctx)
		}
		cancel()
	}
}

func (r *redisEpochs) republish(ctx context.Context) {
	r.pendingMu.Lock()
	accounts := make([]string, 0, len(r.pending))
	for a := range r.pending {
		accounts = append(accounts, a)
	}
	r.pendingMu.Unlock()
	for _, a := range accounts {
		nonce := r.node + ".r" + strconv.FormatUint(r.nonce.Add(1), 36)
		if err := r.client.Do(ctx, r.client.B().Publish().Channel(r.bumpCh).Message(r.node+" "+nonce+" "+a).Build()).Error(); err != nil {
			return
		}
		r.pendingMu.Lock()
		delete(r.pending, a)
		r.pendingMu.Unlock()
		r.log.Info("invalidation: published a delayed bump", "account", a)
	}
}

// acknowledge tells bumpers that this node applied their bumps. It runs
// apart from the subscription so that a slow publish never delays it.
func (r *redisEpochs) acknowledge(ctx context.Context) {
	defer r.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-r.acks:
			actx, cancel := context.WithTimeout(ctx, r.window)
			r.client.Do(actx, r.client.B().Publish().Channel(r.prefix+"inval:node:"+a.to).Message("a "+a.nonce).Build())
			cancel()
		}
	}
}
