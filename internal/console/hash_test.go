package console

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/ratelimit"
)

// TestSignInBusy pins the sign-in gate in front of argon2id: with every
// hashing slot taken, a sign-in waits HashWait, then gets 503 with
// Retry-After and the sign-in form; its reserved failure stays charged,
// so once the budget is spent the answer is 429. Accounts is nil: the
// password is never reached.
func TestSignInBusy(t *testing.T) {
	frozen := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return frozen }
	c := New(Config{Now: now, Log: slog.New(slog.DiscardHandler), MaxHashes: 1, HashWait: 50 * time.Millisecond,
		UserLimiter: ratelimit.New(2, time.Minute, 100, now), AddrLimiter: ratelimit.New(2, time.Minute, 100, now)})
	if got := cap(New(Config{}).hashSlots); got != runtime.GOMAXPROCS(0) {
		t.Errorf("default MaxHashes = %d, want GOMAXPROCS %d", got, runtime.GOMAXPROCS(0))
	}
	c.hashSlots <- struct{}{} // every slot busy
	pre := c.newPre()
	form := url.Values{"csrf": {c.preToken(pre)}, "account": {"5550001"}, "email": {"ops@example.com"}, "password": {"whatever-password"}}
	for i := range 2 {
		r := httptest.NewRequest("POST", "/console/sign-in", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: preCookie, Value: pre})
		w := httptest.NewRecorder()
		start := time.Now()
		c.ServeHTTP(w, r)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" ||
			!strings.Contains(w.Body.String(), "busy") || !strings.Contains(w.Body.String(), `id="signin-form"`) {
			t.Fatalf("try %d: status %d, Retry-After %q\n%s", i+1, w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		if d := time.Since(start); d < 40*time.Millisecond {
			t.Errorf("try %d: refused after %v, before HashWait", i+1, d)
		}
	}
	// Two busy answers spent a budget of two.
	r := httptest.NewRequest("POST", "/console/sign-in", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(&http.Cookie{Name: preCookie, Value: pre})
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	if w.Code != http.StatusTooManyRequests {
		t.Errorf("after two busy answers with a budget of two: status %d, want 429", w.Code)
	}
}

// TestAcquireHash pins the slot bound: at most MaxHashes holders; a waiter
// gets a slot that frees within HashWait and gives up when its request
// ends.
func TestAcquireHash(t *testing.T) {
	c := New(Config{MaxHashes: 2, HashWait: time.Minute})
	r1, ok1 := c.acquireHash(context.Background())
	_, ok2 := c.acquireHash(context.Background())
	if !ok1 || !ok2 {
		t.Fatal("free slots were refused")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, ok := c.acquireHash(ctx); ok {
		t.Fatal("a third holder got in with MaxHashes 2")
	}
	go func() { time.Sleep(20 * time.Millisecond); r1() }()
	if _, ok := c.acquireHash(context.Background()); !ok {
		t.Fatal("a slot freed within HashWait was not taken")
	}
}
