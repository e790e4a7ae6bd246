package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// TestGroupCommitKeepsEveryAcknowledgedWrite runs many concurrent merges,
// every third one too large to fit, so that batches mix writes that fail
// with writes that succeed. Every acknowledged write must be there after
// the store is closed and opened again; no refused write may be.
func TestGroupCommitKeepsEveryAcknowledgedWrite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "o.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	createAccount(t, s, "1")
	// One session per writer, so that only the big writes exceed MaxChars.
	key := func(w int) storage.ContextKey {
		return storage.ContextKey{AccountID: "1", Namespace: "ns", SessionID: fmt.Sprintf("s%d", w)}
	}
	const writers, each = 32, 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		acked   []string
		refused []string
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("w%d_%d", w, i)
				value := []byte(`"v"`)
				big := (w*each+i)%3 == 0
				if big {
					value = []byte(fmt.Sprintf("%q", make([]byte, 2000)))
				}
				err := s.MergeProperties(ctx, storage.ContextMerge{
					Key: key(w), Now: now, MaxChars: 1000,
					Properties: []storage.ContextProperty{{Name: name, Value: value}},
				})
				mu.Lock()
				switch {
				case err == nil && !big:
					acked = append(acked, name)
				case errors.Is(err, storage.ErrTooLarge) && big:
					refused = append(refused, name)
				default:
					t.Errorf("merge %s (big=%v): %v", name, big, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.MergeProperties(ctx, storage.ContextMerge{Key: key(0), Now: now}); err == nil {
		t.Error("a write after Close succeeded")
	}

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	have := map[string]bool{}
	for w := range writers {
		props, err := s.GetProperties(ctx, key(w), nil, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range props {
			have[p.Name] = true
		}
	}
	for _, n := range acked {
		if !have[n] {
			t.Errorf("acknowledged write %s is missing after reopen", n)
		}
	}
	for _, n := range refused {
		if have[n] {
			t.Errorf("refused write %s was saved", n)
		}
	}
	if len(have) != len(acked) || len(acked) == 0 || len(refused) == 0 {
		t.Errorf("stored %d properties; acknowledged %d, refused %d", len(have), len(acked), len(refused))
	}
}

// TestOnCommitCountsEveryWrite: the commit observer is told of every
// group commit; the batch sizes add up to the writes made.
func TestOnCommitCountsEveryWrite(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	var writes, commits int
	s.OnCommit(func(n int, took time.Duration) {
		mu.Lock()
		writes += n
		commits++
		mu.Unlock()
		if n < 1 || took <= 0 {
			t.Errorf("commit of %d writes took %v", n, took)
		}
	})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { createAccount(t, s, fmt.Sprint(i+1)) })
	}
	wg.Wait()
	// A batch is observed just after its writes are answered.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := writes
		mu.Unlock()
		if n >= 20 || time.Now().After(deadline) {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if writes != 20 || commits < 1 || commits > 20 {
		t.Errorf("observed %d writes in %d commits, want 20 in 1 to 20", writes, commits)
	}
}
