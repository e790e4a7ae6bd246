package tokens

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// TestDiesAt: a pending revocation that covers a token and ends before
// its exp cuts its life short; one that does not cover it (a newer
// token), ends after exp, or none at all does not.
func TestDiesAt(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	claims := func(issued time.Time) *Claims {
		id, _ := uuid.NewV7()
		putMillis(&id, issued.UnixMilli())
		return &Claims{ID: id.String(), ExpiresAt: issued.Add(24 * time.Hour).Unix()}
	}
	grace := storage.Revocation{}.Then(t0, t0.Add(10*time.Minute))
	old, newer := claims(t0.Add(-time.Hour)), claims(t0.Add(time.Millisecond))
	if at, ok := DiesAt(old, grace); !ok || !at.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("DiesAt(token before the regeneration, in its grace) = %v, %v; want the end of the grace", at, ok)
	}
	if _, ok := DiesAt(newer, grace); ok {
		t.Error("DiesAt(token after the regeneration) ok, want not cut short")
	}
	if _, ok := DiesAt(old, storage.Revocation{}); ok {
		t.Error("DiesAt(no revocation) ok")
	}
	long := storage.Revocation{}.Then(t0, t0.Add(48*time.Hour))
	if _, ok := DiesAt(old, long); ok {
		t.Error("DiesAt(a grace that ends after exp) ok, want exp to stand")
	}
	if _, ok := DiesAt(&Claims{ID: "not-a-uuid", ExpiresAt: old.ExpiresAt}, grace); ok {
		t.Error("DiesAt(malformed jti) ok")
	}
}
