package audit_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/audit"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// memAudit is an in-memory storage.Audit that can refuse writes.
type memAudit struct {
	mu     sync.Mutex
	events []storage.AuditEvent
	fail   bool
}

func (m *memAudit) AppendAudit(_ context.Context, e storage.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("disk on fire")
	}
	m.events = append(m.events, e)
	return nil
}

func (m *memAudit) ListAudit(_ context.Context, accountID string, limit int) ([]storage.AuditEvent, error) {
	return nil, nil
}

func (m *memAudit) PurgeAudit(_ context.Context, before time.Time, limit int) (int, error) {
	return 0, nil
}

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func newRecorder(store storage.Audit, clk *clock, max int) (*audit.Recorder, *int) {
	failed := 0
	return audit.New(store, audit.Config{Now: clk.Now, Log: slog.New(slog.DiscardHandler), MaxFailureKeys: max,
		WriteFailed: func() { failed++ },
		AccountOf: func(_ context.Context, userID string) (string, error) {
			if userID == "known" {
				return "42", nil
			}
			return "", storage.ErrNotFound
		}}), &failed
}

func TestLoginFailedAggregates(t *testing.T) {
	ctx := context.Background()
	m := &memAudit{}
	minute := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: minute.Add(5 * time.Second)}
	r, _ := newRecorder(m, clk, 2)
	for i := range 5 {
		r.LoginFailed("known", []string{"10.0.0.1", "10.0.0.2"}[i%2])
	}
	r.LoginFailed("nobody\x00", "10.0.0.3")
	r.LoginFailed("third", "10.0.0.4") // over MaxFailureKeys: counted without its user ID
	r.LoginFailed("third", "10.0.0.4")
	if err := r.Flush(ctx, false); err != nil || len(m.events) != 0 {
		t.Fatalf("Flush within the minute wrote %+v (%v), want nothing yet", m.events, err)
	}
	clk.t = minute.Add(time.Minute)
	if err := r.Flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	want := []storage.AuditEvent{
		{Time: minute, AccountID: "42", Actor: "known", Action: "login.failed count=5 also_from=10.0.0.2", Address: "10.0.0.1"},
		{Time: minute, AccountID: "", Actor: "nobody?", Action: "login.failed count=1", Address: "10.0.0.3"},
		{Time: minute, AccountID: "", Actor: "", Action: "login.failed count=2 user_ids=not_kept"},
	}
	if diff := cmp.Diff(want, m.events); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	m.events = nil
	r.LoginFailed("known", "10.0.0.1") // the next minute: its own entry
	if err := r.Flush(ctx, false); err != nil || len(m.events) != 0 {
		t.Fatalf("Flush within the next minute wrote %+v (%v)", m.events, err)
	}
	if err := r.Flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	want = []storage.AuditEvent{{Time: minute.Add(time.Minute), AccountID: "42", Actor: "known", Action: "login.failed count=1", Address: "10.0.0.1"}}
	if diff := cmp.Diff(want, m.events); diff != "" {
		t.Errorf("final flush (-want +got):\n%s", diff)
	}
}

func TestWriteFailureCounted(t *testing.T) {
	m := &memAudit{fail: true}
	clk := &clock{t: time.Now()}
	r, failed := newRecorder(m, clk, 0)
	if err := r.Record(context.Background(), "1", audit.Operator, "127.0.0.1", audit.APIKeyRegenerate); err == nil {
		t.Error("Record on a failing store: nil error, want it returned")
	}
	if *failed != 1 {
		t.Errorf("WriteFailed called %d times, want 1", *failed)
	}
}

func TestNilRecorder(t *testing.T) {
	var r *audit.Recorder
	if err := r.Record(context.Background(), "1", audit.Operator, "", audit.AccountCreate); err != nil {
		t.Error(err)
	}
	r.LoginFailed("u", "a")
}
